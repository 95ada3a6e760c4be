"""Check-in turns a booking into a priority ticket; late arrivals get a walk-in ticket; missed
bookings become no-shows; repeated no-shows restrict self-service booking."""

from __future__ import annotations

from sqlalchemy import select

from office import booking
from office.models import Appointment, BookingPolicyRow, Priority, QueueSettings, Ticket
from tests.office.conftest import OfficeHarness
from tests.office.test_booking_support import PHONE, add_agents, add_service, book, id_number, kiosk, local


def test_check_in_inside_the_window_issues_a_priority_ticket_ordered_by_slot(
    any_harness: OfficeHarness,
) -> None:
    """Twenty minutes early: checked in, an appointment-priority ticket ordered by the booked time."""
    h = any_harness
    svc = add_service(h)
    add_agents(h, 1)
    k = kiosk(h)
    at = local(2026, 3, 2, 14, 0)
    b = book(k, svc, at)
    h.clock.set(local(2026, 3, 2, 13, 40))
    r = k.client.post("/api/kiosk/appointments/check-in", json={"code": b["code"], "id_number": id_number(1)})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["late"] is False and out["ticket"]["priority"] is True
    assert out["booking"]["state"] == "checked_in" and out["booking"]["ticket_id"] == out["ticket"]["id"]
    with h.ctx.read_db() as s:
        t = s.get(Ticket, out["ticket"]["id"])
        assert t is not None and t.priority == Priority.APPOINTMENT and t.order_at == at
        assert t.appointment_ref == b["code"]
    again = k.client.post("/api/kiosk/appointments/check-in", json={"code": b["code"]})
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_checked_in"


def test_check_in_by_id_card_alone_finds_todays_booking(harness: OfficeHarness) -> None:
    """Reading the ID card without a code checks in today's booking."""
    h = harness
    svc = add_service(h)
    add_agents(h, 1)
    k = kiosk(h)
    book(k, svc, local(2026, 3, 2, 14, 0))
    h.clock.set(local(2026, 3, 2, 14, 10))
    r = k.client.post("/api/kiosk/appointments/check-in", json={"id_number": id_number(1)})
    assert r.status_code == 200 and r.json()["late"] is False
    r = k.client.post("/api/kiosk/appointments/check-in", json={"id_number": id_number(2)})
    assert r.status_code == 404 and r.json()["error"]["code"] == "no_booking_today"
    r = k.client.post("/api/kiosk/appointments/check-in", json={})
    assert r.status_code == 422 and r.json()["error"]["code"] == "code_or_id_required"


def test_too_early_is_refused_and_late_gets_a_walk_in_ticket(harness: OfficeHarness) -> None:
    """31 minutes early is refused; 16 minutes late gets a normal ticket and counts as a no-show."""
    h = harness
    svc = add_service(h)
    add_agents(h, 1)
    k = kiosk(h)
    b = book(k, svc, local(2026, 3, 2, 14, 0))
    h.clock.set(local(2026, 3, 2, 13, 29))
    r = k.client.post("/api/kiosk/appointments/check-in", json={"code": b["code"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "too_early"
    h.clock.set(local(2026, 3, 2, 14, 16))
    r = k.client.post("/api/kiosk/appointments/check-in", json={"code": b["code"]})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["late"] is True and out["ticket"]["priority"] is False
    assert out["booking"]["state"] == "no_show"
    with h.ctx.read_db() as s:
        t = s.get(Ticket, out["ticket"]["id"])
        assert t is not None and t.priority == Priority.NORMAL


def test_bookings_not_checked_in_become_no_shows_and_repeats_restrict_booking(harness: OfficeHarness) -> None:
    """mark_no_shows flags lapsed bookings; with a limit of 2, a third self-service booking is refused."""
    h = harness
    svc = add_service(h)
    add_agents(h, 1)
    with h.ctx.db() as s, s.begin():
        s.add(BookingPolicyRow(office_id=h.office_id, no_show_limit=2))
    k = kiosk(h)
    book(k, svc, local(2026, 3, 2, 14, 0))
    book(k, svc, local(2026, 3, 3, 14, 0))
    h.clock.set(local(2026, 3, 2, 14, 15))
    assert booking.mark_no_shows(h.ctx) == 0  # the window is still open
    h.clock.set(local(2026, 3, 3, 14, 16))
    assert booking.mark_no_shows(h.ctx) == 2
    assert booking.mark_no_shows(h.ctx) == 0
    hold = k.client.post(
        "/api/kiosk/booking/holds", json={"service_id": svc, "starts_at": local(2026, 3, 5, 10).isoformat()}
    ).json()
    r = k.client.post(
        f"/api/kiosk/booking/holds/{hold['hold_id']}/confirm",
        json={"hold_token": hold["hold_token"], "id_number": id_number(1), "phone": PHONE},
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "booking_restricted"
    with h.ctx.read_db() as s:
        states = sorted(s.scalars(select(Appointment.state)))
    assert states == ["held", "no_show", "no_show"]
    other = k.client.post(
        f"/api/kiosk/booking/holds/{hold['hold_id']}/confirm",
        json={"hold_token": hold["hold_token"], "id_number": id_number(2), "phone": PHONE},
    )
    assert other.status_code == 200  # another resident is not affected


def test_a_cancelled_booking_cannot_check_in(harness: OfficeHarness) -> None:
    """Check-in of a cancelled booking is a 409 and issues no ticket."""
    h = harness
    svc = add_service(h)
    add_agents(h, 1)
    k = kiosk(h)
    b = book(k, svc, local(2026, 3, 3, 10, 0))
    r = k.client.post(
        "/api/kiosk/appointments/cancel",
        json={"code": b["code"], "id_number": id_number(1), "reason": "有事"},
    )
    assert r.status_code == 200
    h.clock.set(local(2026, 3, 3, 9, 45))
    r = k.client.post("/api/kiosk/appointments/check-in", json={"code": b["code"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_booked"
    with h.ctx.read_db() as s:
        assert s.scalar(select(Ticket.id)) is None


def test_check_in_while_the_queue_is_paused_gives_the_booking_back(harness: OfficeHarness) -> None:
    """If the queue refuses the ticket, the booking stays booked and a later check-in succeeds."""
    h = harness
    svc = add_service(h)
    add_agents(h, 1)
    k = kiosk(h)
    b = book(k, svc, local(2026, 3, 2, 14, 0))
    with h.ctx.db() as s, s.begin():
        s.add(QueueSettings(office_id=h.office_id, accepting_tickets=False, closed_reason="系统维护"))
    h.clock.set(local(2026, 3, 2, 13, 50))
    r = k.client.post("/api/kiosk/appointments/check-in", json={"code": b["code"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "office_closed"
    with h.ctx.read_db() as s:
        appt = s.scalar(select(Appointment).where(Appointment.code == b["code"]))
        assert appt is not None and appt.state == "booked" and appt.checked_in_at is None
    with h.ctx.db() as s, s.begin():
        qs = s.get(QueueSettings, h.office_id)
        assert qs is not None
        qs.accepting_tickets = True
    r = k.client.post("/api/kiosk/appointments/check-in", json={"code": b["code"]})
    assert r.status_code == 200 and r.json()["ticket"]["priority"] is True
