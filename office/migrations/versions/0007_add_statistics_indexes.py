"""add statistics indexes

The dashboard's period queries read a period's tickets by (office, business date) and only the
ticket events that enter or leave ``serving`` by (office, instant); on PostgreSQL both indexes carry
the columns the queries read (index-only scans).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SERVING = "to_state = 'serving' OR from_state = 'serving'"


def upgrade() -> None:
    op.create_index(
        "ix_tickets_office_day",
        "tickets",
        ["office_id", "business_date"],
        postgresql_include=["station_id", "service_id", "state", "ended_by", "issued_at"],
    )
    op.create_index(
        "ix_ticket_events_serving",
        "ticket_events",
        ["office_id", "at"],
        postgresql_include=["ticket_id", "agent_id", "event", "from_state", "to_state"],
        postgresql_where=sa.text(SERVING),
        sqlite_where=sa.text(SERVING),
    )


def downgrade() -> None:
    op.drop_index("ix_ticket_events_serving", table_name="ticket_events")
    op.drop_index("ix_tickets_office_day", table_name="tickets")
