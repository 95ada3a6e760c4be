"""Schedule API: weekly hours (with 延时/错时), date overrides, closures (which cancel and notify),
the agent rota, the booking policy, and a calendar view of working days and opening hours.

Staff read their own office's schedule; supervisors and admins change it (admins: any office).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime, time
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import delete, select

from office import audit
from office.api.common import OfficeStaff, PrefixRouter, StrictModel
from office.auth import Allow, AuthUser, Principal, ctx_of
from office.booking.changes import close_day
from office.booking.notify import LogNotifier, Notifier
from office.booking.policy import load_policy
from office.booking.resync import resync_capacity
from office.booking.schedules import WeeklyPlanSpec, load_calendar, office_zone
from office.calendar import TimeRange
from office.errors import ApiError
from office.models import BookingPolicyRow, CalendarOverride, OfficeSchedule, Role, RotaShift, User

__all__ = ["ScheduleEditors", "notifier_of", "router"]

router = PrefixRouter(prefix="/api/offices/{office_id}", tags=["schedule"])

#: Who may change an office's schedule.
ScheduleEditors = Annotated[Principal, Depends(Allow(Role.SUPERVISOR, Role.ADMIN))]

_FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"description": "another office"},
    404: {"description": "no such office"},
}


def notifier_of(request: Request) -> Notifier:
    """The app's notification gateway (``app.state.booking_notifier``), the log backend by default."""
    found = getattr(request.app.state, "booking_notifier", None)
    return found if isinstance(found, Notifier) else LogNotifier()


def _own_office(user: AuthUser, office_id: int) -> None:
    if user.role is not Role.ADMIN and user.office_id != office_id:
        raise ApiError(403, "forbidden", "staff act for their own office only")


class DayOut(BaseModel):
    """One date in the calendar view."""

    day: date
    working_day: bool
    holiday: str | None
    makeup_day: bool
    closed: bool
    note: str
    hours: list[str]
    intervals_utc: list[tuple[datetime, datetime]]


class OverrideIn(StrictModel):
    """Special hours or a working-day status for one date (closures go through ``/closures``)."""

    hours: list[str] | None = Field(default=None, max_length=8)
    working_day: bool | None = None
    note: str = Field(default="", max_length=200)

    @field_validator("hours")
    @classmethod
    def _ranges(cls, values: list[str] | None) -> list[str] | None:
        for v in values or []:
            TimeRange.parse(v)
        return values


class ClosureIn(StrictModel):
    """Close the office for a day: its bookings are cancelled and residents notified."""

    day: date
    reason: str = Field(min_length=1, max_length=200)


class ClosureOut(BaseModel):
    """How many bookings the closure cancelled."""

    day: date
    cancelled: int


class ShiftIO(StrictModel):
    """One rota line: an agent works ``start``–``end`` (office-local) on ``weekday`` (0 = Monday)."""

    user_id: int = Field(ge=1)
    weekday: int = Field(ge=0, le=6)
    start: time
    end: time


class PolicyIO(StrictModel):
    """Booking policy (minutes unless named otherwise)."""

    hold_minutes: int = Field(default=5, ge=1, le=60)
    horizon_days: int = Field(default=14, ge=1, le=90)
    min_notice_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)
    change_cutoff_minutes: int = Field(default=120, ge=0, le=7 * 24 * 60)
    checkin_early_minutes: int = Field(default=30, ge=0, le=240)
    checkin_late_minutes: int = Field(default=15, ge=0, le=240)
    no_show_limit: int = Field(default=3, ge=0, le=100)
    no_show_window_days: int = Field(default=90, ge=1, le=3650)


@router.get("/schedule", response_model=WeeklyPlanSpec, summary="Weekly opening hours", responses=_FORBIDDEN)
def get_schedule(office_id: int, request: Request, p: OfficeStaff) -> WeeklyPlanSpec:
    _own_office(p.require_user(), office_id)
    with ctx_of(request).read_db() as r:
        office_zone(r, office_id)
        row = r.get(OfficeSchedule, office_id)
        return WeeklyPlanSpec.model_validate(row.plan) if row else WeeklyPlanSpec()


