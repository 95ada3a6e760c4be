"""Statistics over whole office-local days, computed in SQL from the stamped ticket events.

Definitions (docs/statistics.md has the full text):

* A ticket belongs to its ``business_date`` (the office-local day it was issued) — and so does
  everything about it: its wait, its service, a call that runs past midnight.
* *first serve* is the ticket's earliest ``answer`` event; *served* tickets are those with one.
  *wait* = first serve − issue (rings, recalls, declines, transfers and no-show/rejoin before the
  first serve all count as waiting; a transferred ticket's later queueing does not).
* *handling* = the time the ticket spent in ``serving`` (answer/resume → complete, hold, transfer,
  leave), summed over its segments, for completed (``done``) tickets; held time is not handling.
  Per agent, each segment counts for the agent stamped on its events.
* *no-show* = ended ``no_show`` (a rejoined and later served ticket is not one); *abandoned* = left
  by the resident before any serve; *unserved at close* = ended by staff or the day's close before
  any serve. Rates divide by the tickets that have ended (``done``, ``no_show``, ``left``).
* Only ``ticket_events`` stamped before the period's end + :data:`EVENT_SLACK` are read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, func, literal_column, null, or_, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql import Subquery

from office.models import Rating, Ticket, TicketEvent, TicketState
from office.queue.estimate import Accuracy
from office.stats.percentiles import rate
from office.stats.periods import Period
from office.stats.sqlfn import bucket, epoch

__all__ = [
    "EVENT_SLACK",
    "WAIT_BINS_MIN",
    "AgentFigures",
    "Figures",
    "HourCount",
    "Satisfaction",
    "TrendDay",
    "WaitBin",
    "agent_facts",
    "agent_figures",
    "figures",
    "satisfaction_trend",
    "served_per_hour",
    "ticket_facts",
    "wait_accuracy",
    "wait_distribution",
]

#: Events of a period's tickets are read until this long after the period ends.
EVENT_SLACK = timedelta(days=1)
#: Wait distribution bin edges in minutes (the last bin is open-ended).
WAIT_BINS_MIN = (0, 5, 10, 15, 20, 30, 45, 60)

Dimension = Literal["office", "station", "service"]
_T = Ticket.__table__
_E = TicketEvent.__table__
_R = Rating.__table__
_TERMINAL = (TicketState.DONE.value, TicketState.NO_SHOW.value, TicketState.LEFT.value)
_SERVING = TicketState.SERVING.value
_SERVING_SQL: Any = literal_column(f"'{_SERVING}'")


@dataclass(frozen=True, slots=True)
class Satisfaction:
    """Ratings of the tickets in a group."""

    ratings: int = 0
    defaults: int = 0
    good: int = 0  # levels 5 and 4 (非常满意, 满意)
    bad: int = 0  # levels 2 and 1 (差评)
    mean_level: float | None = None

    @property
    def good_rate(self) -> float | None:
        """Good ratings / ratings."""
        return rate(self.good, self.ratings)


@dataclass(frozen=True, slots=True)
class Figures:
    """The period's figures for the office or one station or service (``key``)."""

    key: int | None
    issued: int
    served: int
    completed: int
    no_show: int
    abandoned: int
    unserved_at_close: int
    ended: int
    within_target: int
    wait_mean_s: float | None
    wait_p90_s: float | None
    handling_mean_s: float | None
    handling_p90_s: float | None
    satisfaction: Satisfaction

    @property
    def no_show_rate(self) -> float | None:
        """No-shows / ended tickets."""
        return rate(self.no_show, self.ended)

    @property
    def abandonment_rate(self) -> float | None:
        """Abandoned / ended tickets."""
        return rate(self.abandoned, self.ended)

    @property
    def within_target_rate(self) -> float | None:
        """Served within the target wait / served."""
        return rate(self.within_target, self.served)

    @property
    def active_rating_rate(self) -> float | None:
        """Ratings the resident gave (not the default) / served tickets."""
        return rate(self.satisfaction.ratings - self.satisfaction.defaults, self.served)


