"""The per-day statistics rollup: how a finished office-local day is written once, and re-written
when it changes late.

The raw side (:func:`raw_days`, :func:`raw_values`, :func:`raw_agent_days`, :func:`raw_agent_values`)
is one set of SQL selects over the stamped rows (:func:`office.stats.period.ticket_facts`) shaped
exactly like the rollup tables. Rolling a day is ``INSERT … SELECT`` of those selects for that day;
a period query (:mod:`office.stats.daily`) reads rolled days from the tables and the other days
through the very same selects, so both halves share one definition.

When a day is rolled: once it is over (after its local midnight); today is always computed from
raw rows.

Late changes: a ticket event or a rating (a late rating, a default replaced by the resident's,
a correction) that touches a ticket of a rolled day, stamped after that day was rolled, makes the
job roll the day again. Re-rolling is idempotent (delete the day's rows, insert them again, in one
transaction).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    Select,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from office.context import OfficeContext
from office.models import (
    ALL,
    Office,
    Rating,
    Service,
    StatsAgentDay,
    StatsAgentDayValue,
    StatsDay,
    StatsDayValue,
    StatsRollup,
    StatsRollupMark,
    Ticket,
    TicketEvent,
    TicketState,
)
from office.queue.numbering import business_date
from office.stats.period import WAIT_BINS_MIN, agent_facts, ticket_facts
from office.stats.periods import Period
from office.stats.sqlfn import bucket

__all__ = [
    "DAY_COLS",
    "GRAINS",
    "KINDS",
    "KIND_GRAINS",
    "MAX_DAYS_PER_RUN",
    "VALUE_COLS",
    "Grain",
    "finished_before",
    "process_rollups",
    "raw_agent_days",
    "raw_agent_values",
    "raw_days",
    "raw_values",
    "roll_day",
    "roll_days",
    "roll_office",
    "rolled_days",
]

log = logging.getLogger("office.stats.rollup")

#: The value histograms: wait, handling and estimate error in milliseconds; first-serve UTC quarter-hour.
KINDS = ("wait", "handling", "est_err", "q15")
#: The job rolls at most this many days per office and run (a fresh install catches up in steps).
MAX_DAYS_PER_RUN = 62
#: Days rolled in one pass over the raw rows.
ROLL_BATCH_DAYS = 31
#: A change stamped up to this long before a day's roll may have missed it (clock skew, open
#: transactions): such a change makes the day roll again.
CHANGE_MARGIN = timedelta(minutes=5)
#: Event ids are handed out before their transactions commit: each run looks this many ids back.
EVENT_ID_OVERLAP = 10_000

_T = Ticket.__table__
_DONE = TicketState.DONE.value


def _ms(seconds: Any) -> Any:
    """Seconds (already rounded to the millisecond) as integer milliseconds."""
    return cast(func.round(seconds * 1000.0), BigInteger)


def _n(cond: Any) -> Any:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def _sum_ms(seconds: Any) -> Any:
    return func.coalesce(func.sum(_ms(seconds)), 0)


def _span(days: Sequence[date], zone: str) -> Period:
    return Period(min(days), max(days), zone)


Grain = Literal["office", "station", "service"]
#: Every grain a day is rolled up at.
GRAINS: tuple[Grain, ...] = ("office", "station", "service")
#: The ``stats_days`` columns a raw or stored day row has, in this order.
DAY_COLS = (
    "day",
    "station_id",
    "service_id",
    "issued",
    "served",
    "completed",
    "no_show",
    "abandoned",
    "unserved_at_close",
    "ended",
    "within_target",
    "wait_sum_ms",
    "handling_n",
    "handling_sum_ms",
    "ratings",
    "rating_defaults",
    "rating_good",
    "rating_bad",
    "rating_level_sum",
    "est_n",
    "est_err_sum_ms",
    "est_wait_sum_ms",
    *(f"wait_bin_{i}" for i in range(len(WAIT_BINS_MIN))),
)
#: The ``stats_day_values`` columns, in this order.
VALUE_COLS = ("kind", "day", "station_id", "service_id", "value", "n")


def _keys(f: Any, grain: Grain) -> tuple[Any, Any, list[Any]]:
    """The (station_id, service_id) of a grain's rows (``ALL`` for the summed-over dimension) and
    the grain's grouping expressions (the same objects, so SQL sees one expression)."""
    all_: Any = literal_column(str(ALL))
    if grain == "station":
        station = func.coalesce(f.c.station_id, literal_column("0"))
        return station, all_, [station]
    if grain == "service":
        return all_, f.c.service_id, [f.c.service_id]
    return all_, all_, []


