"""The call lifecycle as a transition table: (state, event) → state. Pure: no database, no clock.

::

    created ─accept→ negotiating ─connected→ connected ─lost→ reconnecting
       │                 │                      ▲  │              │
       │                 │                      │  └──────────────┘ (recovered: connected)
       └─────────────────┴──────── end(reason) ─┴──────────────────→ ended

``end`` is legal from every live state; ``ended`` accepts nothing. The services look the step up here
*before* writing and then write it with a state-checked ``UPDATE``; an illegal event raises
:class:`IllegalCallTransition` and nothing changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from office.models.calls import CallStatus

__all__ = [
    "CALL_EVENTS",
    "CALL_TRANSITIONS",
    "LIVE_STATES",
    "REQUEUE_REASONS",
    "IllegalCallTransition",
    "call_next",
    "run",
]

C = CallStatus

#: States of a call that has not ended.
LIVE_STATES: frozenset[CallStatus] = frozenset({C.CREATED, C.NEGOTIATING, C.CONNECTED, C.RECONNECTING})

#: End reasons after which the ticket goes back to the front of the queue (not the resident's doing).
REQUEUE_REASONS: frozenset[str] = frozenset({"party_lost", "negotiation_failed", "media_failed"})


class IllegalCallTransition(ValueError):
    """An event the call lifecycle does not allow in the current state (caller's fault)."""

    def __init__(self, state: str, event: str) -> None:
        super().__init__(f"call in state {state!r} does not accept {event!r}")
        self.state = state
        self.event = event


def _table() -> dict[tuple[CallStatus, str], CallStatus]:
    t: dict[tuple[CallStatus, str], CallStatus] = {
        (C.CREATED, "accept"): C.NEGOTIATING,
        (C.NEGOTIATING, "connected"): C.CONNECTED,
        (C.RECONNECTING, "connected"): C.CONNECTED,
        (C.CONNECTED, "lost"): C.RECONNECTING,
    }
    for live in LIVE_STATES:
        t[(live, "end")] = C.ENDED
    return t


#: The call transition table.
CALL_TRANSITIONS: Mapping[tuple[CallStatus, str], CallStatus] = _table()
#: Every call event name.
CALL_EVENTS: frozenset[str] = frozenset(e for _, e in CALL_TRANSITIONS)


def call_next(state: str, event: str) -> CallStatus:
    """The state after ``event`` in ``state``, or :class:`IllegalCallTransition`."""
    try:
        return CALL_TRANSITIONS[(CallStatus(state), event)]
    except (KeyError, ValueError):
        raise IllegalCallTransition(state, event) from None


def run(events: Iterable[str], start: CallStatus = C.CREATED) -> list[CallStatus]:
    """Apply ``events`` from ``start``; the whole sequence of states (for tests and docs)."""
    states = [start]
    for event in events:
        states.append(call_next(states[-1], event))
    return states
