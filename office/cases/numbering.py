"""Case numbers: ``JD-<office-local date>-<sequence>`` (``JD-20261122-0007``), per office per day.

The sequence comes from a counter row per (office, office-local day) incremented by an upsert inside
the creating transaction (``INSERT … ON CONFLICT DO UPDATE … RETURNING``): PostgreSQL locks the row
until the commit, SQLite serializes writers, and UNIQUE(office, number) on ``cases`` backs both. A
rolled-back creation also rolls back its increment, so numbers have no gaps from failures.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from office.models import CaseCounter

__all__ = ["CASE_PREFIX", "format_case_number", "next_case_seq"]

#: The fixed prefix of case numbers (街道办件).
CASE_PREFIX = "JD"


def format_case_number(day: date, seq: int) -> str:
    """``(2026-11-22, 7)`` → ``"JD-20261122-0007"``; past 9999 the sequence grows a digit."""
    return f"{CASE_PREFIX}-{day:%Y%m%d}-{seq:04d}"


def next_case_seq(session: Session, office_id: int, day: date) -> int:
    """Increment and return the office's case counter for ``day`` in the caller's transaction."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(CaseCounter)
        .values(office_id=office_id, business_date=day, last_number=1)
        .on_conflict_do_update(
            index_elements=["office_id", "business_date"],
            set_={"last_number": CaseCounter.last_number + 1},
        )
        .returning(CaseCounter.last_number)
    )
    value: int = session.execute(stmt).scalar_one()
    return value
