"""Pure helpers: nearest-rank percentiles, means and rates (the reference the SQL must agree with).

The SQL in :mod:`office.stats.period` computes the same nearest-rank percentile with window
functions (``ROW_NUMBER`` over the ordered values, the row at rank ``ceil(q·n)``), so these helpers
are what tests and generated histories use to state the expected figures independently.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["mean", "nearest_rank", "rank_for", "rate"]


def rank_for(n: int, q_percent: int) -> int:
    """The 1-based nearest rank ``ceil(q·n)`` for ``n`` values and an integer percentile (1…100)."""
    if n <= 0:
        raise ValueError("no values")
    if not 0 < q_percent <= 100:
        raise ValueError("percentile must be 1…100")
    return (q_percent * n + 99) // 100


def nearest_rank(values: Iterable[float], q_percent: int = 90) -> float | None:
    """The nearest-rank ``q_percent`` percentile of ``values`` (None when there are none)."""
    ordered: Sequence[float] = sorted(values)
    if not ordered:
        return None
    return ordered[rank_for(len(ordered), q_percent) - 1]


def mean(values: Iterable[float]) -> float | None:
    """The arithmetic mean (None when there are no values)."""
    items = list(values)
    return sum(items) / len(items) if items else None


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` as a fraction (None when ``whole`` is 0)."""
    return part / whole if whole else None
