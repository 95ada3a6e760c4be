"""Kiosk registration, enrollment, token rotation and revocation."""

from __future__ import annotations

from datetime import datetime

from fastapi import Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from office import enrollment
from office.api.common import (
    MAX_ID,
    AdminOnly,
    IdPath,
    KioskOnly,
    PrefixRouter,
    Public,
    StrictModel,
    TechOrAdmin,
)
from office.auth import ctx_of
from office.models import Kiosk, Office, Station

router = PrefixRouter(prefix="/api", tags=["kiosks"])


class KioskOut(BaseModel):
    """A kiosk as admins and technicians see it (never its token)."""

    id: int
    station_id: int
    name: str
    enrolled: bool
    revoked: bool
    enrollment_pending: bool
    last_seen_at: datetime | None
    token_issued_at: datetime | None


class KioskCreate(StrictModel):
    """Register a kiosk at a station."""

    station_id: int = Field(ge=1, le=MAX_ID)
    name: str = Field(min_length=1, max_length=100)


class EnrollmentCodeOut(BaseModel):
    """A one-time enrollment code; shown once."""

    kiosk: KioskOut
    enrollment_code: str
    expires_at: datetime


class EnrollRequest(StrictModel):
    """The code a technician types into the kiosk's set-up screen."""

    code: str = Field(min_length=12, max_length=20)


class DeviceTokenOut(BaseModel):
    """A device token; shown once. Send as ``Authorization: Bearer <token>``."""

    kiosk_id: int
    station_id: int
    office_id: int
    token: str


class KioskSelf(BaseModel):
    """What a kiosk learns about itself."""

    kiosk_id: int
    name: str
    station_id: int
    station_name: str
    station_name_en: str
    office_id: int
    office_name: str
    office_name_en: str
    timezone: str


def _out(k: Kiosk) -> KioskOut:
    return KioskOut(
        id=k.id,
        station_id=k.station_id,
        name=k.name,
        enrolled=k.enrolled_at is not None,
        revoked=k.revoked_at is not None,
        enrollment_pending=k.enrollment_code_hash is not None,
        last_seen_at=k.last_seen_at,
        token_issued_at=k.token_issued_at,
    )


def _code_out(issued: enrollment.EnrollmentCode) -> EnrollmentCodeOut:
    assert issued.kiosk.enrollment_expires_at is not None
    return EnrollmentCodeOut(
        kiosk=_out(issued.kiosk), enrollment_code=issued.code, expires_at=issued.kiosk.enrollment_expires_at
    )


@router.get("/kiosks", response_model=list[KioskOut], summary="List kiosks")
def list_kiosks(request: Request, _: TechOrAdmin) -> list[KioskOut]:
    with ctx_of(request).read_db() as s:
        return [_out(k) for k in s.scalars(select(Kiosk).order_by(Kiosk.id))]


@router.post(
    "/kiosks",
    response_model=EnrollmentCodeOut,
    status_code=201,
    summary="Register a kiosk and get its one-time enrollment code",
    responses={404: {"description": "no such station"}},
)
def register(body: KioskCreate, request: Request, p: AdminOnly) -> EnrollmentCodeOut:
    return _code_out(
        enrollment.register(ctx_of(request), station_id=body.station_id, name=body.name, actor=p.actor)
    )


@router.post(
    "/kiosks/{kiosk_id}/enrollment-code",
    response_model=EnrollmentCodeOut,
    summary="Issue a new one-time enrollment code (re-enroll)",
    responses={404: {"description": "no such kiosk"}},
)
def new_code(kiosk_id: IdPath, request: Request, p: AdminOnly) -> EnrollmentCodeOut:
    return _code_out(enrollment.issue_code(ctx_of(request), kiosk_id, actor=p.actor))


@router.post(
    "/kiosks/{kiosk_id}/revoke",
    response_model=KioskOut,
    summary="Revoke a kiosk's device token",
    responses={404: {"description": "no such kiosk"}},
)
def revoke(kiosk_id: IdPath, request: Request, p: AdminOnly) -> KioskOut:
    return _out(enrollment.revoke(ctx_of(request), kiosk_id, actor=p.actor))


@router.post(
    "/kiosk/enroll",
    response_model=DeviceTokenOut,
    summary="Exchange a one-time enrollment code for a device token",
    responses={400: {"description": "code unknown, used or expired"}},
)
def enroll(body: EnrollRequest, request: Request, p: Public) -> DeviceTokenOut:
    ctx = ctx_of(request)
    issued = enrollment.enroll(ctx, body.code, ip=p.ip)
    with ctx.read_db() as s:
        office_id = s.scalar(select(Station.office_id).where(Station.id == issued.kiosk.station_id))
    assert office_id is not None
    return DeviceTokenOut(
        kiosk_id=issued.kiosk.id, station_id=issued.kiosk.station_id, office_id=office_id, token=issued.token
    )


@router.post(
    "/kiosk/token/rotate",
    response_model=DeviceTokenOut,
    summary="Replace this kiosk's device token",
)
def rotate(request: Request, p: KioskOnly) -> DeviceTokenOut:
    k = p.require_kiosk()
    issued = enrollment.rotate(ctx_of(request), k.id, actor=p.actor)
    return DeviceTokenOut(kiosk_id=k.id, station_id=k.station_id, office_id=k.office_id, token=issued.token)


@router.get("/kiosk/me", response_model=KioskSelf, summary="This kiosk's station and office")
def kiosk_me(request: Request, p: KioskOnly) -> KioskSelf:
    k = p.require_kiosk()
    with ctx_of(request).read_db() as s:
        row = s.execute(
            select(Kiosk, Station, Office)
            .join(Station, Station.id == Kiosk.station_id)
            .join(Office, Office.id == Station.office_id)
            .where(Kiosk.id == k.id)
        ).one()
    kiosk, st, office = row
    return KioskSelf(
        kiosk_id=kiosk.id,
        name=kiosk.name,
        station_id=st.id,
        station_name=st.name,
        station_name_en=st.name_en,
        office_id=office.id,
        office_name=office.name,
        office_name_en=office.name_en,
        timezone=office.timezone,
    )