def raw_days(
    dialect: str,
    office_id: int,
    days: Sequence[date],
    zone: str,
    grains: Sequence[Grain] = GRAINS,
    names: Sequence[str] | None = None,
) -> Select[Any]:
    """The ``stats_days`` rows of ``days`` at ``grains`` computed from the raw rows: columns
    :data:`DAY_COLS`, or day, station_id, service_id and ``names`` (only what they need is read)."""
    wanted = [c for c in DAY_COLS[3:] if names is None or c in names]
    ratings = any(c.startswith("rating") for c in wanted)
    estimate = any(c.startswith("est_") for c in wanted)
    f = ticket_facts(dialect, office_id, _span(days, zone), ratings=ratings, days=days, estimate=estimate)
    facts = f.element.cte("facts")
    sv = Service.__table__
    unserved_left = and_(facts.c.state == TicketState.LEFT.value, facts.c.wait_s.is_(None))
    edges = WAIT_BINS_MIN
    wait_bin = case(
        (facts.c.wait_s.is_(None), -1),
        *((facts.c.wait_s < edges[i + 1] * 60, i) for i in range(len(edges) - 1)),
        else_=len(edges) - 1,
    )
    terminal = (_DONE, TicketState.NO_SHOW.value, TicketState.LEFT.value)
    exprs: dict[str, Any] = {
        "issued": lambda: func.count(),
        "served": lambda: func.count(facts.c.wait_s),
        "completed": lambda: _n(facts.c.state == _DONE),
        "no_show": lambda: _n(facts.c.state == TicketState.NO_SHOW.value),
        "abandoned": lambda: _n(and_(unserved_left, facts.c.ended_by == "resident")),
        "unserved_at_close": lambda: _n(and_(unserved_left, facts.c.ended_by != "resident")),
        "ended": lambda: _n(facts.c.state.in_(terminal)),
        "within_target": lambda: _n(facts.c.wait_s <= sv.c.target_wait_min * 60),
        "wait_sum_ms": lambda: _sum_ms(facts.c.wait_s),
        "handling_n": lambda: func.count(facts.c.handling_s),
        "handling_sum_ms": lambda: _sum_ms(facts.c.handling_s),
        "ratings": lambda: func.count(facts.c.r_level),
        "rating_defaults": lambda: _n(facts.c.r_default.is_(True)),
        "rating_good": lambda: _n(facts.c.r_level >= 4),
        "rating_bad": lambda: _n(facts.c.r_level <= 2),
        "rating_level_sum": lambda: func.coalesce(func.sum(facts.c.r_level), 0),
        "est_n": lambda: func.count(facts.c.est_err_s),
        "est_err_sum_ms": lambda: _sum_ms(facts.c.est_err_s),
        "est_wait_sum_ms": lambda: _sum_ms(facts.c.est_wait_s),
        **{f"wait_bin_{i}": (lambda i=i: _n(wait_bin == i)) for i in range(len(edges))},
    }
    source: Any = facts
    if "within_target" in wanted:
        source = facts.join(sv, sv.c.id == facts.c.service_id)
    parts = []
    for grain in grains:
        station, service, keys = _keys(facts, grain)
        q = select(
            facts.c.business_date.label("day"),
            station.label("station_id"),
            service.label("service_id"),
            *(exprs[c]().label(c) for c in wanted),
        ).select_from(source)
        parts.append(q.group_by(facts.c.business_date, *keys))
    return parts[0] if len(parts) == 1 else select(union_all(*parts).subquery("grains"))


#: The grains each value kind is kept at.
KIND_GRAINS: dict[str, tuple[Grain, ...]] = {
    "wait": GRAINS,
    "handling": GRAINS,
    "est_err": ("office",),
    "q15": ("office",),
}


def raw_values(
    dialect: str,
    office_id: int,
    days: Sequence[date],
    zone: str,
    kinds: Sequence[str],
    grain: Grain | None = None,
) -> Select[Any]:
    """The ``stats_day_values`` rows of ``kinds`` for ``days`` from the raw rows, at ``grain``
    (default: every grain the kind is kept at); columns :data:`VALUE_COLS`."""
    f = ticket_facts(dialect, office_id, _span(days, zone), days=days, estimate="est_err" in kinds)
    facts = f.element.cte("vfacts")
    parts = []
    for kind in kinds:
        value: Any = (
            cast(bucket(dialect, facts.c.first_serve_ep, 900), BigInteger)
            if kind == "q15"
            else _ms(facts.c[{"wait": "wait_s", "handling": "handling_s", "est_err": "est_err_s"}[kind]])
        )
        source = {
            "wait": facts.c.wait_s,
            "handling": facts.c.handling_s,
            "q15": facts.c.first_serve_ep,
        }.get(kind)
        present = (source if source is not None else facts.c.est_err_s).is_not(None)
        for g in (grain,) if grain is not None else KIND_GRAINS[kind]:
            station, service, keys = _keys(facts, g)
            q = select(
                literal(kind).label("kind"),
                facts.c.business_date.label("day"),
                station.label("station_id"),
                service.label("service_id"),
                value.label("value"),
                func.count().label("n"),
            ).where(present)
            parts.append(q.group_by(facts.c.business_date, *keys, value))
    return parts[0] if len(parts) == 1 else select(union_all(*parts).subquery("kinds"))


