"""Kiosk fleet health: the latest report per kiosk, a log of health events, remote health checks.

``kiosk_health`` holds one row per kiosk that ever reported (the latest device report, counters and
alert flags). ``kiosk_health_events`` keeps what changed (a device failed or recovered, a kiosk went
silent or came back, a remote check answered) so the fleet page can show the last errors.
``kiosk_diag_requests`` records remote health checks sent over signaling and the report that
answered each one (matched by ``request_id``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from office.models.base import Base, UTCDateTime, utcnow

__all__ = ["KioskDiagRequest", "KioskHealth", "KioskHealthEvent"]


class KioskHealth(Base):
    """The latest health report of one kiosk, with counters and the alert state."""

    __tablename__ = "kiosk_health"

    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosks.id", ondelete="CASCADE"), primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    last_report_at: Mapped[datetime] = mapped_column(UTCDateTime())
    in_call: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The report's ``devices`` as sent (DeviceService.health(): status and internal check per kind).
    devices: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Kinds whose last check failed, sorted.
    failing: Mapped[list[str]] = mapped_column(JSON, default=list)
    reports: Mapped[int] = mapped_column(Integer, default=0)
    device_failures: Mapped[int] = mapped_column(Integer, default=0)
    silent_alerts: Mapped[int] = mapped_column(Integer, default=0)
    #: Set when the silent-kiosk alert was raised; cleared by the next report.
    silent_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_report_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class KioskHealthEvent(Base):
    """Something that changed in a kiosk's health (for the "last errors" list and the audit trail)."""

    __tablename__ = "kiosk_health_events"
    __table_args__ = (Index("ix_kiosk_health_events_kiosk_at", "kiosk_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosks.id", ondelete="CASCADE"))
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: device_failed | device_recovered | silent | back | diag_result
    kind: Mapped[str] = mapped_column(String(24))
    device: Mapped[str] = mapped_column(String(32), default="")
    #: Short machine-readable detail (error class, failed step names; never personal data).
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class KioskDiagRequest(Base):
    """One remote health check: sent to the kiosk over signaling, answered by a health report."""

    __tablename__ = "kiosk_diag_requests"

    request_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosks.id", ondelete="CASCADE"), index=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"))
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: sent | offline | answered
    state: Mapped[str] = mapped_column(String(16))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ok: Mapped[bool | None] = mapped_column(Boolean)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
