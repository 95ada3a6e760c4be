"""Reminders (day before, hour before) at most once, closures that cancel and notify, and the
notification gateways: a masked log line, and JSON over HTTP to a local SMS gateway."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from sqlalchemy import select

from office import booking
from office.booking.notify import HttpSmsNotifier, LogNotifier, NotificationFailed, RecordingNotifier
from office.models import Appointment, AppointmentNotice, Role
from tests.office.conftest import OfficeHarness
from tests.office.test_booking_support import PHONE, add_agents, add_service, book, id_number, kiosk, local


def test_reminders_go_out_once_each_at_their_time(any_harness: OfficeHarness) -> None:
    """Day-before fires from 24 h before, hour-before from 1 h before; re-running sends nothing twice."""
    h = any_harness
    svc = add_service(h)
    add_agents(h, 1)
    k = kiosk(h)
    b = book(k, svc, local(2026, 3, 4, 10, 0))
    sms = RecordingNotifier()
    assert booking.send_due_reminders(h.ctx, sms) == {}
    h.clock.set(local(2026, 3, 3, 9, 59))
    assert booking.send_due_reminders(h.ctx, sms) == {}
    h.clock.set(local(2026, 3, 3, 10, 0))
    assert booking.send_due_reminders(h.ctx, sms) == {"sent": 1}
    assert booking.send_due_reminders(h.ctx, sms) == {}
    h.clock.set(local(2026, 3, 4, 9, 0))
    assert booking.send_due_reminders(h.ctx, sms) == {"sent": 1}
    assert booking.send_due_reminders(h.ctx, sms) == {}
    assert [(p, ref, kind) for p, _, ref, kind in sms.sent] == [
        (PHONE, b["code"], "day_before:0"),
        (PHONE, b["code"], "hour_before:0"),
    ]
    assert "3月4日 10:00" in sms.sent[0][1] and str(b["code"]) in sms.sent[0][1]
    assert id_number(1) not in sms.sent[0][1]


def test_a_rescheduled_booking_is_reminded_of_its_new_time(harness: OfficeHarness) -> None:
    """After a reschedule the reminder kinds re-arm for the new slot."""
    h = harness
    svc = add_service(h)
    add_agents(h, 1)
    k = kiosk(h)
    b = book(k, svc, local(2026, 3, 4, 10, 0))
    sms = RecordingNotifier()
    h.clock.set(local(2026, 3, 3, 10, 0))
    booking.send_due_reminders(h.ctx, sms)
    r = k.client.post(
        "/api/kiosk/appointments/reschedule",
        json={"code": b["code"], "id_number": id_number(1), "starts_at": local(2026, 3, 4, 15).isoformat()},
    )
    assert r.status_code == 200, r.text
    h.clock.set(local(2026, 3, 3, 15, 0))
    assert booking.send_due_reminders(h.ctx, sms) == {"sent": 1}
    assert [kind for *_, kind in sms.sent] == ["day_before:0", "day_before:1"]
    assert "15:00" in sms.sent[1][1]


def test_a_late_booking_skips_the_day_before_reminder_and_no_phone_means_no_contact(
    harness: OfficeHarness,
) -> None:
    """Booked 3 h ahead: only the hour-before reminder; a card-only booking records no_contact."""
    h = harness
    svc = add_service(h)
    add_agents(h, 2)
    k = kiosk(h)
    book(k, svc, local(2026, 3, 2, 14, 0))
    book(k, svc, local(2026, 3, 2, 14, 0), serial=2, phone=None)
    sms = RecordingNotifier()
    h.clock.set(local(2026, 3, 2, 13, 0))
    assert booking.send_due_reminders(h.ctx, sms) == {"sent": 1, "no_contact": 1}
    assert [kind for *_, kind in sms.sent] == ["hour_before:0"]


def test_a_failed_send_is_recorded_and_not_retried(harness: OfficeHarness) -> None:
    """At most once: a gateway failure is stored as the outcome and the reminder is not sent again."""
    h = harness
    svc = add_service(h)
    add_agents(h, 1)
    k = kiosk(h)
    book(k, svc, local(2026, 3, 4, 10, 0))
    h.clock.set(local(2026, 3, 4, 9, 0))
    assert booking.send_due_reminders(h.ctx, RecordingNotifier(fail=True)) == {"failed": 1}
    ok = RecordingNotifier()
    assert booking.send_due_reminders(h.ctx, ok) == {} and ok.sent == []
    with h.ctx.read_db() as s:
        assert s.scalar(select(AppointmentNotice.outcome)) == "failed:gateway_down"


def test_closure_cancels_the_days_bookings_and_notifies_each_resident_once(
    any_harness: OfficeHarness,
) -> None:
    """A closure posted by a supervisor cancels that day's bookings, frees nothing bookable, notifies once."""
    h = any_harness
    svc = add_service(h)
    add_agents(h, 2)
    k = kiosk(h)
    b1 = book(k, svc, local(2026, 3, 5, 10, 0))
    b2 = book(k, svc, local(2026, 3, 5, 15, 0), serial=2)
    keep = book(k, svc, local(2026, 3, 6, 10, 0), serial=3)
    sms = RecordingNotifier()
    h.app.state.booking_notifier = sms
    sup = h.login(Role.SUPERVISOR)
    r = sup.post(f"/api/offices/{h.office_id}/closures", json={"day": "2026-03-05", "reason": "停电检修"})
    assert r.status_code == 200 and r.json()["cancelled"] == 2
    assert sorted(ref for *_, ref, _k in sms.sent) == sorted([str(b1["code"]), str(b2["code"])])
    assert all("已取消" in text for _, text, *_ in sms.sent)
    r = sup.post(f"/api/offices/{h.office_id}/closures", json={"day": "2026-03-05", "reason": "停电检修"})
    assert r.json()["cancelled"] == 0 and len(sms.sent) == 2
    with h.ctx.read_db() as s:
        assert {a.code: a.state for a in s.scalars(select(Appointment))} == {
            b1["code"]: "cancelled",
            b2["code"]: "cancelled",
            keep["code"]: "booked",
        }
    days = {
        s["local_date"]
        for s in k.client.get("/api/kiosk/booking/slots", params={"service_id": svc}).json()["slots"]
    }
    assert "2026-03-05" not in days and "2026-03-06" in days


