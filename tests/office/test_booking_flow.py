"""The kiosk-side booking flow through the office API, in process: list, hold, confirm, look up,
download, reschedule, cancel; and the clear errors for bad input."""

from __future__ import annotations

from datetime import time

import pytest

from office.models import AuditEvent
from tests.office.conftest import OfficeHarness
from tests.office.test_booking_support import PHONE, add_agents, add_service, book, id_number, kiosk, local


def test_slots_list_the_horizon_with_notice_lunch_and_holidays_respected(harness: OfficeHarness) -> None:
    """Fourteen days of slots start after the minimum notice, skip lunch, Qingming and Sundays."""
    h = harness
    svc = add_service(h)
    add_agents(h, 2)
    h.clock.set(local(2026, 4, 1, 9, 10))  # Wednesday before Qingming (4-6 April)
    k = kiosk(h)
    r = k.client.get("/api/kiosk/booking/slots", params={"service_id": svc})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["horizon_days"] == 14 and data["timezone"] == "Asia/Shanghai"
    slots = data["slots"]
    first = slots[0]
    assert (first["local_date"], first["local_time"]) == ("2026-04-01", "10:30")  # 60 min notice, 30-min grid
    days = {s["local_date"] for s in slots}
    assert not {"2026-04-04", "2026-04-05", "2026-04-06"} & days  # Qingming
    assert "2026-04-12" not in days  # plain Sunday
    assert max(days) == "2026-04-14"
    times = {s["local_time"] for s in slots}
    assert "12:00" not in times and "13:00" not in times and "13:30" in times
    assert all(s["capacity"] == 2 == s["remaining"] for s in slots)


