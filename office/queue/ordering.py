"""Who is called first: one ordering, expressed both in SQL (call-next) and in Python (positions).

1. Tickets that have waited past the office's bound (``queued_at <= now - bound``) come first, so
   no ticket waits beyond the bound because others keep overtaking it.
2. Then by priority level: recalled > checked-in appointment > statutory priority > normal.
3. First come first served within a level (``order_at``, then id).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, bindparam, case, or_
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from office.models import Ticket

__all__ = ["OrderFields", "ahead_of_params", "sort_key", "sql_ahead_of", "sql_ahead_of_bound", "sql_order"]


class OrderFields(Protocol):
    """What the ordering reads from a ticket (an ORM object or a result row)."""

    @property
    def id(self) -> int: ...
    @property
    def priority(self) -> int: ...
    @property
    def order_at(self) -> datetime: ...
    @property
    def queued_at(self) -> datetime: ...


def _cutoff(now: datetime, bound_min: int) -> datetime:
    return now - timedelta(minutes=bound_min)


def sql_order(now: datetime, bound_min: int) -> list[ColumnElement[Any] | InstrumentedAttribute[Any]]:
    """ORDER BY expressions for queued tickets."""
    cutoff = _cutoff(now, bound_min)
    starving = case((Ticket.queued_at <= cutoff, 0), else_=1)
    return [starving, Ticket.priority, Ticket.order_at, Ticket.id]


def sort_key(t: OrderFields, now: datetime, bound_min: int) -> tuple[int, int, datetime, int]:
    """The same order as :func:`sql_order`, for tickets already loaded."""
    starving = 0 if t.queued_at <= _cutoff(now, bound_min) else 1
    return (starving, t.priority, t.order_at, t.id)


def sql_ahead_of(t: OrderFields, now: datetime, bound_min: int) -> ColumnElement[bool]:
    """A WHERE clause true for queued tickets called before ``t`` (the tuple order of :func:`sort_key`)."""
    cutoff = _cutoff(now, bound_min)
    return _ahead_clause(Ticket, t.queued_at <= cutoff, cutoff, t.priority, t.order_at, t.id)


def ahead_of_params(t: OrderFields, now: datetime, bound_min: int) -> tuple[bool, dict[str, Any]]:
    """For a statement built with :func:`sql_ahead_of_bound`: which variant (does ``t`` starve?) and
    its parameters (``ahead_cutoff``, ``ahead_priority``, ``ahead_order_at``, ``ahead_id``)."""
    cutoff = _cutoff(now, bound_min)
    params = {
        "ahead_cutoff": cutoff,
        "ahead_priority": t.priority,
        "ahead_order_at": t.order_at,
        "ahead_id": t.id,
    }
    return t.queued_at <= cutoff, params


def sql_ahead_of_bound(columns: Any, i_starve: bool) -> ColumnElement[bool]:
    """:func:`sql_ahead_of` over ``columns`` (``Ticket`` or its table's ``c``) with bound parameters
    instead of values, for statements built once (see :func:`ahead_of_params`)."""
    return _ahead_clause(
        columns,
        i_starve,
        bindparam("ahead_cutoff", type_=columns.queued_at.type),
        bindparam("ahead_priority", type_=columns.priority.type),
        bindparam("ahead_order_at", type_=columns.order_at.type),
        bindparam("ahead_id", type_=columns.id.type),
    )


def _ahead_clause(
    c: Any, i_starve: bool, cutoff: Any, priority: Any, order_at: Any, ticket_id: Any
) -> ColumnElement[bool]:
    starving = c.queued_at <= cutoff
    same_level = and_(c.priority == priority)
    rest = or_(
        c.priority < priority,
        and_(same_level, c.order_at < order_at),
        and_(same_level, c.order_at == order_at, c.id < ticket_id),
    )
    if i_starve:
        return and_(starving, rest)
    return or_(starving, rest)
