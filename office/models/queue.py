"""The live queue: per-office settings, number counters, tickets, their stamped transitions, agents.

Guarantees live in the schema: ``ticket_counters`` has one row per (office, queue, business date)
incremented inside the issuing transaction; ``tickets`` is UNIQUE on (office, queue, business date,
number), on the idempotency key, and on ``active_key`` (one active ticket per resident and service;
set to NULL when the ticket ends, and NULLs never collide).
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
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from office.models.base import Base, UTCDateTime, utcnow

__all__ = [
    "AgentSkill",
    "AgentState",
    "AgentStatus",
    "Priority",
    "QueueSettings",
    "Ticket",
    "TicketCounter",
    "TicketEvent",
    "TicketState",
]


class TicketState(StrEnum):
    """Where a ticket is in its lifecycle (see :mod:`office.queue.lifecycle`)."""

    WAITING = "waiting"
    OFFERED = "offered"
    RINGING = "ringing"
    SERVING = "serving"
    DONE = "done"
    RECALLED = "recalled"
    NO_SHOW = "no_show"
    LEFT = "left"
    TRANSFERRED = "transferred"
    ON_HOLD = "on_hold"


class AgentStatus(StrEnum):
    """An agent's availability; only ``available`` agents are offered tickets."""

    OFFLINE = "offline"
    AVAILABLE = "available"
    RINGING = "ringing"
    SERVING = "serving"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class Priority:
    """Priority levels, lower first; first come first served within a level."""

    RECALLED = 0
    APPOINTMENT = 1
    STATUTORY = 2
    NORMAL = 3


class QueueSettings(Base):
    """Per-office queue switches and tunables (a missing row means the defaults)."""

    __tablename__ = "queue_settings"

    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), primary_key=True)
    #: Staff can pause intake; until opening hours exist this is what "closed" means.
    accepting_tickets: Mapped[bool] = mapped_column(Boolean, default=True)
    closed_reason: Mapped[str] = mapped_column(String(200), default="")
    ring_timeout_s: Mapped[int] = mapped_column(Integer, default=20)
    max_recalls: Mapped[int] = mapped_column(Integer, default=2)
    rejoin_window_min: Mapped[int] = mapped_column(Integer, default=30)
    #: No waiting ticket is overtaken once it has waited this long.
    max_wait_bound_min: Mapped[int] = mapped_column(Integer, default=45)
    estimate_window: Mapped[int] = mapped_column(Integer, default=30)
    estimate_min_samples: Mapped[int] = mapped_column(Integer, default=10)
    ring_overhead_s: Mapped[int] = mapped_column(Integer, default=30)


class TicketCounter(Base):
    """The last number issued for one queue of one office on one office-local day."""

    __tablename__ = "ticket_counters"

    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), primary_key=True)
    queue_prefix: Mapped[str] = mapped_column(String(1), primary_key=True)
    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class Ticket(Base):
    """A queue ticket; numbers are never reused, every transition is stamped in ``ticket_events``."""

    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("office_id", "queue_prefix", "business_date", "number"),
        UniqueConstraint("idem_scope", "idem_key"),
        UniqueConstraint("active_key"),
        CheckConstraint("number >= 1", name="number_pos"),
        Index("ix_tickets_queue_pick", "office_id", "state", "priority", "order_at"),
        # Statistics (migration 0007): a period's tickets of one office.
        Index(
            "ix_tickets_office_day",
            "office_id",
            "business_date",
            postgresql_include=[
                "id",
                "station_id",
                "service_id",
                "state",
                "ended_by",
                "issued_at",
                "first_called_at",
                "predicted_wait_s",
            ],
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"), index=True)
    kiosk_id: Mapped[int | None] = mapped_column(ForeignKey("kiosks.id"))
    issued_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    service_version: Mapped[int] = mapped_column(Integer)
    queue_prefix: Mapped[str] = mapped_column(String(1))
    business_date: Mapped[date] = mapped_column(Date)
    number: Mapped[int] = mapped_column(Integer)
    display_number: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16), default=TicketState.WAITING)
    priority: Mapped[int] = mapped_column(Integer, default=Priority.NORMAL)
    #: Why the ticket has statutory priority: "" | "age70" | "staff:<code>".
    priority_basis: Mapped[str] = mapped_column(String(40), default="")
    #: FIFO key within a priority level (issue time, appointment time, or a transfer placement).
    order_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: When the ticket (re)entered the queue; the anti-starvation bound counts from here.
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resident_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    resident_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: "<office>:<resident hash>:<service>" while active, NULL once ended.
    active_key: Mapped[str | None] = mapped_column(String(120))
    idem_scope: Mapped[str | None] = mapped_column(String(40))
    idem_key: Mapped[str | None] = mapped_column(String(100))
    appointment_ref: Mapped[str | None] = mapped_column(String(64))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: A transfer to a named agent: only that agent may take it.
    target_agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    window_no: Mapped[int | None] = mapped_column(Integer)
    recall_count: Mapped[int] = mapped_column(Integer, default=0)
    ring_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    predicted_wait_s: Mapped[int | None] = mapped_column(Integer)
    first_called_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    served_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: For left tickets: resident | staff | system.
    ended_by: Mapped[str] = mapped_column(String(16), default="")
    end_reason: Mapped[str] = mapped_column(String(64), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)


class TicketEvent(Base):
    """One stamped transition of a ticket (the period table: wait, ring and serve times are exact)."""

    __tablename__ = "ticket_events"
    __table_args__ = (
        # Statistics (migration 0007): the events entering or leaving ``serving``, by office and time.
        Index(
            "ix_ticket_events_serving",
            "office_id",
            "at",
            postgresql_include=["ticket_id", "agent_id", "event", "from_state", "to_state"],
            postgresql_where=text("to_state = 'serving' OR from_state = 'serving'"),
            sqlite_where=text("to_state = 'serving' OR from_state = 'serving'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    event: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[str] = mapped_column(String(16), default="")
    to_state: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(80), default="")
    reason: Mapped[str] = mapped_column(String(200), default="")


class AgentState(Base):
    """An agent's live availability in the queue (one row per agent)."""

    __tablename__ = "agent_states"
    __table_args__ = (Index("ix_agent_states_office_state", "office_id", "state"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"))
    state: Mapped[str] = mapped_column(String(16), default=AgentStatus.OFFLINE)
    pause_reason: Mapped[str] = mapped_column(String(100), default="")
    since: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: The video window number shown on boards ("请A017号到3号视频窗口").
    window_no: Mapped[int] = mapped_column(Integer, default=1)
    current_ticket_id: Mapped[int | None] = mapped_column(Integer)


class AgentSkill(Base):
    """A skill an agent has; an agent with none is a generalist (全科) and takes every service."""

    __tablename__ = "agent_skills"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    skill: Mapped[str] = mapped_column(String(32), primary_key=True)
