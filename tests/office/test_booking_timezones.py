"""Bookings follow the office's wall clock and calendar: daylight-saving transitions in a New York
office, Spring Festival and 调休 make-up days in Shanghai (fake clock)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import update

from office import booking
from office.booking.notify import RecordingNotifier
from office.models import Office, OfficeSchedule
from tests.office.conftest import OfficeHarness
from tests.office.test_booking_support import add_agents, add_service, book, kiosk

NY = ZoneInfo("America/New_York")
NIGHT = {"working": {}, "rest": {"6": {"hours": ["01:00-04:00"]}}}


def _new_york_office(h: OfficeHarness) -> None:
    with h.ctx.db() as s, s.begin():
        s.execute(update(Office).where(Office.id == h.office_id).values(timezone="America/New_York"))
        s.add(OfficeSchedule(office_id=h.office_id, plan=NIGHT))
    add_agents(h, 1, weekdays=(6,), start=datetime.min.time(), end=datetime.max.time().replace(microsecond=0))


def test_spring_forward_sunday_has_no_slots_in_the_gap(harness: OfficeHarness) -> None:
    """On 2026-03-08 the 02:xx wall times do not exist: slots are 01:00, 01:30, 03:00, 03:30 local."""
    h = harness
    _new_york_office(h)
    svc = add_service(h)
    h.clock.set(datetime(2026, 3, 7, 12, tzinfo=UTC))
    k = kiosk(h)
    data = k.client.get("/api/kiosk/booking/slots", params={"service_id": svc, "days": 2}).json()
    assert data["timezone"] == "America/New_York"
    assert [(s["local_date"], s["local_time"]) for s in data["slots"]] == [
        ("2026-03-08", "01:00"),
        ("2026-03-08", "01:30"),
        ("2026-03-08", "03:00"),
        ("2026-03-08", "03:30"),
    ]
    assert data["slots"][1]["ends_at"] == data["slots"][2]["starts_at"] == "2026-03-08T07:00:00Z"
    b = book(k, svc, datetime(2026, 3, 8, 3, tzinfo=NY).astimezone(UTC))
    assert b["local_start"] == "2026-03-08 03:00" and b["local_date"] == "2026-03-08"
    off_grid = datetime(2026, 3, 8, 6, 45, tzinfo=UTC)  # 01:45 EST, between two slot starts
    r = k.client.post("/api/kiosk/booking/holds", json={"service_id": svc, "starts_at": off_grid.isoformat()})
    assert r.status_code == 422 and r.json()["error"]["code"] == "outside_hours"


def test_fall_back_sunday_offers_the_repeated_hour_twice_and_reminds_in_local_time(
    harness: OfficeHarness,
) -> None:
    """On 2026-11-01 01:00-02:00 happens twice: eight 30-minute slots in three wall-clock hours."""
    h = harness
    _new_york_office(h)
    svc = add_service(h)
    h.clock.set(datetime(2026, 10, 31, 12, tzinfo=UTC))
    k = kiosk(h)
    slots = k.client.get("/api/kiosk/booking/slots", params={"service_id": svc, "days": 2}).json()["slots"]
    assert [s["local_time"] for s in slots] == [
        "01:00",
        "01:30",
        "01:00",
        "01:30",
        "02:00",
        "02:30",
        "03:00",
        "03:30",
    ]
    assert len({s["starts_at"] for s in slots}) == 8
    second_one_am = datetime(2026, 11, 1, 6, tzinfo=UTC)  # 01:00 EST
    b = book(k, svc, second_one_am)
    assert b["local_start"] == "2026-11-01 01:00"
    sms = RecordingNotifier()
    h.clock.set(datetime(2026, 11, 1, 5, 0, tzinfo=UTC))  # 01:00 EDT, one real hour before
    assert booking.send_due_reminders(h.ctx, sms) == {"sent": 1}
    assert "11月1日 01:00" in sms.sent[0][1]


def test_spring_festival_has_no_slots_and_makeup_saturdays_use_the_monday_rota(
    harness: OfficeHarness,
) -> None:
    """With a Monday–Friday rota: slots on the 调休 Saturdays 14 and 28 Feb, none 15–23 Feb."""
    h = harness
    svc = add_service(h)
    add_agents(h, 1, weekdays=range(5), start=time(9), end=time(12))
    h.clock.set(datetime(2026, 2, 12, 1, tzinfo=UTC))  # Thursday 09:00 Shanghai
    k = kiosk(h)
    slots = k.client.get("/api/kiosk/booking/slots", params={"service_id": svc}).json()["slots"]
    days = sorted({s["local_date"] for s in slots})
    assert days == ["2026-02-12", "2026-02-13", "2026-02-14", "2026-02-24", "2026-02-25"]
    assert {s["local_time"] for s in slots if s["local_date"] == "2026-02-14"} == {
        "09:00",
        "09:30",
        "10:00",
        "10:30",
        "11:00",
        "11:30",
    }
    h.clock.set(datetime(2026, 2, 20, 1, tzinfo=UTC))
    slots = k.client.get("/api/kiosk/booking/slots", params={"service_id": svc}).json()["slots"]
    assert "2026-02-28" in {s["local_date"] for s in slots}
    assert "2026-03-01" not in {s["local_date"] for s in slots}  # a plain Sunday
