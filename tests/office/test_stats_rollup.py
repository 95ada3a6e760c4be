"""The per-day rollup: a period from rolled days + raw remainder equals the raw computation and
the generated histories' known answers; late changes re-roll a day; per-service targets.

Runs on SQLite and PostgreSQL (the ``database`` fixture)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from office.models import Rating, Service, StatsDay, StatsDayValue, StatsRollup, Ticket, TicketEvent
from office.stats import Period, daily, period
from office.stats.rollup import finished_before, roll_day, roll_office, rolled_days
from tests.conftest import TestDatabase
from tests.office.test_stats_support import ZONE, History, expected_for, local

D1 = date(2026, 3, 2)
D2 = date(2026, 3, 3)
D3 = date(2026, 3, 4)
TARGET_S = 15 * 60.0
#: Noon on D3: D1 and D2 are over (rolled), D3 is today (raw).
NOW = local(D3, 12)


@pytest.fixture
def history(database: TestDatabase) -> History:
    """Three days of every scenario with calls across midnight on D1 and D2, plus a second office."""
    h = History(seed=21, stations=3, services=3, agents=4)
    other = History(seed=22)
    with Session(database.engine) as s, s.begin():
        h.setup(s)
        other.setup(s, code="ST2")
        for day, n in ((D1, 60), (D2, 48), (D3, 36)):
            h.day(day, n)
        h.midnight(D1)
        h.midnight(D2)
        h.store(s)
        other.day(D1, 24)
        other.store(s)
    return h


def _roll(database: TestDatabase, office_id: int, now: datetime = NOW) -> list[date]:
    with Session(database.engine) as s, s.begin():
        return roll_office(s, office_id, ZONE, now)


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) < 1e-6


def _same_figures(mine: object, raw: object) -> None:
    for name in (
        "key",
        "issued",
        "served",
        "completed",
        "no_show",
        "abandoned",
        "unserved_at_close",
        "ended",
        "within_target",
    ):
        assert getattr(mine, name) == getattr(raw, name), name
    for name in ("wait_mean_s", "handling_mean_s"):
        assert _close(getattr(mine, name), getattr(raw, name)), name
    # Percentiles are exact: the very same millisecond value.
    for name in ("wait_p90_s", "handling_p90_s"):
        assert getattr(mine, name) == getattr(raw, name), (name, getattr(mine, name), getattr(raw, name))
    assert mine.satisfaction.ratings == raw.satisfaction.ratings  # type: ignore[attr-defined]
    assert mine.satisfaction.good == raw.satisfaction.good  # type: ignore[attr-defined]
    assert mine.satisfaction.bad == raw.satisfaction.bad  # type: ignore[attr-defined]
    assert mine.satisfaction.defaults == raw.satisfaction.defaults  # type: ignore[attr-defined]
    assert _close(mine.satisfaction.mean_level, raw.satisfaction.mean_level)  # type: ignore[attr-defined]


def test_the_job_rolls_finished_days_only(database: TestDatabase, history: History) -> None:
    """At noon on D3, D1 and D2 are over and rolled; D3, today, is not."""
    assert finished_before(NOW, ZONE) == D3
    assert finished_before(local(D2, 23, 59), ZONE) == D2
    assert _roll(database, history.office_id) == [D1, D2]
    with Session(database.engine) as s:
        assert rolled_days(s, history.office_id, Period(D1, D3, ZONE)) == [D1, D2]
        tickets = dict(s.execute(select(StatsRollup.day, StatsRollup.tickets)).all())
    assert tickets == {D1: len(history.in_period(D1, D1)), D2: len(history.in_period(D2, D2))}
    assert _roll(database, history.office_id) == []  # nothing new: nothing written


@pytest.mark.parametrize(("first", "last"), [(D1, D1), (D1, D2), (D1, D3), (D2, D3), (D3, D3)])
@pytest.mark.parametrize("by", ["office", "station", "service"])
def test_rollup_plus_raw_remainder_equals_the_raw_computation(
    database: TestDatabase, history: History, first: date, last: date, by: str, percentiles: str
) -> None:
    """Rolled days + raw remainder give exactly the raw figures and the known answers."""
    _roll(database, history.office_id)
    per = Period(first, last, ZONE)
    with Session(database.engine) as s:
        mine = daily.figures(s, history.office_id, per, TARGET_S, by=by)  # type: ignore[arg-type]
        raw = period.figures(s, history.office_id, per, TARGET_S, by=by)  # type: ignore[arg-type]
    assert len(mine) == len(raw)
    for m, r in zip(mine, raw, strict=True):
        _same_figures(m, r)
    if by == "office":
        exp = history.expected(first, last, TARGET_S)
        assert (mine[0].issued, mine[0].served, mine[0].within_target) == (
            exp.issued,
            exp.served,
            exp.within_target,
        )
        assert mine[0].wait_p90_s is not None and exp.wait_p90_s is not None
        assert abs(mine[0].wait_p90_s - exp.wait_p90_s) < 0.001


@pytest.fixture(params=["ranked", "top_down"])
def percentiles(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways a percentile is read from the histograms: ranking every value (short periods) and
    from the top of each group (long periods; forced here for two-day periods)."""
    if request.param == "top_down":
        monkeypatch.setattr(daily, "TOP_DOWN_MIN_DAYS", 0)
    return str(request.param)


