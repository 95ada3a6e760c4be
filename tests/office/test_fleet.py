"""Kiosk fleet health: reports stored per kiosk, device-failure and silent-kiosk alerts (fake clock),
remote health checks over signaling answered by the kiosk's report, and who may see what."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from office.events import Event
from office.fleet import process_silent_kiosks
from office.models import KioskHealthEvent, Office, Role, Station
from tests.office.conftest import OfficeHarness
from tests.office.test_calls_support import CallRig, expect, nothing_pending, rig, send

__all__ = ["rig"]

OK: dict[str, Any] = {
    "status": {"state": "idle", "phase": "enabled", "availability": "online", "detail": {}},
    "health": {"ok": True, "text": "OK", "level": "internal", "recommended_action": "none", "steps": []},
}
SAM_FAILED: dict[str, Any] = {
    "status": {"state": "error", "phase": "enabled", "availability": "online", "detail": {"sam": "failed"}},
    "health": {
        "ok": False,
        "text": "failed: sam_status",
        "level": "internal",
        "recommended_action": "maintenance",
        "steps": [
            {"name": "sam_status", "ok": False, "detail": "SamFailure"},
            {"name": "sam_id", "ok": True, "detail": ""},
        ],
    },
}


def _report(rig: CallRig, **devices: Any) -> None:
    r = rig.kiosk.post("/api/kiosk/health", json={"devices": devices, "in_call": False})
    assert r.status_code == 204, r.text


def _collect(h: OfficeHarness, action: Any) -> list[Event]:
    """Run ``action`` (in a worker thread) and return the office's events it published."""

    async def run() -> list[Event]:
        sub = h.ctx.events.subscribe(h.office_id)
        try:
            await asyncio.to_thread(action)
            out: list[Event] = []
            while not sub.queue.empty() or not out:
                try:
                    out.append(await asyncio.wait_for(sub.get(), 0.5))
                except TimeoutError:
                    break
            return out
        finally:
            sub.close()

    return asyncio.run(run())


def _alerts(events: list[Event]) -> list[dict[str, Any]]:
    return [e.payload for e in events if e.topic == "kiosk.alert"]


def test_reports_are_stored_and_a_device_failure_alerts_once(rig: CallRig) -> None:
    """A healthy report shows on the fleet list; a failing device raises one kiosk.alert (not one
    per report), is logged with its failed steps, and its recovery is logged."""
    tech = rig.qh.staff(Role.TECHNICIAN)
    _report(rig, idcard=OK, printer=OK)
    (row,) = [k for k in tech.get("/api/fleet/kiosks").json() if k["kiosk_id"] == rig.kiosk_id]
    assert row["failing"] == [] and row["reports"] == 1 and row["last_report_at"] is not None
    assert [(d["kind"], d["ok"]) for d in row["devices"]] == [("idcard", True), ("printer", True)]
    events = _collect(rig.h, lambda: _report(rig, idcard=SAM_FAILED, printer=OK))
    assert _alerts(events) == [
        {
            "kiosk_id": rig.kiosk_id,
            "kind": "device_failed",
            "device": "idcard",
            "text": "failed: sam_status",
            "failed_steps": ["sam_status"],
            "recommended_action": "maintenance",
        }
    ]
    assert _alerts(_collect(rig.h, lambda: _report(rig, idcard=SAM_FAILED, printer=OK))) == []
    _report(rig, idcard=OK, printer=OK)
    detail = tech.get(f"/api/fleet/kiosks/{rig.kiosk_id}").json()
    assert [(e["kind"], e["device"]) for e in detail["events"]] == [
        ("device_recovered", "idcard"),
        ("device_failed", "idcard"),
    ]
    assert (detail["reports"], detail["device_failures"], detail["failing"]) == (4, 1, [])


def test_an_unusable_device_counts_as_failed(rig: CallRig) -> None:
    """A device the kiosk could not open (``{"ok": false, "error": …}``) is failing with its error class."""
    _report(rig, fingerprint={"ok": False, "error": "ConfigurationError"})
    tech = rig.qh.staff(Role.TECHNICIAN)
    detail = tech.get(f"/api/fleet/kiosks/{rig.kiosk_id}").json()
    assert detail["failing"] == ["fingerprint"]
    assert detail["devices"][0]["error"] == "ConfigurationError"
    assert detail["events"][0]["detail"] == {"error": "ConfigurationError"}


