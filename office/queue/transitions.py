"""Writing one lifecycle step: table look-up, state-checked UPDATE, stamped event, agent side.

Every write is ``UPDATE tickets … WHERE id = :id AND state = :expected``; a concurrent change makes
it miss (rowcount 0) and the step fails with 409 instead of overwriting. The agent's state moves in
the same transaction with the same compare-and-swap.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from office.errors import ApiError
from office.models import AgentState, AgentStatus, Ticket, TicketEvent
from office.queue.lifecycle import AGENT_TRANSITIONS, IllegalTransition, ticket_next

__all__ = ["illegal", "move_agent", "step"]


def illegal(err: IllegalTransition) -> ApiError:
    """The 409 a client sees for an event the lifecycle does not allow."""
    return ApiError(409, "illegal_transition", f"{err.kind} is {err.state}; {err.event!r} is not allowed now")


def step(
    s: Session,
    ticket: Ticket,
    event: str,
    now: datetime,
    *,
    actor: str,
    reason: str = "",
    by_agent: int | None = None,
    **values: Any,
) -> str:
    """Apply ``event`` to ``ticket`` (state-checked) and stamp it; returns the new state.

    ``values`` are plain column values; the (detached) ``ticket`` object is updated to match.
    """
    try:
        new = ticket_next(ticket.state, event)
    except IllegalTransition as err:
        raise illegal(err) from None
    old, version = ticket.state, ticket.version
    result = s.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.state == old, Ticket.version == version)
        .values(state=new.value, version=version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ApiError(409, "ticket_changed", "the ticket was changed by someone else; reload it")
    # The row now equals the object plus these plain values: mirror them instead of re-reading.
    s.expunge(ticket)
    for name, value in {"state": new.value, "version": version + 1, **values}.items():
        setattr(ticket, name, value)
    s.add(
        TicketEvent(
            ticket_id=ticket.id,
            office_id=ticket.office_id,
            at=now,
            event=event,
            from_state=old,
            to_state=new.value,
            agent_id=by_agent if by_agent is not None else ticket.agent_id,
            actor=actor,
            reason=reason[:200],
        )
    )
    return new.value


def move_agent(
    s: Session,
    user_id: int,
    event: str,
    now: datetime,
    *,
    ticket_id: int | None = None,
    strict: bool = True,
    pause_reason: str = "",
) -> bool:
    """Move an agent's state by ``event`` (state-checked); False when not applicable and not strict.

    Every event has one destination, so the move is one ``UPDATE … WHERE state IN (sources)``.
    """
    sources, destination = _AGENT_MOVES[event]
    result = s.execute(
        update(AgentState)
        .where(AgentState.user_id == user_id, AgentState.state.in_(sources))
        .values(state=destination, since=now, current_ticket_id=ticket_id, pause_reason=pause_reason)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]
        row = s.identity_map.get(s.identity_key(AgentState, user_id))
        if row is not None:
            s.expire(row)
        return True
    if strict:
        state = s.scalar(select(AgentState.state).where(AgentState.user_id == user_id)) or AgentStatus.OFFLINE
        raise ApiError(409, "agent_not_available", f"agent is {state}; cannot {event}")
    return False


def _moves() -> dict[str, tuple[list[str], str]]:
    moves: dict[str, tuple[list[str], str]] = {}
    for (src, event), dst in AGENT_TRANSITIONS.items():
        sources, known = moves.get(event, ([], dst.value))
        assert known == dst.value, f"agent event {event} has two destinations"
        moves[event] = ([*sources, src.value], dst.value)
    return moves


_AGENT_MOVES = _moves()
