"""The dashboard's period statistics from the per-day rollup plus a raw remainder.

A period = its rolled days (read from the rollup tables, :mod:`office.stats.rollup`) + every other
day (today, yesterday, days not rolled yet) computed from the raw rows by the same selects the
rollup is written with. Both halves are unioned in SQL and aggregated together, so every figure is
the one :mod:`office.stats.period` computes from raw rows alone:

* counts, sums and therefore means are additive;
* percentiles come from summed value histograms at millisecond resolution — the resolution waits
  and handling times are defined at — so the nearest-rank p90 is exact, not an estimate;
* "served within target" counts wait values ≤ each service's own target (``services.target_wait_min``)
  unless one target for all is given.

The functions mirror :mod:`office.stats.period` (same result types).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, func, literal, null, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql import Subquery

from office.models import Service, StatsAgentDay, StatsAgentDayValue, StatsDay, StatsDayValue
from office.queue.estimate import Accuracy
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
    raw_agent_days,
    raw_agent_values,
    raw_days,
    raw_values,
    rolled_days,
)

__all__ = [
    "agent_figures",
    "figures",
    "satisfaction_trend",
    "served_per_hour",
    "wait_accuracy",
    "wait_distribution",
]

_SD = StatsDay.__table__
_SV = StatsDayValue.__table__
_AD = StatsAgentDay.__table__
_AV = StatsAgentDayValue.__table__
_DAY_COLS = [c.name for c in _SD.columns if c.name != "office_id"]
_AGENT_COLS = [c.name for c in _AD.columns if c.name != "office_id"]


class _Plan:
    """Which days of a period come from the rollup and which from raw rows."""

    def __init__(self, s: Session, office_id: int, period: Period, use_rollup: bool) -> None:
        self.dialect = _dialect(s)
        self.office_id = office_id
        self.period = period
        self.rolled: list[date] = rolled_days(s, office_id, period) if use_rollup else []
        rolled = set(self.rolled)
        self.raw: list[date] = [d for d in period.days if d not in rolled]

    def rolled_filter(self, day_col: Any) -> Any:
        days = self.rolled
        if (days[-1] - days[0]).days + 1 == len(days):  # contiguous: a range the index serves
            return and_(day_col >= days[0], day_col <= days[-1])
        return day_col.in_(days)

    def union(self, stored: Select[Any] | None, raw: Select[Any] | None, name: str) -> Subquery:
        parts = [p for p in (stored, raw) if p is not None]
        assert parts, "a period has at least one day"
        return (parts[0] if len(parts) == 1 else union_all(*parts)).subquery(name)

    def days(self) -> Subquery:
        stored = (
            select(*(_SD.c[c] for c in _DAY_COLS)).where(
                _SD.c.office_id == self.office_id, self.rolled_filter(_SD.c.day)
            )
            if self.rolled
            else None
        )
        raw = raw_days(self.dialect, self.office_id, self.raw, self.period.zone) if self.raw else None
        return self.union(stored, raw, "days")

    def values(self, kind: str) -> Subquery:
        cols = ["day", "station_id", "service_id", "value", "n"]
        stored = (
            select(*(_SV.c[c] for c in cols)).where(
                _SV.c.office_id == self.office_id, _SV.c.kind == kind, self.rolled_filter(_SV.c.day)
            )
            if self.rolled
            else None
        )
        raw = None
        if self.raw:
            r = raw_values(self.dialect, self.office_id, self.raw, self.period.zone, kind).subquery("rv")
            raw = select(*(r.c[c] for c in cols))
        return self.union(stored, raw, f"values_{kind}")

    def agent_days(self) -> Subquery:
        stored = (
            select(*(_AD.c[c] for c in _AGENT_COLS)).where(
                _AD.c.office_id == self.office_id, self.rolled_filter(_AD.c.day)
            )
            if self.rolled
            else None
        )
        raw = raw_agent_days(self.dialect, self.office_id, self.raw, self.period.zone) if self.raw else None
        return self.union(stored, raw, "agent_days")

    def agent_values(self) -> Subquery:
        cols = ["day", "agent_id", "value", "n"]
        stored = (
            select(*(_AV.c[c] for c in cols)).where(
                _AV.c.office_id == self.office_id, self.rolled_filter(_AV.c.day)
            )
            if self.rolled
            else None
        )
        raw = raw_agent_values(self.dialect, self.office_id, self.raw, self.period.zone) if self.raw else None
        return self.union(stored, raw, "agent_values")


def _p90(s: Session, values: Subquery, key: str | None) -> dict[Any, float]:
    """Nearest-rank 90th percentile (seconds) per ``key`` of a value histogram (milliseconds):
    the smallest value whose cumulative count reaches ⌈0.9·n⌉."""
    k = values.c[key] if key else null()
    grouped = (
        select(k.label("k"), values.c.value, func.sum(values.c.n).label("n"))
        .group_by(*([values.c[key]] if key else []), values.c.value)
        .subquery("hist")
    )
    part = [grouped.c.k] if key else None
    ranked = select(
        grouped.c.k,
        grouped.c.value,
        func.sum(grouped.c.n).over(partition_by=part, order_by=grouped.c.value, rows=(None, 0)).label("cum"),
        func.sum(grouped.c.n).over(partition_by=part).label("total"),
    ).subquery("ranked")
    q = (
        select(ranked.c.k, func.min(ranked.c.value))
        .where(ranked.c.cum * 100 >= ranked.c.total * 90)
        .group_by(ranked.c.k)
    )
    return {row[0]: int(row[1]) / 1000.0 for row in s.execute(q)}


def _mean_ms(total: Any, n: Any) -> float | None:
    return int(total) / int(n) / 1000.0 if n else None


def _satisfaction(ratings: Any, defaults: Any, good: Any, bad: Any, level_sum: Any) -> Satisfaction:
    n = int(ratings or 0)
    return Satisfaction(
        ratings=n,
        defaults=int(defaults or 0),
        good=int(good or 0),
        bad=int(bad or 0),
        mean_level=int(level_sum) / n if n else None,
    )


def _sums(sub: Subquery, names: Sequence[str]) -> list[Any]:
    return [func.coalesce(func.sum(sub.c[c]), 0).label(c) for c in names]


_FIGURE_SUMS = [c for c in _DAY_COLS if c not in ("day", "station_id", "service_id")]


def figures(
    s: Session,
    office_id: int,
    period: Period,
    target_wait_s: float | None = None,
    by: Dimension = "office",
    use_rollup: bool = True,
) -> list[Figures]:
    """The period's figures for the office (one row, key None) or per station / service.

    "Within target" uses ``target_wait_s`` for every service when given, else each service's own
    ``target_wait_min``."""
    plan = _Plan(s, office_id, period, use_rollup)
    d = plan.days()
    key_name = {"office": None, "station": "station_id", "service": "service_id"}[by]
    key = d.c[key_name] if key_name else None
    q = select(key.label("k") if key is not None else null().label("k"), *_sums(d, _FIGURE_SUMS))
    if key is not None:
        q = q.group_by(key).order_by(key)
    rows = s.execute(q).all()
    wait_p90 = _p90(s, plan.values("wait"), key_name)
    handling_p90 = _p90(s, plan.values("handling"), key_name)
    within = _within_target(s, plan.values("wait"), target_wait_s, key_name)
    out = []
    for row in rows:
        k = None if by == "station" and row.k == 0 else row.k  # 0: tickets without a station
        out.append(
            Figures(
                key=k,
                issued=int(row.issued),
                served=int(row.served),
                completed=int(row.completed),
                no_show=int(row.no_show),
                abandoned=int(row.abandoned),
                unserved_at_close=int(row.unserved_at_close),
                ended=int(row.ended),
                within_target=int(within.get(row.k, 0)),
                wait_mean_s=_mean_ms(row.wait_sum_ms, row.served),
                wait_p90_s=wait_p90.get(row.k),
                handling_mean_s=_mean_ms(row.handling_sum_ms, row.handling_n),
                handling_p90_s=handling_p90.get(row.k),
                satisfaction=_satisfaction(
                    row.ratings, row.rating_defaults, row.rating_good, row.rating_bad, row.rating_level_sum
                ),
            )
        )
    return out


def _within_target(s: Session, waits: Subquery, target_s: float | None, key: str | None) -> dict[Any, int]:
    """Served tickets whose wait ≤ the target, per key."""
    if target_s is not None:
        limit: Any = literal(round(target_s * 1000))
        source: Any = waits
    else:
        sv = Service.__table__
        limit = sv.c.target_wait_min * 60000
        source = waits.join(sv, sv.c.id == waits.c.service_id)
    k = waits.c[key] if key else null()
    q = select(k.label("k"), func.sum(waits.c.n)).select_from(source).where(waits.c.value <= limit)
    if key:
        q = q.group_by(waits.c[key])
    return {row[0]: int(row[1] or 0) for row in s.execute(q)}


def agent_figures(s: Session, office_id: int, period: Period, use_rollup: bool = True) -> list[AgentFigures]:
    """Per agent: tickets answered, completed (handled to done), handling mean and p90, ratings."""
    plan = _Plan(s, office_id, period, use_rollup)
    a = plan.agent_days()
    sums = [c for c in _AGENT_COLS if c not in ("day", "agent_id")]
    q = select(a.c.agent_id.label("k"), *_sums(a, sums)).group_by(a.c.agent_id).order_by(a.c.agent_id)
    rows = s.execute(q).all()
    p90 = _p90(s, plan.agent_values(), "agent_id")
    return [
        AgentFigures(
            agent_id=int(row.k),
            served=int(row.served),
            completed=int(row.completed),
            handling_mean_s=_mean_ms(row.handling_sum_ms, row.completed),
            handling_p90_s=p90.get(row.k),
            satisfaction=_satisfaction(
                row.ratings, row.rating_defaults, row.rating_good, row.rating_bad, row.rating_level_sum
            ),
        )
        for row in rows
        if row.touched
    ]


def served_per_hour(s: Session, office_id: int, period: Period, use_rollup: bool = True) -> list[HourCount]:
    """Tickets by the office-local hour their first serve started (24 rows)."""
    plan = _Plan(s, office_id, period, use_rollup)
    v = plan.values("q15")
    zone = ZoneInfo(period.zone)
    hours = [0] * 24
    for q15, n in s.execute(select(v.c.value, func.sum(v.c.n)).group_by(v.c.value)):
        hours[datetime.fromtimestamp(int(q15) * 900, UTC).astimezone(zone).hour] += int(n)
    return [HourCount(h, n) for h, n in enumerate(hours)]


def wait_distribution(s: Session, office_id: int, period: Period, use_rollup: bool = True) -> list[WaitBin]:
    """Served tickets by wait, in the bins of :data:`office.stats.period.WAIT_BINS_MIN`."""
    plan = _Plan(s, office_id, period, use_rollup)
    v = plan.values("wait")
    edges = WAIT_BINS_MIN
    whens = [(v.c.value < edges[i + 1] * 60000, i) for i in range(len(edges) - 1)]
    idx = case(*whens, else_=len(edges) - 1).label("b")
    counts = {int(b): int(n) for b, n in s.execute(select(idx, func.sum(v.c.n)).group_by(idx))}
    return [
        WaitBin(lo, edges[i + 1] if i + 1 < len(edges) else None, counts.get(i, 0))
        for i, lo in enumerate(edges)
    ]


def satisfaction_trend(s: Session, office_id: int, period: Period, use_rollup: bool = True) -> list[TrendDay]:
    """Per day of the period: served tickets and their ratings."""
    plan = _Plan(s, office_id, period, use_rollup)
    d = plan.days()
    names = ["served", "ratings", "rating_defaults", "rating_good", "rating_bad", "rating_level_sum"]
    q = select(d.c.day.label("k"), *_sums(d, names)).group_by(d.c.day)
    by_day = {_as_date(row.k): row for row in s.execute(q)}
    out = []
    for day in period.days:
        row = by_day.get(day)
        if row is None:
            out.append(TrendDay(day, 0, Satisfaction()))
            continue
        sat = _satisfaction(
            row.ratings, row.rating_defaults, row.rating_good, row.rating_bad, row.rating_level_sum
        )
        out.append(TrendDay(day, int(row.served), sat))
    return out


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def wait_accuracy(s: Session, office_id: int, period: Period, use_rollup: bool = True) -> Accuracy:
    """Wait-estimate accuracy: the prediction stored at issue vs issue → first call."""
    plan = _Plan(s, office_id, period, use_rollup)
    d = plan.days()
    row = s.execute(select(*_sums(d, ["est_n", "est_err_sum_ms", "est_wait_sum_ms"]))).one()
    n = int(row.est_n)
    if not n:
        return Accuracy(0, None, None, None)
    p90 = _p90(s, plan.values("est_err"), None).get(None)
    return Accuracy(n, _mean_ms(row.est_err_sum_ms, n), p90, _mean_ms(row.est_wait_sum_ms, n))
