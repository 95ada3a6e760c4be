"""Ratings (好差评) from the kiosks, and the follow-up work items opened for bad ones.

One rating per service instance: ``ratings.ticket_id`` is unique, so a second rating for the same
ticket is refused by the database. ``is_default`` marks ratings the office recorded itself when the
resident gave none in time (service-rules.md §2.3); a real rating is never overwritten by one.

A rating of level 1 or 2 (差评) opens one :class:`FollowUp` (service-rules.md §2.4); its lifecycle
lives in :mod:`office.ratings.lifecycle` and every transition is stamped in ``followup_events``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from office.models.base import Base, UTCDateTime, utcnow

__all__ = ["FollowUp", "FollowUpEvent", "Rating"]


class Rating(Base):
    """One resident's rating of one service instance (ticket), bound to its call and case if any."""

    __tablename__ = "ratings"
    __table_args__ = (
        CheckConstraint("level >= 1 AND level <= 5", name="level_range"),
        Index("ix_ratings_office_created", "office_id", "created_at"),
        # Statistics (migration 0007): a ticket's rating without visiting the table.
        Index("ix_ratings_ticket_stats", "ticket_id", postgresql_include=["level", "is_default", "agent_id"]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"), index=True)
    kiosk_id: Mapped[int | None] = mapped_column(ForeignKey("kiosks.id"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), unique=True)
    call_id: Mapped[str | None] = mapped_column(String(40))
    #: The case (办件) of that ticket/call, if one exists (no FK: cases live in another module).
    case_id: Mapped[int | None] = mapped_column(Integer, index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: 5 非常满意 … 1 非常不满意; 差评 = 1 and 2.
    level: Mapped[int] = mapped_column(Integer)
    #: Reason codes (required for levels 1–2), from the versioned rating content.
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    comment: Mapped[str] = mapped_column(String(200), default="")
    content_version: Mapped[str] = mapped_column(String(32), default="")
    #: True when the office recorded the configured default because the resident did not rate.
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FollowUp(Base):
    """The work item a 差评 opens: contact, classify, rectify/explain/appeal, feedback, revisit, close."""

    __tablename__ = "followups"
    __table_args__ = (Index("ix_followups_office_state", "office_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"))
    rating_id: Mapped[int] = mapped_column(ForeignKey("ratings.id"), unique=True)
    state: Mapped[str] = mapped_column(String(24))
    #: fix_now | ledger | explain | appeal (set when classified).
    classification: Mapped[str] = mapped_column(String(16), default="")
    #: upheld | excluded (set when an appeal is reviewed).
    appeal_outcome: Mapped[str] = mapped_column(String(16), default="")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Office-local date by which the current step is due (working days, office/calendar.py).
    due_date: Mapped[date] = mapped_column(Date)
    #: The step ``due_date`` belongs to (contact | rectify | feedback | revisit | review).
    due_step: Mapped[str] = mapped_column(String(16), default="")
    contacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    classified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rectified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revisited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: When the overdue alert for ``due_step`` was sent (NULL: not yet).
    overdue_alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Satisfaction on the follow-up visit (1..5) if the resident gave one.
    recheck_level: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)


class FollowUpEvent(Base):
    """One stamped transition of a follow-up, with who did it and a free-text note (no personal data)."""

    __tablename__ = "followup_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    followup_id: Mapped[int] = mapped_column(ForeignKey("followups.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    event: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[str] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(500), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
