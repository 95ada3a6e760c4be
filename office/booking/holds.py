"""Holding a slot: the first holds win, up to the slot's capacity, enforced by the database.

One transaction per hold: make sure the slot's ``slot_capacity`` row exists (insert-or-ignore on its
unique key), return the capacity of this slot's expired holds (a state-checked ``UPDATE`` that only
one transaction can win per hold), then ``UPDATE slot_capacity SET remaining = remaining - 1 WHERE
id = :slot AND remaining > 0`` — rowcount 0 means the slot is full. PostgreSQL row-locks the
capacity row for the rest of the transaction; SQLite writers serialize at ``BEGIN IMMEDIATE``;
``CHECK (remaining >= 0)`` backs both up.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from office.booking.lifecycle import next_state
from office.booking.policy import load_policy
from office.booking.slots import SlotCheck, bookable_service, check_slot
from office.booking.sql import changed
from office.context import OfficeContext
from office.errors import ApiError
from office.models import Appointment, AppointmentState, SlotCapacity
from office.security import digest, tokens_equal

__all__ = ["Hold", "ensure_slot_row", "expire_holds", "hold_slot", "release_hold", "take_capacity"]

_HELD = AppointmentState.HELD.value


@dataclass(frozen=True, slots=True)
class Hold:
    """A hold as the kiosk sees it; ``token`` is shown once and proves ownership of the hold."""

    appointment_id: int
    token: str
    service_id: int
    starts_at: datetime
    ends_at: datetime
    expires_at: datetime


def ensure_slot_row(
    s: Session, office_id: int, service_id: int, starts_at: datetime, ends_at: datetime, capacity: int
) -> int:
    """The id of the slot's capacity row, creating it (full) if nobody has yet."""
    found = _slot_row(s, office_id, service_id, starts_at)
    if found is not None:
        return found[0]
    values = {
        "office_id": office_id,
        "service_id": service_id,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "capacity": capacity,
        "remaining": capacity,
    }
    keys = ["office_id", "service_id", "starts_at"]
    if s.get_bind().dialect.name == "postgresql":
        s.execute(postgresql.insert(SlotCapacity).values(values).on_conflict_do_nothing(index_elements=keys))
    else:
        s.execute(sqlite.insert(SlotCapacity).values(values).on_conflict_do_nothing(index_elements=keys))
    created = _slot_row(s, office_id, service_id, starts_at)
    assert created is not None
    return created[0]


def _slot_row(
    s: Session, office_id: int, service_id: int, starts_at: datetime
) -> tuple[int, int, int] | None:
    """(id, capacity, remaining) of an existing capacity row."""
    row = s.execute(
        select(SlotCapacity.id, SlotCapacity.capacity, SlotCapacity.remaining).where(
            SlotCapacity.office_id == office_id,
            SlotCapacity.service_id == service_id,
            SlotCapacity.starts_at == starts_at,
        )
    ).first()
    return (row.id, row.capacity, row.remaining) if row is not None else None


def _visibly_full(r: Session, slot_id: int, remaining: int, now: datetime) -> bool:
    if remaining:
        return False
    lapsed = r.scalar(
        select(Appointment.id)
        .where(Appointment.slot_id == slot_id, Appointment.state == _HELD, Appointment.hold_expires_at <= now)
        .limit(1)
    )
    return lapsed is None


def sweep_slot(s: Session, slot_id: int, now: datetime) -> int:
    """Expire this slot's lapsed holds and give their capacity back; returns how many."""
    expired = changed(
        s,
        update(Appointment)
        .where(Appointment.slot_id == slot_id, Appointment.state == _HELD, Appointment.hold_expires_at <= now)
        .values(state=next_state(_HELD, "expire").value),
    )
    if expired:
        changed(
            s,
            update(SlotCapacity)
            .where(SlotCapacity.id == slot_id)
            .values(remaining=SlotCapacity.remaining + expired),
        )
    return int(expired)


def take_capacity(s: Session, slot_id: int) -> bool:
    """Decrement the slot's remaining count if it is above zero; False when full."""
    taken = changed(
        s,
        update(SlotCapacity)
        .where(SlotCapacity.id == slot_id, SlotCapacity.remaining > 0)
        .values(remaining=SlotCapacity.remaining - 1),
    )
    return bool(taken == 1)


def give_capacity(s: Session, slot_id: int) -> None:
    """Return one unit of capacity to a slot."""
    changed(
        s,
        update(SlotCapacity)
        .where(SlotCapacity.id == slot_id, SlotCapacity.remaining < SlotCapacity.capacity)
        .values(remaining=SlotCapacity.remaining + 1),
    )


