"""Every other ticket step, as the call layer, agents, kiosks and staff drive them.

Each function is one transaction: load, check who may do it, :func:`office.queue.transitions.step`
(state-checked), move the agent, audit staff decisions, then publish. Who may act:

* the ticket's own agent (or a supervisor of its office) for ring / answer / recall / decline /
  no-show / complete / transfer / hold / resume;
* the resident's kiosk (its own station's tickets) or office staff for leave and rejoin.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from office import audit
from office.audit import Actor
from office.context import OfficeContext
from office.errors import ApiError
from office.models import AgentState, Priority, Service, Ticket, TicketState
from office.queue.config import load_config
from office.queue.issue import active_key
from office.queue.lifecycle import IllegalTransition
from office.queue.live import publish_change
from office.queue.transitions import illegal, move_agent, step
from office.queue.txn import writing

__all__ = [
    "Caller",
    "Placement",
    "agent_step",
    "hold",
    "leave",
    "recall",
    "rejoin",
    "resume",
    "set_staff_priority",
    "transfer",
]

S = TicketState


class Placement(StrEnum):
    """Where a transferred ticket goes in its new queue (Qmatic's three placements)."""

    FRONT = "front"  # ahead of every level, before everyone
    END = "end"  # behind everyone of its level (ordered from now)
    AGE = "age"  # by the ticket's age (its issue time)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks: a staff user (with role and office) or a kiosk (with its station)."""

    actor: Actor
    user_id: int | None = None
    supervisor: bool = False
    office_id: int | None = None  # None: an administrator (every office)
    station_id: int | None = None  # set for kiosks

    @property
    def tag(self) -> str:
        """The short actor tag stamped on ticket events."""
        return f"{self.actor.type}:{self.actor.id}"


def _load(s: Session, ticket_id: int, caller: Caller) -> Ticket:
    ticket = s.get(Ticket, ticket_id)
    if ticket is None:
        raise ApiError(404, "ticket_not_found", "no such ticket")
    if caller.station_id is not None:
        if ticket.station_id != caller.station_id:
            raise ApiError(404, "ticket_not_found", "no such ticket at this station")
    elif caller.office_id is not None and ticket.office_id != caller.office_id:
        raise ApiError(404, "ticket_not_found", "no such ticket in your office")
    return ticket


def _own(ticket: Ticket, caller: Caller) -> None:
    if caller.station_id is not None:
        raise ApiError(403, "forbidden", "kiosks cannot do this")
    if ticket.agent_id != caller.user_id and not caller.supervisor:
        raise ApiError(403, "not_your_ticket", "this ticket is with another agent")


def _ended(now: datetime, by: str, reason: str) -> dict[str, Any]:
    return {"ended_at": now, "ended_by": by, "end_reason": reason, "active_key": None, "ring_deadline": None}


_AGENT_STEPS = {"ring", "answer", "decline", "mark_no_show", "complete"}


def agent_step(ctx: OfficeContext, ticket_id: int, event: str, caller: Caller, reason: str = "") -> Ticket:
    """``ring``, ``answer``, ``decline``, ``mark_no_show`` or ``complete`` by the ticket's agent."""
    if event not in _AGENT_STEPS:
        raise ValueError(event)
    now = ctx.clock.now()
    with writing(ctx) as s:
        ticket = _load(s, ticket_id, caller)
        _own(ticket, caller)
        cfg = load_config(s, ticket.office_id)
        agent_id = ticket.agent_id
        values: dict[str, Any] = {}
        agent_event: str | None = None
        if event == "ring":
            values = {"ring_deadline": now + timedelta(seconds=cfg.ring_timeout_s)}
        elif event == "answer":
            values, agent_event = {"served_at": now, "ring_deadline": None}, "answer"
        elif event == "decline":
            values = {"agent_id": None, "window_no": None, "ring_deadline": None}
            agent_event = "release"
        elif event == "mark_no_show":
            values, agent_event = _ended(now, "staff", reason or "no_show"), "release"
        elif event == "complete":
            values, agent_event = _ended(now, "staff", "done"), "finish"
        step(s, ticket, event, now, actor=caller.tag, reason=reason, by_agent=agent_id, **values)
        if agent_event and agent_id is not None:
            move_agent(
                s,
                agent_id,
                agent_event,
                now,
                ticket_id=ticket.id if event == "answer" else None,
                strict=False,
            )
        if event == "mark_no_show":
            audit.record(s, caller.actor, "ticket.no_show", target_type="ticket", target_id=ticket.id)
    topic = {"ring": "queue.called", "answer": "queue.serving", "decline": "queue.declined"}.get(
        event, "queue.ended"
    )
    publish_change(ctx, ticket.office_id, topic, [ticket])
    return ticket


def recall(ctx: OfficeContext, ticket_id: int, caller: Caller) -> Ticket:
    """The agent rings the resident again (counts against the office's recall limit)."""
    now = ctx.clock.now()
    with writing(ctx) as s:
        ticket = _load(s, ticket_id, caller)
        _own(ticket, caller)
        cfg = load_config(s, ticket.office_id)
        if ticket.recall_count >= cfg.max_recalls:
            raise ApiError(409, "recall_limit", f"already recalled {cfg.max_recalls} times; mark it no-show")
        step(
            s,
            ticket,
            "recall",
            now,
            actor=caller.tag,
            recall_count=ticket.recall_count + 1,
            called_at=now,
            ring_deadline=now + timedelta(seconds=cfg.ring_timeout_s),
        )
    publish_change(ctx, ticket.office_id, "queue.called", [ticket])
    return ticket


def transfer(
    ctx: OfficeContext,
    ticket_id: int,
    caller: Caller,
    *,
    service_id: int | None,
    agent_id: int | None,
    placement: Placement,
    reason: str = "",
) -> Ticket:
    """Send the ticket to another service and/or a named agent, placed at the front, end or by age."""
    if service_id is None and agent_id is None:
        raise ApiError(422, "transfer_target_required", "name a service, an agent, or both")
    now = ctx.clock.now()
    with writing(ctx) as s:
        ticket = _load(s, ticket_id, caller)
        _own(ticket, caller)
        values: dict[str, Any] = {
            "agent_id": None,
            "window_no": None,
            "ring_deadline": None,
            "queued_at": now,
        }
        if service_id is not None and service_id != ticket.service_id:
            service = s.get(Service, service_id)
            if service is None or not service.active:
                raise ApiError(404, "service_not_found", "no such active service")
            values.update(service_id=service.id, service_version=service.version)
            if ticket.resident_hash:
                values["active_key"] = active_key(ticket.office_id, ticket.resident_hash, service.id)
        if agent_id is not None:
            target = s.get(AgentState, agent_id)
            if target is None or target.office_id != ticket.office_id:
                raise ApiError(404, "agent_not_found", "no such agent in this office")
            values["target_agent_id"] = agent_id
        if placement is Placement.FRONT:
            values.update(priority=Priority.RECALLED, order_at=ticket.issued_at)
        elif placement is Placement.END:
            values["order_at"] = now
        else:
            values["order_at"] = ticket.issued_at
        old_agent = ticket.agent_id
        step(
            s,
            ticket,
            "transfer",
            now,
            actor=caller.tag,
            reason=reason or placement.value,
            by_agent=old_agent,
            **values,
        )
        if old_agent is not None:
            move_agent(s, old_agent, "finish", now, strict=False)
        audit.record(
            s,
            caller.actor,
            "ticket.transferred",
            target_type="ticket",
            target_id=ticket.id,
            to_service_id=service_id,
            to_agent_id=agent_id,
            placement=placement.value,
        )
    publish_change(ctx, ticket.office_id, "queue.transferred", [ticket])
    return ticket


def hold(ctx: OfficeContext, ticket_id: int, caller: Caller, reason: str = "") -> Ticket:
    """Park the ticket being served; the agent goes to wrap-up and may take it back later."""
    now = ctx.clock.now()
    with writing(ctx) as s:
        ticket = _load(s, ticket_id, caller)
        _own(ticket, caller)
        step(s, ticket, "hold", now, actor=caller.tag, reason=reason)
        if ticket.agent_id is not None:
            move_agent(s, ticket.agent_id, "finish", now, strict=False)
    publish_change(ctx, ticket.office_id, "queue.held", [ticket])
    return ticket


def resume(ctx: OfficeContext, ticket_id: int, caller: Caller) -> Ticket:
    """Take a held ticket back into service (the holding agent, who must be free)."""
    now = ctx.clock.now()
    with writing(ctx) as s:
        ticket = _load(s, ticket_id, caller)
        _own(ticket, caller)
        if ticket.state != S.ON_HOLD or ticket.agent_id is None:
            raise illegal(IllegalTransition("ticket", ticket.state, "resume"))
        move_agent(s, ticket.agent_id, "resume", now, ticket_id=ticket.id)
        step(s, ticket, "resume", now, actor=caller.tag)
    publish_change(ctx, ticket.office_id, "queue.serving", [ticket])
    return ticket


def leave(ctx: OfficeContext, ticket_id: int, caller: Caller, reason: str = "") -> Ticket:
    """The resident leaves (from their kiosk) or staff end the ticket as left; who ended it is kept."""
    now = ctx.clock.now()
    by = "resident" if caller.station_id is not None else "staff"
    with writing(ctx) as s:
        ticket = _load(s, ticket_id, caller)
        agent_id, was = ticket.agent_id, ticket.state
        step(
            s,
            ticket,
            "leave",
            now,
            actor=caller.tag,
            reason=reason or f"left_{was}",
            **_ended(now, by, f"left_{was}"),
        )
        if agent_id is not None and was in (S.OFFERED, S.RINGING):
            move_agent(s, agent_id, "release", now, strict=False)
        elif agent_id is not None and was == S.SERVING:
            move_agent(s, agent_id, "finish", now, strict=False)
        if by == "staff":
            audit.record(s, caller.actor, "ticket.ended_as_left", target_type="ticket", target_id=ticket.id)
    publish_change(ctx, ticket.office_id, "queue.ended", [ticket])
    return ticket


def rejoin(ctx: OfficeContext, ticket_id: int, caller: Caller) -> Ticket:
    """A missed (no-show) resident rejoins at the end of the queue within the office's window."""
    now = ctx.clock.now()
    try:
        with writing(ctx) as s:
            ticket = _load(s, ticket_id, caller)
            cfg = load_config(s, ticket.office_id)
            if ticket.state == S.NO_SHOW and (
                ticket.ended_at is None or now - ticket.ended_at > timedelta(minutes=cfg.rejoin_window_min)
            ):
                raise ApiError(
                    409,
                    "rejoin_window_passed",
                    f"a missed ticket may rejoin within {cfg.rejoin_window_min} minutes",
                )
            key = (
                active_key(ticket.office_id, ticket.resident_hash, ticket.service_id)
                if ticket.resident_hash
                else None
            )
            step(
                s,
                ticket,
                "rejoin",
                now,
                actor=caller.tag,
                active_key=key,
                priority=Priority.NORMAL if ticket.priority == Priority.RECALLED else ticket.priority,
                order_at=now,
                queued_at=now,
                recall_count=0,
                agent_id=None,
                window_no=None,
                ended_at=None,
                ended_by="",
                end_reason="",
            )
    except IntegrityError:
        raise ApiError(
            409, "already_active", "the resident already has an active ticket for this service"
        ) from None
    publish_change(ctx, ticket.office_id, "queue.rejoined", [ticket])
    return ticket


def set_staff_priority(ctx: OfficeContext, ticket_id: int, caller: Caller, reason_code: str) -> Ticket:
    """Staff grant statutory priority (disability, pregnancy, …) to a queued ticket; audited."""
    with writing(ctx) as s:
        ticket = _load(s, ticket_id, caller)
        if ticket.state not in (S.WAITING, S.TRANSFERRED):
            raise ApiError(
                409, "illegal_transition", f"ticket is {ticket.state}; priority applies to waiting tickets"
            )
        if ticket.priority <= Priority.STATUTORY:
            return ticket
        result = s.execute(
            update(Ticket)
            .where(Ticket.id == ticket.id, Ticket.version == ticket.version)
            .values(
                priority=Priority.STATUTORY,
                priority_basis=f"staff:{reason_code}"[:40],
                version=Ticket.version + 1,
            )
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ApiError(409, "ticket_changed", "the ticket was changed by someone else; reload it")
        audit.record(
            s,
            caller.actor,
            "ticket.priority_set",
            target_type="ticket",
            target_id=ticket.id,
            basis=reason_code,
        )
        s.refresh(ticket)
    publish_change(ctx, ticket.office_id, "queue.updated", [ticket])
    return ticket
