"""The service catalog: categories, services, their required materials, and frozen revisions.

A service is edited in place (its current definition), but every edit also writes an immutable
:class:`ServiceRevision` snapshot; tickets and cases point at the revision they were created under, so
a later change never rewrites their history. Services are deactivated, never deleted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from office.models.base import Base, UTCDateTime, utcnow

__all__ = ["MaterialForm", "Service", "ServiceCategory", "ServiceMaterial", "ServiceRevision"]


class MaterialForm:
    """Whether a material is needed as the original, a copy, or both (string values)."""

    ORIGINAL = "original"
    COPY = "copy"
    BOTH = "original_and_copy"
    ALL = (ORIGINAL, COPY, BOTH)


class ServiceCategory(Base):
    """One of the seven categories (党群, 政务, 生活, 法律, 健康, 文化, 社区管理)."""

    __tablename__ = "service_categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    sort_order: Mapped[int] = mapped_column(Integer, default=0)


class Service(Base):
    """A public service a resident can ask for; the current definition (see :class:`ServiceRevision`)."""

    __tablename__ = "services"
    __table_args__ = (
        CheckConstraint("time_limit_days >= 0", name="time_limit_nonneg"),
        CheckConstraint("expected_minutes > 0", name="expected_minutes_pos"),
        CheckConstraint("length(queue_prefix) = 1", name="queue_prefix_one_letter"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("service_categories.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    #: The queue's number prefix (``A`` in ``A017``); services sharing a prefix share a sequence.
    queue_prefix: Mapped[str] = mapped_column(String(1))
    #: Legal time limit in working days (0 = on the spot, 即办).
    time_limit_days: Mapped[int] = mapped_column(Integer, default=0)
    #: Configured handling time, used for wait estimates until the office has enough samples.
    expected_minutes: Mapped[int] = mapped_column(Integer, default=10)
    #: The wait (minutes) within which this service should be served; "share served within target".
    target_wait_min: Mapped[int] = mapped_column(Integer, default=15, server_default="15")
    needs_id_card: Mapped[bool] = mapped_column(Boolean, default=True)
    needs_fingerprint: Mapped[bool] = mapped_column(Boolean, default=False)
    needs_appointment: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The agent skill it needs ("" = any agent).
    skill: Mapped[str] = mapped_column(String(32), default="")
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    fees: Mapped[str] = mapped_column(String(200), default="免费")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    materials: Mapped[list[ServiceMaterial]] = relationship(
        order_by="ServiceMaterial.position", cascade="all, delete-orphan"
    )


class ServiceMaterial(Base):
    """One required material of the one-time notice (一次性告知)."""

    __tablename__ = "service_materials"
    __table_args__ = (
        UniqueConstraint("service_id", "position"),
        CheckConstraint("count >= 1", name="count_pos"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    count: Mapped[int] = mapped_column(Integer, default=1)
    form: Mapped[str] = mapped_column(String(20), default=MaterialForm.ORIGINAL)
    issuer: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    notes_en: Mapped[str] = mapped_column(Text, default="")


class ServiceRevision(Base):
    """An immutable snapshot of a service definition (with its materials) at one version."""

    __tablename__ = "service_revisions"
    __table_args__ = (UniqueConstraint("service_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="")
