"""Walk-in intake follows the office's opening hours in its own zone: open, closed (with the next
opening in the error body and nothing written), holidays and closures, daylight-saving days, and
the exemptions (staff desk, offices without stored hours)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from office.calendar import DateOverride, DayPlan, TimeRange, WeeklyPlan, WorkingCalendar
from office.models import CalendarOverride, Office, OfficeSchedule, Role, Ticket, TicketCounter
from tests.office import test_queue_support as support
from tests.office.test_queue_support import QueueHarness

qh = support.qh

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
# Monday–Friday 09:00–17:00 with a lunch break; Saturday 09:00–12:00 (错时).
PLAN: dict[str, Any] = {
    "working": {str(d): {"hours": ["09:00-17:00"], "breaks": ["12:00-13:30"]} for d in range(5)},
    "rest": {"5": {"hours": ["09:00-12:00"]}},
}


def _hours(q: QueueHarness, plan: dict[str, Any] = PLAN, zone: str = "Asia/Shanghai") -> None:
    with q.h.ctx.db() as s, s.begin():
        s.execute(update(Office).where(Office.id == q.h.office_id).values(timezone=zone))
        s.add(OfficeSchedule(office_id=q.h.office_id, plan=plan))


def _take(q: QueueHarness, local: datetime) -> tuple[int, dict[str, Any]]:
    q.h.clock.set(local)
    r = q.kiosk().post("/api/queue/tickets", json={"service_id": q.services["GOV-SSC-APPLY"]})
    return r.status_code, r.json()


def _written(q: QueueHarness) -> tuple[int, int]:
    with q.h.ctx.read_db() as s:
        tickets = s.scalar(select(func.count()).select_from(Ticket)) or 0
        counters = s.scalar(select(func.count()).select_from(TicketCounter)) or 0
    return int(tickets), int(counters)


def test_numbers_are_taken_in_hours_including_the_lunch_break(qh: QueueHarness) -> None:
    """Monday 09:00, 12:30 (lunch: called after it) and 16:59 Shanghai time: numbers are issued."""
    _hours(qh)
    for hh, mm in ((9, 0), (12, 30), (16, 59)):
        status, body = _take(qh, datetime(2026, 3, 2, hh, mm, tzinfo=SHANGHAI))
        assert status == 201, body
    assert _written(qh)[0] == 3


def test_after_closing_the_kiosk_is_refused_with_the_next_opening_and_nothing_written(
    qh: QueueHarness,
) -> None:
    """Friday 17:00 → 409 office_closed, next opening Saturday 09:00 local (UTC in the body, zone
    named), no ticket and no counter row; Saturday 12:00 → Monday 09:00."""
    _hours(qh)
    status, body = _take(qh, datetime(2026, 3, 6, 17, 0, tzinfo=SHANGHAI))
    assert status == 409
    error = body["error"]
    assert error["code"] == "office_closed"
    assert error["next_open_at"] == "2026-03-07T01:00:00+00:00"
    assert error["timezone"] == "Asia/Shanghai"
    assert error["next_open_local"] == "2026-03-07 09:00"
    assert "2026-03-07 09:00" in error["message"]
    assert _written(qh) == (0, 0)
    status, body = _take(qh, datetime(2026, 3, 7, 12, 0, tzinfo=SHANGHAI))
    assert (status, body["error"]["next_open_at"]) == (409, "2026-03-09T01:00:00+00:00")
    status, body = _take(qh, datetime(2026, 3, 9, 8, 59, tzinfo=SHANGHAI))
    assert (status, body["error"]["next_open_at"]) == (409, "2026-03-09T01:00:00+00:00")


def test_public_holiday_and_office_closure_refuse_and_point_past_them(qh: QueueHarness) -> None:
    """Labour Day week 2026 (May 1–5 holidays) → next opening Wednesday May 6 09:00; a closure on
    that Wednesday moves it to Thursday; staff at the desk may still issue."""
    _hours(qh)
    status, body = _take(qh, datetime(2026, 5, 1, 10, 0, tzinfo=SHANGHAI))
    assert (status, body["error"]["next_open_at"]) == (409, "2026-05-06T01:00:00+00:00")
    with qh.h.ctx.db() as s, s.begin():
        s.add(CalendarOverride(office_id=qh.h.office_id, day=date(2026, 5, 6), closed=True, note="停电"))
    status, body = _take(qh, datetime(2026, 5, 6, 10, 0, tzinfo=SHANGHAI))
    assert (status, body["error"]["next_open_at"]) == (409, "2026-05-07T01:00:00+00:00")
    assert _written(qh) == (0, 0)
    desk = qh.staff(Role.SUPERVISOR)
    r = desk.post(
        "/api/queue/tickets", json={"service_id": qh.services["GOV-SSC-APPLY"], "station_id": qh.h.station_id}
    )
    assert r.status_code == 201, r.text


def test_office_without_stored_hours_is_closed_only_by_its_overrides(qh: QueueHarness) -> None:
    """No weekly plan stored: Sunday 03:00 issues (previous behaviour); a closure override that day
    refuses with the next day's midnight as the next opening."""
    status, _ = _take(qh, datetime(2026, 3, 8, 3, 0, tzinfo=SHANGHAI))
    assert status == 201
    with qh.h.ctx.db() as s, s.begin():
        s.add(CalendarOverride(office_id=qh.h.office_id, day=date(2026, 3, 10), closed=True))
    status, body = _take(qh, datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI))
    assert (status, body["error"]["next_open_at"]) == (409, "2026-03-10T16:00:00+00:00")


