"""Ticket and agent lifecycles as transition tables: (state, event) → state.

Pure: no database, no clock. The queue services look the transition up here *before* writing, and
then write it with a state-checked ``UPDATE … WHERE state = :expected`` so a concurrent change makes
the write miss instead of overwriting. An event that is not in the table raises
:class:`IllegalTransition` and nothing changes.

Ticket lifecycle::

    waiting ─offer→ offered ─ring→ ringing ─answer→ serving ─complete→ done
       ▲              │  │           │  │            │ │ └─hold→ on_hold ─resume→ serving
       │           decline│      timeout│            │ └─transfer→ transferred ─offer→ offered
       └──────────────┘  │  recalled ◄──┘ (≤ max)   left (resident | staff | system)
                         └─ no_show ◄── give_up / mark_no_show ─rejoin→ waiting

``waiting``, ``recalled`` and ``transferred`` are the queued states call-next picks from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from office.models.queue import AgentStatus, TicketState

__all__ = [
    "ACTIVE_STATES",
    "AGENT_TRANSITIONS",
    "QUEUED_STATES",
    "TERMINAL_STATES",
    "TICKET_EVENTS",
    "TICKET_TRANSITIONS",
    "IllegalTransition",
    "agent_next",
    "run",
    "ticket_next",
]

S = TicketState
A = AgentStatus


class IllegalTransition(ValueError):
    """An event that the lifecycle table does not allow in the current state (caller's fault)."""

    def __init__(self, kind: str, state: str, event: str) -> None:
        super().__init__(f"{kind} in state {state!r} does not accept {event!r}")
        self.kind = kind
        self.state = state
        self.event = event


#: Queued states: visible to call-next.
QUEUED_STATES: frozenset[TicketState] = frozenset({S.WAITING, S.RECALLED, S.TRANSFERRED})
#: With an agent (offered to, ringing, being served or parked by one).
WITH_AGENT_STATES: frozenset[TicketState] = frozenset({S.OFFERED, S.RINGING, S.SERVING, S.ON_HOLD})
#: Final states (``no_show`` may still ``rejoin`` within the window).
TERMINAL_STATES: frozenset[TicketState] = frozenset({S.DONE, S.NO_SHOW, S.LEFT})
#: Every state in which the ticket counts as the resident's active ticket.
ACTIVE_STATES: frozenset[TicketState] = QUEUED_STATES | WITH_AGENT_STATES


def _table() -> dict[tuple[TicketState, str], TicketState]:
    t: dict[tuple[TicketState, str], TicketState] = {}
    for q in QUEUED_STATES:
        t[(q, "offer")] = S.OFFERED
        t[(q, "leave")] = S.LEFT
    for ringing_like in (S.OFFERED, S.RINGING):
        t[(ringing_like, "answer")] = S.SERVING
        t[(ringing_like, "recall")] = S.RINGING  # the agent rings the kiosk again
        t[(ringing_like, "timeout")] = S.RECALLED  # back to the queue, top priority
        t[(ringing_like, "give_up")] = S.NO_SHOW  # timeout after the last recall
        t[(ringing_like, "mark_no_show")] = S.NO_SHOW
        t[(ringing_like, "decline")] = S.WAITING  # the agent hands it back, order kept
        t[(ringing_like, "leave")] = S.LEFT
        t[(ringing_like, "transfer")] = S.TRANSFERRED
    t[(S.OFFERED, "ring")] = S.RINGING
    t[(S.SERVING, "complete")] = S.DONE
    t[(S.SERVING, "hold")] = S.ON_HOLD
    t[(S.SERVING, "transfer")] = S.TRANSFERRED
    t[(S.SERVING, "leave")] = S.LEFT
    t[(S.ON_HOLD, "resume")] = S.SERVING
    t[(S.ON_HOLD, "transfer")] = S.TRANSFERRED
    t[(S.ON_HOLD, "leave")] = S.LEFT
    t[(S.NO_SHOW, "rejoin")] = S.WAITING
    return t


#: The ticket transition table.
TICKET_TRANSITIONS: Mapping[tuple[TicketState, str], TicketState] = _table()
#: Every ticket event name.
TICKET_EVENTS: frozenset[str] = frozenset(e for _, e in TICKET_TRANSITIONS)

#: The agent transition table. ``offer`` happens only from ``available``.
AGENT_TRANSITIONS: Mapping[tuple[AgentStatus, str], AgentStatus] = {
    **{(st, "go_offline"): A.OFFLINE for st in (A.OFFLINE, A.AVAILABLE, A.PAUSED, A.WRAP_UP)},
    **{(st, "go_available"): A.AVAILABLE for st in (A.OFFLINE, A.AVAILABLE, A.PAUSED, A.WRAP_UP)},
    **{(st, "pause"): A.PAUSED for st in (A.OFFLINE, A.AVAILABLE, A.PAUSED, A.WRAP_UP)},
    (A.AVAILABLE, "offer"): A.RINGING,
    (A.RINGING, "answer"): A.SERVING,
    (A.RINGING, "release"): A.AVAILABLE,  # timeout, decline, no-show, resident left
    (A.RINGING, "finish"): A.WRAP_UP,  # transferred before the answer
    (A.SERVING, "finish"): A.WRAP_UP,  # complete, transfer, hold, resident left
    **{(st, "wrap_up"): A.WRAP_UP for st in (A.AVAILABLE, A.PAUSED, A.WRAP_UP)},
    (A.AVAILABLE, "resume"): A.SERVING,  # take a held ticket back
    (A.WRAP_UP, "resume"): A.SERVING,
}


def ticket_next(state: str, event: str) -> TicketState:
    """The state after ``event`` in ``state``, or :class:`IllegalTransition`."""
    try:
        return TICKET_TRANSITIONS[(TicketState(state), event)]
    except (KeyError, ValueError):
        raise IllegalTransition("ticket", state, event) from None


def agent_next(state: str, event: str) -> AgentStatus:
    """The agent state after ``event`` in ``state``, or :class:`IllegalTransition`."""
    try:
        return AGENT_TRANSITIONS[(AgentStatus(state), event)]
    except (KeyError, ValueError):
        raise IllegalTransition("agent", state, event) from None


def run(events: Iterable[str], start: TicketState = S.WAITING) -> list[TicketState]:
    """Apply ``events`` from ``start``; the whole sequence of states (for tests and docs)."""
    states = [start]
    for event in events:
        states.append(ticket_next(states[-1], event))
    return states
