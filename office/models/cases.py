"""Cases (办件), the personal data a kiosk uploads during a call, and captured documents.

* ``cases`` — one request of a resident for one service, numbered per office per office-local day
  (``JD-20261122-0007``; the counter row in ``case_counters`` is incremented inside the creating
  transaction and UNIQUE(office, number) backs it). The resident is a keyed hash (look-up) plus an
  AES-GCM ciphertext of the identity; the service is pinned to the catalog revision the ticket saw.
  ``owner_agent_id`` is the first agent who accepted it (首问负责) and never changes;
  ``assigned_agent_id`` is who holds it now (designated transfer 指定, escalation 兜底).
* ``case_events`` — every lifecycle step, stamped, with its actor (see :mod:`office.cases.lifecycle`).
* ``call_identities`` — an ID card read during a call: hash + ciphertext, an opaque ``ref``.
* ``verifications`` — fingerprint (and other) verification results of a call (numbers only).
* ``documents`` — captured stills, AES-GCM encrypted at rest in the row (size-limited by
  ``Settings.document_max_bytes``), bound to their call and, once attached, to a case.
* ``case_materials`` — the required-materials ticks: which documents satisfy which material.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from office.models.base import Base, UTCDateTime, utcnow

__all__ = [
    "CallIdentity",
    "Case",
    "CaseCounter",
    "CaseEvent",
    "CaseMaterial",
    "CaseOutcome",
    "CaseState",
    "Document",
    "Verification",
]


class CaseState(StrEnum):
    """Where a case is in its lifecycle (see :mod:`office.cases.lifecycle`)."""

    COMPLETED = "completed"
    IN_PROGRESS = "in_progress"
    AWAITING_MATERIALS = "awaiting_materials"
    REJECTED = "rejected"
    FORWARDED = "forwarded"
    ESCALATED = "escalated"


class CaseOutcome(StrEnum):
    """What the agent decided when recording the case."""

    COMPLETED = "completed"
    ACCEPTED = "accepted"
    NEEDS_MATERIALS = "needs_materials"
    REJECTED = "rejected"
    FORWARDED = "forwarded"


class CaseCounter(Base):
    """The last case sequence number of one office on one office-local day."""

    __tablename__ = "case_counters"

    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), primary_key=True)
    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class Case(Base):
    """One case (办件); every change is a state-checked update plus a ``case_events`` row."""

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("office_id", "number"),
        UniqueConstraint("office_id", "business_date", "seq"),
        UniqueConstraint("office_id", "idem_key"),
        CheckConstraint("seq >= 1", name="seq_pos"),
        Index("ix_cases_office_state", "office_id", "state"),
        Index("ix_cases_due", "state", "due_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"))
    number: Mapped[str] = mapped_column(String(32))
    business_date: Mapped[date] = mapped_column(Date)
    seq: Mapped[int] = mapped_column(Integer)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    call_id: Mapped[str | None] = mapped_column(ForeignKey("calls.id"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    service_version: Mapped[int] = mapped_column(Integer)
    resident_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    resident_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: 首问负责: the first agent who accepted the case; never changes.
    owner_agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: Who holds the case now (designated transfer, escalation).
    assigned_agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    state: Mapped[str] = mapped_column(String(24))
    outcome: Mapped[str] = mapped_column(String(24))
    #: Rejection reason, or why it was escalated / transferred last.
    reason: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    forward_to_agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    forward_to_office_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id"))
    #: Material ids of the one-time notice (一次性告知) for ``needs_materials``.
    missing_material_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Office-local date by which the case must be finished (限时办结); NULL when not applicable.
    due_date: Mapped[date | None] = mapped_column(Date)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: When the overdue alert went out (once per case).
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: The console's ``Idempotency-Key``: a repeated submission returns this case (NULLs never collide).
    idem_key: Mapped[str | None] = mapped_column(String(100))


class CaseEvent(Base):
    """One stamped step in a case's history."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The user who acted (NULL: the system).
    actor_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[str] = mapped_column(String(24), default="")
    to_state: Mapped[str] = mapped_column(String(24))
    #: Identifiers and codes only (agent ids, material ids, reason text), never personal data.
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CallIdentity(Base):
    """An ID card read at the kiosk during a call: keyed hash + encrypted identity, opaque ``ref``."""

    __tablename__ = "call_identities"

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(40), unique=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosks.id"))
    resident_hash: Mapped[str] = mapped_column(String(64), index=True)
    #: AES-GCM of the identity JSON, bound to ``ref``.
    identity_enc: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Verification(Base):
    """A verification result of a call (e.g. fingerprint 1:1): matched and score, never the print."""

    __tablename__ = "verifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"))
    kind: Mapped[str] = mapped_column(String(16))
    matched: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Document(Base):
    """A captured document still, AES-GCM encrypted at rest (``ciphertext`` bound to office + id)."""

    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint("size_bytes >= 1", name="size_pos"),
        Index("ix_documents_office_created", "office_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"))
    call_id: Mapped[str | None] = mapped_column(ForeignKey("calls.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    kiosk_id: Mapped[int | None] = mapped_column(ForeignKey("kiosks.id"))
    #: ``page`` (full still) | ``straightened`` (auto-cropped, perspective-corrected).
    kind: Mapped[str] = mapped_column(String(16))
    mime: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    #: The kiosk's hardware request id that produced it (``X-Request-Id``), if given.
    request_id: Mapped[str] = mapped_column(String(64), default="")
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CaseMaterial(Base):
    """One required material of a case's service: ticked or not, and the documents that show it."""

    __tablename__ = "case_materials"
    __table_args__ = (UniqueConstraint("case_id", "material_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    #: ``service_materials.id`` at the time (no foreign key: materials are edited, cases are history).
    material_id: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200), default="")
    document_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    checked: Mapped[bool] = mapped_column(Boolean, default=False)
