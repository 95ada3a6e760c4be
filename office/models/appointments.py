"""Appointments and the per-slot capacity rows that make overbooking impossible.

``slot_capacity`` has one row per (office, service, slot start) created on first use and decremented
by a state-checked ``UPDATE … SET remaining = remaining - 1 WHERE remaining > 0`` inside the
transaction that creates the hold; ``CHECK (remaining >= 0)`` backs it up. ``appointments.active_key``
is ``"<id hash>:<service>:<local date>"`` while a booking is active (booked or checked in) and NULL
otherwise, so UNIQUE(active_key) allows one active booking per resident, service and day.
``appointment_notices`` is UNIQUE on (appointment, kind): each reminder or notice goes out at most once.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from office.models.base import Base, UTCDateTime, utcnow

__all__ = ["Appointment", "AppointmentNotice", "AppointmentState", "SlotCapacity"]


class AppointmentState(StrEnum):
    """Where an appointment is in its lifecycle (see :mod:`office.booking.lifecycle`)."""

    HELD = "held"
    EXPIRED = "expired"
    RELEASED = "released"
    BOOKED = "booked"
    CHECKED_IN = "checked_in"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


class SlotCapacity(Base):
    """How many more holds one slot of one service at one office can take."""

    __tablename__ = "slot_capacity"
    __table_args__ = (
        UniqueConstraint("office_id", "service_id", "starts_at"),
        CheckConstraint("remaining >= 0", name="remaining_nonneg"),
        CheckConstraint("remaining <= capacity", name="remaining_le_capacity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    capacity: Mapped[int] = mapped_column(Integer)
    remaining: Mapped[int] = mapped_column(Integer)


class Appointment(Base):
    """A hold, and once confirmed a booking, of one slot by one resident."""

    __tablename__ = "appointments"
    __table_args__ = (
        UniqueConstraint("code"),
        UniqueConstraint("active_key"),
        UniqueConstraint("kiosk_id", "hold_idem_key"),
        Index("ix_appointments_slot_state", "slot_id", "state"),
        Index("ix_appointments_office_start", "office_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    kiosk_id: Mapped[int | None] = mapped_column(ForeignKey("kiosks.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("slot_capacity.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    local_date: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), default=AppointmentState.HELD)
    #: The secret a kiosk presents to confirm or release its own hold (sha256 hex).
    hold_token_hash: Mapped[str] = mapped_column(String(64))
    #: The kiosk's ``Idempotency-Key`` for the hold request (a double tap returns the same hold).
    hold_idem_key: Mapped[str | None] = mapped_column(String(64))
    hold_expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    #: The booking code the resident keeps (set on confirmation).
    code: Mapped[str | None] = mapped_column(String(12))
    #: Capability token for the public iCalendar download; it only reads non-personal data.
    ics_token: Mapped[str | None] = mapped_column(String(32))
    id_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    id_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    id_source: Mapped[str] = mapped_column(String(8), default="")
    active_key: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    booked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_reason: Mapped[str] = mapped_column(String(200), default="")
    cancelled_by: Mapped[str] = mapped_column(String(16), default="")
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    checked_in_late: Mapped[bool] = mapped_column(Boolean, default=False)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    reschedule_count: Mapped[int] = mapped_column(Integer, default=0)


class AppointmentNotice(Base):
    """One reminder or notice for one appointment; the unique key makes sending at-most-once."""

    __tablename__ = "appointment_notices"
    __table_args__ = (UniqueConstraint("appointment_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(32), default="pending")
