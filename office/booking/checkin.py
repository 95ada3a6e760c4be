"""Check-in at the kiosk, and marking missed bookings as no-shows.

Inside the window (``checkin_early`` before to ``checkin_late`` after the slot start) a booking
becomes ``checked_in`` and gets a priority ticket in the live queue, ordered by its booked time.
After the window the resident gets a normal walk-in ticket and the booking counts as a no-show.
The state change is claimed first (compare-and-swap), then the ticket is issued with an
idempotency key derived from the booking, so a retried or concurrent check-in yields one ticket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from office import audit
from office.audit import Actor
from office.booking.lifecycle import next_state
from office.booking.policy import BookingPolicy, load_policy
from office.booking.sql import changed
from office.booking.views import BookingView, find_by_code, view_of
from office.context import OfficeContext
from office.errors import ApiError
from office.models import Appointment, AppointmentState, BookingPolicyRow, Office

__all__ = ["CheckIn", "IssuedTicket", "check_in", "issue_queue_ticket", "mark_no_shows"]

_BOOKED = AppointmentState.BOOKED.value
_NO_SHOW = AppointmentState.NO_SHOW.value


@dataclass(frozen=True, slots=True)
class IssuedTicket:
    """The queue ticket a check-in produced."""

    id: int
    display_number: str
    priority: bool


@dataclass(frozen=True, slots=True)
class CheckIn:
    """The outcome of a check-in."""

    booking: BookingView
    ticket: IssuedTicket
    late: bool


def issue_queue_ticket(
    ctx: OfficeContext,
    appt: Appointment,
    *,
    kiosk_id: int | None,
    id_number: str | None,
    priority: bool,
    actor: Actor,
) -> IssuedTicket:
    """Issue the queue ticket for a checked-in booking through the queue's issuing service.

    This is the only place the booking package touches the queue.
    """
    from office.queue.issue import IssueRequest, issue_ticket

    req = IssueRequest(
        office_id=appt.office_id,
        service_id=appt.service_id,
        station_id=appt.station_id,
        kiosk_id=kiosk_id,
        id_number=id_number,
        idempotency_key=f"appointment-{appt.id}",
        appointment_ref=appt.code if priority else None,
        appointment_at=appt.starts_at if priority else None,
    )
    issued = issue_ticket(ctx, req, actor)
    return IssuedTicket(issued.ticket.id, issued.ticket.display_number, priority)


def _window(policy: BookingPolicy, appt: Appointment) -> tuple[datetime, datetime]:
    return appt.starts_at - policy.checkin_early, appt.starts_at + policy.checkin_late


def check_in(
    ctx: OfficeContext,
    *,
    office_id: int,
    station_id: int | None,
    kiosk_id: int | None,
    code: str | None,
    id_number: str | None,
    actor: Actor,
) -> CheckIn:
    """Check a resident in by booking code (and ID, when read) or by ID card alone (today's booking)."""
    now = ctx.clock.now()
    with ctx.read_db() as r:
        policy = load_policy(r, office_id)
        zone = r.scalar(select(Office.timezone).where(Office.id == office_id)) or "Asia/Shanghai"
        if code:
            appt = find_by_code(ctx, r, office_id, code, id_number)
        elif id_number:
            appt = _todays_booking(
                ctx, r, office_id, id_number, _local_today(zone, now), now - policy.checkin_late
            )
        else:
            raise ApiError(
                422, "code_or_id_required", "请输入预约码或读取身份证 / enter the code or read the ID card"
            )
    if appt.state == AppointmentState.CHECKED_IN.value:
        raise ApiError(409, "already_checked_in", "已签到 / already checked in")
    if appt.state not in (_BOOKED, _NO_SHOW):
        raise ApiError(409, "not_booked", "该预约已取消或失效 / this booking is not active")
    opens, closes = _window(policy, appt)
    if now < opens:
        raise ApiError(
            409,
            "too_early",
            f"请在预约时间前{policy.checkin_early_minutes}分钟内签到 / check-in opens {policy.checkin_early_minutes} min before",
        )
    if appt.local_date != _local_today(zone, now):
        raise ApiError(409, "not_today", "只能签到当天的预约 / only today's bookings can check in")
    late = now > closes or appt.state == _NO_SHOW
    event = "late_arrival" if late else "check_in"
    with ctx.db() as s, s.begin():
        done = changed(
            s,
            update(Appointment)
            .where(
                Appointment.id == appt.id, Appointment.state == appt.state, Appointment.ticket_id.is_(None)
            )
            .values(
                state=next_state(appt.state, event).value,
                active_key=None if late else Appointment.active_key,
                checked_in_at=now,
                checked_in_late=late,
            ),
        )
        if done != 1:
            raise ApiError(409, "already_checked_in", "已签到 / already checked in")
    try:
        ticket = issue_queue_ticket(
            ctx, appt, kiosk_id=kiosk_id, id_number=id_number, priority=not late, actor=actor
        )
    except ApiError:
        with ctx.db() as s, s.begin():  # give the booking back so the resident can try again
            s.execute(
                update(Appointment)
                .where(Appointment.id == appt.id, Appointment.ticket_id.is_(None))
                .values(
                    state=appt.state, checked_in_at=None, checked_in_late=False, active_key=appt.active_key
                )
            )
        raise
    with ctx.db() as s, s.begin():
        s.execute(update(Appointment).where(Appointment.id == appt.id).values(ticket_id=ticket.id))
        audit.record(
            s,
            actor,
            "appointment.checked_in",
            target_type="appointment",
            target_id=appt.id,
            late=late,
            ticket_id=ticket.id,
            station_id=station_id,
        )
        fresh = s.get(Appointment, appt.id)
        assert fresh is not None
        s.refresh(fresh)
        return CheckIn(view_of(ctx, s, fresh), ticket, late)


def _local_today(zone: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(zone)).date()


def _todays_booking(
    ctx: OfficeContext,
    r: Session,
    office_id: int,
    id_number: str,
    today: date,
    window_closed_before: datetime,
) -> Appointment:
    """The resident's booking today: the first whose check-in window is still open, else the first."""
    id_hash = ctx.cipher.lookup_hash(id_number)
    found = list(
        r.scalars(
            select(Appointment)
            .where(
                Appointment.office_id == office_id,
                Appointment.id_hash == id_hash,
                Appointment.state == _BOOKED,
                Appointment.local_date == today,
            )
            .order_by(Appointment.starts_at)
        )
    )
    if not found:
        raise ApiError(404, "no_booking_today", "今天没有您的预约 / no booking for you today")
    return next((a for a in found if a.starts_at >= window_closed_before), found[0])


def mark_no_shows(ctx: OfficeContext) -> int:
    """Mark bookings whose check-in window has closed as no-shows (periodic task); returns how many."""
    now = ctx.clock.now()
    with ctx.read_db() as r:
        late_by_office = {
            office_id: timedelta(minutes=m)
            for office_id, m in r.execute(
                select(BookingPolicyRow.office_id, BookingPolicyRow.checkin_late_minutes)
            )
        }
        default_late = BookingPolicy().checkin_late
        candidates = r.execute(
            select(Appointment.id, Appointment.office_id, Appointment.starts_at).where(
                Appointment.state == _BOOKED, Appointment.starts_at < now
            )
        ).all()
    due = [c.id for c in candidates if c.starts_at + late_by_office.get(c.office_id, default_late) < now]
    if not due:
        return 0
    with ctx.db() as s, s.begin():
        return changed(
            s,
            update(Appointment)
            .where(Appointment.id.in_(due), Appointment.state == _BOOKED)
            .values(state=next_state(_BOOKED, "miss").value, active_key=None),
        )