@router.put(
    "/schedule", response_model=WeeklyPlanSpec, summary="Replace weekly opening hours", responses=_FORBIDDEN
)
def put_schedule(
    office_id: int, body: WeeklyPlanSpec, request: Request, p: ScheduleEditors
) -> WeeklyPlanSpec:
    _own_office(p.require_user(), office_id)
    ctx = ctx_of(request)
    with ctx.db() as s, s.begin():
        office_zone(s, office_id)
        row = s.get(OfficeSchedule, office_id)
        plan = body.model_dump(mode="json")
        if row is None:
            s.add(OfficeSchedule(office_id=office_id, plan=plan, updated_at=ctx.clock.now()))
        else:
            row.plan = plan
            row.updated_at = ctx.clock.now()
        audit.record(s, p.actor, "schedule.updated", target_type="office", target_id=office_id)
    resync_capacity(ctx, office_id)
    return body


@router.get(
    "/calendar", response_model=list[DayOut], summary="Working days and opening hours", responses=_FORBIDDEN
)
def get_calendar(
    office_id: int,
    request: Request,
    p: OfficeStaff,
    start: Annotated[date, Query()],
    days: int = Query(14, ge=1, le=366),
) -> list[DayOut]:
    _own_office(p.require_user(), office_id)
    with ctx_of(request).read_db() as r:
        cal = load_calendar(r, office_id)
    out = []
    for d in cal.days(start, days):
        override = cal.overrides.get(d)
        out.append(
            DayOut(
                day=d,
                working_day=cal.is_working_day(d),
                holiday=cal.holiday_name(d),
                makeup_day=cal.is_makeup_day(d),
                closed=cal.is_closed_by_override(d),
                note=override.note if override else "",
                hours=[str(x) for x in cal.day_plan(d).ranges()],
                intervals_utc=[(i.start, i.end) for i in cal.opening_intervals(d)],
            )
        )
    return out


@router.put(
    "/overrides/{day}",
    status_code=204,
    summary="Set special hours or working-day status for a date",
    responses=_FORBIDDEN,
)
def put_override(
    office_id: int, day: date, body: OverrideIn, request: Request, p: ScheduleEditors
) -> Response:
    _own_office(p.require_user(), office_id)
    ctx = ctx_of(request)
    with ctx.db() as s, s.begin():
        office_zone(s, office_id)
        row = s.scalar(
            select(CalendarOverride).where(
                CalendarOverride.office_id == office_id, CalendarOverride.day == day
            )
        )
        if row is None:
            row = CalendarOverride(office_id=office_id, day=day, created_at=ctx.clock.now())
            s.add(row)
        row.closed = False
        row.hours = body.hours
        row.working_day = body.working_day
        row.note = body.note
        audit.record(
            s, p.actor, "schedule.override_set", target_type="office", target_id=office_id, day=str(day)
        )
    resync_capacity(ctx, office_id)
    return Response(status_code=204)


@router.delete("/overrides/{day}", status_code=204, summary="Remove a date's override", responses=_FORBIDDEN)
def delete_override(office_id: int, day: date, request: Request, p: ScheduleEditors) -> Response:
    _own_office(p.require_user(), office_id)
    with ctx_of(request).db() as s, s.begin():
        s.execute(
            delete(CalendarOverride).where(
                CalendarOverride.office_id == office_id, CalendarOverride.day == day
            )
        )
        audit.record(
            s, p.actor, "schedule.override_removed", target_type="office", target_id=office_id, day=str(day)
        )
    resync_capacity(ctx_of(request), office_id)
    return Response(status_code=204)


