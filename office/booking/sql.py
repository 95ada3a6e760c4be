"""Small SQL helpers shared by the booking modules."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Executable
from sqlalchemy.orm import Session

__all__ = ["changed"]


def changed(s: Session, stmt: Executable) -> int:
    """Execute a state-checked UPDATE/DELETE and return how many rows it changed."""
    result = cast("CursorResult[Any]", s.execute(stmt))
    return int(result.rowcount)