@dataclass(frozen=True, slots=True)
class AgentFigures:
    """One agent's period: tickets answered, completed, handling time, ratings."""

    agent_id: int
    served: int
    completed: int
    handling_mean_s: float | None
    handling_p90_s: float | None
    satisfaction: Satisfaction


@dataclass(frozen=True, slots=True)
class HourCount:
    """Tickets whose first serve started in this office-local hour."""

    hour: int
    served: int


@dataclass(frozen=True, slots=True)
class WaitBin:
    """Served tickets whose wait was ``low_min`` ≤ wait < ``high_min`` (None: open-ended)."""

    low_min: int
    high_min: int | None
    count: int


@dataclass(frozen=True, slots=True)
class TrendDay:
    """One day of the satisfaction trend."""

    day: date
    served: int
    satisfaction: Satisfaction


# --- the fact subqueries --------------------------------------------------------------------------


def _dialect(s: Session) -> str:
    """The engine's dialect name; on PostgreSQL also sizes the transaction for the period queries:
    enough memory for the per-ticket hash aggregates (no spilling to disk), no JIT compilation."""
    name = s.get_bind().dialect.name
    if name == "postgresql":
        s.execute(text("SET LOCAL work_mem = '64MB'"))
        s.execute(text("SET LOCAL jit = off"))
    return name


def _serving(dialect: str, office_id: int, period: Period, by_agent: bool) -> Subquery:
    """Per ticket (and agent): first answer, seconds in serving, segments opened and closed."""
    ep = epoch(dialect, _E.c.at)
    # Inline constants (not bound parameters): a cached generic plan must still match the partial
    # index ix_ticket_events_serving, whose predicate is this one.
    into = _E.c.to_state == _SERVING_SQL
    out = _E.c.from_state == _SERVING_SQL
    keys = [_E.c.ticket_id, *([_E.c.agent_id] if by_agent else [])]
    return (
        select(
            *keys,
            func.min(case((_E.c.event == "answer", ep))).label("first_serve_ep"),
            func.sum(case((out, ep), else_=0.0) - case((into, ep), else_=0.0)).label("serving_s"),
            func.sum(case((into, 1), else_=0)).label("opened"),
            func.sum(case((out, 1), else_=0)).label("closed"),
        )
        .where(
            _E.c.office_id == office_id,
            _E.c.at >= period.start,
            _E.c.at < period.end + EVENT_SLACK,
            or_(into, out),
        )
        .group_by(*keys)
        .subquery("serving")
    )


def _ms(seconds: Any) -> Any:
    """Seconds rounded to the millisecond (epoch arithmetic in floating point is not exact)."""
    return func.round(seconds * 1000.0) / 1000.0


def _in_period(office_id: int, period: Period, days: Sequence[date] | None = None) -> Any:
    cond = and_(
        _T.c.office_id == office_id,
        _T.c.business_date >= period.first_day,
        _T.c.business_date <= period.last_day,
    )
    if days is not None and len(days) != len(period.days):
        cond = and_(cond, _T.c.business_date.in_(list(days)))
    return cond


def ticket_facts(
    dialect: str,
    office_id: int,
    period: Period,
    ratings: bool = False,
    days: Sequence[date] | None = None,
    estimate: bool = False,
) -> Subquery:
    """One row per ticket of the period (only of ``days`` when given): keys, state, wait_s,
    handling_s, first_serve_ep, (with ``ratings``) its rating's r_level, r_default, r_agent and (with
    ``estimate``) the wait-estimate sample est_wait_s / est_err_s (null when not called or no
    prediction)."""
    sv = _serving(dialect, office_id, period, by_agent=False)
    done_and_closed = and_(_T.c.state == TicketState.DONE.value, sv.c.opened == sv.c.closed)
    joined = _T.outerjoin(sv, sv.c.ticket_id == _T.c.id)
    rating_cols: list[Any] = [null().label("r_level"), null().label("r_default"), null().label("r_agent")]
    if ratings:
        joined = joined.outerjoin(_R, _R.c.ticket_id == _T.c.id)
        rating_cols = [
            _R.c.level.label("r_level"),
            _R.c.is_default.label("r_default"),
            _R.c.agent_id.label("r_agent"),
        ]
    return (
        select(
            _T.c.id,
            _T.c.station_id,
            _T.c.service_id,
            _T.c.business_date,
            _T.c.state,
            _T.c.ended_by,
            _ms(sv.c.first_serve_ep - epoch(dialect, _T.c.issued_at)).label("wait_s"),
            case((done_and_closed, _ms(sv.c.serving_s))).label("handling_s"),
            sv.c.first_serve_ep,
            *rating_cols,
            *(_estimate_cols(dialect) if estimate else []),
        )
        .select_from(joined)
        .where(_in_period(office_id, period, days))
        .subquery("facts")
    )