def raw_agent_days(dialect: str, office_id: int, days: Sequence[date], zone: str) -> Select[Any]:
    """The ``stats_agent_days`` rows of ``days`` from the raw rows (serving segments and the
    ratings bound to each agent)."""
    per = _span(days, zone)
    a = agent_facts(dialect, office_id, per, days=days)
    served = select(
        a.c.business_date.label("day"),
        a.c.agent_id.label("agent_id"),
        func.count().label("touched"),
        func.count(a.c.first_serve_ep).label("served"),
        func.count(a.c.handling_s).label("completed"),
        _sum_ms(a.c.handling_s).label("handling_sum_ms"),
        *(literal(0).label(c) for c in _RATING_COLS),
    ).group_by(a.c.business_date, a.c.agent_id)
    r = Rating.__table__
    in_days = and_(
        _T.c.office_id == office_id,
        _T.c.business_date >= per.first_day,
        _T.c.business_date <= per.last_day,
        *([_T.c.business_date.in_(list(days))] if len(days) != len(per.days) else []),
    )
    rated = (
        select(
            _T.c.business_date.label("day"),
            r.c.agent_id.label("agent_id"),
            literal(0).label("touched"),
            literal(0).label("served"),
            literal(0).label("completed"),
            literal(0).label("handling_sum_ms"),
            func.count().label("ratings"),
            _n(r.c.is_default.is_(True)).label("rating_defaults"),
            _n(r.c.level >= 4).label("rating_good"),
            _n(r.c.level <= 2).label("rating_bad"),
            func.coalesce(func.sum(r.c.level), 0).label("rating_level_sum"),
        )
        .select_from(_T.join(r, r.c.ticket_id == _T.c.id))
        .where(in_days, r.c.agent_id.is_not(None))
        .group_by(_T.c.business_date, r.c.agent_id)
    )
    both = union_all(served, rated).subquery("agent_parts")
    return select(
        both.c.day,
        both.c.agent_id,
        *(func.sum(both.c[c]).label(c) for c in _AGENT_COUNTS),
    ).group_by(both.c.day, both.c.agent_id)


_RATING_COLS = ("ratings", "rating_defaults", "rating_good", "rating_bad", "rating_level_sum")
_AGENT_COUNTS = ("touched", "served", "completed", "handling_sum_ms", *_RATING_COLS)


def raw_agent_values(dialect: str, office_id: int, days: Sequence[date], zone: str) -> Select[Any]:
    """The ``stats_agent_day_values`` rows (handling per agent, milliseconds) from the raw rows."""
    a = agent_facts(dialect, office_id, _span(days, zone), days=days)
    value = _ms(a.c.handling_s)
    return (
        select(
            a.c.business_date.label("day"),
            a.c.agent_id.label("agent_id"),
            value.label("value"),
            func.count().label("n"),
        )
        .where(a.c.handling_s.is_not(None))
        .group_by(a.c.business_date, a.c.agent_id, value)
    )


# --- writing --------------------------------------------------------------------------------------


def finished_before(now: datetime, zone: str) -> date:
    """Today in the office (days before it are over and can be rolled up).

    A day is rolled once it is over, although events of its tickets may still come in for
    ``EVENT_SLACK`` (a call running past midnight, a late rating): each such change re-rolls it."""
    return business_date(now, zone)


def roll_day(s: Session, office_id: int, day: date, zone: str, now: datetime) -> int:
    """(Re-)write the rollup of one office-local day in the caller's transaction; returns its tickets."""
    return roll_days(s, office_id, [day], zone, now)


def roll_days(s: Session, office_id: int, days: Sequence[date], zone: str, now: datetime) -> int:
    """(Re-)write the rollup of office-local ``days`` in the caller's transaction (one pass over the
    raw rows for all of them); returns their tickets.

    Idempotent: the days' rows are deleted and inserted again from the raw rows."""
    if not days:
        return 0
    dialect = s.get_bind().dialect.name
    days = sorted(set(days))
    for model in (StatsDay, StatsDayValue, StatsAgentDay, StatsAgentDayValue, StatsRollup):
        s.execute(delete(model).where(model.office_id == office_id, model.day.in_(days)))

    def copy(model: type[Any], rows: Select[Any]) -> None:
        sub = rows.subquery("src")
        s.execute(insert(model).from_select(["office_id", *sub.c.keys()], select(literal(office_id), *sub.c)))

    copy(StatsDay, raw_days(dialect, office_id, days, zone))
    for kind in KINDS:
        copy(StatsDayValue, raw_values(dialect, office_id, days, zone, [kind]))
    copy(StatsAgentDay, raw_agent_days(dialect, office_id, days, zone))
    copy(StatsAgentDayValue, raw_agent_values(dialect, office_id, days, zone))
    counts: dict[date, int] = dict(
        s.execute(
            select(_T.c.business_date, func.count())
            .where(_T.c.office_id == office_id, _T.c.business_date.in_(days))
            .group_by(_T.c.business_date)
        ).all()
    )
    s.add_all(
        [StatsRollup(office_id=office_id, day=d, rolled_at=now, tickets=int(counts.get(d, 0))) for d in days]
    )
    s.flush()
    return sum(int(n) for n in counts.values())