@pytest.mark.parametrize(("first", "last"), [(D1, D2), (D1, D3)])
def test_every_dashboard_query_equals_raw(
    database: TestDatabase, history: History, first: date, last: date, percentiles: str
) -> None:
    """Agents (transfers split between agents), hours (calls across midnight), wait bins, trend,
    estimate accuracy: rollup-based == raw."""
    _roll(database, history.office_id)
    per = Period(first, last, ZONE)
    oid = history.office_id
    with Session(database.engine) as s:
        mine_agents = daily.agent_figures(s, oid, per)
        raw_agents = period.agent_figures(s, oid, per)
        assert [a.agent_id for a in mine_agents] == [a.agent_id for a in raw_agents]
        for m, r in zip(mine_agents, raw_agents, strict=True):
            assert (m.served, m.completed) == (r.served, r.completed)
            assert _close(m.handling_mean_s, r.handling_mean_s)
            assert m.handling_p90_s == r.handling_p90_s
            assert (m.satisfaction.ratings, m.satisfaction.good) == (
                r.satisfaction.ratings,
                r.satisfaction.good,
            )
        assert daily.served_per_hour(s, oid, per) == period.served_per_hour(s, oid, per)
        assert [h.served for h in daily.served_per_hour(s, oid, per)] == history.expected_hours(first, last)
        assert daily.wait_distribution(s, oid, per) == period.wait_distribution(s, oid, per)
        mt, rt = daily.satisfaction_trend(s, oid, per), period.satisfaction_trend(s, oid, per)
        assert [(t.day, t.served, t.satisfaction.ratings, t.satisfaction.good) for t in mt] == [
            (t.day, t.served, t.satisfaction.ratings, t.satisfaction.good) for t in rt
        ]
        ma, ra = daily.wait_accuracy(s, oid, per), period.wait_accuracy(s, oid, per)
        assert ma.samples == ra.samples > 0
        assert _close(ma.mae_s, ra.mae_s) and _close(ma.mean_wait_s, ra.mean_wait_s)
        assert ma.p90_error_s == ra.p90_error_s