def test_kiosk_books_and_gets_code_masked_identity_slip_and_calendar(harness: OfficeHarness) -> None:
    """Hold → confirm returns a code, masked ID and phone, a printable slip and a working .ics link."""
    h = harness
    svc = add_service(h)
    add_agents(h, 1)
    k = kiosk(h)
    at = local(2026, 3, 3, 10, 0)
    b = book(k, svc, at)
    assert b["state"] == "booked" and len(str(b["code"])) == 8
    assert b["id_masked"] == "1101**********0016" and b["phone_masked"] == "138****5678"
    assert b["local_start"] == "2026-03-03 10:00"
    text = "\n".join(b["print_lines"])  # type: ignore[arg-type]
    assert str(b["code"]) in text and id_number(1) not in text
    ics_path = str(b["ics_url"]).replace("http://testserver", "")
    r = h.client().get(ics_path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    assert b"DTSTART:20260303T020000Z" in r.content and str(b["code"]).encode() in r.content
    assert h.client().get(ics_path.split("?")[0] + "?token=wrongtoken").status_code == 404
    with h.ctx.read_db() as s:
        booked = s.query(AuditEvent).filter_by(action="appointment.booked").one()
    assert id_number(1) not in str(booked.details) and PHONE not in str(booked.details)


def test_lookup_reschedule_and_cancel_need_code_and_matching_id(harness: OfficeHarness) -> None:
    """Look-up, reschedule and cancel with code + ID; a wrong ID looks like an unknown code."""
    h = harness
    svc = add_service(h)
    add_agents(h, 1)
    k = kiosk(h)
    b = book(k, svc, local(2026, 3, 4, 10, 0))
    code = b["code"]
    wrong = k.client.post("/api/kiosk/appointments/lookup", json={"code": code, "id_number": id_number(2)})
    unknown = k.client.post(
        "/api/kiosk/appointments/lookup", json={"code": "ZZZZZZZZ", "id_number": id_number(1)}
    )
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json()["error"]["code"] == unknown.json()["error"]["code"] == "unknown_code"
    ok = k.client.post(
        "/api/kiosk/appointments/lookup", json={"code": str(code).lower(), "id_number": id_number(1)}
    )
    assert ok.status_code == 200 and ok.json()["local_start"] == "2026-03-04 10:00"
    new = local(2026, 3, 5, 14, 0)
    r = k.client.post(
        "/api/kiosk/appointments/reschedule",
        json={"code": code, "id_number": id_number(1), "starts_at": new.isoformat()},
    )
    assert r.status_code == 200, r.text
    assert r.json()["local_start"] == "2026-03-05 14:00" and r.json()["code"] == code
    # The old slot is free again and the new one is taken (capacity 1).
    slots = k.client.get("/api/kiosk/booking/slots", params={"service_id": svc}).json()["slots"]
    starts = {s["starts_at"]: s["remaining"] for s in slots}
    assert "2026-03-04T02:00:00Z" in starts and "2026-03-05T06:00:00Z" not in starts
    r = k.client.post(
        "/api/kiosk/appointments/cancel", json={"code": code, "id_number": id_number(1), "reason": "改天再来"}
    )
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    again = k.client.post(
        "/api/kiosk/appointments/cancel", json={"code": code, "id_number": id_number(1), "reason": "x"}
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_booked"


def test_changes_close_at_the_cutoff(harness: OfficeHarness) -> None:
    """Within two hours of the slot the kiosk can neither cancel nor reschedule."""
    h = harness
    svc = add_service(h)
    add_agents(h, 1)
    k = kiosk(h)
    b = book(k, svc, local(2026, 3, 2, 14, 0))
    h.clock.set(local(2026, 3, 2, 12, 1))
    r = k.client.post(
        "/api/kiosk/appointments/cancel", json={"code": b["code"], "id_number": id_number(1), "reason": "x"}
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "change_cutoff_passed"
    r = k.client.post(
        "/api/kiosk/appointments/reschedule",
        json={"code": b["code"], "id_number": id_number(1), "starts_at": local(2026, 3, 3, 10).isoformat()},
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "change_cutoff_passed"


def _hold(k, svc: int, at: str):  # type: ignore[no-untyped-def]
    return k.client.post("/api/kiosk/booking/holds", json={"service_id": svc, "starts_at": at})


def test_bad_input_gets_clear_errors(harness: OfficeHarness) -> None:
    """Past slot, inside notice, outside hours, off-grid, naive time, beyond horizon, unknown service."""
    h = harness
    svc = add_service(h)
    add_agents(h, 1)
    k = kiosk(h)
    cases = {
        local(2026, 3, 2, 8, 30).isoformat(): "slot_in_past",
        local(2026, 3, 2, 9, 30).isoformat(): "too_soon",
        local(2026, 3, 3, 12, 30).isoformat(): "outside_hours",
        local(2026, 3, 3, 10, 10).isoformat(): "outside_hours",
        local(2026, 3, 8, 10, 0).isoformat(): "outside_hours",  # Sunday
        local(2026, 3, 20, 10, 0).isoformat(): "beyond_horizon",
        "2026-03-03T10:00:00": "naive_time",
    }
    for at, code in cases.items():
        r = _hold(k, svc, at)
        assert r.status_code == 422, (at, r.text)
        assert r.json()["error"]["code"] == code, at
    r = _hold(k, 9999, local(2026, 3, 3, 10).isoformat())
    assert r.status_code == 404 and r.json()["error"]["code"] == "service_not_found"


def test_identity_errors_bad_checksum_malformed_phone_missing_phone(harness: OfficeHarness) -> None:
    """A wrong check character, a malformed phone and a typed ID without phone are 422s; none echo input."""
    h = harness
    svc = add_service(h)
    add_agents(h, 1)
    k = kiosk(h)
    hold = _hold(k, svc, local(2026, 3, 3, 10).isoformat()).json()
    url = f"/api/kiosk/booking/holds/{hold['hold_id']}/confirm"
    good = id_number(1)
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    for body, code in [
        ({"id_number": bad, "phone": PHONE}, "bad_id_number"),
        ({"id_number": good, "phone": "12345"}, "bad_phone"),
        ({"id_number": good, "phone": "23812345678"}, "bad_phone"),
        ({"id_number": good}, "phone_required"),
    ]:
        r = k.client.post(url, json={"hold_token": hold["hold_token"], "id_source": "manual", **body})
        assert r.status_code == 422 and r.json()["error"]["code"] == code, r.text
        assert bad not in r.text and good not in r.text
    r = k.client.post(url, json={"hold_token": hold["hold_token"], "id_source": "card", "id_number": good})
    assert r.status_code == 200 and r.json()["phone_masked"] is None


def test_hold_expiry_frees_capacity_and_the_late_confirm_fails(harness: OfficeHarness) -> None:
    """With one place: A holds, B is refused, A's hold lapses after 5 minutes, B gets it, A cannot confirm."""
    h = harness
    svc = add_service(h)
    add_agents(h, 1)
    a, b = kiosk(h), kiosk(h)
    at = local(2026, 3, 3, 10).isoformat()
    ha = _hold(a, svc, at).json()
    rb = _hold(b, svc, at)
    assert rb.status_code == 409 and rb.json()["error"]["code"] == "slot_full"
    h.clock.advance(minutes=4, seconds=59)
    assert _hold(b, svc, at).status_code == 409
    h.clock.advance(seconds=1)
    listed = b.client.get("/api/kiosk/booking/slots", params={"service_id": svc}).json()["slots"]
    assert any(s["starts_at"] == "2026-03-03T02:00:00Z" and s["remaining"] == 1 for s in listed)
    assert _hold(b, svc, at).status_code == 201
    r = a.client.post(
        f"/api/kiosk/booking/holds/{ha['hold_id']}/confirm",
        json={"hold_token": ha["hold_token"], "id_number": id_number(1), "phone": PHONE},
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "hold_expired"


def test_hold_belongs_to_its_token_and_can_be_released(harness: OfficeHarness) -> None:
    """A wrong hold token is a 404; releasing gives the place back at once."""
    h = harness
    svc = add_service(h)
    add_agents(h, 1)
    k = kiosk(h)
    at = local(2026, 3, 3, 10).isoformat()
    hold = _hold(k, svc, at).json()
    r = k.client.post(
        f"/api/kiosk/booking/holds/{hold['hold_id']}/confirm",
        json={"hold_token": "x" * 30, "id_number": id_number(1), "phone": PHONE},
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "hold_not_found"
    r = k.client.post(
        f"/api/kiosk/booking/holds/{hold['hold_id']}/release", json={"hold_token": hold["hold_token"]}
    )
    assert r.status_code == 204
    assert _hold(k, svc, at).status_code == 201


def test_one_active_booking_per_resident_service_and_day(harness: OfficeHarness) -> None:
    """A second booking of the same service on the same day is refused; another day is fine."""
    h = harness
    svc = add_service(h)
    add_agents(h, 2)
    k = kiosk(h)
    book(k, svc, local(2026, 3, 3, 10))
    hold = _hold(k, svc, local(2026, 3, 3, 15).isoformat()).json()
    r = k.client.post(
        f"/api/kiosk/booking/holds/{hold['hold_id']}/confirm",
        json={"hold_token": hold["hold_token"], "id_number": id_number(1), "phone": PHONE},
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_booked"
    book(k, svc, local(2026, 3, 4, 10))


def test_a_retried_confirmation_returns_the_same_booking(harness: OfficeHarness) -> None:
    """Confirming the same hold twice (a double tap) yields one booking with one code."""
    h = harness
    svc = add_service(h)
    add_agents(h, 1)
    k = kiosk(h)
    hold = _hold(k, svc, local(2026, 3, 3, 10).isoformat()).json()
    body = {"hold_token": hold["hold_token"], "id_number": id_number(1), "phone": PHONE}
    url = f"/api/kiosk/booking/holds/{hold['hold_id']}/confirm"
    first, second = k.client.post(url, json=body), k.client.post(url, json=body)
    assert first.status_code == second.status_code == 200
    assert first.json()["code"] == second.json()["code"]


def test_skills_limit_capacity_to_agents_who_can_serve(harness: OfficeHarness) -> None:
    """A service needing skill 'social' counts only social-skilled agents and generalists."""
    h = harness
    svc = add_service(h, skill="social")
    add_agents(h, 1, skills=("civil",))
    add_agents(h, 1, skills=("social",))
    add_agents(h, 1)  # generalist
    k = kiosk(h)
    slots = k.client.get("/api/kiosk/booking/slots", params={"service_id": svc, "days": 2}).json()["slots"]
    assert slots and all(s["capacity"] == 2 for s in slots)


def test_shorter_shifts_cap_capacity_per_slot(harness: OfficeHarness) -> None:
    """An agent working 13:30-17:00 adds capacity only to afternoon slots."""
    h = harness
    svc = add_service(h, minutes=60)
    add_agents(h, 1)
    add_agents(h, 1, start=time(13, 30))
    k = kiosk(h)
    slots = k.client.get("/api/kiosk/booking/slots", params={"service_id": svc, "days": 2}).json()["slots"]
    caps = {s["local_time"]: s["capacity"] for s in slots if s["local_date"] == "2026-03-03"}
    assert caps == {"09:00": 1, "10:00": 1, "11:00": 1, "13:30": 2, "14:30": 2, "15:30": 2}


def test_idempotency_key_makes_a_double_tap_take_one_place(harness: OfficeHarness) -> None:
    """The same Idempotency-Key returns the same hold and token; reusing it for another slot is a 422."""
    h = harness
    svc = add_service(h)
    add_agents(h, 2)
    k = kiosk(h)
    at = local(2026, 3, 3, 10).isoformat()
    headers = {"Idempotency-Key": "tap-0001-abcdef"}
    first = k.client.post(
        "/api/kiosk/booking/holds", json={"service_id": svc, "starts_at": at}, headers=headers
    )
    second = k.client.post(
        "/api/kiosk/booking/holds", json={"service_id": svc, "starts_at": at}, headers=headers
    )
    assert first.status_code == second.status_code == 201
    assert first.json()["hold_id"] == second.json()["hold_id"]
    assert first.json()["hold_token"] == second.json()["hold_token"]
    slots = k.client.get("/api/kiosk/booking/slots", params={"service_id": svc, "days": 2}).json()["slots"]
    assert next(s for s in slots if s["starts_at"] == "2026-03-03T02:00:00Z")["remaining"] == 1
    other = local(2026, 3, 3, 11).isoformat()
    r = k.client.post(
        "/api/kiosk/booking/holds", json={"service_id": svc, "starts_at": other}, headers=headers
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "idempotency_key_reused"
    r = k.client.post(
        f"/api/kiosk/booking/holds/{first.json()['hold_id']}/confirm",
        json={"hold_token": second.json()["hold_token"], "id_number": id_number(1), "phone": PHONE},
    )
    assert r.status_code == 200


def test_no_id_number_or_phone_reaches_the_logs(
    harness: OfficeHarness, caplog: pytest.LogCaptureFixture
) -> None:
    """Booking, bad input, look-up, reminders and check-in log nothing that contains the ID or phone."""
    import json
    import logging

    from office import booking
    from office.booking.notify import LogNotifier

    h = harness
    svc = add_service(h)
    add_agents(h, 1)
    k = kiosk(h)
    with caplog.at_level(logging.DEBUG):
        b = book(k, svc, local(2026, 3, 2, 14))
        bad = id_number(1)[:-1] + ("1" if id_number(1)[-1] != "1" else "2")
        hold = _hold(k, svc, local(2026, 3, 3, 10).isoformat()).json()
        k.client.post(
            f"/api/kiosk/booking/holds/{hold['hold_id']}/confirm",
            json={"hold_token": hold["hold_token"], "id_number": bad, "phone": "1381234567x"},
        )
        k.client.post("/api/kiosk/appointments/lookup", json={"code": b["code"], "id_number": id_number(1)})
        h.clock.set(local(2026, 3, 2, 13, 40))
        booking.send_due_reminders(h.ctx, LogNotifier())
        k.client.post("/api/kiosk/appointments/check-in", json={"code": b["code"], "id_number": id_number(1)})
    dumped = "\n".join(json.dumps(r.__dict__, default=str, ensure_ascii=False) for r in caplog.records)
    assert "notice sent" in dumped and "138****5678" in dumped  # the log line exists, masked
    for secret in (id_number(1), bad, PHONE, "1381234567x"):
        assert secret not in dumped
