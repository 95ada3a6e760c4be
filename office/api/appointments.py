"""Booking API: the kiosk's booking flow (slots, hold, confirm, look-up, cancel, reschedule,
check-in, printable slip), staff views of a day's bookings, and the public iCalendar download.

Kiosks act for their own office and station (device token); staff see their own office's bookings
(admins: any). ID numbers travel only in request bodies, never in URLs.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from office import booking
from office.api.common import KioskOnly, OfficeStaff, PrefixRouter, Public, StrictModel
from office.auth import ctx_of
from office.booking.ical import booking_ics
from office.booking.identity import Identity, IdSource, normalize_id_number
from office.booking.policy import load_policy
from office.booking.schedules import office_zone
from office.booking.slots import bookable_service
from office.booking.views import BookingView, find_by_code, view_of
from office.errors import ApiError
from office.models import Appointment, AppointmentState, Role
from office.security import tokens_equal

__all__ = ["router"]

router = PrefixRouter(prefix="/api", tags=["appointments"])

_ERR: dict[int | str, dict[str, Any]] = {
    404: {"description": "unknown service, hold or booking code"},
    409: {"description": "slot full, hold expired, already booked, cut-off passed, …"},
    422: {"description": "bad ID checksum, malformed phone, slot in the past or outside hours"},
}


class SlotOut(BaseModel):
    """A bookable slot."""

    starts_at: datetime
    ends_at: datetime
    local_date: date
    local_time: str
    capacity: int
    remaining: int


class SlotList(BaseModel):
    """Slots of one service over the horizon."""

    service_id: int
    timezone: str
    horizon_days: int
    slots: list[SlotOut]


class HoldIn(StrictModel):
    """Hold one place in a slot."""

    service_id: int = Field(ge=1)
    starts_at: datetime


class HoldOut(BaseModel):
    """A hold; ``hold_token`` proves ownership and is shown once."""

    hold_id: int
    hold_token: str
    service_id: int
    starts_at: datetime
    ends_at: datetime
    expires_at: datetime


class HoldToken(StrictModel):
    """Proof of owning a hold."""

    hold_token: str = Field(min_length=10, max_length=64)


class ConfirmIn(StrictModel):
    """The resident's identity: read from the ID card, or typed with a phone number."""

    hold_token: str = Field(min_length=10, max_length=64)
    id_number: str = Field(min_length=15, max_length=24)
    id_source: IdSource = IdSource.MANUAL
    phone: str | None = Field(default=None, max_length=20)


class BookingOut(BaseModel):
    """A booking as the kiosk shows it (masked identity)."""

    code: str
    state: str
    service_id: int
    service_name: str
    service_name_en: str
    office_name: str
    starts_at: datetime
    ends_at: datetime
    local_date: date
    local_start: str
    id_masked: str
    phone_masked: str | None
    ics_url: str
    print_lines: list[str]
    ticket_id: int | None


class CodeAndId(StrictModel):
    """A booking code with the resident's ID number (both required for self-service)."""

    code: str = Field(min_length=4, max_length=12)
    id_number: str = Field(min_length=15, max_length=24)


class CancelIn(CodeAndId):
    """Cancel with a reason."""

    reason: str = Field(min_length=1, max_length=200)


class RescheduleIn(CodeAndId):
    """Move to another slot of the same service."""

    starts_at: datetime


class CheckInIn(StrictModel):
    """Check in by code (plus ID when read) or by ID card alone."""

    code: str | None = Field(default=None, min_length=4, max_length=12)
    id_number: str | None = Field(default=None, min_length=15, max_length=24)


class TicketOut(BaseModel):
    """The queue ticket a check-in produced."""

    id: int
    display_number: str
    priority: bool


class CheckInOut(BaseModel):
    """Check-in result: the booking and its ticket; ``late`` means a walk-in ticket."""

    booking: BookingOut
    ticket: TicketOut
    late: bool


class StaffBookingOut(BaseModel):
    """A booking on a staff list (masked)."""

    id: int
    code: str
    state: str
    service_id: int
    starts_at: datetime
    local_start: str
    id_masked: str
    station_id: int | None
    ticket_id: int | None


def _out(request: Request, v: BookingView) -> BookingOut:
    base = str(request.base_url).rstrip("/")
    return BookingOut(
        code=v.code,
        state=v.state,
        service_id=v.service_id,
        service_name=v.service_name,
        service_name_en=v.service_name_en,
        office_name=v.office_name,
        starts_at=v.starts_at,
        ends_at=v.ends_at,
        local_date=v.local_date,
        local_start=v.local_start,
        id_masked=v.id_masked,
        phone_masked=v.phone_masked,
        ics_url=f"{base}/api/appointments/{v.code}/calendar.ics?token={v.ics_token}",
        print_lines=v.print_lines(),
        ticket_id=v.ticket_id,
    )