def test_hours_follow_the_office_zone_across_daylight_saving(qh: QueueHarness) -> None:
    """A New York office open 09:00–17:00 every day: on the spring-forward Sunday (2026-03-08) 09:00
    local is 13:00 UTC, the day before it is 14:00 UTC; 08:30 local is refused on both."""
    every_day = {str(d): {"hours": ["09:00-17:00"]} for d in range(7)}
    _hours(qh, {"working": every_day, "rest": every_day}, zone="America/New_York")
    status, body = _take(qh, datetime(2026, 3, 7, 8, 30, tzinfo=NEW_YORK))
    assert (status, body["error"]["next_open_at"]) == (409, "2026-03-07T14:00:00+00:00")
    status, body = _take(qh, datetime(2026, 3, 8, 8, 30, tzinfo=NEW_YORK))
    assert (status, body["error"]["next_open_at"]) == (409, "2026-03-08T13:00:00+00:00")
    assert body["error"]["timezone"] == "America/New_York"
    status, _ = _take(qh, datetime(2026, 3, 8, 9, 0, tzinfo=NEW_YORK))
    assert status == 201


def test_next_opening_is_computed_from_the_calendar() -> None:
    """Pure calendar: before opening → today's; in the lunch break → after it; after closing → next
    working day; a special-hours override replaces the plan; never open → None."""
    special = DateOverride(day=date(2026, 3, 3), plan=DayPlan((TimeRange.parse("14:00-16:00"),)))
    cal = WorkingCalendar("Asia/Shanghai", weekly=WeeklyPlan.office_hours(), overrides=[special])

    def at(d: int, h: int, m: int = 0) -> datetime:
        return datetime(2026, 3, d, h, m, tzinfo=SHANGHAI).astimezone(UTC)

    assert cal.next_opening(at(2, 8)) == at(2, 9)
    assert cal.next_opening(at(2, 12, 15)) == at(2, 13, 30)
    assert cal.next_opening(at(2, 17)) == at(3, 14)
    span = cal.day_span(date(2026, 3, 2))
    assert span is not None and (span.start, span.end) == (at(2, 9), at(2, 17))
    assert cal.day_span(date(2026, 3, 7)) is None
    never = WorkingCalendar("Asia/Shanghai", weekly=WeeklyPlan())
    assert never.next_opening(at(2, 8), horizon_days=30) is None


def test_a_changed_weekly_plan_applies_to_the_next_take(qh: QueueHarness) -> None:
    """Parsed plans are cached by content: replacing the stored plan closes intake at once, and
    restoring it reopens it (same instant, no clock movement)."""
    _hours(qh)
    monday_ten = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)
    assert _take(qh, monday_ten)[0] == 201
    afternoons = {str(d): {"hours": ["14:00-17:00"]} for d in range(5)}
    with qh.h.ctx.db() as s, s.begin():
        s.execute(
            update(OfficeSchedule)
            .where(OfficeSchedule.office_id == qh.h.office_id)
            .values(plan={"working": afternoons})
        )
    status, body = _take(qh, monday_ten)
    assert (status, body["error"]["next_open_local"]) == (409, "2026-03-02 14:00")
    with qh.h.ctx.db() as s, s.begin():
        s.execute(update(OfficeSchedule).where(OfficeSchedule.office_id == qh.h.office_id).values(plan=PLAN))
    assert _take(qh, monday_ten)[0] == 201
    assert _written(qh)[0] == 2


def test_the_intake_switch_and_a_new_closure_apply_to_the_next_take(qh: QueueHarness) -> None:
    """Nothing about intake is cached across requests: pausing intake, then a closure added for
    today, each refuse the very next take with nothing written."""
    _hours(qh)
    monday_ten = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)
    assert _take(qh, monday_ten)[0] == 201
    sup = qh.staff(Role.SUPERVISOR)
    assert sup.put("/api/queue/settings", json={"accepting_tickets": False}).status_code == 200
    status, body = _take(qh, monday_ten)
    assert (status, body["error"]["code"]) == (409, "office_closed")
    assert sup.put("/api/queue/settings", json={"accepting_tickets": True}).status_code == 200
    with qh.h.ctx.db() as s, s.begin():
        s.add(CalendarOverride(office_id=qh.h.office_id, day=date(2026, 3, 2), closed=True))
    status, body = _take(qh, monday_ten)
    assert (status, body["error"]["next_open_at"]) == (409, "2026-03-03T01:00:00+00:00")
    assert _written(qh) == (1, 1)
