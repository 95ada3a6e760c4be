"""The dashboard's period statistics from the per-day rollup plus a raw remainder.

A period = its rolled days (read from the rollup tables, :mod:`office.stats.rollup`) + every other
day (today, yesterday, days not rolled yet) computed from the raw rows by the very selects the
rollup is written with (:func:`~office.stats.rollup.raw_days`, …). Each half is aggregated in SQL
per group and the halves are added here, so every figure is the one :mod:`office.stats.period`
computes from raw rows alone:

* counts, sums and therefore means are additive;
* percentiles come from summed value histograms at millisecond resolution — the resolution waits
  and handling times are defined at — so the nearest-rank p90 is exact, not an estimate. Short
  periods rank all values of the period; long ones (more than :data:`TOP_DOWN_MIN_DAYS` rolled
  days) read only each group's largest values, walking the primary key backwards (the p90 is the
  (n − ⌈0.9·n⌉ + 1)-th largest value), about a tenth of the values;
* "served within target" counts each ticket against its service's own target wait
  (``services.target_wait_min``, counted when the day was rolled) unless one target for all is given.

The functions mirror :mod:`office.stats.period` (same result types).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, null, select, text, true
from sqlalchemy.orm import Session

from office.models import ALL, StatsAgentDay, StatsAgentDayValue, StatsDay, StatsDayValue
from office.queue.estimate import Accuracy
from office.stats.percentiles import rank_for
from office.stats.period import (
    WAIT_BINS_MIN,
    AgentFigures,
    Dimension,
    Figures,
    HourCount,
    Satisfaction,
    TrendDay,
    WaitBin,
    _dialect,
)
from office.stats.periods import Period
from office.stats.rollup import (
    DAY_COLS,
    Grain,
    raw_agent_days,
    raw_agent_values,
    raw_days,
    raw_values,
    rolled_days,
)

__all__ = [
    "TOP_DOWN_MIN_DAYS",
    "agent_figures",
    "figures",
    "satisfaction_trend",
    "served_per_hour",
    "wait_accuracy",
    "wait_distribution",
]

#: Periods with more rolled days than this read each percentile from the top of every group's
#: ordered values (about a tenth of them) instead of ranking all of the period's values.
TOP_DOWN_MIN_DAYS = 14

_SD = StatsDay.__table__
_SV = StatsDayValue.__table__
_AD = StatsAgentDay.__table__
_AV = StatsAgentDayValue.__table__
_KEY = {"office": None, "station": "station_id", "service": "service_id"}
_SATISFACTION = ("ratings", "rating_defaults", "rating_good", "rating_bad", "rating_level_sum")
#: The additive figures of a day row: its counters and sums, without the estimate and wait-bin columns.
_FIGURES = tuple(c for c in DAY_COLS[3:] if not c.startswith(("est_", "wait_bin_")))
_AGENT = ("touched", "served", "completed", "handling_sum_ms", *_SATISFACTION)

Histogram = dict[Any, list[tuple[int, int]]]
"""Per group key: (value, count) pairs."""


def _key_col(t: Any, grain: Grain) -> Any:
    """The column a grain's rows are keyed by (None: one row for the office)."""
    name = _KEY[grain]
    return t.c[name] if name is not None else None


def _grain_filter(t: Any, grain: Grain) -> Any:
    if grain == "office":
        return and_(t.c.service_id == ALL, t.c.station_id == ALL)
    if grain == "station":
        return and_(t.c.service_id == ALL, t.c.station_id != ALL)
    return and_(t.c.service_id != ALL, t.c.station_id == ALL)


def _key(value: Any) -> Any:
    """A group key as Python sees it (dates come back as text from SQLite)."""
    if isinstance(value, str):
        return date.fromisoformat(value)
    return value


