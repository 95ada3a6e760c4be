"""The periodic task, reschedule into a full slot, and office isolation of kiosks."""

from __future__ import annotations

from sqlalchemy import select

from office import booking
from office.booking.notify import RecordingNotifier
from office.models import Appointment, Office, SlotCapacity, Station
from tests.office.conftest import OfficeHarness
from tests.office.test_booking_support import add_agents, add_service, book, id_number, kiosk, local


def test_periodic_run_expires_holds_marks_no_shows_and_reminds_once(harness: OfficeHarness) -> None:
    """One run frees lapsed holds, flags missed bookings and sends due reminders; a rerun does nothing."""
    h = harness
    svc = add_service(h)
    add_agents(h, 1)
    k = kiosk(h)
    book(k, svc, local(2026, 3, 2, 11, 0))
    booking.hold_slot(h.ctx, office_id=h.office_id, service_id=svc, starts_at=local(2026, 3, 3, 10))
    sms = RecordingNotifier()
    h.clock.set(local(2026, 3, 2, 10, 0))
    first = booking.run_periodic(h.ctx, sms)
    assert (first.holds_expired, first.no_shows, first.reminders) == (1, 0, {"sent": 1})
    with h.ctx.read_db() as s:
        assert (
            s.scalar(select(SlotCapacity.remaining).where(SlotCapacity.starts_at == local(2026, 3, 3, 10)))
            == 1
        )
    again = booking.run_periodic(h.ctx, sms)
    assert (again.holds_expired, again.no_shows, again.reminders) == (0, 0, {})
    h.clock.set(local(2026, 3, 2, 11, 16))
    assert booking.run_periodic(h.ctx, sms).no_shows == 1


def test_reschedule_into_a_full_slot_changes_nothing(harness: OfficeHarness) -> None:
    """Moving to a slot someone else holds fails with slot_full and leaves the booking where it was."""
    h = harness
    svc = add_service(h)
    add_agents(h, 1)
    k = kiosk(h)
    b = book(k, svc, local(2026, 3, 3, 10))
    book(k, svc, local(2026, 3, 3, 11), serial=2)
    r = k.client.post(
        "/api/kiosk/appointments/reschedule",
        json={"code": b["code"], "id_number": id_number(1), "starts_at": local(2026, 3, 3, 11).isoformat()},
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "slot_full"
    with h.ctx.read_db() as s:
        appt = s.scalar(select(Appointment).where(Appointment.code == b["code"]))
        assert appt is not None and appt.starts_at == local(2026, 3, 3, 10) and appt.reschedule_count == 0
        assert sorted(s.scalars(select(SlotCapacity.remaining))) == [0, 0]


def test_a_kiosk_of_another_office_cannot_see_or_change_a_booking(harness: OfficeHarness) -> None:
    """Codes are scoped to the kiosk's office: another office's kiosk gets 404 for look-up and cancel."""
    h = harness
    svc = add_service(h)
    add_agents(h, 1)
    b = book(kiosk(h), svc, local(2026, 3, 3, 10))
    with h.ctx.db() as s, s.begin():
        office = Office(code="T9", name="别的街道")
        s.add(office)
        s.flush()
        station = Station(office_id=office.id, code="Z", name="z")
        s.add(station)
        s.flush()
        other_station = station.id
    h.station_id, home = other_station, h.station_id
    try:
        stranger = kiosk(h)
    finally:
        h.station_id = home
    body = {"code": b["code"], "id_number": id_number(1)}
    assert stranger.client.post("/api/kiosk/appointments/lookup", json=body).status_code == 404
    r = stranger.client.post("/api/kiosk/appointments/cancel", json={**body, "reason": "x"})
    assert r.status_code == 404
    assert (
        stranger.client.post("/api/kiosk/appointments/check-in", json={"code": b["code"]}).status_code == 404
    )
