"""Declarative base, naming convention and column helpers shared by every model."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import DateTime, MetaData, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm.instrumentation import manager_of_class

__all__ = ["Base", "UTCDateTime", "detached", "utcnow"]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current instant, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC; returns aware UTC datetimes on every engine (SQLite included)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store aware UTC instants")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Base class of every office model."""

    metadata = MetaData(naming_convention=NAMING)


_M = TypeVar("_M", bound=Base)


def detached(cls: type[_M], values: Mapping[str, Any]) -> _M:
    """A transient instance of the mapped ``cls`` holding ``values`` (attribute name → value), to
    read, publish and answer with; it must never be added to a session.

    Built without the ORM constructor: filling a fresh instance's dict reads the same and costs a
    fraction of the constructor's instrumented attribute sets (a claimed ticket: ~8 µs vs ~130 µs).
    """
    obj: _M = manager_of_class(cls).new_instance()
    obj.__dict__.update(values)
    return obj