class _Plan:
    """A period split into rolled days (rollup tables) and raw days (raw rows)."""

    def __init__(self, s: Session, office_id: int, period: Period, use_rollup: bool) -> None:
        self.s = s
        self.dialect = _dialect(s)
        self.office_id = office_id
        self.period = period
        self.rolled: list[date] = rolled_days(s, office_id, period) if use_rollup else []
        rolled = set(self.rolled)
        self.raw: list[date] = [d for d in period.days if d not in rolled]
        self._raw_cache: dict[tuple[str, Grain], Histogram] = {}

    @property
    def top_down(self) -> bool:
        return len(self.rolled) > TOP_DOWN_MIN_DAYS

    def pg_days(self) -> tuple[str, dict[str, Any]]:
        """The rolled days as a condition on ``v.day`` in plain SQL, with the office."""
        days = self.rolled
        params: dict[str, Any] = {"office": self.office_id}
        if (days[-1] - days[0]).days + 1 == len(days):
            return "v.day BETWEEN :d0 AND :d1", {**params, "d0": days[0], "d1": days[-1]}
        return "v.day = ANY(:days)", {**params, "days": days}

    def rolled_filter(self, day_col: Any) -> Any:
        days = self.rolled
        if (days[-1] - days[0]).days + 1 == len(days):  # contiguous: a range
            return and_(day_col >= days[0], day_col <= days[-1])
        return day_col.in_(days)

    def _sum(self, q_stored: Any, q_raw: Any, names: Sequence[str]) -> dict[Any, dict[str, int]]:
        out: dict[Any, dict[str, int]] = {}
        for q in (q_stored, q_raw):
            if q is None:
                continue
            for row in self.s.execute(q):
                acc = out.setdefault(_key(row[0]), dict.fromkeys(names, 0))
                for i, name in enumerate(names, start=1):
                    acc[name] += int(row[i] or 0)
        return out

    def counters(self, grain: Grain, names: Sequence[str], by_day: bool = False) -> dict[Any, dict[str, int]]:
        """Summed ``stats_days`` columns per group of ``grain`` (or per day)."""
        key = "day" if by_day else _KEY[grain]

        def query(t: Any, where: Any) -> Any:
            k = t.c[key] if key else null()
            q = select(k, *(func.sum(t.c[n]) for n in names)).where(where)
            return q.group_by(t.c[key]) if key else q

        stored = None
        if self.rolled:
            where = and_(
                _SD.c.office_id == self.office_id, _grain_filter(_SD, grain), self.rolled_filter(_SD.c.day)
            )
            stored = query(_SD, where)
        raw = None
        if self.raw:
            r = raw_days(self.dialect, self.office_id, self.raw, self.period.zone, (grain,), names).subquery(
                "r"
            )
            raw = query(r, true())
        out = self._sum(stored, raw, names)
        if not key and not out:
            out[None] = dict.fromkeys(names, 0)
        return out

    def agent_counters(self) -> dict[Any, dict[str, int]]:
        def query(t: Any, where: Any) -> Any:
            return (
                select(t.c.agent_id, *(func.sum(t.c[n]) for n in _AGENT)).where(where).group_by(t.c.agent_id)
            )

        stored = (
            query(_AD, and_(_AD.c.office_id == self.office_id, self.rolled_filter(_AD.c.day)))
            if self.rolled
            else None
        )
        raw = None
        if self.raw:
            raw = query(
                raw_agent_days(self.dialect, self.office_id, self.raw, self.period.zone).subquery("r"), true()
            )
        return self._sum(stored, raw, _AGENT)

    def raw_values(self, kind: str, grain: Grain) -> Histogram:
        """The raw days' histogram of ``kind`` per group (wait and handling are read together)."""
        if not self.raw:
            return {}
        kinds = ("wait", "handling") if kind in ("wait", "handling") else (kind,)
        if (kind, grain) not in self._raw_cache:
            r = raw_values(self.dialect, self.office_id, self.raw, self.period.zone, kinds, grain).subquery(
                "r"
            )
            k = _key_col(r, grain) if _KEY[grain] else null()
            q = select(r.c.kind, k, r.c.value, func.sum(r.c.n)).group_by(
                r.c.kind, *([k] if _KEY[grain] else []), r.c.value
            )
            for each in kinds:
                self._raw_cache[(each, grain)] = {}
            for kd, key, v, n in self.s.execute(q):
                self._raw_cache[(kd, grain)].setdefault(key, []).append((int(v), int(n)))
        return self._raw_cache[(kind, grain)]

    def stored_values(self, kind: str, grain: Grain) -> Histogram:
        """The rolled days' whole histogram of ``kind`` per group."""
        out: Histogram = {}
        if not self.rolled:
            return out
        k = _key_col(_SV, grain) if _KEY[grain] else null()
        q = (
            select(k, _SV.c.value, func.sum(_SV.c.n))
            .where(
                _SV.c.office_id == self.office_id,
                _SV.c.kind == kind,
                _grain_filter(_SV, grain),
                self.rolled_filter(_SV.c.day),
            )
            .group_by(*([k] if _KEY[grain] else []), _SV.c.value)
        )
        for key, v, n in self.s.execute(q):
            out.setdefault(key, []).append((int(v), int(n)))
        return out

    def p90(self, kind: str, grain: Grain, totals: dict[Any, int]) -> dict[Any, float]:
        """Exact nearest-rank p90 (seconds) per group of a millisecond histogram."""
        raw = self.raw_values(kind, grain)
        if self.top_down:
            match = and_(_SV.c.office_id == self.office_id, _SV.c.kind == kind, _grain_filter(_SV, grain))
            key_col = _key_col(_SV, grain)
            pg_where = {"office": "true", "station": "v.service_id = -1", "service": "v.station_id = -1"}[
                grain
            ]
            where, params = self.pg_days()
            pg = (
                f"v.office_id = :office AND v.kind = :kind AND {pg_where} AND {where}",
                {**params, "kind": kind},
            )
            stored, above = _top_rows(
                self.s, _SV, match, key_col, totals, self.rolled_filter(_SV.c.day), raw, pg
            )
            return _from_top(stored, raw, totals, above)
        return _from_top(self.stored_values(kind, grain), raw, totals)

    def p90s(self, grain: Grain, totals: dict[str, dict[Any, int]]) -> dict[str, dict[Any, float]]:
        """:meth:`p90` of several kinds; on PostgreSQL, long periods read every kind's and group's
        top values in one statement."""
        if not (self.top_down and self.dialect == "postgresql"):
            return {kind: self.p90(kind, grain, t) for kind, t in totals.items()}
        raws = {kind: self.raw_values(kind, grain) for kind in totals}
        entries: list[tuple[str, Any, int, int]] = []
        for kind, t in totals.items():
            for key, n in t.items():
                if n:
                    need = n - rank_for(n, 90) + 1
                    entries.append((kind, key, need, need - sum(c for _, c in raws[kind].get(key, []))))
        found: dict[tuple[str, Any], list[tuple[int, int]]] = {}
        above: dict[tuple[str, Any], int] = {}
        if entries:
            key_cond = {
                "office": "v.service_id = -1 AND v.station_id = -1",
                "station": "v.service_id = -1 AND v.station_id = lim.k",
                "service": "v.station_id = -1 AND v.service_id = lim.k",
            }[grain]
            where, params = self.pg_days()
            q = text(
                f"""SELECT lim.kind, lim.k, top.value, top.n, top.cum
                FROM unnest(CAST(:kinds AS text[]), CAST(:ks AS integer[]), CAST(:lims AS integer[]),
                            CAST(:lowers AS bigint[])) AS lim(kind, k, lim, lower)
                CROSS JOIN LATERAL (
                  SELECT value, n, cum FROM (
                    SELECT value, n,
                           sum(n) OVER (ORDER BY value DESC, day DESC ROWS UNBOUNDED PRECEDING) AS cum
                    FROM (SELECT v.value, v.n, v.day FROM stats_day_values AS v
                          WHERE v.office_id = :office AND v.kind = lim.kind AND {key_cond} AND {where}
                          ORDER BY v.value DESC, v.day DESC LIMIT lim.lim) AS t
                  ) AS r WHERE cum >= lim.lower
                ) AS top ORDER BY lim.kind, lim.k, top.cum"""  # noqa: S608 (fixed condition text)
            )
            bound = {
                **params,
                "kinds": [e[0] for e in entries],
                "ks": [0 if e[1] is None else e[1] for e in entries],
                "lims": [e[2] for e in entries],
                "lowers": [e[3] for e in entries],
            }
            for kind, k, v, n, cum in self.s.execute(q, bound):
                key = (kind, None if grain == "office" else k)
                if key not in found:
                    found[key] = []
                    above[key] = int(cum) - int(n)
                found[key].append((int(v), int(n)))
        out: dict[str, dict[Any, float]] = {}
        for kind, t in totals.items():
            stored = {k: rows for (kd, k), rows in found.items() if kd == kind}
            tops = {k: a for (kd, k), a in above.items() if kd == kind}
            out[kind] = _from_top(stored, raws[kind], t, tops)
        return out

    def agent_p90(self, totals: dict[Any, int]) -> dict[Any, float]:
        raw: Histogram = {}
        if self.raw:
            r = raw_agent_values(self.dialect, self.office_id, self.raw, self.period.zone).subquery("r")
            q = select(r.c.agent_id, r.c.value, func.sum(r.c.n)).group_by(r.c.agent_id, r.c.value)
            for agent, v, n in self.s.execute(q):
                raw.setdefault(agent, []).append((int(v), int(n)))
        stored: Histogram = {}
        if self.rolled and self.top_down:
            match = _AV.c.office_id == self.office_id
            stored, above = _top_rows(
                self.s, _AV, match, _AV.c.agent_id, totals, self.rolled_filter(_AV.c.day), raw
            )
            return _from_top(stored, raw, totals, above)
        if self.rolled:
            q = (
                select(_AV.c.agent_id, _AV.c.value, func.sum(_AV.c.n))
                .where(_AV.c.office_id == self.office_id, self.rolled_filter(_AV.c.day))
                .group_by(_AV.c.agent_id, _AV.c.value)
            )
            for agent, v, n in self.s.execute(q):
                stored.setdefault(agent, []).append((int(v), int(n)))
        return _from_top(stored, raw, totals)


