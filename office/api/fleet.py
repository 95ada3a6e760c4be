"""Kiosk fleet health over HTTP: kiosks post their device reports; technicians see every kiosk's
last heartbeat, device health, last errors and counters, and trigger remote health checks.

Nothing here carries resident data: reports hold device status and check steps only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Response
from pydantic import BaseModel, Field, JsonValue
from sqlalchemy import select

from office.api.common import IdPath, KioskOnly, PrefixRouter, StrictModel
from office.auth import Allow, AuthUser, Principal, ctx_of
from office.calls.signals import kiosk_party, run_on_hub
from office.errors import ApiError
from office.fleet import record_report, request_diag
from office.models import Kiosk, KioskDiagRequest, KioskHealth, KioskHealthEvent, Role, Station
from signaling.messages import Role as PartyRole

__all__ = ["router"]

router = PrefixRouter(prefix="/api", tags=["fleet"])

FleetStaff = Annotated[Principal, Depends(Allow(Role.TECHNICIAN, Role.SUPERVISOR, Role.ADMIN))]
Technicians = Annotated[Principal, Depends(Allow(Role.TECHNICIAN, Role.ADMIN))]
RequestId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such kiosk in your office"}}
_KIND = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")]


class HealthIn(StrictModel):
    """A kiosk's device-health report, as ``kiosk/runtime.py`` sends it."""

    devices: dict[_KIND, dict[str, JsonValue]] = Field(max_length=16)
    in_call: bool = False
    request_id: str | None = Field(
        default=None, min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
    )


class HealthEventOut(BaseModel):
    """A change in a kiosk's health (device failed/recovered, silent/back, remote check answered)."""

    at: datetime
    kind: str
    device: str
    detail: dict[str, Any]


class DeviceOut(BaseModel):
    """One device's last reported state."""

    kind: str
    ok: bool
    state: str | None
    text: str
    error: str | None


class KioskFleetOut(BaseModel):
    """One kiosk on the fleet page."""

    kiosk_id: int
    name: str
    station_id: int
    station_name: str
    office_id: int
    online: bool
    last_seen_at: datetime | None
    last_report_at: datetime | None
    silent: bool
    in_call: bool
    failing: list[str]
    devices: list[DeviceOut]
    reports: int
    device_failures: int
    silent_alerts: int


class DiagOut(BaseModel):
    """A remote health check and, once answered, its report."""

    request_id: str
    kiosk_id: int
    state: str
    requested_at: datetime
    answered_at: datetime | None
    ok: bool | None
    report: dict[str, Any] | None


class KioskFleetDetail(KioskFleetOut):
    """A kiosk with its last health events and remote checks."""

    events: list[HealthEventOut]
    diag: list[DiagOut]


def _devices(report: dict[str, Any]) -> list[DeviceOut]:
    out: list[DeviceOut] = []
    for kind in sorted(report):
        entry = report[kind] if isinstance(report[kind], dict) else {}
        health = entry.get("health") if isinstance(entry.get("health"), dict) else None
        status = entry.get("status") if isinstance(entry.get("status"), dict) else None
        ok = bool(health.get("ok")) if health is not None else entry.get("ok") is True
        out.append(
            DeviceOut(
                kind=kind,
                ok=ok,
                state=str(status.get("state")) if status is not None else None,
                text=str(health.get("text", "")) if health is not None else "",
                error=None if health is not None else str(entry.get("error", "")) or None,
            )
        )
    return out


def _office_of(user: AuthUser) -> int | None:
    """None for administrators (every office); -1 for staff without an office (sees nothing)."""
    if user.role is Role.ADMIN:
        return None
    return user.office_id if user.office_id is not None else -1


def _online(request: Request) -> set[str]:
    ctx = ctx_of(request)
    if ctx.hub is None:
        return set()
    return run_on_hub(ctx, ctx.hub.presence.online(PartyRole.KIOSK)) or set()


