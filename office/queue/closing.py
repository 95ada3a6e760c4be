"""Closing past days: tickets still queued after the office's local midnight end as ``left``.

Numbers reset at local midnight; a ticket of an earlier business day that nobody called must not
wait into the next day (it would jump ahead of everyone as the longest waiting). It ends as ``left``
by ``system`` with reason ``day_closed``; a resident who still wants service takes a new number.
Tickets already with an agent are left alone (a call may run past midnight).
"""

from __future__ import annotations

from sqlalchemy import select

from office.context import OfficeContext
from office.errors import ApiError
from office.models import Office, Ticket
from office.queue.lifecycle import QUEUED_STATES
from office.queue.live import publish_change
from office.queue.numbering import business_date
from office.queue.transitions import step
from office.queue.txn import writing

__all__ = ["close_past_days"]


def close_past_days(ctx: OfficeContext) -> int:
    """End every queued ticket whose business date is before its office's current local date."""
    now = ctx.clock.now()
    with ctx.read_db() as s:
        rows = s.execute(
            select(Ticket.id, Ticket.business_date, Office.timezone)
            .join(Office, Office.id == Ticket.office_id)
            .where(Ticket.state.in_(QUEUED_STATES))
        ).all()
    stale = [r.id for r in rows if r.business_date < business_date(now, r.timezone)]
    closed: list[Ticket] = []
    for ticket_id in stale:
        with writing(ctx) as s:
            ticket = s.get(Ticket, ticket_id)
            if ticket is None or ticket.state not in QUEUED_STATES:
                continue
            try:
                step(
                    s,
                    ticket,
                    "leave",
                    now,
                    actor="system:day_closed",
                    reason="day_closed",
                    ended_at=now,
                    ended_by="system",
                    end_reason="day_closed",
                    active_key=None,
                    ring_deadline=None,
                )
            except ApiError:
                continue  # called meanwhile
            closed.append(ticket)
    for t in closed:
        publish_change(ctx, t.office_id, "queue.ended", [t])
    return len(closed)