def _from_top(
    stored: Histogram, raw: Histogram, totals: dict[Any, int], above: dict[Any, int] | None = None
) -> dict[Any, float]:
    """The nearest-rank p90 per key, walking each key's values from the largest: the
    (n − ⌈0.9·n⌉ + 1)-th largest value is the ⌈0.9·n⌉-th smallest. ``above`` counts stored values
    larger than every value ``stored`` lists (read past in SQL); ``stored`` and ``raw`` hold every
    other value that large."""
    out: dict[Any, float] = {}
    for key, n in totals.items():
        if not n:
            continue
        need = n - rank_for(n, 90) + 1
        cum = (above or {}).get(key, 0)
        for value, count in sorted(stored.get(key, []) + raw.get(key, []), reverse=True):
            cum += count
            if cum >= need:
                out[key] = value / 1000.0
                break
    return out


def _top_rows(
    s: Session,
    table: Any,
    match: Any,
    key_col: Any | None,
    totals: dict[Any, int],
    day_filter: Any,
    raw: Histogram,
    pg: tuple[str, dict[str, Any]] = ("true", {}),
) -> tuple[Histogram, dict[Any, int]]:
    """Per key, the stored (value, n) rows among the top tenth that can hold the percentile, and how
    many stored values lie above them. Read backwards along the primary key (values in order within
    a group); rows whose running count stays below need − (the key's raw values) cannot be the
    answer, so only their count comes back."""
    needs = {k: n - rank_for(n, 90) + 1 for k, n in totals.items() if n}
    rows: Histogram = {}
    above: dict[Any, int] = {}
    if not needs:
        return rows, above
    floor = {k: need - sum(c for _, c in raw.get(k, [])) for k, need in needs.items()}

    def top(where: Any, limit: Any, lower: Any) -> Any:
        t = (
            select(table.c.value, table.c.n)
            .where(match, where, day_filter)
            .order_by(table.c.value.desc(), table.c.day.desc())
            .limit(limit)
            .subquery("t")
        )
        cum = func.sum(t.c.n).over(order_by=t.c.value.desc(), rows=(None, 0))
        ranked = select(t.c.value, t.c.n, cum.label("cum")).subquery("ranked")
        return select(ranked.c.value, ranked.c.n, ranked.c.cum).where(ranked.c.cum >= lower)

    def keep(key: Any, value: int, n: int, cum: int) -> None:
        if key not in rows:
            rows[key] = []
            above[key] = cum - n
        rows[key].append((value, n))

    if key_col is None or s.get_bind().dialect.name != "postgresql":  # SQLite: no LATERAL
        for key, need in needs.items():
            q = top(true() if key_col is None else key_col == key, need, floor[key])
            for v, n, cum in s.execute(q):
                keep(key, int(v), int(n), int(cum))
        return rows, above
    # PostgreSQL: every key in one statement, a LATERAL read per key (plain SQL: the key list is
    # correlated two subqueries deep).
    where, params = pg
    q = text(
        f"""SELECT lim.k, top.value, top.n, top.cum
        FROM unnest(CAST(:ks AS integer[]), CAST(:lims AS integer[]), CAST(:lowers AS bigint[]))
             AS lim(k, lim, lower)
        CROSS JOIN LATERAL (
          SELECT value, n, cum FROM (
            SELECT value, n, sum(n) OVER (ORDER BY value DESC, day DESC ROWS UNBOUNDED PRECEDING) AS cum
            FROM (SELECT v.value, v.n, v.day FROM {table.name} AS v
                  WHERE v.{key_col.name} = lim.k AND {where}
                  ORDER BY v.value DESC, v.day DESC LIMIT lim.lim) AS t
          ) AS r WHERE cum >= lim.lower
        ) AS top ORDER BY lim.k, top.cum"""  # noqa: S608 (fixed table, column and condition text)
    )
    keys = list(needs)
    bound = {
        **params,
        "ks": keys,
        "lims": [needs[k] for k in keys],
        "lowers": [floor[k] for k in keys],
    }
    for k, v, n, cum in s.execute(q, bound):
        keep(k, int(v), int(n), int(cum))
    return rows, above


