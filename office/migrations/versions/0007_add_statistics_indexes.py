"""add statistics indexes

The dashboard's period queries read a period's tickets by (office, business date), only the ticket
events that enter or leave ``serving`` by (office, instant), and the ratings of those tickets; on
PostgreSQL the indexes carry the columns the queries read (index-only scans).

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
#: Everything the period queries read from a ticket (index-only scans on PostgreSQL).
TICKET_INCLUDE = [
    "id",
    "station_id",
    "service_id",
    "state",
    "ended_by",
    "issued_at",
    "first_called_at",
    "predicted_wait_s",
]


def upgrade() -> None:
    op.create_index(
        "ix_tickets_office_day",
        "tickets",
        ["office_id", "business_date"],
        postgresql_include=TICKET_INCLUDE,
    )
    op.create_index(
        "ix_ratings_ticket_stats",
        "ratings",
        ["ticket_id"],
        postgresql_include=["level", "is_default", "agent_id"],
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
    op.drop_index("ix_ratings_ticket_stats", table_name="ratings")
    op.drop_index("ix_tickets_office_day", table_name="tickets")
