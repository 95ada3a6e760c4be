"""Per-office queue configuration: the stored row, or the defaults when an office has none yet."""

from __future__ import annotations

from dataclasses import dataclass, fields

from sqlalchemy.orm import Session

from office.models import QueueSettings

__all__ = ["QueueConfig", "load_config"]


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


def load_config(session: Session, office_id: int) -> QueueConfig:
    """The office's configuration (defaults when no row was stored)."""
    row = session.get(QueueSettings, office_id)
    if row is None:
        return QueueConfig(office_id=office_id)
    values = {f.name: getattr(row, f.name) for f in fields(QueueConfig)}
    return QueueConfig(**values)