@router.post(
    "/closures",
    response_model=ClosureOut,
    summary="Close the office for a day; cancels its bookings and notifies each resident",
    responses=_FORBIDDEN,
)
def post_closure(office_id: int, body: ClosureIn, request: Request, p: ScheduleEditors) -> ClosureOut:
    _own_office(p.require_user(), office_id)
    ctx = ctx_of(request)
    with ctx.read_db() as r:
        office_zone(r, office_id)
    n = close_day(
        ctx,
        office_id=office_id,
        day=body.day,
        reason=body.reason,
        actor=p.actor,
        notifier=notifier_of(request),
    )
    return ClosureOut(day=body.day, cancelled=n)


def _hhmm(minutes: int) -> time:
    return time.max if minutes >= 1440 else time(minutes // 60, minutes % 60)


def _minutes(t: time) -> int:
    return 1440 if t == time.max else t.hour * 60 + t.minute


@router.get("/rota", response_model=list[ShiftIO], summary="The agent rota", responses=_FORBIDDEN)
def get_rota(office_id: int, request: Request, p: OfficeStaff) -> list[ShiftIO]:
    _own_office(p.require_user(), office_id)
    with ctx_of(request).read_db() as r:
        rows = r.scalars(
            select(RotaShift)
            .where(RotaShift.office_id == office_id)
            .order_by(RotaShift.weekday, RotaShift.start_min)
        )
        return [
            ShiftIO(user_id=x.user_id, weekday=x.weekday, start=_hhmm(x.start_min), end=_hhmm(x.end_min))
            for x in rows
        ]


@router.put(
    "/rota",
    response_model=list[ShiftIO],
    summary="Replace the agent rota",
    responses={
        **_FORBIDDEN,
        422: {"description": "a shift ends before it starts, or a user of another office"},
    },
)
def put_rota(office_id: int, body: list[ShiftIO], request: Request, p: ScheduleEditors) -> list[ShiftIO]:
    _own_office(p.require_user(), office_id)
    for shift in body:
        if _minutes(shift.start) >= _minutes(shift.end) and shift.end != time(0):
            raise ApiError(422, "bad_shift", "a shift must end after it starts")
    with ctx_of(request).db() as s, s.begin():
        office_zone(s, office_id)
        staff = set(
            s.scalars(
                select(User.id).where(
                    User.office_id == office_id,
                    User.role.in_([Role.AGENT, Role.SUPERVISOR]),
                    User.active.is_(True),
                )
            )
        )
        if not {x.user_id for x in body} <= staff:
            raise ApiError(422, "unknown_agent", "every rota line must name an active agent of this office")
        s.execute(delete(RotaShift).where(RotaShift.office_id == office_id))
        for x in body:
            end = 1440 if x.end == time(0) else _minutes(x.end)
            s.add(
                RotaShift(
                    office_id=office_id,
                    user_id=x.user_id,
                    weekday=x.weekday,
                    start_min=_minutes(x.start),
                    end_min=end,
                )
            )
        audit.record(
            s, p.actor, "schedule.rota_replaced", target_type="office", target_id=office_id, shifts=len(body)
        )
    resync_capacity(ctx_of(request), office_id)
    return body


@router.get("/booking-policy", response_model=PolicyIO, summary="Booking policy", responses=_FORBIDDEN)
def get_policy(office_id: int, request: Request, p: OfficeStaff) -> PolicyIO:
    _own_office(p.require_user(), office_id)
    with ctx_of(request).read_db() as r:
        return PolicyIO(**asdict(load_policy(r, office_id)))


@router.put(
    "/booking-policy", response_model=PolicyIO, summary="Change the booking policy", responses=_FORBIDDEN
)
def put_policy(office_id: int, body: PolicyIO, request: Request, p: ScheduleEditors) -> PolicyIO:
    _own_office(p.require_user(), office_id)
    with ctx_of(request).db() as s, s.begin():
        office_zone(s, office_id)
        row = s.get(BookingPolicyRow, office_id)
        if row is None:
            row = BookingPolicyRow(office_id=office_id)
            s.add(row)
        for name, value in body.model_dump().items():
            setattr(row, name, value)
        audit.record(s, p.actor, "schedule.policy_updated", target_type="office", target_id=office_id)
    return body
