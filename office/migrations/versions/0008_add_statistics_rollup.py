"""add the statistics rollup and per-service target waits

Per office-local day: counters for the office, per station, per service and per agent, and exact
value histograms
(wait, handling, estimate error in milliseconds; first-serve quarter-hours), written once a day is
finished by the ``stats.rollup`` job (office/stats/rollup.py). Services get their own target wait.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import office.models.base

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _counts(*names: str) -> list[sa.Column[int]]:
    return [sa.Column(n, sa.Integer(), nullable=False) for n in names]


def _sums(*names: str) -> list[sa.Column[int]]:
    return [sa.Column(n, sa.BigInteger(), nullable=False) for n in names]


def upgrade() -> None:
    op.add_column("services", sa.Column("target_wait_min", sa.Integer(), nullable=False, server_default="15"))
    # Sensible targets: a booked resident has a time slot and should hardly wait; quick services
    # (expected ≤ 5 minutes) have a shorter target than the office-wide 15 minutes.
    op.execute("UPDATE services SET target_wait_min = 10 WHERE needs_appointment OR expected_minutes <= 5")
    op.create_table(
        "stats_rollups",
        sa.Column("office_id", sa.Integer(), sa.ForeignKey("offices.id"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("rolled_at", office.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tickets", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("office_id", "day"),
    )
    op.create_table(
        "stats_rollup_marks",
        sa.Column("office_id", sa.Integer(), sa.ForeignKey("offices.id"), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("rating_at", office.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("office_id"),
    )
    op.create_table(
        "stats_days",
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        *_counts(
            "issued",
            "served",
            "completed",
            "no_show",
            "abandoned",
            "unserved_at_close",
            "ended",
            "within_target",
        ),
        *_sums("wait_sum_ms"),
        *_counts("handling_n"),
        *_sums("handling_sum_ms"),
        *_counts("ratings", "rating_defaults", "rating_good", "rating_bad", "rating_level_sum", "est_n"),
        *_sums("est_err_sum_ms", "est_wait_sum_ms"),
        *_counts(*(f"wait_bin_{i}" for i in range(8))),
        sa.PrimaryKeyConstraint("office_id", "service_id", "station_id", "day"),
    )
    op.create_index("ix_stats_days_office_day", "stats_days", ["office_id", "day"])
    op.create_table(
        "stats_day_values",
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("office_id", "kind", "service_id", "station_id", "value", "day"),
    )
    op.create_index("ix_stats_day_values_office_kind_day", "stats_day_values", ["office_id", "kind", "day"])
    op.create_table(
        "stats_agent_days",
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        *_counts("touched", "served", "completed"),
        *_sums("handling_sum_ms"),
        *_counts("ratings", "rating_defaults", "rating_good", "rating_bad", "rating_level_sum"),
        sa.PrimaryKeyConstraint("office_id", "agent_id", "day"),
    )
    op.create_table(
        "stats_agent_day_values",
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("office_id", "agent_id", "value", "day"),
    )
    op.create_index("ix_stats_agent_day_values_office_day", "stats_agent_day_values", ["office_id", "day"])


def downgrade() -> None:
    for table in ("stats_agent_day_values", "stats_agent_days", "stats_day_values", "stats_days"):
        op.drop_table(table)
    op.drop_table("stats_rollup_marks")
    op.drop_table("stats_rollups")
    with op.batch_alter_table("services") as batch:
        batch.drop_column("target_wait_min")
