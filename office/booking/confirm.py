"""Confirming a hold with the resident's identity → a booking code.

Rules, in one transaction on the hold's row: the kiosk owns the hold (token), it has not lapsed,
the resident is not restricted for repeated no-shows, and has no other active booking for the same
service that day. The last rule is the database's: ``appointments.active_key`` is UNIQUE.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from office import audit
from office.audit import Actor
from office.booking.holds import give_capacity, owned_hold
from office.booking.identity import Identity
from office.booking.lifecycle import next_state
from office.booking.policy import BookingPolicy, load_policy
from office.booking.sql import changed
from office.booking.views import BookingView, view_of
from office.context import OfficeContext
from office.errors import ApiError
from office.models import Appointment, AppointmentState

__all__ = ["CODE_ALPHABET", "active_key", "confirm_hold", "new_code", "no_show_count"]

#: Booking codes avoid look-alikes (0/O, 1/I/L) so residents can read them aloud and type them.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
_HELD = AppointmentState.HELD.value


def new_code() -> str:
    """A random booking code (31⁸ ≈ 8.5·10¹¹ values)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def active_key(id_hash: str, service_id: int, local_date: date) -> str:
    """One active booking per resident, service and office-local day."""
    return f"{id_hash}:{service_id}:{local_date}"


def no_show_count(s: Session, id_hash: str, since: datetime) -> int:
    """No-shows of the resident since ``since`` (any office)."""
    return int(
        s.scalar(
            select(func.count())
            .select_from(Appointment)
            .where(
                Appointment.id_hash == id_hash,
                Appointment.state == AppointmentState.NO_SHOW.value,
                Appointment.starts_at >= since,
            )
        )
        or 0
    )


def _restricted(policy: BookingPolicy, count: int) -> bool:
    return policy.no_show_limit > 0 and count >= policy.no_show_limit


def confirm_hold(
    ctx: OfficeContext,
    *,
    office_id: int,
    appointment_id: int,
    token: str,
    identity: Identity,
    actor: Actor,
) -> BookingView:
    """Turn the hold into a booking.

    409 ``hold_expired`` / ``hold_used`` / ``already_booked``; 403 ``booking_restricted``.
    """
    now = ctx.clock.now()
    id_hash = ctx.cipher.lookup_hash(identity.id_number)
    try:
        with ctx.db() as s, s.begin():
            appt = owned_hold(s, office_id, appointment_id, token)
            if appt.state == AppointmentState.BOOKED.value and appt.id_hash == id_hash:
                return view_of(ctx, s, appt)  # a retried confirmation returns the same booking
            if appt.state == AppointmentState.BOOKED.value:
                raise ApiError(409, "hold_used", "该预留已确认 / this hold has already been confirmed")
            if appt.state != _HELD:
                raise ApiError(
                    409, "hold_expired", "预留已失效，请重新选择时段 / the hold is no longer valid"
                )
            if appt.hold_expires_at <= now:
                # Expire it now (committed below), then tell the kiosk to choose again.
                lapsed = changed(
                    s,
                    update(Appointment)
                    .where(Appointment.id == appt.id, Appointment.state == _HELD)
                    .values(state=next_state(_HELD, "expire").value),
                )
                if lapsed:
                    give_capacity(s, appt.slot_id)
            else:
                policy = load_policy(s, office_id)
                since = now - timedelta(days=policy.no_show_window_days)
                if _restricted(policy, no_show_count(s, id_hash, since)):
                    raise ApiError(
                        403,
                        "booking_restricted",
                        "多次预约未到，暂不能自助预约，请联系工作人员 / self-service booking restricted after no-shows",
                    )
                key = active_key(id_hash, appt.service_id, appt.local_date)
                if s.scalar(select(Appointment.id).where(Appointment.active_key == key)) is not None:
                    raise ApiError(
                        409,
                        "already_booked",
                        "您当天已预约该服务 / you already have a booking for this service that day",
                    )
                done = changed(
                    s,
                    update(Appointment)
                    .where(Appointment.id == appt.id, Appointment.state == _HELD)
                    .values(
                        state=next_state(_HELD, "confirm").value,
                        code=new_code(),
                        ics_token=secrets.token_urlsafe(16),
                        id_hash=id_hash,
                        id_enc=ctx.cipher.encrypt(identity.id_number, context=b"appointment"),
                        phone_enc=(
                            ctx.cipher.encrypt(identity.phone, context=b"appointment-phone")
                            if identity.phone
                            else None
                        ),
                        id_source=identity.source.value,
                        active_key=key,
                        booked_at=now,
                    ),
                )
                if done != 1:
                    raise ApiError(409, "hold_expired", "预留已失效 / the hold is no longer valid")
                s.refresh(appt)
                audit.record(
                    s,
                    actor,
                    "appointment.booked",
                    target_type="appointment",
                    target_id=appt.id,
                    service_id=appt.service_id,
                    id_source=identity.source.value,
                )
                return view_of(ctx, s, appt)
    except IntegrityError:
        raise ApiError(
            409, "already_booked", "您当天已预约该服务 / you already have a booking for this service that day"
        ) from None
    raise ApiError(409, "hold_expired", "预留已超时，请重新选择时段 / the hold expired; choose a slot again")