def _valid_id(value: str) -> str:
    number = normalize_id_number(value)
    Identity.parse(number, IdSource.CARD, None)  # raises 422 bad_id_number
    return number


@router.get(
    "/kiosk/booking/slots",
    response_model=SlotList,
    summary="Bookable slots of a service at this kiosk's office",
    responses={404: _ERR[404]},
)
def kiosk_slots(
    request: Request, p: KioskOnly, service_id: int = Query(ge=1), days: int | None = Query(None, ge=1, le=90)
) -> SlotList:
    k = p.require_kiosk()
    ctx = ctx_of(request)
    now = ctx.clock.now()
    with ctx.read_db() as r:
        policy = load_policy(r, k.office_id)
        service = bookable_service(r, service_id)
        slots = booking.list_slots(r, k.office_id, service, now, policy, days=days)
        zone = office_zone(r, k.office_id)
    tz = ZoneInfo(zone)
    return SlotList(
        service_id=service_id,
        timezone=zone,
        horizon_days=min(days or policy.horizon_days, policy.horizon_days),
        slots=[
            SlotOut(
                starts_at=sl.starts_at,
                ends_at=sl.ends_at,
                local_date=sl.local_date,
                local_time=sl.starts_at.astimezone(tz).strftime("%H:%M"),
                capacity=sl.capacity,
                remaining=sl.remaining,
            )
            for sl in slots
        ],
    )


@router.post(
    "/kiosk/booking/holds",
    response_model=HoldOut,
    status_code=201,
    summary="Hold a place in a slot (first holds win); send Idempotency-Key to make retries safe",
    responses={404: _ERR[404], 409: _ERR[409], 422: _ERR[422]},
)
def kiosk_hold(
    body: HoldIn,
    request: Request,
    p: KioskOnly,
    idempotency_key: Annotated[str | None, Header(min_length=8, max_length=64)] = None,
) -> HoldOut:
    k = p.require_kiosk()
    h = booking.hold_slot(
        ctx_of(request),
        office_id=k.office_id,
        service_id=body.service_id,
        starts_at=body.starts_at,
        station_id=k.station_id,
        kiosk_id=k.id,
        idempotency_key=idempotency_key,
    )
    return HoldOut(
        hold_id=h.appointment_id,
        hold_token=h.token,
        service_id=h.service_id,
        starts_at=h.starts_at,
        ends_at=h.ends_at,
        expires_at=h.expires_at,
    )


@router.post(
    "/kiosk/booking/holds/{hold_id}/release",
    status_code=204,
    summary="Give a hold back",
    responses={404: _ERR[404]},
)
def kiosk_release(hold_id: int, body: HoldToken, request: Request, p: KioskOnly) -> Response:
    k = p.require_kiosk()
    booking.release_hold(
        ctx_of(request), office_id=k.office_id, appointment_id=hold_id, token=body.hold_token
    )
    return Response(status_code=204)


@router.post(
    "/kiosk/booking/holds/{hold_id}/confirm",
    response_model=BookingOut,
    summary="Confirm a hold with the resident's identity → booking code",
    responses={403: {"description": "booking restricted after repeated no-shows"}, **_ERR},
)
def kiosk_confirm(hold_id: int, body: ConfirmIn, request: Request, p: KioskOnly) -> BookingOut:
    k = p.require_kiosk()
    identity = Identity.parse(body.id_number, body.id_source, body.phone)
    v = booking.confirm_hold(
        ctx_of(request),
        office_id=k.office_id,
        appointment_id=hold_id,
        token=body.hold_token,
        identity=identity,
        actor=p.actor,
    )
    return _out(request, v)


@router.post(
    "/kiosk/appointments/lookup",
    response_model=BookingOut,
    summary="Find a booking by code and ID number",
    responses={404: _ERR[404], 422: _ERR[422]},
)
def kiosk_lookup(body: CodeAndId, request: Request, p: KioskOnly) -> BookingOut:
    k = p.require_kiosk()
    ctx = ctx_of(request)
    number = _valid_id(body.id_number)
    with ctx.read_db() as r:
        return _out(request, view_of(ctx, r, find_by_code(ctx, r, k.office_id, body.code, number)))


@router.post(
    "/kiosk/appointments/cancel",
    response_model=BookingOut,
    summary="Cancel a booking (code + ID + reason), before the cut-off",
    responses={404: _ERR[404], 409: _ERR[409], 422: _ERR[422]},
)
def kiosk_cancel(body: CancelIn, request: Request, p: KioskOnly) -> BookingOut:
    k = p.require_kiosk()
    v = booking.cancel_booking(
        ctx_of(request),
        office_id=k.office_id,
        code=body.code,
        id_number=_valid_id(body.id_number),
        reason=body.reason,
        actor=p.actor,
    )
    return _out(request, v)