def hold_slot(
    ctx: OfficeContext,
    *,
    office_id: int,
    service_id: int,
    starts_at: datetime,
    station_id: int | None = None,
    kiosk_id: int | None = None,
    idempotency_key: str | None = None,
) -> Hold:
    """Hold one place in a slot for ``policy.hold_minutes``; 409 ``slot_full`` when none is left.

    With an ``idempotency_key`` (per kiosk) a repeated request returns the same hold and token
    instead of taking a second place; reusing the key for another slot is a 422.
    """
    if idempotency_key is not None and kiosk_id is None:
        raise ValueError("idempotency keys are scoped to a kiosk")
    now = ctx.clock.now()
    if idempotency_key is not None:
        replay = _replay(ctx, kiosk_id, idempotency_key, service_id, starts_at)
        if replay is not None:
            return replay
    with ctx.read_db() as r:
        policy = load_policy(r, office_id)
        service = bookable_service(r, service_id)
        existing = _slot_row(r, office_id, service_id, starts_at) if starts_at.tzinfo else None
        check = check_slot(
            r, office_id, service, starts_at, now, policy, known_capacity=existing[1] if existing else None
        )
        if existing is not None and _visibly_full(r, existing[0], existing[2], now):
            # Fast refusal without taking the write lock; it can only err towards "full" for an
            # instant, never towards overbooking (the write path below is the guarantee).
            raise ApiError(409, "slot_full", "该时段已约满 / that slot is fully booked")
    token = _idem_token(ctx, kiosk_id, idempotency_key) if idempotency_key else secrets.token_urlsafe(24)
    expires = now + policy.hold
    try:
        return _insert_hold(
            ctx, office_id, service_id, station_id, kiosk_id, idempotency_key, check, token, expires
        )
    except IntegrityError:
        # A concurrent request with the same key won; its transaction holds the place.
        if idempotency_key is None:
            raise
        replay = _replay(ctx, kiosk_id, idempotency_key, service_id, starts_at)
        if replay is None:
            raise
        return replay


def _idem_token(ctx: OfficeContext, kiosk_id: int | None, key: str) -> str:
    """The hold token for a keyed request, derivable again only by this server (replays)."""
    secret = ctx.settings.secret_key.get_secret_value().encode()
    return hmac.new(secret, f"hold:{kiosk_id}:{key}".encode(), hashlib.sha256).hexdigest()[:40]


def _replay(
    ctx: OfficeContext, kiosk_id: int | None, key: str, service_id: int, starts_at: datetime
) -> Hold | None:
    with ctx.read_db() as r:
        appt = r.scalar(
            select(Appointment).where(Appointment.kiosk_id == kiosk_id, Appointment.hold_idem_key == key)
        )
    if appt is None:
        return None
    if appt.service_id != service_id or appt.starts_at != starts_at:
        raise ApiError(422, "idempotency_key_reused", "this Idempotency-Key was used for another slot")
    return Hold(
        appt.id,
        _idem_token(ctx, kiosk_id, key),
        service_id,
        appt.starts_at,
        appt.ends_at,
        appt.hold_expires_at,
    )


def _insert_hold(
    ctx: OfficeContext,
    office_id: int,
    service_id: int,
    station_id: int | None,
    kiosk_id: int | None,
    idempotency_key: str | None,
    check: SlotCheck,
    token: str,
    expires: datetime,
) -> Hold:
    now = ctx.clock.now()
    with ctx.db() as s, s.begin():
        slot_id = ensure_slot_row(s, office_id, service_id, check.starts_at, check.ends_at, check.capacity)
        sweep_slot(s, slot_id, now)
        if not take_capacity(s, slot_id):
            raise ApiError(409, "slot_full", "该时段已约满 / that slot is fully booked")
        appt = Appointment(
            office_id=office_id,
            station_id=station_id,
            kiosk_id=kiosk_id,
            service_id=service_id,
            slot_id=slot_id,
            starts_at=check.starts_at,
            ends_at=check.ends_at,
            local_date=check.local_date,
            state=_HELD,
            hold_token_hash=digest(token),
            hold_idem_key=idempotency_key,
            hold_expires_at=expires,
            created_at=now,
        )
        s.add(appt)
        s.flush()
        appt_id = appt.id
    return Hold(appt_id, token, service_id, check.starts_at, check.ends_at, expires)


def owned_hold(s: Session, office_id: int, appointment_id: int, token: str) -> Appointment:
    """The hold, locked for update, if ``token`` proves ownership; 404 otherwise (no oracle)."""
    appt = s.scalar(
        select(Appointment)
        .where(Appointment.id == appointment_id, Appointment.office_id == office_id)
        .with_for_update()
    )
    if appt is None or not tokens_equal(digest(token), appt.hold_token_hash):
        raise ApiError(404, "hold_not_found", "没有该预留 / no such hold")
    return appt


def release_hold(ctx: OfficeContext, *, office_id: int, appointment_id: int, token: str) -> bool:
    """Give a hold back before it expires (the resident changed their mind); True if released."""
    now = ctx.clock.now()
    with ctx.db() as s, s.begin():
        appt = owned_hold(s, office_id, appointment_id, token)
        if appt.state != _HELD or appt.hold_expires_at <= now:
            return False
        done = changed(
            s,
            update(Appointment)
            .where(Appointment.id == appt.id, Appointment.state == _HELD)
            .values(state=next_state(_HELD, "release").value),
        )
        if done:
            give_capacity(s, appt.slot_id)
        return bool(done)


def expire_holds(ctx: OfficeContext) -> int:
    """Sweep every lapsed hold and free its capacity (for a periodic task); returns how many."""
    now = ctx.clock.now()
    with ctx.read_db() as r:
        slot_ids = list(
            r.scalars(
                select(Appointment.slot_id)
                .where(Appointment.state == _HELD, Appointment.hold_expires_at <= now)
                .distinct()
            )
        )
    total = 0
    for slot_id in slot_ids:
        with ctx.db() as s, s.begin():
            total += sweep_slot(s, slot_id, now)
    return total