def _estimate_cols(dialect: str) -> list[Any]:
    """The ticket's wait-estimate sample: actual issue → first call, and its absolute error."""
    called = and_(_T.c.first_called_at.is_not(None), _T.c.predicted_wait_s.is_not(None))
    wait = epoch(dialect, _T.c.first_called_at) - epoch(dialect, _T.c.issued_at)
    return [
        case((called, _ms(wait))).label("est_wait_s"),
        case((called, _ms(func.abs(wait - _T.c.predicted_wait_s)))).label("est_err_s"),
    ]


def agent_facts(dialect: str, office_id: int, period: Period, days: Sequence[date] | None = None) -> Subquery:
    """One row per (ticket, agent) who served it: answered flag, handling seconds if done."""
    sv = _serving(dialect, office_id, period, by_agent=True)
    done_and_closed = and_(_T.c.state == TicketState.DONE.value, sv.c.opened == sv.c.closed)
    return (
        select(
            sv.c.ticket_id,
            sv.c.agent_id,
            sv.c.first_serve_ep,
            _T.c.state,
            _T.c.business_date,
            case((done_and_closed, _ms(sv.c.serving_s))).label("handling_s"),
        )
        .select_from(sv.join(_T, _T.c.id == sv.c.ticket_id))
        .where(_in_period(office_id, period, days), sv.c.agent_id.is_not(None))
        .subquery("agent_facts")
    )


