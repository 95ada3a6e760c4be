"""好差评: ratings from kiosks, default ratings, the follow-up of bad ratings, and their KPIs."""

from office.ratings.content import CONTENT_VERSION, LEVELS, REASONS
from office.ratings.lifecycle import FollowUpState, IllegalFollowUpStep
from office.ratings.service import (
    FollowUpActor,
    Kpis,
    RatingInput,
    apply_default_ratings,
    create_rating,
    evaluator_identity,
    followup_step,
    kpis,
    process_overdue_followups,
)

__all__ = [
    "CONTENT_VERSION",
    "LEVELS",
    "REASONS",
    "FollowUpActor",
    "FollowUpState",
    "IllegalFollowUpStep",
    "Kpis",
    "RatingInput",
    "apply_default_ratings",
    "create_rating",
    "evaluator_identity",
    "followup_step",
    "kpis",
    "process_overdue_followups",
]
