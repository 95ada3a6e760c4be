"""Portable SQL pieces for the statistics: instants as epoch seconds, buckets, nearest-rank ranks.

SQLite stores UTC instants as text and has no time-zone support; PostgreSQL has ``timestamptz``.
Everything here produces the same numbers on both engines.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Integer, cast, func
from sqlalchemy.sql.elements import ColumnElement

__all__ = ["bucket", "epoch"]

#: julianday() of 1970-01-01T00:00:00Z.
_UNIX_JD = 2440587.5


def epoch(dialect: str, column: Any) -> ColumnElement[float]:
    """Seconds since 1970-01-01 UTC of a stored instant (float)."""
    if dialect == "postgresql":
        return cast(func.extract("epoch", column), Float)
    return (func.julianday(column) - _UNIX_JD) * 86400.0


def bucket(dialect: str, seconds: Any, size_s: int) -> ColumnElement[int]:
    """``floor(seconds / size_s)`` for non-negative ``seconds`` (integer)."""
    if dialect == "postgresql":
        return cast(func.floor(seconds / size_s), Integer)
    return cast(seconds / size_s, Integer)  # SQLite truncates toward zero: floor for x ≥ 0
