"""Video calls between an agent and a kiosk, and their stamped transitions.

A call serves one ticket. ``calls.active_key`` is ``"ticket:<id>"`` while the call is not ended and
NULL afterwards, so the database refuses a second live call for the same ticket (NULLs never
collide). Every lifecycle step is one state-checked ``UPDATE … WHERE state = :expected AND version =
:seen`` plus a row in ``call_events`` (see :mod:`office.calls.lifecycle`).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from office.models.base import Base, UTCDateTime, utcnow

__all__ = ["Call", "CallEvent", "CallStatus"]


class CallStatus(StrEnum):
    """Where a call is in its lifecycle."""

    CREATED = "created"
    NEGOTIATING = "negotiating"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    ENDED = "ended"


class Call(Base):
    """One video call: its parties, ticket, stamped lifecycle and a quality summary."""

    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("active_key"),
        Index("ix_calls_office_created", "office_id", "created_at"),
        Index("ix_calls_state", "state"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosks.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), default=CallStatus.CREATED)
    #: ``"ticket:<id>"`` while live, NULL once ended (one live call per ticket).
    active_key: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    negotiating_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: connected_at - created_at, in milliseconds (the call's setup time).
    setup_ms: Mapped[int | None] = mapped_column(Integer)
    #: ended_at - connected_at, in milliseconds (0 for calls that never connected).
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    end_reason: Mapped[str] = mapped_column(String(40), default="")
    #: Who ended it: ``agent`` | ``kiosk`` | ``system``.
    ended_by: Mapped[str] = mapped_column(String(16), default="")
    reconnects: Mapped[int] = mapped_column(Integer, default=0)
    #: When the agent's / kiosk's signaling went away (NULL while present).
    agent_lost_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    kiosk_lost_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Aggregated quality reports (numbers only): samples, rtt/loss/jitter maxima and means, freezes.
    quality: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)


class CallEvent(Base):
    """One stamped transition of a call."""

    __tablename__ = "call_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    event: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(40), default="")
    reason: Mapped[str] = mapped_column(String(40), default="")