def test_rolling_a_day_again_is_idempotent(database: TestDatabase, history: History) -> None:
    """Re-rolling a day writes the same rows, not twice as many."""
    _roll(database, history.office_id)

    def snapshot(s: Session) -> tuple[list[tuple[object, ...]], int]:
        cols = (StatsDay.day, StatsDay.station_id, StatsDay.service_id, StatsDay.issued, StatsDay.wait_sum_ms)
        days = [tuple(r) for r in s.execute(select(*cols).order_by(*cols[:3])).all()]
        values = s.execute(select(func.count()).select_from(StatsDayValue)).scalar_one()
        return days, int(values)

    with Session(database.engine) as s:
        before = snapshot(s)
    with Session(database.engine) as s, s.begin():
        roll_day(s, history.office_id, D1, ZONE, NOW)
        roll_day(s, history.office_id, D1, ZONE, NOW)
    with Session(database.engine) as s:
        assert snapshot(s) == before


def test_a_late_rating_rerolls_its_day(database: TestDatabase, history: History) -> None:
    """A rating arriving after D1 was rolled (and a default replaced by the resident's) is counted."""
    _roll(database, history.office_id)
    unrated = next(x for x in history.in_period(D1, D1) if x.first_serve and x.rating is None)
    defaulted = next(x for x in history.in_period(D1, D1) if x.rating and x.rating[1])
    later = NOW + timedelta(hours=2)
    with Session(database.engine) as s, s.begin():
        s.add(
            Rating(
                office_id=history.office_id,
                station_id=unrated.station,
                ticket_id=unrated.ticket_id,
                service_id=unrated.service,
                agent_id=unrated.answered_by[-1],
                level=1,
                is_default=False,
                created_at=later,
            )
        )
        s.execute(
            update(Rating)
            .where(Rating.ticket_id == defaulted.ticket_id)
            .values(level=2, is_default=False, created_at=later)
        )
    unrated.rating = (1, False, unrated.answered_by[-1])
    assert defaulted.rating is not None
    defaulted.rating = (2, False, defaulted.rating[2])
    per = Period(D1, D1, ZONE)
    exp = expected_for(history.in_period(D1, D1), TARGET_S)
    with Session(database.engine) as s:
        stale = daily.figures(s, history.office_id, per, TARGET_S)[0]
    assert stale.satisfaction.ratings == exp.ratings - 1  # until the job runs again
    assert _roll(database, history.office_id, later + timedelta(minutes=1)) == [D1]
    with Session(database.engine) as s:
        fresh = daily.figures(s, history.office_id, per, TARGET_S)[0]
        raw = period.figures(s, history.office_id, per, TARGET_S)[0]
    _same_figures(fresh, raw)
    assert (fresh.satisfaction.ratings, fresh.satisfaction.bad, fresh.satisfaction.defaults) == (
        exp.ratings,
        exp.bad,
        exp.defaults,
    )


def test_a_late_ticket_event_rerolls_its_day(database: TestDatabase, history: History) -> None:
    """A ticket of D2 still waiting when D2 was rolled, served and completed later that evening
    (within EVENT_SLACK of D2's end): D2 is rolled again and counts it served and completed."""
    _roll(database, history.office_id)
    waiting = next(x for x in history.in_period(D2, D2) if x.state == "waiting")
    later = local(D3, 18)
    agent = history.agents[0]
    with Session(database.engine) as s, s.begin():
        for at, event, old, new in (
            (later - timedelta(minutes=10), "offer", "waiting", "offered"),
            (later - timedelta(minutes=9), "ring", "offered", "ringing"),
            (later - timedelta(minutes=8), "answer", "ringing", "serving"),
            (later, "complete", "serving", "done"),
        ):
            s.add(
                TicketEvent(
                    ticket_id=waiting.ticket_id,
                    office_id=history.office_id,
                    at=at,
                    event=event,
                    from_state=old,
                    to_state=new,
                    agent_id=agent,
                    actor="user:1",
                )
            )
        s.execute(update(Ticket).where(Ticket.id == waiting.ticket_id).values(state="done", ended_by="staff"))
    assert _roll(database, history.office_id, later + timedelta(minutes=1)) == [D2]
    per = Period(D2, D2, ZONE)
    with Session(database.engine) as s:
        mine = daily.figures(s, history.office_id, per, TARGET_S)[0]
        raw = period.figures(s, history.office_id, per, TARGET_S)[0]
    _same_figures(mine, raw)
    exp = history.expected(D2, D2, TARGET_S)
    assert (mine.served, mine.completed, mine.ended) == (exp.served + 1, exp.completed + 1, exp.ended + 1)


