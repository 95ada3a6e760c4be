"""create call tables

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 02:57:12.687004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import office.models.base

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("kiosk_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("active_key", sa.String(length=40), nullable=True),
        sa.Column("created_at", office.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("negotiating_at", office.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("connected_at", office.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", office.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("setup_ms", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("end_reason", sa.String(length=40), nullable=False),
        sa.Column("ended_by", sa.String(length=16), nullable=False),
        sa.Column("reconnects", sa.Integer(), nullable=False),
        sa.Column("agent_lost_at", office.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("kiosk_lost_at", office.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("quality", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"], name=op.f("fk_calls_agent_id_users")),
        sa.ForeignKeyConstraint(["kiosk_id"], ["kiosks.id"], name=op.f("fk_calls_kiosk_id_kiosks")),
        sa.ForeignKeyConstraint(["office_id"], ["offices.id"], name=op.f("fk_calls_office_id_offices")),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"], name=op.f("fk_calls_station_id_stations")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_calls_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("active_key", name=op.f("uq_calls_active_key")),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calls_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_kiosk_id"), ["kiosk_id"], unique=False)
        batch_op.create_index("ix_calls_office_created", ["office_id", "created_at"], unique=False)
        batch_op.create_index("ix_calls_state", ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "call_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=40), nullable=False),
        sa.Column("at", office.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(length=24), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=False),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_call_events_call_id_calls"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_events")),
    )
    with op.batch_alter_table("call_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_events_call_id"), ["call_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("call_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_events_call_id"))

    op.drop_table("call_events")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calls_ticket_id"))
        batch_op.drop_index("ix_calls_state")
        batch_op.drop_index("ix_calls_office_created")
        batch_op.drop_index(batch_op.f("ix_calls_kiosk_id"))
        batch_op.drop_index(batch_op.f("ix_calls_agent_id"))

    op.drop_table("calls")
