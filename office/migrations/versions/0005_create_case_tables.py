"""create case tables

Cases (办件) with their per-office daily counters, stamped history and material ticks; identities
read at the kiosk during a call; verification results; captured documents (encrypted at rest).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import office.models.base

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_counters",
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["office_id"], ["offices.id"], name=op.f("fk_case_counters_office_id_offices")
        ),
        sa.PrimaryKeyConstraint("office_id", "business_date", name=op.f("pk_case_counters")),
    )
    op.create_table(
        "call_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=40), nullable=False),
        sa.Column("call_id", sa.String(length=40), nullable=False),
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("kiosk_id", sa.Integer(), nullable=False),
        sa.Column("resident_hash", sa.String(length=64), nullable=False),
        sa.Column("identity_enc", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", office.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_call_identities_call_id_calls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["kiosk_id"], ["kiosks.id"], name=op.f("fk_call_identities_kiosk_id_kiosks")),
        sa.ForeignKeyConstraint(
            ["office_id"], ["offices.id"], name=op.f("fk_call_identities_office_id_offices")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_call_identities_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_identities")),
        sa.UniqueConstraint("ref", name=op.f("uq_call_identities_ref")),
    )
    with op.batch_alter_table("call_identities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_identities_call_id"), ["call_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_call_identities_resident_hash"), ["resident_hash"], unique=False)

    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("call_id", sa.String(length=40), nullable=True),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("service_version", sa.Integer(), nullable=False),
        sa.Column("resident_hash", sa.String(length=64), nullable=True),
        sa.Column("resident_enc", sa.LargeBinary(), nullable=True),
        sa.Column("owner_agent_id", sa.Integer(), nullable=True),
        sa.Column("assigned_agent_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("forward_to_agent_id", sa.Integer(), nullable=True),
        sa.Column("forward_to_office_id", sa.Integer(), nullable=True),
        sa.Column("missing_material_ids", sa.JSON(), nullable=False),
        sa.Column("accepted_at", office.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("completed_at", office.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("overdue_at", office.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", office.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", office.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("idem_key", sa.String(length=100), nullable=True),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_cases_seq_pos")),
        sa.ForeignKeyConstraint(
            ["assigned_agent_id"], ["users.id"], name=op.f("fk_cases_assigned_agent_id_users")
        ),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_cases_call_id_calls")),
        sa.ForeignKeyConstraint(
            ["forward_to_agent_id"], ["users.id"], name=op.f("fk_cases_forward_to_agent_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["forward_to_office_id"], ["offices.id"], name=op.f("fk_cases_forward_to_office_id_offices")
        ),
        sa.ForeignKeyConstraint(["office_id"], ["offices.id"], name=op.f("fk_cases_office_id_offices")),
        sa.ForeignKeyConstraint(["owner_agent_id"], ["users.id"], name=op.f("fk_cases_owner_agent_id_users")),
        sa.ForeignKeyConstraint(["service_id"], ["services.id"], name=op.f("fk_cases_service_id_services")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_cases_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint(
            "office_id", "business_date", "seq", name=op.f("uq_cases_office_id_business_date_seq")
        ),
        sa.UniqueConstraint("office_id", "idem_key", name=op.f("uq_cases_office_id_idem_key")),
        sa.UniqueConstraint("office_id", "number", name=op.f("uq_cases_office_id_number")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cases_assigned_agent_id"), ["assigned_agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_call_id"), ["call_id"], unique=False)
        batch_op.create_index("ix_cases_due", ["state", "due_date"], unique=False)
        batch_op.create_index("ix_cases_office_state", ["office_id", "state"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_owner_agent_id"), ["owner_agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_resident_hash"), ["resident_hash"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_service_id"), ["service_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "verifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=40), nullable=False),
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("matched", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("at", office.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_verifications_call_id_calls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["office_id"], ["offices.id"], name=op.f("fk_verifications_office_id_offices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verifications")),
    )
    with op.batch_alter_table("verifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_verifications_call_id"), ["call_id"], unique=False)

    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", office.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("from_state", sa.String(length=24), nullable=False),
        sa.Column("to_state", sa.String(length=24), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_events_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
    )
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_events_case_id"), ["case_id"], unique=False)

    op.create_table(
        "case_materials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("material_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("document_ids", sa.JSON(), nullable=False),
        sa.Column("checked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_materials_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_materials")),
        sa.UniqueConstraint("case_id", "material_id", name=op.f("uq_case_materials_case_id_material_id")),
    )
    with op.batch_alter_table("case_materials", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_materials_case_id"), ["case_id"], unique=False)

    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=40), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("kiosk_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("mime", sa.String(length=32), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", office.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("size_bytes >= 1", name=op.f("ck_documents_size_pos")),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_documents_call_id_calls")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_documents_case_id_cases")),
        sa.ForeignKeyConstraint(["kiosk_id"], ["kiosks.id"], name=op.f("fk_documents_kiosk_id_kiosks")),
        sa.ForeignKeyConstraint(["office_id"], ["offices.id"], name=op.f("fk_documents_office_id_offices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
    )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_documents_call_id"), ["call_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_documents_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_documents_office_created", ["office_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index("ix_documents_office_created")
        batch_op.drop_index(batch_op.f("ix_documents_case_id"))
        batch_op.drop_index(batch_op.f("ix_documents_call_id"))

    op.drop_table("documents")
    with op.batch_alter_table("case_materials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_materials_case_id"))

    op.drop_table("case_materials")
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_events_case_id"))

    op.drop_table("case_events")
    with op.batch_alter_table("verifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verifications_call_id"))

    op.drop_table("verifications")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_cases_service_id"))
        batch_op.drop_index(batch_op.f("ix_cases_resident_hash"))
        batch_op.drop_index(batch_op.f("ix_cases_owner_agent_id"))
        batch_op.drop_index("ix_cases_office_state")
        batch_op.drop_index("ix_cases_due")
        batch_op.drop_index(batch_op.f("ix_cases_call_id"))
        batch_op.drop_index(batch_op.f("ix_cases_assigned_agent_id"))

    op.drop_table("cases")
    with op.batch_alter_table("call_identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_identities_resident_hash"))
        batch_op.drop_index(batch_op.f("ix_call_identities_call_id"))

    op.drop_table("call_identities")
    op.drop_table("case_counters")