def test_log_notifier_logs_only_a_masked_number(caplog: pytest.LogCaptureFixture) -> None:
    """The log backend writes the masked phone and the reference, never the number or the text."""
    with caplog.at_level(logging.INFO, logger="office.booking.notify"):
        LogNotifier().send(PHONE, "您的预约 secret-text", ref="ABCD2345", kind="hour_before:0")
    record = caplog.records[-1]
    dumped = json.dumps(record.__dict__, default=str, ensure_ascii=False)
    assert "138****5678" in dumped and "ABCD2345" in dumped
    assert PHONE not in dumped and "secret-text" not in dumped


class _Gateway(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, Any], str]]] = []
    status = 200

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).received.append(
            (json.loads(self.rfile.read(length)), self.headers.get("Authorization", ""))
        )
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[tuple[str, type[_Gateway]]]:
    """A small SMS gateway on 127.0.0.1, stopped after the test."""
    handler = type("Gateway", (_Gateway,), {"received": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="sms-gateway", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sms", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_http_sms_notifier_posts_json_with_token(gateway: tuple[str, type[_Gateway]]) -> None:
    """The HTTP backend POSTs to, text, ref and kind as JSON with the bearer token."""
    url, handler = gateway
    n = HttpSmsNotifier(url, token="gw-token-123")
    try:
        n.send(PHONE, "提醒", ref="ABCD2345", kind="day_before:0")
    finally:
        n.close()
    assert handler.received == [
        ({"to": PHONE, "text": "提醒", "ref": "ABCD2345", "kind": "day_before:0"}, "Bearer gw-token-123")
    ]


def test_http_sms_notifier_turns_refusals_and_outages_into_notification_failed(
    gateway: tuple[str, type[_Gateway]],
) -> None:
    """A 503 from the gateway and a closed port both raise NotificationFailed with a reason code."""
    url, handler = gateway
    handler.status = 503
    n = HttpSmsNotifier(url, timeout_s=2)
    try:
        with pytest.raises(NotificationFailed) as err:
            n.send(PHONE, "x", ref="R", kind="k")
        assert err.value.reason == "http_503" and PHONE not in str(err.value)
    finally:
        n.close()
    dead = HttpSmsNotifier("http://127.0.0.1:9/sms", timeout_s=2)
    try:
        with pytest.raises(NotificationFailed) as err:
            dead.send(PHONE, "x", ref="R", kind="k")
        assert err.value.reason == "unreachable"
    finally:
        dead.close()


def test_make_notifier_picks_http_when_a_gateway_is_configured() -> None:
    """No URL → log backend; a URL → HTTP backend; a non-HTTP URL is refused."""
    assert isinstance(booking.make_notifier(None), LogNotifier)
    http = booking.make_notifier("http://127.0.0.1:1/sms")
    assert isinstance(http, HttpSmsNotifier)
    http.close()
    with pytest.raises(ValueError):
        HttpSmsNotifier("ftp://x")