@router.post(
    "/kiosk/appointments/reschedule",
    response_model=BookingOut,
    summary="Move a booking to another slot (code + ID), before the cut-off",
    responses={404: _ERR[404], 409: _ERR[409], 422: _ERR[422]},
)
def kiosk_reschedule(body: RescheduleIn, request: Request, p: KioskOnly) -> BookingOut:
    k = p.require_kiosk()
    v = booking.reschedule_booking(
        ctx_of(request),
        office_id=k.office_id,
        code=body.code,
        id_number=_valid_id(body.id_number),
        starts_at=body.starts_at,
        actor=p.actor,
    )
    return _out(request, v)


@router.post(
    "/kiosk/appointments/check-in",
    response_model=CheckInOut,
    summary="Check in: a priority ticket inside the window, a walk-in ticket after it",
    responses={404: _ERR[404], 409: _ERR[409], 422: _ERR[422]},
)
def kiosk_check_in(body: CheckInIn, request: Request, p: KioskOnly) -> CheckInOut:
    k = p.require_kiosk()
    number = _valid_id(body.id_number) if body.id_number else None
    result = booking.check_in(
        ctx_of(request),
        office_id=k.office_id,
        station_id=k.station_id,
        kiosk_id=k.id,
        code=body.code,
        id_number=number,
        actor=p.actor,
    )
    t = result.ticket
    return CheckInOut(
        booking=_out(request, result.booking),
        ticket=TicketOut(id=t.id, display_number=t.display_number, priority=t.priority),
        late=result.late,
    )


@router.get(
    "/appointments/{code}/calendar.ics",
    summary="Download a booking as iCalendar (capability link from the confirmation)",
    responses={200: {"content": {"text/calendar": {}}}, 404: _ERR[404]},
    response_class=Response,
)
def calendar_ics(
    code: str, request: Request, _: Public, token: str = Query(min_length=8, max_length=64)
) -> Response:
    ctx = ctx_of(request)
    with ctx.read_db() as r:
        appt = r.scalar(select(Appointment).where(Appointment.code == code.upper()))
        if appt is None or not appt.ics_token or not tokens_equal(token, appt.ics_token):
            raise ApiError(404, "unknown_code", "no such booking")
        body = booking_ics(view_of(ctx, r, appt), now=ctx.clock.now())
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="appointment-{appt.code}.ics"'},
    )


@router.get(
    "/offices/{office_id}/appointments",
    response_model=list[StaffBookingOut],
    summary="Bookings of one office-local day (staff of that office)",
    responses={403: {"description": "another office"}},
)
def staff_list(
    office_id: int,
    request: Request,
    p: OfficeStaff,
    day: Annotated[date, Query()],
    service_id: int | None = Query(None, ge=1),
) -> list[StaffBookingOut]:
    user = p.require_user()
    if user.role is not Role.ADMIN and user.office_id != office_id:
        raise ApiError(403, "forbidden", "staff see their own office only")
    ctx = ctx_of(request)
    with ctx.read_db() as r:
        q = select(Appointment).where(
            Appointment.office_id == office_id,
            Appointment.local_date == day,
            Appointment.state != AppointmentState.HELD.value,
            Appointment.code.is_not(None),
        )
        if service_id is not None:
            q = q.where(Appointment.service_id == service_id)
        out = []
        for appt in r.scalars(q.order_by(Appointment.starts_at, Appointment.id)):
            v = view_of(ctx, r, appt)
            out.append(
                StaffBookingOut(
                    id=v.id,
                    code=v.code,
                    state=v.state,
                    service_id=v.service_id,
                    starts_at=v.starts_at,
                    local_start=v.local_start,
                    id_masked=v.id_masked,
                    station_id=appt.station_id,
                    ticket_id=appt.ticket_id,
                )
            )
        return out


class StaffCancelIn(StrictModel):
    """A staff cancellation (no ID needed, no cut-off), with a reason."""

    reason: str = Field(min_length=1, max_length=200)


@router.post(
    "/offices/{office_id}/appointments/{code}/cancel",
    response_model=StaffBookingOut,
    summary="Cancel a booking on the resident's behalf (staff of that office)",
    responses={403: {"description": "another office"}, 404: _ERR[404], 409: _ERR[409]},
)
def staff_cancel(
    office_id: int, code: str, body: StaffCancelIn, request: Request, p: OfficeStaff
) -> StaffBookingOut:
    user = p.require_user()
    if user.role is not Role.ADMIN and user.office_id != office_id:
        raise ApiError(403, "forbidden", "staff act for their own office only")
    v = booking.cancel_booking(
        ctx_of(request),
        office_id=office_id,
        code=code,
        id_number=None,
        reason=body.reason,
        actor=p.actor,
        enforce_cutoff=False,
    )
    return StaffBookingOut(
        id=v.id,
        code=v.code,
        state=v.state,
        service_id=v.service_id,
        starts_at=v.starts_at,
        local_start=v.local_start,
        id_masked=v.id_masked,
        station_id=None,
        ticket_id=v.ticket_id,
    )
