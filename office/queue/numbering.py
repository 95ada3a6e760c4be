"""Ticket numbers: queue prefix + three digits (``A001``), per office, queue and office-local day.

The number comes from a counter row per (office, queue, business date) incremented by an upsert
inside the issuing transaction (``INSERT … ON CONFLICT DO UPDATE … RETURNING``): PostgreSQL locks the
row, SQLite serializes writers, and the UNIQUE constraint on ``tickets`` backs both. A number is
never reused: a rolled-back issue also rolls back its increment, and nothing ever decrements.
"""

from __future__ import annotations

import typing
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, String, Table, bindparam, case, cast, func, insert, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from office.models import Ticket, TicketCounter, TicketEvent
from office.models.base import detached

__all__ = ["business_date", "format_number", "next_number", "numbered_insert"]


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


def numbered_insert(session: Session, values: dict[str, Any], event: dict[str, Any]) -> Ticket:
    """Number and insert a ticket (``values`` without number) and its ``issue`` event.

    PostgreSQL: one statement (counter upsert → ticket insert → event insert as data-modifying CTEs),
    so the counter row stays locked only until the commit that follows. SQLite (writers serialized
    anyway): the same writes as separate statements. Returns a detached ticket with its values.
    """
    office_id, prefix, day = values["office_id"], values["queue_prefix"], values["business_date"]
    if session.get_bind().dialect.name != "postgresql":
        number = next_number(session, office_id, prefix, day)
        ticket = Ticket(**values, number=number, display_number=format_number(prefix, number))
        session.add(ticket)
        session.flush()
        session.add(
            TicketEvent(
                ticket_id=ticket.id, office_id=office_id, from_state="", to_state=ticket.state, **event
            )
        )
        session.flush()
        return ticket
    stmt = _pg_numbered_insert(tuple(values), tuple(event))
    params = {**values, **{f"ev_{k}": v for k, v in event.items()}}
    row = session.execute(stmt, params).one()
    return detached(
        Ticket, {**values, "id": row.id, "number": row.number, "display_number": row.display_number}
    )


#: PostgreSQL numbered-insert statements, built once per shape (the column names of the ticket and of
#: its event) and executed with parameters: no per-request construction or cache-key generation.
_PG_STATEMENTS: dict[tuple[tuple[str, ...], tuple[str, ...]], Select[Any]] = {}


def _pg_numbered_insert(columns: tuple[str, ...], event_columns: tuple[str, ...]) -> Select[Any]:
    """Counter upsert → ticket insert → event insert as one statement of data-modifying CTEs.

    Parameters: the ticket's ``columns`` by name (``office_id``, ``queue_prefix`` and
    ``business_date`` also key the counter; ``state`` is the event's ``to_state``) and the event's
    ``event_columns`` as ``ev_<name>``.
    """
    key = (columns, event_columns)
    found = _PG_STATEMENTS.get(key)
    if found is not None:
        return found
    table = typing.cast(Table, Ticket.__table__)
    ev_table = typing.cast(Table, TicketEvent.__table__)
    params = {k: bindparam(k, type_=table.c[k].type) for k in columns}
    counter = (
        postgresql.insert(TicketCounter)
        .values(
            office_id=params["office_id"],
            queue_prefix=params["queue_prefix"],
            business_date=params["business_date"],
            last_number=1,
        )
        .on_conflict_do_update(
            index_elements=["office_id", "queue_prefix", "business_date"],
            set_={"last_number": TicketCounter.last_number + 1},
        )
        .returning(TicketCounter.last_number.label("n"))
        .cte("n")
    )
    text_n = cast(counter.c.n, String)
    display = params["queue_prefix"] + case((counter.c.n < 1000, func.lpad(text_n, 3, "0")), else_=text_n)
    source = select(*params.values(), counter.c.n, display).select_from(counter)
    inserted = (
        insert(table)
        .from_select([*columns, "number", "display_number"], source)
        .returning(table.c.id, table.c.number, table.c.display_number)
        .cte("t")
    )
    ev_params = {
        "office_id": params["office_id"],
        "from_state": literal("", ev_table.c.from_state.type),
        "to_state": params["state"],
        **{k: bindparam(f"ev_{k}", type_=ev_table.c[k].type) for k in event_columns},
    }
    ev_source = select(inserted.c.id, *ev_params.values()).select_from(inserted)
    logged = insert(ev_table).from_select(["ticket_id", *ev_params], ev_source).cte("e")
    stmt = select(inserted.c.id, inserted.c.number, inserted.c.display_number).add_cte(logged)
    if len(_PG_STATEMENTS) < 16:  # shapes are few (one per caller); the bound only caps memory
        _PG_STATEMENTS[key] = stmt
    return stmt
