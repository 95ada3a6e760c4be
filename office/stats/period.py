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

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, func, null, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Subquery

from office.models import Rating, Ticket, TicketEvent, TicketState
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
    "agent_figures",
    "figures",
    "satisfaction_trend",
    "served_per_hour",
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
    return s.get_bind().dialect.name


def _serving(dialect: str, office_id: int, period: Period, by_agent: bool) -> Subquery:
    """Per ticket (and agent): first answer, seconds in serving, segments opened and closed."""
    ep = epoch(dialect, _E.c.at)
    into = _E.c.to_state == _SERVING
    out = _E.c.from_state == _SERVING
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


def _in_period(office_id: int, period: Period) -> Any:
    return and_(
        _T.c.office_id == office_id,
        _T.c.business_date >= period.first_day,
        _T.c.business_date <= period.last_day,
    )


def ticket_facts(dialect: str, office_id: int, period: Period) -> Subquery:
    """One row per ticket of the period: keys, state, wait_s, handling_s, first_serve_ep."""
    sv = _serving(dialect, office_id, period, by_agent=False)
    done_and_closed = and_(_T.c.state == TicketState.DONE.value, sv.c.opened == sv.c.closed)
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
        )
        .select_from(_T.outerjoin(sv, sv.c.ticket_id == _T.c.id))
        .where(_in_period(office_id, period))
        .subquery("facts")
    )


def _agent_facts(dialect: str, office_id: int, period: Period) -> Subquery:
    """One row per (ticket, agent) who served it: answered flag, handling seconds if done."""
    sv = _serving(dialect, office_id, period, by_agent=True)
    done_and_closed = and_(_T.c.state == TicketState.DONE.value, sv.c.opened == sv.c.closed)
    return (
        select(
            sv.c.ticket_id,
            sv.c.agent_id,
            sv.c.first_serve_ep,
            _T.c.state,
            case((done_and_closed, _ms(sv.c.serving_s))).label("handling_s"),
        )
        .select_from(sv.join(_T, _T.c.id == sv.c.ticket_id))
        .where(_in_period(office_id, period), sv.c.agent_id.is_not(None))
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


def _satisfaction_cols() -> list[Any]:
    return [
        func.count(_R.c.id).label("ratings"),
        _count_if(_R.c.is_default.is_(True)).label("defaults"),
        _count_if(_R.c.level >= 4).label("good"),
        _count_if(_R.c.level <= 2).label("bad"),
        func.avg(_R.c.level).label("mean_level"),
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


def _satisfaction_by(s: Session, office_id: int, period: Period, key: Any) -> dict[Any, Satisfaction]:
    q = (
        select(key.label("k") if key is not None else null().label("k"), *_satisfaction_cols())
        .select_from(_R.join(_T, _T.c.id == _R.c.ticket_id))
        .where(_in_period(office_id, period))
    )
    if key is not None:
        q = q.group_by(key)
    return {row.k: _satisfaction_row(row) for row in s.execute(q)}


# --- public queries -------------------------------------------------------------------------------


def figures(
    s: Session, office_id: int, period: Period, target_wait_s: float, by: Dimension = "office"
) -> list[Figures]:
    """The period's figures for the office (one row, key None) or per station / service."""
    f = ticket_facts(_dialect(s), office_id, period)
    key_name = {"office": None, "station": "station_id", "service": "service_id"}[by]
    key = f.c[key_name] if key_name else None
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
    )
    if key is not None:
        q = q.group_by(key).order_by(key)
    rows = s.execute(q).all()
    wait_p90 = _p90(s, f, "wait_s", key_name)
    handling_p90 = _p90(s, f, "handling_s", key_name)
    rating_key = {"office": None, "station": _T.c.station_id, "service": _T.c.service_id}[by]
    sat = _satisfaction_by(s, office_id, period, rating_key)
    out: list[Figures] = []
    for row in rows:
        out.append(
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
                wait_p90_s=wait_p90.get(row.k),
                handling_mean_s=_f(row.handling_mean),
                handling_p90_s=handling_p90.get(row.k),
                satisfaction=sat.get(row.k, Satisfaction()),
            )
        )
    return out


def _f(value: Any) -> float | None:
    return float(value) if value is not None else None


def agent_figures(s: Session, office_id: int, period: Period) -> list[AgentFigures]:
    """Per agent: tickets answered, completed (handled to done), handling mean and p90, ratings."""
    f = _agent_facts(_dialect(s), office_id, period)
    q = (
        select(
            f.c.agent_id.label("k"),
            func.count(f.c.first_serve_ep).label("served"),
            func.count(f.c.handling_s).label("completed"),
            func.avg(f.c.handling_s).label("handling_mean"),
        )
        .group_by(f.c.agent_id)
        .order_by(f.c.agent_id)
    )
    p90 = _p90(s, f, "handling_s", "agent_id")
    sat = _satisfaction_by(s, office_id, period, _R.c.agent_id)
    return [
        AgentFigures(
            agent_id=int(row.k),
            served=int(row.served),
            completed=int(row.completed),
            handling_mean_s=_f(row.handling_mean),
            handling_p90_s=p90.get(row.k),
            satisfaction=sat.get(row.k, Satisfaction()),
        )
        for row in s.execute(q)
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
    f = ticket_facts(_dialect(s), office_id, period)
    served: dict[date, int] = dict(
        s.execute(select(f.c.business_date, func.count(f.c.wait_s)).group_by(f.c.business_date)).all()
    )
    sat = _satisfaction_by(s, office_id, period, _T.c.business_date)
    return [TrendDay(day, int(served.get(day, 0)), sat.get(day, Satisfaction())) for day in period.days]