def _mean_ms(total: int, n: int) -> float | None:
    return total / n / 1000.0 if n else None


def _satisfaction(c: dict[str, int]) -> Satisfaction:
    n = c["ratings"]
    return Satisfaction(
        ratings=n,
        defaults=c["rating_defaults"],
        good=c["rating_good"],
        bad=c["rating_bad"],
        mean_level=c["rating_level_sum"] / n if n else None,
    )


def figures(
    s: Session,
    office_id: int,
    period: Period,
    target_wait_s: float | None = None,
    by: Dimension = "office",
    use_rollup: bool = True,
) -> list[Figures]:
    """The period's figures for the office (one row, key None) or per station / service.

    "Within target" counts each ticket against its service's own ``target_wait_min`` — or against
    ``target_wait_s`` for every service when given."""
    plan = _Plan(s, office_id, period, use_rollup)
    grain: Grain = by
    rows = plan.counters(grain, _FIGURES)
    p90 = plan.p90s(
        grain,
        {
            "wait": {k: c["served"] for k, c in rows.items()},
            "handling": {k: c["handling_n"] for k, c in rows.items()},
        },
    )
    wait_p90, handling_p90 = p90["wait"], p90["handling"]
    within = (
        _within(plan, grain, target_wait_s)
        if target_wait_s is not None
        else {k: c["within_target"] for k, c in rows.items()}
    )
    return [
        Figures(
            key=None if by == "station" and k == 0 else k,  # station 0: tickets without a station
            issued=c["issued"],
            served=c["served"],
            completed=c["completed"],
            no_show=c["no_show"],
            abandoned=c["abandoned"],
            unserved_at_close=c["unserved_at_close"],
            ended=c["ended"],
            within_target=within.get(k, 0),
            wait_mean_s=_mean_ms(c["wait_sum_ms"], c["served"]),
            wait_p90_s=wait_p90.get(k),
            handling_mean_s=_mean_ms(c["handling_sum_ms"], c["handling_n"]),
            handling_p90_s=handling_p90.get(k),
            satisfaction=_satisfaction(c),
        )
        for k, c in sorted(rows.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))
    ]