def test_within_target_uses_each_services_own_target(database: TestDatabase, history: History) -> None:
    """Without an override, each service's tickets count against its own target wait."""
    targets = dict(zip(history.services, (5, 15, 30), strict=True))
    with Session(database.engine) as s, s.begin():
        for sv, t in targets.items():
            s.execute(update(Service).where(Service.id == sv).values(target_wait_min=t))
    _roll(database, history.office_id)
    per = Period(D1, D3, ZONE)
    lives = history.in_period(D1, D3)
    expected_by_service = {
        sv: sum(1 for x in lives if x.service == sv and x.wait_s is not None and x.wait_s <= t * 60)
        for sv, t in targets.items()
    }
    with Session(database.engine) as s:
        (office,) = daily.figures(s, history.office_id, per)
        services = daily.figures(s, history.office_id, per, by="service")
        (override,) = daily.figures(s, history.office_id, per, TARGET_S)
    assert {f.key: f.within_target for f in services} == expected_by_service
    assert office.within_target == sum(expected_by_service.values())
    assert override.within_target == history.expected(D1, D3, TARGET_S).within_target
    assert len(set(expected_by_service.values())) > 1


def test_a_call_spanning_midnight_is_rolled_again_when_it_ends(database: TestDatabase) -> None:
    """D2 is rolled at 00:05 on D3 while its 23:40 ticket is still being served; the call's end
    (00:15) makes the next run roll D2 again, and the figures then equal the raw computation."""
    h = History(seed=31)
    with Session(database.engine) as s, s.begin():
        h.setup(s)
        h.day(D2, 24)
        h.midnight(D2)
        h.store(s)
    late = h.lives[-1]
    done_at = late.events[-1][0]
    assert done_at > local(D3, 0, 5)
    with Session(database.engine) as s, s.begin():  # the call has not ended yet at 00:05
        s.execute(
            delete(TicketEvent).where(TicketEvent.ticket_id == late.ticket_id, TicketEvent.at == done_at)
        )
        s.execute(update(Ticket).where(Ticket.id == late.ticket_id).values(state="serving", ended_by=""))
        s.execute(delete(Rating).where(Rating.ticket_id == late.ticket_id))
    assert _roll(database, h.office_id, local(D3, 0, 5)) == [D2]
    per = Period(D2, D2, ZONE)
    with Session(database.engine) as s:
        early = daily.figures(s, h.office_id, per, TARGET_S)[0]
    assert early.completed == h.expected(D2, D2, TARGET_S).completed - 1
    with Session(database.engine) as s, s.begin():
        s.add(
            TicketEvent(
                ticket_id=late.ticket_id,
                office_id=h.office_id,
                at=done_at,
                event="complete",
                from_state="serving",
                to_state="done",
                agent_id=h.agents[0],
                actor="user:1",
            )
        )
        s.execute(update(Ticket).where(Ticket.id == late.ticket_id).values(state="done", ended_by="staff"))
    assert _roll(database, h.office_id, local(D3, 0, 20)) == [D2]
    with Session(database.engine) as s:
        mine = daily.figures(s, h.office_id, per, TARGET_S)[0]
        raw = period.figures(s, h.office_id, per, TARGET_S)[0]
        hours = daily.served_per_hour(s, h.office_id, per)
    _same_figures(mine, raw)
    exp = h.expected(D2, D2, TARGET_S)
    assert (mine.completed, mine.handling_mean_s is not None) == (exp.completed, True)
    assert abs((mine.handling_mean_s or 0) - (exp.handling_mean_s or 0)) < 0.001
    assert hours[23].served == h.expected_hours(D2, D2)[23] >= 1
