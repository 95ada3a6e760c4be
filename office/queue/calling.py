"""Call next, call a specific ticket, and the ring-timeout sweep.

Call-next is one transaction that two agents can never both win:

* the agent's own row must be ``available`` and moves to ``ringing`` by compare-and-swap (one
  agent pressing twice gets one ticket);
* the candidate is the first queued ticket in :mod:`office.queue.ordering` order among the services
  the agent may take, read ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (agents never wait for each
  other's rows), under SQLite's serialized writers otherwise;
* it is claimed with ``UPDATE … WHERE id = :id AND state = :seen AND version = :v``.

The claim is written as fixed SQL in :mod:`office.queue.claim` (one statement on PostgreSQL; the
HTTP route claims presses that arrive together in one batch, :func:`call_next_async`);
:func:`eligible_services_clause` and :func:`office.queue.ordering.sql_order` are the same rules as
SQLAlchemy expressions, used by the tests as the reference the claim is checked against.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from office import audit
from office.audit import Actor
from office.batching import Combiner, combiner_for
from office.context import OfficeContext
from office.errors import ApiError
from office.models import AgentSkill, AgentState, AgentStatus, Priority, Service, Ticket, TicketState
from office.queue.claim import Claimed, Press, claim_many, claim_next
from office.queue.closing import close_past_days
from office.queue.config import QueueConfig, load_config
from office.queue.live import publish_change
from office.queue.status import service_names
from office.queue.transitions import move_agent, step
from office.queue.txn import writing

__all__ = [
    "call_next",
    "call_next_async",
    "call_next_many",
    "call_ticket",
    "eligible_services_clause",
    "process_timeouts",
]


def eligible_services_clause(agent_id: int) -> ColumnElement[bool]:
    """Tickets the agent may take: every service for a generalist (no skills, 全科); otherwise the
    services needing one of their skills or none (the claim's SQL spells the same test)."""
    mine = select(AgentSkill.skill).where(AgentSkill.user_id == agent_id)
    return or_(
        ~exists(mine),
        Ticket.service_id.in_(select(Service.id).where(or_(Service.skill == "", Service.skill.in_(mine)))),
    )


def _agent_row(s: Session, agent_id: int) -> AgentState:
    q = select(AgentState).where(AgentState.user_id == agent_id)
    if s.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    row = s.scalar(q)
    if row is None or row.state != AgentStatus.AVAILABLE:
        state = row.state if row is not None else AgentStatus.OFFLINE.value
        raise ApiError(409, "agent_not_available", f"agent is {state}; set your state to available first")
    return row


def _offer(
    s: Session,
    ticket: Ticket,
    agent: AgentState,
    cfg: QueueConfig,
    now: datetime,
    actor: str,
    reason: str = "",
) -> None:
    values = _offer_values(ticket, agent, cfg, now)
    step(s, ticket, "offer", now, actor=actor, reason=reason, by_agent=agent.user_id, **values)
    move_agent(s, agent.user_id, "offer", now, ticket_id=ticket.id)


def _offer_values(ticket: Ticket, agent: AgentState, cfg: QueueConfig, now: datetime) -> dict[str, Any]:
    return {
        "agent_id": agent.user_id,
        "target_agent_id": None,
        "window_no": agent.window_no,
        "called_at": now,
        "first_called_at": ticket.first_called_at or now,
        "ring_deadline": now + timedelta(seconds=cfg.ring_timeout_s),
    }


def call_next(ctx: OfficeContext, agent_id: int, office_id: int) -> Ticket | None:
    """Offer the next eligible queued ticket to the agent; None when nothing is waiting for them.

    The claim itself is :func:`office.queue.claim.claim_next` (one statement on PostgreSQL).
    """
    ticket = claim_next(ctx, agent_id, office_id, ctx.clock.now()).ticket
    if ticket is not None:
        publish_change(ctx, office_id, "queue.called", [ticket])
    return ticket


def call_next_many(ctx: OfficeContext, presses: Sequence[Press]) -> list[Ticket | ApiError | None]:
    """:func:`call_next` for several presses at once (see :func:`office.queue.claim.claim_many`):
    per press its ticket, None, or the refusal it would have raised alone. The events go out after
    commit, with one counts update per office for the whole batch."""
    now = ctx.clock.now()
    outcomes = claim_many(ctx, presses, now)
    by_office: dict[int, list[Ticket]] = {}
    for outcome in outcomes:
        if isinstance(outcome, Claimed) and outcome.ticket is not None:
            by_office.setdefault(outcome.ticket.office_id, []).append(outcome.ticket)
            # Looked up here, off the event loop, so that the response is built without I/O.
            service_names(ctx, outcome.ticket.service_id, outcome.ticket.service_version)
    for office_id, tickets in by_office.items():
        publish_change(ctx, office_id, "queue.called", tickets)
    return [o.ticket if isinstance(o, Claimed) else o for o in outcomes]


async def call_next_async(ctx: OfficeContext, agent_id: int, office_id: int) -> Ticket | None:
    """:func:`call_next` for a request handler on the event loop: presses arriving together are
    claimed in one batch (:mod:`office.batching`); a refusal is raised as alone."""
    combiner = combiner_for(ctx, lambda: Combiner(partial(call_next_many, ctx)), name="call_next")
    return await combiner.submit(Press(agent_id, office_id))


def call_ticket(ctx: OfficeContext, agent_id: int, ticket_id: int, reason: str, actor: Actor) -> Ticket:
    """Offer one named queued ticket out of order; the reason is stamped and audited."""
    if not reason.strip():
        raise ApiError(422, "reason_required", "calling a ticket out of order needs a reason")
    now = ctx.clock.now()
    with writing(ctx) as s:
        agent = _agent_row(s, agent_id)
        ticket = s.get(Ticket, ticket_id)
        if ticket is None or ticket.office_id != agent.office_id:
            raise ApiError(404, "ticket_not_found", "no such ticket in your office")
        if ticket.target_agent_id not in (None, agent_id):
            raise ApiError(409, "ticket_reserved", "this ticket was transferred to another agent")
        cfg = load_config(s, ticket.office_id)
        _offer(s, ticket, agent, cfg, now, actor=f"user:{agent_id}", reason=reason)
        audit.record(
            s,
            actor,
            "ticket.called_out_of_order",
            target_type="ticket",
            target_id=ticket.id,
            reason=reason[:200],
        )
    publish_change(ctx, ticket.office_id, "queue.called", [ticket])
    return ticket


def process_timeouts(ctx: OfficeContext) -> int:
    """Handle every offered/ringing ticket past its deadline; returns how many were handled.

    A ringing ticket the kiosk did not answer goes back to the queue as ``recalled`` (top priority)
    below the office's recall limit, and becomes ``no_show`` at it. An offered ticket the agent never
    rang goes back to ``waiting`` in its place (the agent's miss, not the resident's). Either way
    the agent becomes available again. Queued tickets of a business day that has ended are closed
    first (:func:`office.queue.closing.close_past_days`). The office runs this periodically.
    """
    closed = close_past_days(ctx)
    now = ctx.clock.now()
    with ctx.read_db() as s:
        due = list(
            s.execute(
                select(Ticket.id).where(
                    Ticket.state.in_((TicketState.OFFERED, TicketState.RINGING)), Ticket.ring_deadline <= now
                )
            ).scalars()
        )
    handled: list[Ticket] = []
    for ticket_id in due:
        with writing(ctx) as s:
            ticket = s.get(Ticket, ticket_id)
            if ticket is None or ticket.ring_deadline is None or ticket.ring_deadline > now:
                continue
            if ticket.state not in (TicketState.OFFERED, TicketState.RINGING):
                continue
            cfg = load_config(s, ticket.office_id)
            agent_id = ticket.agent_id
            common: dict[str, Any] = {"agent_id": None, "ring_deadline": None, "window_no": None}
            try:
                if ticket.state == TicketState.OFFERED:
                    # The agent never rang the kiosk: not the resident's miss. Back in place, no recall.
                    step(s, ticket, "decline", now, actor="system:agent_timeout", by_agent=agent_id, **common)
                elif ticket.recall_count < cfg.max_recalls:
                    step(
                        s,
                        ticket,
                        "timeout",
                        now,
                        actor="system:ring_timeout",
                        by_agent=agent_id,
                        priority=Priority.RECALLED,
                        recall_count=ticket.recall_count + 1,
                        queued_at=now,
                        **common,
                    )
                else:
                    step(
                        s,
                        ticket,
                        "give_up",
                        now,
                        actor="system:ring_timeout",
                        by_agent=agent_id,
                        ended_at=now,
                        ended_by="system",
                        end_reason="ring_timeout",
                        active_key=None,
                        **common,
                    )
            except ApiError:
                continue  # changed concurrently (answered just now): nothing to do
            if agent_id is not None:
                move_agent(s, agent_id, "release", now, strict=False)
            handled.append(ticket)
    for t in handled:
        topic = {TicketState.NO_SHOW: "queue.ended", TicketState.WAITING: "queue.declined"}.get(
            TicketState(t.state), "queue.recalled"
        )
        publish_change(ctx, t.office_id, topic, [t])
    return closed + len(handled)
