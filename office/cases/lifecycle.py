"""The case (办件) lifecycle as a transition table: (state, event) → state.

Pure: no database, no clock. :mod:`office.cases.service` looks the step up here *before* writing,
then writes it with a state-checked ``UPDATE … WHERE state = :expected AND version = :seen`` and a
stamped ``case_events`` row. An event not in the table raises :class:`IllegalCaseTransition`.

::

    (new) ─complete→ completed                      (办结 on the spot)
          ─accept→ in_progress ─complete→ completed (受理: due date starts)
          ─request_materials→ awaiting_materials ─accept→ in_progress
          ─reject→ rejected                         (reason required)
          ─forward→ forwarded                       (to another agent or office)
    in_progress / awaiting_materials ─escalate→ escalated (兜底: supervisors take it)
    escalated ─transfer→ in_progress                (a supervisor designates an agent)
    open states ─transfer→ same state               (指定: designated transfer to a named agent)
    open states ─attach→ same state                 (documents added)
    open states ─overdue→ same state                (the due date passed; alert sent once)

``completed``, ``rejected`` and ``forwarded`` are final.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from office.models.cases import CaseOutcome, CaseState

__all__ = [
    "CASE_EVENTS",
    "CASE_TRANSITIONS",
    "DUE_STATES",
    "FINAL_STATES",
    "NEW",
    "OPEN_STATES",
    "OUTCOME_EVENTS",
    "IllegalCaseTransition",
    "case_next",
    "run",
]

S = CaseState
#: The pseudo-state of a case not yet recorded.
NEW = ""

#: States in which a case is still being worked on.
OPEN_STATES: frozenset[CaseState] = frozenset({S.IN_PROGRESS, S.AWAITING_MATERIALS, S.ESCALATED})
#: Final states.
FINAL_STATES: frozenset[CaseState] = frozenset({S.COMPLETED, S.REJECTED, S.FORWARDED})
#: States in which the legal time limit runs (so a case can be overdue).
DUE_STATES: frozenset[CaseState] = frozenset({S.IN_PROGRESS, S.ESCALATED})

#: The event that records a case with each outcome.
OUTCOME_EVENTS: Mapping[CaseOutcome, str] = {
    CaseOutcome.COMPLETED: "complete",
    CaseOutcome.ACCEPTED: "accept",
    CaseOutcome.NEEDS_MATERIALS: "request_materials",
    CaseOutcome.REJECTED: "reject",
    CaseOutcome.FORWARDED: "forward",
}


class IllegalCaseTransition(ValueError):
    """An event the case lifecycle does not allow in the current state (caller's fault)."""

    def __init__(self, state: str, event: str) -> None:
        super().__init__(f"case in state {state!r} does not accept {event!r}")
        self.state = state
        self.event = event


def _table() -> dict[tuple[str, str], CaseState]:
    t: dict[tuple[str, str], CaseState] = {
        (NEW, "complete"): S.COMPLETED,
        (NEW, "accept"): S.IN_PROGRESS,
        (NEW, "request_materials"): S.AWAITING_MATERIALS,
        (NEW, "reject"): S.REJECTED,
        (NEW, "forward"): S.FORWARDED,
        (S.AWAITING_MATERIALS, "accept"): S.IN_PROGRESS,
        (S.ESCALATED, "transfer"): S.IN_PROGRESS,
    }
    for st in OPEN_STATES:
        t[(st, "complete")] = S.COMPLETED
        t[(st, "reject")] = S.REJECTED
        t[(st, "attach")] = st
        t.setdefault((st, "transfer"), st)
        if st is not S.ESCALATED:
            t[(st, "escalate")] = S.ESCALATED
    for st in DUE_STATES:
        t[(st, "overdue")] = st
    return t


#: The case transition table.
CASE_TRANSITIONS: Mapping[tuple[str, str], CaseState] = _table()
#: Every case event name.
CASE_EVENTS: frozenset[str] = frozenset(e for _, e in CASE_TRANSITIONS)


def case_next(state: str, event: str) -> CaseState:
    """The state after ``event`` in ``state`` (``""`` for a new case), or :class:`IllegalCaseTransition`."""
    found = CASE_TRANSITIONS.get((state, event))
    if found is None:
        raise IllegalCaseTransition(state, event)
    return found


def run(events: Iterable[str], start: str = NEW) -> list[str]:
    """Apply ``events`` from ``start``; the whole sequence of states (for tests and docs)."""
    states = [start]
    for event in events:
        states.append(case_next(states[-1], event).value)
    return states
