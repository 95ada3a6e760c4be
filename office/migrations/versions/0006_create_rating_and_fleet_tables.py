"""create rating and fleet tables

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import office.models.base

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kiosk_diag_requests",
        sa.Column("request_id", sa.String(length=40), nullable=False),
        sa.Column("kiosk_id", sa.Integer(), nullable=False),
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("requested_at", office.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("answered_at", office.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["kiosk_id"],
            ["kiosks.id"],
            name=op.f("fk_kiosk_diag_requests_kiosk_id_kiosks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["office_id"], ["offices.id"], name=op.f("fk_kiosk_diag_requests_office_id_offices")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_kiosk_diag_requests_requested_by_users")
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_kiosk_diag_requests")),
    )
    with op.batch_alter_table("kiosk_diag_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kiosk_diag_requests_kiosk_id"), ["kiosk_id"], unique=False)

    op.create_table(
        "kiosk_health",
        sa.Column("kiosk_id", sa.Integer(), nullable=False),
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("last_report_at", office.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("in_call", sa.Boolean(), nullable=False),
        sa.Column("devices", sa.JSON(), nullable=False),
        sa.Column("failing", sa.JSON(), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("device_failures", sa.Integer(), nullable=False),
        sa.Column("silent_alerts", sa.Integer(), nullable=False),
        sa.Column("silent_since", office.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_report_at", office.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["kiosk_id"], ["kiosks.id"], name=op.f("fk_kiosk_health_kiosk_id_kiosks"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["office_id"], ["offices.id"], name=op.f("fk_kiosk_health_office_id_offices")
        ),
        sa.PrimaryKeyConstraint("kiosk_id", name=op.f("pk_kiosk_health")),
    )
    with op.batch_alter_table("kiosk_health", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kiosk_health_office_id"), ["office_id"], unique=False)

    op.create_table(
        "kiosk_health_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kiosk_id", sa.Integer(), nullable=False),
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("at", office.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("device", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["kiosk_id"],
            ["kiosks.id"],
            name=op.f("fk_kiosk_health_events_kiosk_id_kiosks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["office_id"], ["offices.id"], name=op.f("fk_kiosk_health_events_office_id_offices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kiosk_health_events")),
    )
    with op.batch_alter_table("kiosk_health_events", schema=None) as batch_op:
        batch_op.create_index("ix_kiosk_health_events_kiosk_at", ["kiosk_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_kiosk_health_events_office_id"), ["office_id"], unique=False)

    op.create_table(
        "ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=True),
        sa.Column("kiosk_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=40), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("comment", sa.String(length=200), nullable=False),
        sa.Column("content_version", sa.String(length=32), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", office.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("level >= 1 AND level <= 5", name=op.f("ck_ratings_level_range")),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"], name=op.f("fk_ratings_agent_id_users")),
        sa.ForeignKeyConstraint(["kiosk_id"], ["kiosks.id"], name=op.f("fk_ratings_kiosk_id_kiosks")),
        sa.ForeignKeyConstraint(["office_id"], ["offices.id"], name=op.f("fk_ratings_office_id_offices")),
        sa.ForeignKeyConstraint(["service_id"], ["services.id"], name=op.f("fk_ratings_service_id_services")),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"], name=op.f("fk_ratings_station_id_stations")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_ratings_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ratings")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_ratings_ticket_id")),
    )
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ratings_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ratings_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_ratings_office_created", ["office_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_ratings_service_id"), ["service_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ratings_station_id"), ["station_id"], unique=False)

    op.create_table(
        "followups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("rating_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("classification", sa.String(length=16), nullable=False),
        sa.Column("appeal_outcome", sa.String(length=16), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("created_at", office.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("due_step", sa.String(length=16), nullable=False),
        sa.Column("contacted_at", office.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("classified_at", office.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("rectified_at", office.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("feedback_at", office.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revisited_at", office.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", office.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("overdue_alerted_at", office.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("recheck_level", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["assignee_id"], ["users.id"], name=op.f("fk_followups_assignee_id_users")),
        sa.ForeignKeyConstraint(["office_id"], ["offices.id"], name=op.f("fk_followups_office_id_offices")),
        sa.ForeignKeyConstraint(["rating_id"], ["ratings.id"], name=op.f("fk_followups_rating_id_ratings")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followups")),
        sa.UniqueConstraint("rating_id", name=op.f("uq_followups_rating_id")),
    )
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.create_index("ix_followups_office_state", ["office_id", "state"], unique=False)

    op.create_table(
        "followup_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("followup_id", sa.Integer(), nullable=False),
        sa.Column("at", office.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(length=24), nullable=False),
        sa.Column("from_state", sa.String(length=24), nullable=False),
        sa.Column("to_state", sa.String(length=24), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["followup_id"],
            ["followups.id"],
            name=op.f("fk_followup_events_followup_id_followups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followup_events")),
    )
    with op.batch_alter_table("followup_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_followup_events_followup_id"), ["followup_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("followup_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_followup_events_followup_id"))

    op.drop_table("followup_events")
    with op.batch_alter_table("followups", schema=None) as batch_op:
        batch_op.drop_index("ix_followups_office_state")

    op.drop_table("followups")
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ratings_station_id"))
        batch_op.drop_index(batch_op.f("ix_ratings_service_id"))
        batch_op.drop_index("ix_ratings_office_created")
        batch_op.drop_index(batch_op.f("ix_ratings_case_id"))
        batch_op.drop_index(batch_op.f("ix_ratings_agent_id"))

    op.drop_table("ratings")
    with op.batch_alter_table("kiosk_health_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kiosk_health_events_office_id"))
        batch_op.drop_index("ix_kiosk_health_events_kiosk_at")

    op.drop_table("kiosk_health_events")
    with op.batch_alter_table("kiosk_health", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kiosk_health_office_id"))

    op.drop_table("kiosk_health")
    with op.batch_alter_table("kiosk_diag_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kiosk_diag_requests_kiosk_id"))

    op.drop_table("kiosk_diag_requests")