def _count_if(cond: Any) -> Any:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def _p90(s: Session, facts: Subquery, value: str, key: str | None) -> dict[int | None, float]:
    """Nearest-rank 90th percentile of ``facts.value`` per ``facts.key`` (window functions)."""
    v = facts.c[value]
    part = [facts.c[key]] if key else None
    inner = (
        select(
            facts.c[key].label("k") if key else null().label("k"),
            v.label("v"),
            func.row_number().over(partition_by=part, order_by=v).label("rn"),
            func.count().over(partition_by=part).label("n"),
        )
        .where(v.is_not(None))
        .subquery("ranked")
    )
    q: Select[Any] = select(inner.c.k, inner.c.v).where(inner.c.rn == (inner.c.n * 90 + 99) // 100)
    return {row[0]: float(row[1]) for row in s.execute(q)}


# --- ratings --------------------------------------------------------------------------------------


def _satisfaction_cols(f: Any, level: str = "r_level", default: str = "r_default") -> list[Any]:
    """Aggregates of the ratings in ``f`` (a rating level column and an is-default column)."""
    lv, df = f.c[level], f.c[default]
    return [
        func.count(lv).label("ratings"),
        _count_if(df.is_(True)).label("defaults"),
        _count_if(lv >= 4).label("good"),
        _count_if(lv <= 2).label("bad"),
        func.avg(lv).label("mean_level"),
    ]


def _satisfaction_row(row: Any) -> Satisfaction:
    mean = row.mean_level
    return Satisfaction(
        ratings=int(row.ratings),
        defaults=int(row.defaults),
        good=int(row.good),
        bad=int(row.bad),
        mean_level=float(mean) if mean is not None else None,
    )


# --- public queries -------------------------------------------------------------------------------


def figures(
    s: Session, office_id: int, period: Period, target_wait_s: float, by: Dimension = "office"
) -> list[Figures]:
    """The period's figures for the office (one row, key None) or per station / service."""
    dialect = _dialect(s)
    f = ticket_facts(dialect, office_id, period, ratings=True)
    key_name = {"office": None, "station": "station_id", "service": "service_id"}[by]
    key = f.c[key_name] if key_name else None
    inline_p90 = dialect == "postgresql"
    q = select(
        key.label("k") if key is not None else null().label("k"),
        func.count().label("issued"),
        func.count(f.c.wait_s).label("served"),
        _count_if(f.c.state == TicketState.DONE.value).label("completed"),
        _count_if(f.c.state == TicketState.NO_SHOW.value).label("no_show"),
        _count_if(
            and_(f.c.state == TicketState.LEFT.value, f.c.wait_s.is_(None), f.c.ended_by == "resident")
        ).label("abandoned"),
        _count_if(
            and_(f.c.state == TicketState.LEFT.value, f.c.wait_s.is_(None), f.c.ended_by != "resident")
        ).label("unserved_at_close"),
        _count_if(f.c.state.in_(_TERMINAL)).label("ended"),
        _count_if(f.c.wait_s <= target_wait_s).label("within_target"),
        func.avg(f.c.wait_s).label("wait_mean"),
        func.avg(f.c.handling_s).label("handling_mean"),
        *_satisfaction_cols(f),
        *(
            [
                func.percentile_disc(0.9).within_group(f.c.wait_s).label("wait_p90"),
                func.percentile_disc(0.9).within_group(f.c.handling_s).label("handling_p90"),
            ]
            if inline_p90
            else []
        ),
    )
    if key is not None:
        q = q.group_by(key).order_by(key)
    rows = s.execute(q).all()
    if inline_p90:
        wait_p90 = {r.k: r.wait_p90 for r in rows}
        handling_p90 = {r.k: r.handling_p90 for r in rows}
    else:
        wait_p90 = _p90(s, f, "wait_s", key_name)
        handling_p90 = _p90(s, f, "handling_s", key_name)
    return [
        Figures(
            key=row.k,
            issued=int(row.issued),
            served=int(row.served),
            completed=int(row.completed),
            no_show=int(row.no_show),
            abandoned=int(row.abandoned),
            unserved_at_close=int(row.unserved_at_close),
            ended=int(row.ended),
            within_target=int(row.within_target),
            wait_mean_s=_f(row.wait_mean),
            wait_p90_s=_f(wait_p90.get(row.k)),
            handling_mean_s=_f(row.handling_mean),
            handling_p90_s=_f(handling_p90.get(row.k)),
            satisfaction=_satisfaction_row(row),
        )
        for row in rows
    ]


def _f(value: Any) -> float | None:
    return float(value) if value is not None else None


def agent_figures(s: Session, office_id: int, period: Period) -> list[AgentFigures]:
    """Per agent: tickets answered, completed (handled to done), handling mean and p90, ratings."""
    dialect = _dialect(s)
    f = agent_facts(dialect, office_id, period)
    inline_p90 = dialect == "postgresql"
    q = (
        select(
            f.c.agent_id.label("k"),
            func.count(f.c.first_serve_ep).label("served"),
            func.count(f.c.handling_s).label("completed"),
            func.avg(f.c.handling_s).label("handling_mean"),
            *([func.percentile_disc(0.9).within_group(f.c.handling_s).label("p90")] if inline_p90 else []),
        )
        .group_by(f.c.agent_id)
        .order_by(f.c.agent_id)
    )
    rows = s.execute(q).all()
    p90 = {r.k: r.p90 for r in rows} if inline_p90 else _p90(s, f, "handling_s", "agent_id")
    rated = (
        select(_R.c.agent_id.label("k"), *_satisfaction_cols(_R, level="level", default="is_default"))
        .select_from(_T.join(_R, _R.c.ticket_id == _T.c.id))
        .where(_in_period(office_id, period), _R.c.agent_id.is_not(None))
        .group_by(_R.c.agent_id)
    )
    sat = {row.k: _satisfaction_row(row) for row in s.execute(rated)}
    return [
        AgentFigures(
            agent_id=int(row.k),
            served=int(row.served),
            completed=int(row.completed),
            handling_mean_s=_f(row.handling_mean),
            handling_p90_s=_f(p90.get(row.k)),
            satisfaction=sat.get(row.k, Satisfaction()),
        )
        for row in rows
    ]


def served_per_hour(s: Session, office_id: int, period: Period) -> list[HourCount]:
    """Tickets by the office-local hour their first serve started (24 rows)."""
    dialect = _dialect(s)
    f = ticket_facts(dialect, office_id, period)
    quarter = bucket(dialect, f.c.first_serve_ep, 900).label("q")
    q = select(quarter, func.count()).where(f.c.first_serve_ep.is_not(None)).group_by(quarter)
    zone = ZoneInfo(period.zone)
    hours = [0] * 24
    for q15, n in s.execute(q):
        hours[datetime.fromtimestamp(int(q15) * 900, UTC).astimezone(zone).hour] += int(n)
    return [HourCount(h, n) for h, n in enumerate(hours)]


def wait_distribution(s: Session, office_id: int, period: Period) -> list[WaitBin]:
    """Served tickets by wait, in the bins of :data:`WAIT_BINS_MIN`."""
    f = ticket_facts(_dialect(s), office_id, period)
    edges = WAIT_BINS_MIN
    whens = [(f.c.wait_s < edges[i + 1] * 60, i) for i in range(len(edges) - 1)]
    idx = case(*whens, else_=len(edges) - 1).label("b")
    counts: dict[int, int] = dict(
        s.execute(select(idx, func.count()).where(f.c.wait_s.is_not(None)).group_by(idx)).all()
    )
    return [
        WaitBin(lo, edges[i + 1] if i + 1 < len(edges) else None, int(counts.get(i, 0)))
        for i, lo in enumerate(edges)
    ]


def satisfaction_trend(s: Session, office_id: int, period: Period) -> list[TrendDay]:
    """Per day of the period: served tickets and their ratings."""
    f = ticket_facts(_dialect(s), office_id, period, ratings=True)
    q = select(f.c.business_date.label("k"), func.count(f.c.wait_s).label("served"), *_satisfaction_cols(f))
    by_day = {row.k: row for row in s.execute(q.group_by(f.c.business_date))}
    return [
        TrendDay(day, int(by_day[day].served), _satisfaction_row(by_day[day]))
        if day in by_day
        else TrendDay(day, 0, Satisfaction())
        for day in period.days
    ]


def wait_accuracy(s: Session, office_id: int, period: Period) -> Accuracy:
    """Wait-estimate accuracy in SQL, the same figures as :func:`office.queue.estimate.accuracy`:
    the prediction stored at issue vs the actual issue → first call, over tickets called so far."""
    dialect = _dialect(s)
    wait = epoch(dialect, _T.c.first_called_at) - epoch(dialect, _T.c.issued_at)
    rows = (
        select(
            _T.c.office_id.label("k"),
            _ms(wait).label("wait_s"),
            _ms(func.abs(wait - _T.c.predicted_wait_s)).label("error_s"),
        )
        .where(
            _in_period(office_id, period),
            _T.c.first_called_at.is_not(None),
            _T.c.predicted_wait_s.is_not(None),
        )
        .subquery("predicted")
    )
    inline_p90 = dialect == "postgresql"
    q = select(
        func.count().label("n"),
        func.avg(rows.c.error_s).label("mae"),
        func.avg(rows.c.wait_s).label("mean_wait"),
        *([func.percentile_disc(0.9).within_group(rows.c.error_s).label("p90")] if inline_p90 else []),
    )
    row = s.execute(q).one()
    if not row.n:
        return Accuracy(0, None, None, None)
    p90 = row.p90 if inline_p90 else _p90(s, rows, "error_s", None).get(None)
    return Accuracy(int(row.n), _f(row.mae), _f(p90), _f(row.mean_wait))
