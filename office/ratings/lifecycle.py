"""The follow-up of a 差评 as a transition table (service-rules.md §2.4).

::

    open ──contact──▶ contacted ──classify(fix_now | ledger)──▶ rectifying ──rectify──▶ feedback_due
                          │     ──classify(explain)──────────────────────────────────▶ feedback_due
                          │     ──classify(appeal)──▶ under_review ──review(upheld)──▶ rectifying
                          │                                        ──review(excluded)─▶ feedback_due
    feedback_due ──feedback──▶ feedback_given ──revisit──▶ revisited ──close──▶ closed

Each step has a due date in working days (office/calendar.py) counted from the day the step began;
the step a state waits for is :data:`DUE_STEP`. Pure: no database, no clock.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "CLASSIFICATIONS",
    "DUE_STEP",
    "TRANSITIONS",
    "FollowUpState",
    "IllegalFollowUpStep",
    "allowed_events",
    "next_state",
]


class FollowUpState(StrEnum):
    """Where a follow-up stands."""

    OPEN = "open"
    CONTACTED = "contacted"
    RECTIFYING = "rectifying"
    UNDER_REVIEW = "under_review"
    FEEDBACK_DUE = "feedback_due"
    FEEDBACK_GIVEN = "feedback_given"
    REVISITED = "revisited"
    CLOSED = "closed"


#: How a contacted 差评 is classified: a) 立行立改, b) 建立台账限期整改, c) 解释说明, d) 申诉复核.
CLASSIFICATIONS = ("fix_now", "ledger", "explain", "appeal")

S = FollowUpState
#: (state, event) → next state. Events ``classify:<kind>`` and ``review:<outcome>`` carry their option.
TRANSITIONS: dict[tuple[FollowUpState, str], FollowUpState] = {
    (S.OPEN, "contact"): S.CONTACTED,
    (S.CONTACTED, "classify:fix_now"): S.RECTIFYING,
    (S.CONTACTED, "classify:ledger"): S.RECTIFYING,
    (S.CONTACTED, "classify:explain"): S.FEEDBACK_DUE,
    (S.CONTACTED, "classify:appeal"): S.UNDER_REVIEW,
    (S.UNDER_REVIEW, "review:upheld"): S.RECTIFYING,
    (S.UNDER_REVIEW, "review:excluded"): S.FEEDBACK_DUE,
    (S.RECTIFYING, "rectify"): S.FEEDBACK_DUE,
    (S.FEEDBACK_DUE, "feedback"): S.FEEDBACK_GIVEN,
    (S.FEEDBACK_GIVEN, "revisit"): S.REVISITED,
    (S.REVISITED, "close"): S.CLOSED,
}

#: The step each open state waits for (names the deadline setting ``followup_<step>_days``).
DUE_STEP: dict[FollowUpState, str] = {
    S.OPEN: "contact",
    S.CONTACTED: "classify",
    S.RECTIFYING: "rectify",
    S.UNDER_REVIEW: "review",
    S.FEEDBACK_DUE: "feedback",
    S.FEEDBACK_GIVEN: "revisit",
    S.REVISITED: "revisit",
}


class IllegalFollowUpStep(Exception):
    """``event`` is not allowed in ``state``; nothing changed."""

    def __init__(self, state: str, event: str) -> None:
        super().__init__(f"{event} not allowed in {state}")
        self.state = state
        self.event = event


def next_state(state: FollowUpState, event: str) -> FollowUpState:
    """The state after ``event``, or :class:`IllegalFollowUpStep`."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalFollowUpStep(state.value, event) from None


def allowed_events(state: FollowUpState) -> list[str]:
    """The events legal in ``state``, sorted."""
    return sorted(event for (s, event) in TRANSITIONS if s is state)
