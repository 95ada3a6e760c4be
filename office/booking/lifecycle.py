"""The appointment lifecycle as a transition table.

``held → booked → checked_in``; a hold may instead ``expire`` or be ``released``; a booking may be
``cancelled``, marked ``no_show`` (not checked in within the window), or ``rescheduled`` (stays
booked). A late arrival after the window is recorded as a no-show and gets a walk-in ticket.
Every write in the booking package is a compare-and-swap ``UPDATE … WHERE state = :expected``
on the state this table names; :func:`next_state` raises on an illegal event and changes nothing.
"""

from __future__ import annotations

from office.models import AppointmentState as S

__all__ = ["TRANSITIONS", "IllegalTransition", "next_state"]

TRANSITIONS: dict[tuple[S, str], S] = {
    (S.HELD, "confirm"): S.BOOKED,
    (S.HELD, "expire"): S.EXPIRED,
    (S.HELD, "release"): S.RELEASED,
    (S.HELD, "close"): S.CANCELLED,
    (S.BOOKED, "reschedule"): S.BOOKED,
    (S.BOOKED, "cancel"): S.CANCELLED,
    (S.BOOKED, "close"): S.CANCELLED,
    (S.BOOKED, "check_in"): S.CHECKED_IN,
    (S.BOOKED, "late_arrival"): S.NO_SHOW,
    (S.BOOKED, "miss"): S.NO_SHOW,
    (S.NO_SHOW, "late_arrival"): S.NO_SHOW,
}


class IllegalTransition(ValueError):
    """An event that the current state does not accept."""

    def __init__(self, state: str, event: str) -> None:
        super().__init__(f"appointment in state {state!r} does not accept {event!r}")
        self.state = state
        self.event = event


def next_state(state: str, event: str) -> S:
    """The state after ``event`` in ``state``; raises :class:`IllegalTransition`."""
    try:
        return TRANSITIONS[(S(state), event)]
    except (KeyError, ValueError):
        raise IllegalTransition(state, event) from None
