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

__all__ = ["OrderFields", "ahead_of_params", "sort_key", "sql_ahead_of_bound", "sql_order"]


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
    """A WHERE clause true for queued tickets called before a given one (the tuple order of
    :func:`sort_key`), over ``columns`` (``Ticket`` or its table's ``c``), with that ticket's fields
    as bound parameters, for statements built once (see :func:`ahead_of_params`)."""
    c = columns
    starving = c.queued_at <= bindparam("ahead_cutoff", type_=c.queued_at.type)
    priority = bindparam("ahead_priority", type_=c.priority.type)
    order_at = bindparam("ahead_order_at", type_=c.order_at.type)
    same_level = and_(c.priority == priority)
    rest = or_(
        c.priority < priority,
        and_(same_level, c.order_at < order_at),
        and_(same_level, c.order_at == order_at, c.id < bindparam("ahead_id", type_=c.id.type)),
    )
    if i_starve:
        return and_(starving, rest)
    return or_(starving, rest)