def _within(plan: _Plan, grain: Grain, target_s: float) -> dict[Any, int]:
    """Served tickets whose wait ≤ ``target_s``, per group."""
    limit = round(target_s * 1000)
    out: dict[Any, int] = {}
    for key, pairs in plan.raw_values("wait", grain).items():
        out[key] = out.get(key, 0) + sum(n for v, n in pairs if v <= limit)
    if plan.rolled:
        k = _key_col(_SV, grain) if _KEY[grain] else null()
        q = select(k, func.sum(_SV.c.n)).where(
            _SV.c.office_id == plan.office_id,
            _SV.c.kind == "wait",
            _grain_filter(_SV, grain),
            plan.rolled_filter(_SV.c.day),
            _SV.c.value <= limit,
        )
        if _KEY[grain]:
            q = q.group_by(k)
        for key, n in plan.s.execute(q):
            out[key] = out.get(key, 0) + int(n or 0)
    return out


def agent_figures(s: Session, office_id: int, period: Period, use_rollup: bool = True) -> list[AgentFigures]:
    """Per agent: tickets answered, completed (handled to done), handling mean and p90, ratings."""
    plan = _Plan(s, office_id, period, use_rollup)
    rows = {k: c for k, c in plan.agent_counters().items() if c["touched"]}
    p90 = plan.agent_p90({k: c["completed"] for k, c in rows.items()})
    return [
        AgentFigures(
            agent_id=int(k),
            served=c["served"],
            completed=c["completed"],
            handling_mean_s=_mean_ms(c["handling_sum_ms"], c["completed"]),
            handling_p90_s=p90.get(k),
            satisfaction=_satisfaction(c),
        )
        for k, c in sorted(rows.items())
    ]


