"""Ticket numbers: queue prefix + three digits (``A001``), per office, queue and office-local day.

The number comes from a counter row per (office, queue, business date) incremented by an upsert
inside the issuing transaction (``INSERT … ON CONFLICT DO UPDATE … RETURNING``): PostgreSQL locks the
row, SQLite serializes writers, and the UNIQUE constraint on ``tickets`` backs both. A number is
never reused: a rolled-back issue also rolls back its increment, and nothing ever decrements.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from office.models import TicketCounter

__all__ = ["business_date", "format_number", "next_number"]


def business_date(instant: datetime, zone: ZoneInfo | str) -> date:
    """The office-local calendar date of ``instant`` (numbers reset at local midnight)."""
    tz = ZoneInfo(zone) if isinstance(zone, str) else zone
    return instant.astimezone(tz).date()


def format_number(prefix: str, number: int) -> str:
    """``("A", 17)`` → ``"A017"``; past 999 the number simply grows a digit (``A1000``)."""
    return f"{prefix}{number:03d}"


def next_number(session: Session, office_id: int, prefix: str, day: date) -> int:
    """Increment and return the counter of (office, queue, day) in the caller's transaction."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    base = insert(TicketCounter).values(
        office_id=office_id, queue_prefix=prefix, business_date=day, last_number=1
    )
    stmt = base.on_conflict_do_update(
        index_elements=["office_id", "queue_prefix", "business_date"],
        set_={"last_number": TicketCounter.last_number + 1},
    ).returning(TicketCounter.last_number)
    value: int = session.execute(stmt).scalar_one()
    return value
