"""Office schedules: standing weekly hours, per-date overrides and closures, the agent rota, and
per-office booking policy (hold time, horizon, notice, cut-offs, check-in window, no-show limits)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from office.models.base import Base, UTCDateTime, utcnow

__all__ = ["BookingPolicyRow", "CalendarOverride", "OfficeSchedule", "RotaShift"]


class OfficeSchedule(Base):
    """An office's weekly plan as validated JSON (see :mod:`office.booking.schedules`).

    A missing row means the default plan (Monday–Friday 09:00–17:00, lunch 12:00–13:30).
    """

    __tablename__ = "office_schedules"

    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), primary_key=True)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CalendarOverride(Base):
    """One office's exception for one date: closure, special hours, or working-day status."""

    __tablename__ = "calendar_overrides"
    __table_args__ = (UniqueConstraint("office_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Replacement hours as ``["09:00-12:00", …]``; NULL keeps the weekly plan.
    hours: Mapped[list[str] | None] = mapped_column(JSON)
    #: Legal working-day status override; NULL keeps the national table.
    working_day: Mapped[bool | None] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RotaShift(Base):
    """An agent works ``[start_min, end_min)`` minutes after local midnight on ``weekday`` (0 = Monday).

    On official make-up working days the Monday rota applies. The agent's skills come from
    ``agent_skills`` (none = generalist).
    """

    __tablename__ = "rota_shifts"
    __table_args__ = (
        CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday_range"),
        CheckConstraint("start_min >= 0 AND start_min < end_min AND end_min <= 1440", name="minutes_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    start_min: Mapped[int] = mapped_column(Integer)
    end_min: Mapped[int] = mapped_column(Integer)


class BookingPolicyRow(Base):
    """Per-office booking tunables (a missing row means the defaults of ``BookingPolicy``)."""

    __tablename__ = "booking_policies"
    __table_args__ = (
        CheckConstraint("hold_minutes >= 1", name="hold_pos"),
        CheckConstraint("horizon_days >= 1", name="horizon_pos"),
    )

    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), primary_key=True)
    hold_minutes: Mapped[int] = mapped_column(Integer, default=5)
    horizon_days: Mapped[int] = mapped_column(Integer, default=14)
    min_notice_minutes: Mapped[int] = mapped_column(Integer, default=60)
    change_cutoff_minutes: Mapped[int] = mapped_column(Integer, default=120)
    checkin_early_minutes: Mapped[int] = mapped_column(Integer, default=30)
    checkin_late_minutes: Mapped[int] = mapped_column(Integer, default=15)
    #: No-shows within the window that block self-service booking (0 = never restrict).
    no_show_limit: Mapped[int] = mapped_column(Integer, default=3)
    no_show_window_days: Mapped[int] = mapped_column(Integer, default=90)