def _rows(request: Request, office: int | None, kiosk_id: int | None = None) -> list[KioskFleetOut]:
    q = (
        select(Kiosk, Station, KioskHealth)
        .join(Station, Station.id == Kiosk.station_id)
        .outerjoin(KioskHealth, KioskHealth.kiosk_id == Kiosk.id)
        .where(Kiosk.revoked_at.is_(None), Kiosk.enrolled_at.is_not(None))
    )
    if office is not None:
        q = q.where(Station.office_id == office)
    if kiosk_id is not None:
        q = q.where(Kiosk.id == kiosk_id)
    online = _online(request)
    with ctx_of(request).read_db() as s:
        rows = [(row[0], row[1], row[2]) for row in s.execute(q.order_by(Station.id, Kiosk.id))]
    out: list[KioskFleetOut] = []
    for kiosk, station, health in rows:
        out.append(
            KioskFleetOut(
                kiosk_id=kiosk.id,
                name=kiosk.name,
                station_id=station.id,
                station_name=station.name,
                office_id=station.office_id,
                online=kiosk_party(kiosk.id).id in online,
                last_seen_at=kiosk.last_seen_at,
                last_report_at=health.last_report_at if health else None,
                silent=bool(health and health.silent_since is not None),
                in_call=bool(health and health.in_call),
                failing=list(health.failing) if health else [],
                devices=_devices(health.devices) if health else [],
                reports=health.reports if health else 0,
                device_failures=health.device_failures if health else 0,
                silent_alerts=health.silent_alerts if health else 0,
            )
        )
    return out


def _diag_out(d: KioskDiagRequest) -> DiagOut:
    return DiagOut(
        request_id=d.request_id,
        kiosk_id=d.kiosk_id,
        state=d.state,
        requested_at=d.requested_at,
        answered_at=d.answered_at,
        ok=d.ok,
        report=d.report,
    )


@router.post(
    "/kiosk/health",
    status_code=204,
    response_class=Response,
    summary="A kiosk's device-health report",
    responses={404: {"description": "request_id names no health check of this kiosk"}},
)
def post_health(body: HealthIn, request: Request, p: KioskOnly) -> Response:
    k = p.require_kiosk()
    record_report(ctx_of(request), k.id, k.office_id, dict(body.devices), body.in_call, body.request_id)
    return Response(status_code=204)


@router.get("/fleet/kiosks", response_model=list[KioskFleetOut], summary="Every kiosk's health (your office)")
def list_fleet(request: Request, p: FleetStaff) -> list[KioskFleetOut]:
    return _rows(request, _office_of(p.require_user()))


@router.get(
    "/fleet/kiosks/{kiosk_id}",
    response_model=KioskFleetDetail,
    summary="One kiosk's health, errors, checks",
    responses=_NOT_FOUND,
)
def get_fleet_kiosk(kiosk_id: IdPath, request: Request, p: FleetStaff) -> KioskFleetDetail:
    rows = _rows(request, _office_of(p.require_user()), kiosk_id)
    if not rows:
        raise ApiError(404, "kiosk_not_found", "no such kiosk in your office")
    with ctx_of(request).read_db() as s:
        events = list(
            s.scalars(
                select(KioskHealthEvent)
                .where(KioskHealthEvent.kiosk_id == kiosk_id)
                .order_by(KioskHealthEvent.at.desc(), KioskHealthEvent.id.desc())
                .limit(20)
            )
        )
        diags = list(
            s.scalars(
                select(KioskDiagRequest)
                .where(KioskDiagRequest.kiosk_id == kiosk_id)
                .order_by(KioskDiagRequest.requested_at.desc())
                .limit(5)
            )
        )
    return KioskFleetDetail(
        **rows[0].model_dump(),
        events=[HealthEventOut(at=e.at, kind=e.kind, device=e.device, detail=e.detail) for e in events],
        diag=[_diag_out(d) for d in diags],
    )


@router.post(
    "/fleet/kiosks/{kiosk_id}/diag",
    status_code=202,
    response_model=DiagOut,
    summary="Ask a kiosk to run its health checks now (answered by its report)",
    responses=_NOT_FOUND,
)
def post_diag(kiosk_id: IdPath, request: Request, p: Technicians) -> DiagOut:
    user = p.require_user()
    ctx = ctx_of(request)
    outcome = request_diag(ctx, p.actor, user.id, _office_of(user), kiosk_id)
    with ctx.read_db() as s:
        row = s.get(KioskDiagRequest, outcome.request_id)
        assert row is not None
        return _diag_out(row)


@router.get(
    "/fleet/diag/{request_id}",
    response_model=DiagOut,
    summary="A remote health check's state and report",
    responses={404: {"description": "no such check in your office"}},
)
def get_diag(request_id: RequestId, request: Request, p: FleetStaff) -> DiagOut:
    office = _office_of(p.require_user())
    with ctx_of(request).read_db() as s:
        row = s.get(KioskDiagRequest, request_id)
        if row is None or (office is not None and row.office_id != office):
            raise ApiError(404, "diag_not_found", "no such health check in your office")
        return _diag_out(row)
