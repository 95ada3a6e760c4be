"""Per-office queue configuration: the stored row, or the defaults when an office has none yet."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy.orm import Session

from office.models import QueueSettings

__all__ = ["CONFIG_FIELDS", "QueueConfig", "config_of", "load_config"]


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """The tunables of one office's queue (see :class:`office.models.QueueSettings`)."""

    office_id: int
    accepting_tickets: bool = True
    closed_reason: str = ""
    ring_timeout_s: int = 20
    max_recalls: int = 2
    rejoin_window_min: int = 30
    max_wait_bound_min: int = 45
    estimate_window: int = 30
    estimate_min_samples: int = 10
    ring_overhead_s: int = 30


#: The stored tunables (every field but ``office_id``), for statements that read them with other columns.
CONFIG_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(QueueConfig) if f.name != "office_id")


def load_config(session: Session, office_id: int) -> QueueConfig:
    """The office's configuration (defaults when no row was stored)."""
    row = session.get(QueueSettings, office_id)
    if row is None:
        return QueueConfig(office_id=office_id)
    return config_of(office_id, row)


def config_of(office_id: int, row: Any) -> QueueConfig:
    """The configuration from a stored row (or a result row with the :data:`CONFIG_FIELDS` columns)."""
    return QueueConfig(office_id, **{name: getattr(row, name) for name in CONFIG_FIELDS})
