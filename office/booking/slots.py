"""Bookable slots: the calendar's opening hours × the rota's capacity − what is already held.

A slot of service S starts on the wall-clock grid of the office's open spans every
``service.expected_minutes`` and lasts that long. Its capacity is the number of agents able to serve
S whose shift covers the whole slot (:class:`office.booking.schedules.Rota`). Once anyone holds it, a
``slot_capacity`` row carries the live remaining count; holds that expired but were not yet swept
count as free.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from office.booking.policy import BookingPolicy
from office.booking.schedules import Rota, load_calendar, load_rota
from office.calendar import WorkingCalendar
from office.errors import ApiError
from office.models import Appointment, AppointmentState, Service, SlotCapacity

__all__ = ["Slot", "SlotCheck", "bookable_service", "check_slot", "list_slots", "slot_length"]


@dataclass(frozen=True, slots=True)
class Slot:
    """One bookable slot as a kiosk lists it."""

    starts_at: datetime
    ends_at: datetime
    local_date: date
    capacity: int
    remaining: int


@dataclass(frozen=True, slots=True)
class SlotCheck:
    """A requested slot that passed every rule, with what a hold needs to know."""

    starts_at: datetime
    ends_at: datetime
    local_date: date
    capacity: int
    calendar: WorkingCalendar


def slot_length(service: Service) -> timedelta:
    """A slot lasts the service's configured handling time."""
    return timedelta(minutes=service.expected_minutes)


def bookable_service(session: Session, service_id: int) -> Service:
    """The service, or 404 when unknown or inactive."""
    service = session.get(Service, service_id)
    if service is None or not service.active:
        raise ApiError(404, "service_not_found", "没有该服务 / no such service")
    return service


def _window(calendar: WorkingCalendar, now: datetime, policy: BookingPolicy) -> tuple[date, date]:
    first = calendar.local_date(now)
    return first, first + timedelta(days=policy.horizon_days - 1)


def list_slots(
    session: Session,
    office_id: int,
    service: Service,
    now: datetime,
    policy: BookingPolicy,
    *,
    days: int | None = None,
    include_full: bool = False,
) -> list[Slot]:
    """Slots of ``service`` from ``now + min_notice`` over the horizon (``days`` may shorten it)."""
    horizon = min(days or policy.horizon_days, policy.horizon_days)
    calendar = load_calendar(session, office_id)
    first = calendar.local_date(now)
    rota = load_rota(session, office_id, calendar)
    earliest = now + policy.min_notice
    length = slot_length(service)
    candidates: list[Slot] = []
    for day in calendar.days(first, horizon):
        for start in calendar.slot_starts(day, length):
            if start < earliest:
                continue
            cap = rota.capacity(service.skill, day, start, length)
            if cap > 0:
                candidates.append(Slot(start, start + length, day, cap, cap))
    if not candidates:
        return []
    used = _used(session, office_id, service.id, candidates[0].starts_at, candidates[-1].starts_at, now)
    out: list[Slot] = []
    for c in candidates:
        remaining = used.get(c.starts_at, c.capacity)
        if remaining > 0 or include_full:
            out.append(Slot(c.starts_at, c.ends_at, c.local_date, c.capacity, remaining))
    return out


def _used(
    session: Session, office_id: int, service_id: int, lo: datetime, hi: datetime, now: datetime
) -> dict[datetime, int]:
    """Live remaining per slot start, with expired-but-unswept holds counted as free."""
    rows = session.execute(
        select(SlotCapacity.id, SlotCapacity.starts_at, SlotCapacity.remaining).where(
            SlotCapacity.office_id == office_id,
            SlotCapacity.service_id == service_id,
            SlotCapacity.starts_at >= lo,
            SlotCapacity.starts_at <= hi,
        )
    ).all()
    if not rows:
        return {}
    stale: dict[int, int] = defaultdict(int)
    for slot_id, n in session.execute(
        select(Appointment.slot_id, func.count())
        .where(
            Appointment.slot_id.in_([r.id for r in rows]),
            Appointment.state == AppointmentState.HELD.value,
            Appointment.hold_expires_at <= now,
        )
        .group_by(Appointment.slot_id)
    ):
        stale[slot_id] = n
    return {r.starts_at: r.remaining + stale[r.id] for r in rows}


def check_slot(
    session: Session,
    office_id: int,
    service: Service,
    starts_at: datetime,
    now: datetime,
    policy: BookingPolicy,
    *,
    rota: Rota | None = None,
    known_capacity: int | None = None,
) -> SlotCheck:
    """Validate a requested slot start; raises :class:`ApiError` 422/409 with a clear code.

    ``slot_in_past`` (before now), ``too_soon`` (inside the minimum notice), ``beyond_horizon``,
    ``outside_hours`` (not a slot start of an open span), ``no_capacity`` (nobody on the rota).
    ``known_capacity`` (from an existing capacity row) skips the rota.
    """
    if starts_at.tzinfo is None:
        raise ApiError(422, "naive_time", "时间须带时区 / times must carry a UTC offset")
    if starts_at <= now:
        raise ApiError(422, "slot_in_past", "该时段已过 / that time has passed")
    if starts_at < now + policy.min_notice:
        raise ApiError(
            422, "too_soon", f"须至少提前{policy.min_notice_minutes}分钟预约 / inside the minimum notice"
        )
    calendar = load_calendar(session, office_id)
    day = calendar.local_date(starts_at)
    _, last = _window(calendar, now, policy)
    if day > last:
        raise ApiError(
            422, "beyond_horizon", f"只能预约{policy.horizon_days}天内 / beyond the booking horizon"
        )
    length = slot_length(service)
    if starts_at not in calendar.slot_starts(day, length):
        raise ApiError(422, "outside_hours", "该时间不在办理时段内 / not a slot within opening hours")
    if known_capacity is not None:
        cap = known_capacity
    else:
        rota = rota or load_rota(session, office_id, calendar)
        cap = rota.capacity(service.skill, day, starts_at, length)
    if cap <= 0:
        raise ApiError(409, "no_capacity", "该时段无人值班 / nobody on the rota for that slot")
    return SlotCheck(starts_at, starts_at + length, day, cap, calendar)
