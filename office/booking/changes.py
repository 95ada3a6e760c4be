"""Changing a booking: cancel (with a reason), reschedule, and closing a whole day.

Self-service changes from a kiosk need the code and the resident's ID number and close
``change_cutoff_minutes`` before the slot. Every state change is a compare-and-swap on the state;
capacity moves in the same transaction, and a reschedule touches the two slot rows in id order so
two opposite reschedules cannot deadlock.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from office import audit
from office.audit import Actor
from office.booking.confirm import active_key
from office.booking.holds import ensure_slot_row, give_capacity, sweep_slot, take_capacity
from office.booking.lifecycle import next_state
from office.booking.notify import Notifier
from office.booking.policy import load_policy
from office.booking.reminders import send_notice
from office.booking.slots import bookable_service, check_slot
from office.booking.sql import changed
from office.booking.views import BookingView, find_by_code, view_of
from office.context import OfficeContext
from office.errors import ApiError
from office.models import Appointment, AppointmentState, CalendarOverride

__all__ = ["cancel_booking", "close_day", "reschedule_booking"]

_BOOKED = AppointmentState.BOOKED.value


def _check_cutoff(ctx: OfficeContext, appt: Appointment, cutoff_minutes: int) -> None:
    if ctx.clock.now() > appt.starts_at - timedelta(minutes=cutoff_minutes):
        raise ApiError(
            409,
            "change_cutoff_passed",
            f"开始前{cutoff_minutes}分钟内不能自助更改 / changes close {cutoff_minutes} min before the slot",
        )


def cancel_booking(
    ctx: OfficeContext,
    *,
    office_id: int,
    code: str,
    id_number: str | None,
    reason: str,
    actor: Actor,
    enforce_cutoff: bool = True,
) -> BookingView:
    """Cancel a booked appointment and give its place back. ``id_number`` None = staff action."""
    now = ctx.clock.now()
    with ctx.db() as s, s.begin():
        appt = find_by_code(ctx, s, office_id, code, id_number, lock=True)
        if appt.state != _BOOKED:
            raise ApiError(409, "not_booked", "该预约不可取消 / this booking can no longer be cancelled")
        if enforce_cutoff:
            _check_cutoff(ctx, appt, load_policy(s, office_id).change_cutoff_minutes)
        done = changed(
            s,
            update(Appointment)
            .where(Appointment.id == appt.id, Appointment.state == _BOOKED)
            .values(
                state=next_state(_BOOKED, "cancel").value,
                active_key=None,
                cancelled_at=now,
                cancel_reason=reason[:200],
                cancelled_by=actor.type,
            ),
        )
        if done != 1:
            raise ApiError(409, "not_booked", "该预约不可取消 / this booking can no longer be cancelled")
        give_capacity(s, appt.slot_id)
        audit.record(
            s,
            actor,
            "appointment.cancelled",
            target_type="appointment",
            target_id=appt.id,
            reason_len=len(reason),
        )
        s.refresh(appt)
        return view_of(ctx, s, appt)


def reschedule_booking(
    ctx: OfficeContext,
    *,
    office_id: int,
    code: str,
    id_number: str,
    starts_at: datetime,
    actor: Actor,
) -> BookingView:
    """Move a booking to another slot of the same service (same code); 409 ``slot_full`` if none left."""
    now = ctx.clock.now()
    with ctx.read_db() as r:
        current = find_by_code(ctx, r, office_id, code, id_number)
        policy = load_policy(r, office_id)
        service = bookable_service(r, current.service_id)
        check = check_slot(r, office_id, service, starts_at, now, policy)
    if check.starts_at == current.starts_at:
        raise ApiError(422, "same_slot", "新时段与原时段相同 / that is the booked slot already")
    try:
        with ctx.db() as s, s.begin():
            appt = find_by_code(ctx, s, office_id, code, id_number, lock=True)
            if appt.state != _BOOKED:
                raise ApiError(409, "not_booked", "该预约不可改期 / this booking can no longer be changed")
            _check_cutoff(ctx, appt, policy.change_cutoff_minutes)
            new_slot = ensure_slot_row(
                s, office_id, appt.service_id, check.starts_at, check.ends_at, check.capacity
            )
            # Touch both capacity rows in id order (lock ordering).
            for slot_id in sorted((new_slot, appt.slot_id)):
                if slot_id == new_slot:
                    sweep_slot(s, new_slot, now)
                    if not take_capacity(s, new_slot):
                        raise ApiError(409, "slot_full", "该时段已约满 / that slot is fully booked")
                else:
                    give_capacity(s, appt.slot_id)
            assert appt.id_hash is not None
            done = changed(
                s,
                update(Appointment)
                .where(Appointment.id == appt.id, Appointment.state == _BOOKED)
                .values(
                    state=next_state(_BOOKED, "reschedule").value,
                    slot_id=new_slot,
                    starts_at=check.starts_at,
                    ends_at=check.ends_at,
                    local_date=check.local_date,
                    active_key=active_key(appt.id_hash, appt.service_id, check.local_date),
                    reschedule_count=Appointment.reschedule_count + 1,
                ),
            )
            if done != 1:
                raise ApiError(409, "not_booked", "该预约不可改期 / this booking can no longer be changed")
            audit.record(s, actor, "appointment.rescheduled", target_type="appointment", target_id=appt.id)
            s.refresh(appt)
            return view_of(ctx, s, appt)
    except IntegrityError:
        raise ApiError(
            409, "already_booked", "您当天已预约该服务 / you already have a booking for this service that day"
        ) from None


def close_day(
    ctx: OfficeContext, *, office_id: int, day: date, reason: str, actor: Actor, notifier: Notifier
) -> int:
    """Close the office on ``day``: record the closure, cancel that day's holds and bookings, and
    notify each booked resident (at most once). Returns the number of bookings cancelled."""
    now = ctx.clock.now()
    with ctx.db() as s, s.begin():
        row = s.scalar(
            select(CalendarOverride).where(
                CalendarOverride.office_id == office_id, CalendarOverride.day == day
            )
        )
        if row is None:
            s.add(
                CalendarOverride(office_id=office_id, day=day, closed=True, note=reason[:200], created_at=now)
            )
        else:
            row.closed = True
            row.note = reason[:200]
        affected = list(
            s.scalars(
                select(Appointment).where(
                    Appointment.office_id == office_id,
                    Appointment.local_date == day,
                    Appointment.state.in_([_BOOKED, AppointmentState.HELD.value]),
                )
            )
        )
        cancelled: list[int] = []
        for appt in affected:
            prev = appt.state
            done = changed(
                s,
                update(Appointment)
                .where(Appointment.id == appt.id, Appointment.state == prev)
                .values(
                    state=next_state(prev, "close").value,
                    active_key=None,
                    cancelled_at=now,
                    cancel_reason=reason[:200],
                    cancelled_by="closure",
                ),
            )
            if done:
                give_capacity(s, appt.slot_id)
                if prev == _BOOKED:
                    cancelled.append(appt.id)
        audit.record(
            s,
            actor,
            "office.closed_day",
            target_type="office",
            target_id=office_id,
            day=day.isoformat(),
            cancelled=len(cancelled),
        )
    for appt_id in cancelled:
        send_notice(ctx, notifier, appt_id, "closure")
    return len(cancelled)