def test_silent_kiosk_alerts_once_and_clears_on_the_next_report(rig: CallRig) -> None:
    """No report for kiosk_silent_after_s: one "silent" alert; none before, none repeated; the next
    report raises "back" and clears it."""
    h = rig.h
    _report(rig, idcard=OK)
    h.clock.advance(seconds=h.ctx.settings.kiosk_silent_after_s - 1)
    assert process_silent_kiosks(h.ctx) == 0
    h.clock.advance(seconds=2)
    events = _collect(h, lambda: process_silent_kiosks(h.ctx))
    assert [(a["kind"], a["kiosk_id"]) for a in _alerts(events)] == [("silent", rig.kiosk_id)]
    h.clock.advance(minutes=30)
    assert process_silent_kiosks(h.ctx) == 0
    tech = rig.qh.staff(Role.TECHNICIAN)
    assert tech.get(f"/api/fleet/kiosks/{rig.kiosk_id}").json()["silent"] is True
    assert [a["kind"] for a in _alerts(_collect(h, lambda: _report(rig, idcard=OK)))] == ["back"]
    detail = tech.get(f"/api/fleet/kiosks/{rig.kiosk_id}").json()
    assert detail["silent"] is False and detail["silent_alerts"] == 1
    assert [e["kind"] for e in detail["events"]][:2] == ["back", "silent"]


def test_remote_health_check_round_trip(rig: CallRig) -> None:
    """The technician's check reaches the connected kiosk as diag.request; the kiosk's report with
    that request_id answers it; the result is visible; a stray request id is refused."""
    tech = rig.qh.staff(Role.TECHNICIAN)
    with rig.kiosk_socket() as kws:
        r = tech.post(f"/api/fleet/kiosks/{rig.kiosk_id}/diag")
        assert r.status_code == 202, r.text
        assert r.json()["state"] == "sent"
        request_id = r.json()["request_id"]
        expect(kws, "diag.request", request_id=request_id)
        nothing_pending(kws)
        body = {"devices": {"idcard": SAM_FAILED}, "in_call": False, "request_id": request_id}
        assert rig.kiosk.post("/api/kiosk/health", json=body).status_code == 204
        send(kws, {"type": "diag.result", "request_id": request_id, "ok": False, "failing": ["idcard"]})
        nothing_pending(kws, 8)  # accepted silently: no error frame
    diag = tech.get(f"/api/fleet/diag/{request_id}").json()
    assert (diag["state"], diag["ok"]) == ("answered", False)
    assert diag["report"]["idcard"]["health"]["text"] == "failed: sam_status"
    stray = {"devices": {"idcard": OK}, "in_call": False, "request_id": "diag-nonexistent"}
    assert rig.kiosk.post("/api/kiosk/health", json=stray).status_code == 404


def test_remote_check_of_an_offline_kiosk_is_recorded_as_offline(rig: CallRig) -> None:
    """Without a signaling connection the check is recorded as offline, not lost silently."""
    tech = rig.qh.staff(Role.TECHNICIAN)
    r = tech.post(f"/api/fleet/kiosks/{rig.kiosk_id}/diag")
    assert r.status_code == 202 and r.json()["state"] == "offline"


def test_fleet_access(rig: CallRig) -> None:
    """Agents may not see the fleet or run checks; supervisors may look but not run checks;
    another office's technician gets 404; kiosks cannot read the fleet."""
    _report(rig, idcard=OK)
    assert rig.agent.get("/api/fleet/kiosks").status_code == 403
    sup = rig.qh.staff(Role.SUPERVISOR)
    assert sup.get("/api/fleet/kiosks").status_code == 200
    assert sup.post(f"/api/fleet/kiosks/{rig.kiosk_id}/diag").status_code == 403
    assert rig.kiosk.get("/api/fleet/kiosks").status_code == 403
    with rig.h.ctx.db() as s, s.begin():
        office = Office(code="T2", name="另一街道")
        s.add(office)
        s.flush()
        s.add(Station(office_id=office.id, code="S9", name="站"))
        other = office.id
    foreign = rig.qh.staff(Role.TECHNICIAN, rig.qh.new_user(Role.TECHNICIAN, other))
    assert foreign.get("/api/fleet/kiosks").json() == []
    assert foreign.get(f"/api/fleet/kiosks/{rig.kiosk_id}").status_code == 404
    assert foreign.post(f"/api/fleet/kiosks/{rig.kiosk_id}/diag").status_code == 404
    with rig.h.ctx.read_db() as s:
        assert (
            s.scalar(select(KioskHealthEvent.id).limit(1)) is None
        )  # healthy from the start: nothing logged