def rolled_days(s: Session, office_id: int, period: Period) -> list[date]:
    """The period's days that are rolled up."""
    q = select(StatsRollup.day).where(
        StatsRollup.office_id == office_id,
        StatsRollup.day >= period.first_day,
        StatsRollup.day <= period.last_day,
    )
    return sorted(s.execute(q).scalars())


def _changed_days(s: Session, office_id: int, mark: StatsRollupMark | None, upto_event: int) -> set[date]:
    """Rolled days with a ticket event or rating stamped after (or just before) their roll."""
    rolled = StatsRollup.__table__
    e = TicketEvent.__table__
    r = Rating.__table__
    since_event = mark.event_id - EVENT_ID_OVERLAP if mark else 0
    on_rolled = and_(rolled.c.office_id == _T.c.office_id, rolled.c.day == _T.c.business_date)
    ev = (
        select(_T.c.business_date, rolled.c.rolled_at, func.max(e.c.at))
        .select_from(e.join(_T, _T.c.id == e.c.ticket_id).join(rolled, on_rolled))
        .where(e.c.id > since_event, e.c.id <= upto_event, e.c.office_id == office_id)
        .group_by(_T.c.business_date, rolled.c.rolled_at)
    )
    rt = (
        select(_T.c.business_date, rolled.c.rolled_at, func.max(r.c.created_at))
        .select_from(r.join(_T, _T.c.id == r.c.ticket_id).join(rolled, on_rolled))
        .where(r.c.office_id == office_id)
        .group_by(_T.c.business_date, rolled.c.rolled_at)
    )
    if mark is not None and mark.rating_at is not None:
        rt = rt.where(r.c.created_at >= mark.rating_at - CHANGE_MARGIN)
    changed: set[date] = set()
    for q in (ev, rt):
        for day, rolled_at, last in s.execute(q):
            if last is not None and last >= rolled_at - CHANGE_MARGIN:
                changed.add(day)
    return changed


def roll_office(
    s: Session, office_id: int, zone: str, now: datetime, limit: int = MAX_DAYS_PER_RUN
) -> list[date]:
    """Roll the office's finished days not rolled yet (newest first, at most ``limit``) and re-roll
    the rolled days that changed since the last run. Returns the days written."""
    before = finished_before(now, zone)
    upto_event = int(
        s.execute(
            select(func.coalesce(func.max(TicketEvent.id), 0)).where(TicketEvent.office_id == office_id)
        ).scalar_one()
    )
    mark = s.get(StatsRollupMark, office_id)
    todo = _changed_days(s, office_id, mark, upto_event)
    have_tickets = select(_T.c.business_date).where(_T.c.office_id == office_id, _T.c.business_date < before)
    done = select(StatsRollup.day).where(StatsRollup.office_id == office_id)
    missing = (
        s.execute(
            have_tickets.where(_T.c.business_date.not_in(done)).distinct().order_by(_T.c.business_date.desc())
        )
        .scalars()
        .all()
    )
    todo.update(missing[:limit])
    ordered = sorted(todo)
    for i in range(0, len(ordered), ROLL_BATCH_DAYS):
        roll_days(s, office_id, ordered[i : i + ROLL_BATCH_DAYS], zone, now)
    if mark is None:
        s.add(StatsRollupMark(office_id=office_id, event_id=upto_event, rating_at=now))
    else:
        mark.event_id = upto_event
        mark.rating_at = now
    s.flush()
    return sorted(todo)


def process_rollups(ctx: OfficeContext) -> int:
    """Job: roll up every office's finished days and re-roll days changed late; returns days written."""
    now = ctx.clock.now().astimezone(UTC)
    with ctx.read_db() as s:
        offices = s.execute(select(Office.id, Office.timezone)).all()
    written = 0
    for office_id, zone in offices:
        with ctx.db() as s, s.begin():
            written += len(roll_office(s, office_id, zone, now))
    if written:
        log.info("statistics days rolled up", extra={"days": written})
    return written
