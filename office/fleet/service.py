"""Kiosk fleet health: store each kiosk's health reports, detect device failures and silent
kiosks, run remote health checks over signaling.

A report is what the kiosk's ``_health_loop`` sends (``{"devices": DeviceService.health(),
"in_call": bool}``, plus ``request_id`` when it answers a remote check). A device whose check
passed before and fails now raises a ``kiosk.alert`` (``device_failed``) once; its recovery is
logged. A kiosk with no report for ``kiosk_silent_after_s`` raises ``kiosk.alert`` (``silent``) once
until it reports again. Reports carry no personal data (hardware diagnostics are redacted at the
source); the office keeps only status, health steps and error class names.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from office import audit
from office.audit import Actor
from office.calls.signals import kiosk_party, run_on_hub
from office.context import OfficeContext
from office.errors import ApiError
from office.models import Kiosk, KioskDiagRequest, KioskHealth, KioskHealthEvent, Station
from signaling.messages import DiagRequest
from signaling.messages import Role as PartyRole

__all__ = [
    "DiagOutcome",
    "device_ok",
    "failing_devices",
    "process_silent_kiosks",
    "record_report",
    "request_diag",
]

log = logging.getLogger("office.fleet")


def device_ok(entry: Any) -> bool:
    """Whether one device entry of a report passed its check."""
    if not isinstance(entry, dict):
        return False
    health = entry.get("health")
    if isinstance(health, dict):
        return health.get("ok") is True
    return entry.get("ok") is True


def failing_devices(devices: dict[str, Any]) -> list[str]:
    """The device kinds whose check failed, sorted."""
    return sorted(kind for kind, entry in devices.items() if not device_ok(entry))


def _failure_detail(entry: Any) -> dict[str, Any]:
    """A short machine-readable reason: the error class or the failed step names and action."""
    if not isinstance(entry, dict):
        return {"error": "malformed"}
    health = entry.get("health")
    if isinstance(health, dict):
        steps = health.get("steps")
        failed = [
            str(step.get("name", ""))[:40]
            for step in (steps if isinstance(steps, list) else [])
            if isinstance(step, dict) and step.get("ok") is False
        ]
        return {
            "text": str(health.get("text", ""))[:200],
            "failed_steps": failed[:10],
            "recommended_action": str(health.get("recommended_action", ""))[:40],
        }
    return {"error": str(entry.get("error", "unknown"))[:80]}


def record_report(
    ctx: OfficeContext,
    kiosk_id: int,
    office_id: int,
    devices: dict[str, Any],
    in_call: bool,
    request_id: str | None,
) -> None:
    """Store a kiosk's health report; alert on newly failed devices and on a kiosk back from silence.

    With ``request_id`` the report also answers that remote health check (of this kiosk only).
    """
    now = ctx.clock.now()
    failing = failing_devices(devices)
    alerts: list[dict[str, Any]] = []
    with ctx.db() as s, s.begin():
        row = s.get(KioskHealth, kiosk_id, with_for_update=True)
        before: set[str] = set(row.failing) if row is not None else set()
        was_silent = row is not None and row.silent_since is not None
        if row is None:
            row = KioskHealth(
                kiosk_id=kiosk_id,
                office_id=office_id,
                last_report_at=now,
                first_report_at=now,
                reports=0,
                device_failures=0,
                silent_alerts=0,
            )
            s.add(row)
        row.last_report_at = now
        row.in_call = in_call
        row.devices = devices
        row.failing = failing
        row.reports = (row.reports or 0) + 1
        row.silent_since = None
        newly_failed = [k for k in failing if k not in before]
        recovered = sorted(before - set(failing))
        row.device_failures = (row.device_failures or 0) + len(newly_failed)
        for kind in newly_failed:
            detail = _failure_detail(devices.get(kind))
            s.add(
                KioskHealthEvent(
                    kiosk_id=kiosk_id,
                    office_id=office_id,
                    at=now,
                    kind="device_failed",
                    device=kind,
                    detail=detail,
                )
            )
            alerts.append({"kiosk_id": kiosk_id, "kind": "device_failed", "device": kind, **detail})
        for kind in recovered:
            s.add(
                KioskHealthEvent(
                    kiosk_id=kiosk_id,
                    office_id=office_id,
                    at=now,
                    kind="device_recovered",
                    device=kind,
                    detail={},
                )
            )
        if was_silent:
            s.add(
                KioskHealthEvent(
                    kiosk_id=kiosk_id, office_id=office_id, at=now, kind="back", device="", detail={}
                )
            )
            alerts.append({"kiosk_id": kiosk_id, "kind": "back"})
        if request_id is not None:
            diag = s.get(KioskDiagRequest, request_id)
            if diag is None or diag.kiosk_id != kiosk_id:
                raise ApiError(404, "diag_not_found", "no such health check for this kiosk")
            diag.state = "answered"
            diag.answered_at = now
            diag.ok = not failing
            diag.report = devices
            s.add(
                KioskHealthEvent(
                    kiosk_id=kiosk_id,
                    office_id=office_id,
                    at=now,
                    kind="diag_result",
                    device="",
                    detail={"request_id": request_id, "ok": not failing, "failing": failing},
                )
            )
    for alert in alerts:
        ctx.events.publish(office_id, "kiosk.alert", alert)
    if request_id is not None:
        ctx.events.publish(
            office_id,
            "kiosk.diag",
            {"kiosk_id": kiosk_id, "request_id": request_id, "ok": not failing, "failing": failing},
        )
    ctx.events.publish(
        office_id, "kiosk.health", {"kiosk_id": kiosk_id, "failing": failing, "in_call": in_call}
    )


def process_silent_kiosks(ctx: OfficeContext) -> int:
    """Job: alert once for each kiosk whose last health report is older than ``kiosk_silent_after_s``."""
    now = ctx.clock.now()
    cutoff = now - timedelta(seconds=ctx.settings.kiosk_silent_after_s)
    alerts: list[tuple[int, int, datetime]] = []
    with ctx.db() as s, s.begin():
        rows = s.execute(
            select(KioskHealth.kiosk_id, KioskHealth.office_id, KioskHealth.last_report_at)
            .join(Kiosk, Kiosk.id == KioskHealth.kiosk_id)
            .where(
                KioskHealth.silent_since.is_(None),
                KioskHealth.last_report_at < cutoff,
                Kiosk.revoked_at.is_(None),
            )
        ).all()
        for kiosk_id, office_id, last in rows:
            changed = s.execute(
                update(KioskHealth)
                .where(
                    KioskHealth.kiosk_id == kiosk_id,
                    KioskHealth.silent_since.is_(None),
                    KioskHealth.last_report_at == last,
                )
                .values(silent_since=now, silent_alerts=KioskHealth.silent_alerts + 1)
            ).rowcount  # type: ignore[attr-defined]
            if changed == 1:
                s.add(
                    KioskHealthEvent(
                        kiosk_id=kiosk_id,
                        office_id=office_id,
                        at=now,
                        kind="silent",
                        device="",
                        detail={"last_report_at": last.isoformat()},
                    )
                )
                alerts.append((kiosk_id, office_id, last))
    for kiosk_id, office_id, last in alerts:
        ctx.events.publish(
            office_id,
            "kiosk.alert",
            {"kiosk_id": kiosk_id, "kind": "silent", "last_report_at": last.isoformat()},
        )
    return len(alerts)


@dataclass(frozen=True, slots=True)
class DiagOutcome:
    """A remote health check just requested: its id and whether the kiosk was reachable."""

    request_id: str
    state: str


def request_diag(
    ctx: OfficeContext, actor: Actor, user_id: int, office_id: int | None, kiosk_id: int
) -> DiagOutcome:
    """Send ``diag.request`` to a kiosk over signaling and record the check (answered by its report).

    404 for a kiosk outside the caller's office (``office_id`` None: administrator). The state is
    ``sent`` when the kiosk has a live signaling connection, ``offline`` otherwise.
    """
    now = ctx.clock.now()
    request_id = f"diag-{uuid.uuid4().hex[:16]}"
    with ctx.db() as s, s.begin():
        row = s.execute(
            select(Kiosk.id, Station.office_id)
            .join(Station, Station.id == Kiosk.station_id)
            .where(Kiosk.id == kiosk_id, Kiosk.revoked_at.is_(None))
        ).first()
        if row is None or (office_id is not None and row.office_id != office_id):
            raise ApiError(404, "kiosk_not_found", "no such kiosk in your office")
        kiosk_office = int(row.office_id)
        online = False
        party = kiosk_party(kiosk_id)
        if ctx.hub is not None:
            present = run_on_hub(ctx, ctx.hub.presence.online(PartyRole.KIOSK)) or set()
            online = party.id in present
        s.add(
            KioskDiagRequest(
                request_id=request_id,
                kiosk_id=kiosk_id,
                office_id=kiosk_office,
                requested_by=user_id,
                requested_at=now,
                state="sent" if online else "offline",
            )
        )
        audit.record(
            s, actor, "fleet.diag_request", target_type="kiosk", target_id=kiosk_id, request_id=request_id
        )
    if online and ctx.hub is not None:
        try:
            run_on_hub(ctx, ctx.hub.send_to(party, DiagRequest(request_id=request_id)))
        except TimeoutError as err:  # the hub's loop did not answer in time: the check stays 'sent'
            log.warning("diag request not delivered", extra={"exc_type": type(err).__name__})
    return DiagOutcome(request_id, "sent" if online else "offline")