def served_per_hour(s: Session, office_id: int, period: Period, use_rollup: bool = True) -> list[HourCount]:
    """Tickets by the office-local hour their first serve started (24 rows).

    Rolled days with one UTC offset all day are summed per quarter of the UTC day in SQL (≤ 96 rows
    per offset); days with a clock change and the raw days convert each quarter-hour exactly."""
    plan = _Plan(s, office_id, period, use_rollup)
    zone = ZoneInfo(period.zone)
    hours = [0] * 24
    by_offset: dict[int, list[date]] = {}
    exact_days: list[date] = []
    for day in plan.rolled:
        start = datetime.combine(day, time(0), tzinfo=zone)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone) - timedelta(seconds=1)
        first, last = start.utcoffset(), end.utcoffset()
        if first is not None and first == last:
            by_offset.setdefault(int(first.total_seconds()), []).append(day)
        else:
            exact_days.append(day)
    base = and_(_SV.c.office_id == office_id, _SV.c.kind == "q15", _grain_filter(_SV, "office"))
    for offset_s, days in by_offset.items():
        quarter = (_SV.c.value % 96).label("m")
        q = select(quarter, func.sum(_SV.c.n)).where(base, _days_filter(_SV.c.day, days)).group_by(quarter)
        for m, n in s.execute(q):
            hours[((int(m) * 900 + offset_s) % 86400) // 3600] += int(n)
    exact: list[tuple[int, int]] = []
    if exact_days:
        q = select(_SV.c.value, func.sum(_SV.c.n)).where(base, _days_filter(_SV.c.day, exact_days))
        exact.extend((int(v), int(n)) for v, n in s.execute(q.group_by(_SV.c.value)))
    for pairs in plan.raw_values("q15", "office").values():
        exact.extend(pairs)
    for q15, n in exact:
        hours[datetime.fromtimestamp(q15 * 900, UTC).astimezone(zone).hour] += n
    return [HourCount(h, n) for h, n in enumerate(hours)]


def _days_filter(day_col: Any, days: list[date]) -> Any:
    if (days[-1] - days[0]).days + 1 == len(days):  # contiguous: a range
        return and_(day_col >= days[0], day_col <= days[-1])
    return day_col.in_(days)


def wait_distribution(s: Session, office_id: int, period: Period, use_rollup: bool = True) -> list[WaitBin]:
    """Served tickets by wait, in the bins of :data:`office.stats.period.WAIT_BINS_MIN`."""
    plan = _Plan(s, office_id, period, use_rollup)
    edges = WAIT_BINS_MIN
    names = [f"wait_bin_{i}" for i in range(len(edges))]
    c = plan.counters("office", names)[None]
    return [
        WaitBin(lo, edges[i + 1] if i + 1 < len(edges) else None, c[names[i]]) for i, lo in enumerate(edges)
    ]


def satisfaction_trend(s: Session, office_id: int, period: Period, use_rollup: bool = True) -> list[TrendDay]:
    """Per day of the period: served tickets and their ratings."""
    plan = _Plan(s, office_id, period, use_rollup)
    by_day = plan.counters("office", ("served", *_SATISFACTION), by_day=True)
    out = []
    for day in period.days:
        c = by_day.get(day)
        out.append(TrendDay(day, c["served"], _satisfaction(c)) if c else TrendDay(day, 0, Satisfaction()))
    return out


def wait_accuracy(s: Session, office_id: int, period: Period, use_rollup: bool = True) -> Accuracy:
    """Wait-estimate accuracy: the prediction stored at issue vs issue → first call."""
    plan = _Plan(s, office_id, period, use_rollup)
    c = plan.counters("office", ("est_n", "est_err_sum_ms", "est_wait_sum_ms"))[None]
    n = c["est_n"]
    if not n:
        return Accuracy(0, None, None, None)
    p90 = plan.p90("est_err", "office", {None: n}).get(None)
    return Accuracy(n, _mean_ms(c["est_err_sum_ms"], n), p90, _mean_ms(c["est_wait_sum_ms"], n))
