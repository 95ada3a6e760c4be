"""create catalog and queue tables

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 02:02:24.823804
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import office.models.base


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('service_categories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('name_en', sa.String(length=100), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_categories')),
    sa.UniqueConstraint('code', name=op.f('uq_service_categories_code'))
    )
    op.create_table('queue_settings',
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('accepting_tickets', sa.Boolean(), nullable=False),
    sa.Column('closed_reason', sa.String(length=200), nullable=False),
    sa.Column('ring_timeout_s', sa.Integer(), nullable=False),
    sa.Column('max_recalls', sa.Integer(), nullable=False),
    sa.Column('rejoin_window_min', sa.Integer(), nullable=False),
    sa.Column('max_wait_bound_min', sa.Integer(), nullable=False),
    sa.Column('estimate_window', sa.Integer(), nullable=False),
    sa.Column('estimate_min_samples', sa.Integer(), nullable=False),
    sa.Column('ring_overhead_s', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_queue_settings_office_id_offices')),
    sa.PrimaryKeyConstraint('office_id', name=op.f('pk_queue_settings'))
    )
    op.create_table('services',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('description_en', sa.Text(), nullable=False),
    sa.Column('queue_prefix', sa.String(length=1), nullable=False),
    sa.Column('time_limit_days', sa.Integer(), nullable=False),
    sa.Column('expected_minutes', sa.Integer(), nullable=False),
    sa.Column('needs_id_card', sa.Boolean(), nullable=False),
    sa.Column('needs_fingerprint', sa.Boolean(), nullable=False),
    sa.Column('needs_appointment', sa.Boolean(), nullable=False),
    sa.Column('skill', sa.String(length=32), nullable=False),
    sa.Column('legal_basis', sa.Text(), nullable=False),
    sa.Column('fees', sa.String(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', office.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', office.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('expected_minutes > 0', name=op.f('ck_services_expected_minutes_pos')),
    sa.CheckConstraint('length(queue_prefix) = 1', name=op.f('ck_services_queue_prefix_one_letter')),
    sa.CheckConstraint('time_limit_days >= 0', name=op.f('ck_services_time_limit_nonneg')),
    sa.ForeignKeyConstraint(['category_id'], ['service_categories.id'], name=op.f('fk_services_category_id_service_categories')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_services')),
    sa.UniqueConstraint('code', name=op.f('uq_services_code'))
    )
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_services_category_id'), ['category_id'], unique=False)

    op.create_table('ticket_counters',
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('queue_prefix', sa.String(length=1), nullable=False),
    sa.Column('business_date', sa.Date(), nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_ticket_counters_office_id_offices')),
    sa.PrimaryKeyConstraint('office_id', 'queue_prefix', 'business_date', name=op.f('pk_ticket_counters'))
    )
    op.create_table('agent_skills',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('skill', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_agent_skills_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'skill', name=op.f('pk_agent_skills'))
    )
    op.create_table('agent_states',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('pause_reason', sa.String(length=100), nullable=False),
    sa.Column('since', office.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('window_no', sa.Integer(), nullable=False),
    sa.Column('current_ticket_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_agent_states_office_id_offices')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_agent_states_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_agent_states'))
    )
    with op.batch_alter_table('agent_states', schema=None) as batch_op:
        batch_op.create_index('ix_agent_states_office_state', ['office_id', 'state'], unique=False)

    op.create_table('service_materials',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('form', sa.String(length=20), nullable=False),
    sa.Column('issuer', sa.String(length=200), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('notes_en', sa.Text(), nullable=False),
    sa.CheckConstraint('count >= 1', name=op.f('ck_service_materials_count_pos')),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_service_materials_service_id_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_materials')),
    sa.UniqueConstraint('service_id', 'position', name=op.f('uq_service_materials_service_id_position'))
    )
    with op.batch_alter_table('service_materials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_materials_service_id'), ['service_id'], unique=False)

    op.create_table('service_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.Column('created_at', office.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_service_revisions_service_id_services')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_revisions')),
    sa.UniqueConstraint('service_id', 'version', name=op.f('uq_service_revisions_service_id_version'))
    )
    with op.batch_alter_table('service_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_revisions_service_id'), ['service_id'], unique=False)

    op.create_table('tickets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=True),
    sa.Column('kiosk_id', sa.Integer(), nullable=True),
    sa.Column('issued_by_user_id', sa.Integer(), nullable=True),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('service_version', sa.Integer(), nullable=False),
    sa.Column('queue_prefix', sa.String(length=1), nullable=False),
    sa.Column('business_date', sa.Date(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('display_number', sa.String(length=8), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('priority_basis', sa.String(length=40), nullable=False),
    sa.Column('order_at', office.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('queued_at', office.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('issued_at', office.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resident_hash', sa.String(length=64), nullable=True),
    sa.Column('resident_enc', sa.LargeBinary(), nullable=True),
    sa.Column('active_key', sa.String(length=120), nullable=True),
    sa.Column('idem_scope', sa.String(length=40), nullable=True),
    sa.Column('idem_key', sa.String(length=100), nullable=True),
    sa.Column('appointment_ref', sa.String(length=64), nullable=True),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('target_agent_id', sa.Integer(), nullable=True),
    sa.Column('window_no', sa.Integer(), nullable=True),
    sa.Column('recall_count', sa.Integer(), nullable=False),
    sa.Column('ring_deadline', office.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('predicted_wait_s', sa.Integer(), nullable=True),
    sa.Column('first_called_at', office.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('called_at', office.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('served_at', office.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', office.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_by', sa.String(length=16), nullable=False),
    sa.Column('end_reason', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('number >= 1', name=op.f('ck_tickets_number_pos')),
    sa.ForeignKeyConstraint(['agent_id'], ['users.id'], name=op.f('fk_tickets_agent_id_users')),
    sa.ForeignKeyConstraint(['issued_by_user_id'], ['users.id'], name=op.f('fk_tickets_issued_by_user_id_users')),
    sa.ForeignKeyConstraint(['kiosk_id'], ['kiosks.id'], name=op.f('fk_tickets_kiosk_id_kiosks')),
    sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_tickets_office_id_offices')),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_tickets_service_id_services')),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_tickets_station_id_stations')),
    sa.ForeignKeyConstraint(['target_agent_id'], ['users.id'], name=op.f('fk_tickets_target_agent_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tickets')),
    sa.UniqueConstraint('active_key', name=op.f('uq_tickets_active_key')),
    sa.UniqueConstraint('idem_scope', 'idem_key', name=op.f('uq_tickets_idem_scope_idem_key')),
    sa.UniqueConstraint('office_id', 'queue_prefix', 'business_date', 'number', name=op.f('uq_tickets_office_id_queue_prefix_business_date_number'))
    )
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tickets_agent_id'), ['agent_id'], unique=False)
        batch_op.create_index('ix_tickets_queue_pick', ['office_id', 'state', 'priority', 'order_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_resident_hash'), ['resident_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_ring_deadline'), ['ring_deadline'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_service_id'), ['service_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_station_id'), ['station_id'], unique=False)

    op.create_table('ticket_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('at', office.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('event', sa.String(length=24), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=False),
    sa.Column('to_state', sa.String(length=16), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_ticket_events_office_id_offices')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_events_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_events'))
    )
    with op.batch_alter_table('ticket_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_events_office_id'), ['office_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ticket_events_ticket_id'), ['ticket_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('ticket_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ticket_events_ticket_id'))
        batch_op.drop_index(batch_op.f('ix_ticket_events_office_id'))

    op.drop_table('ticket_events')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tickets_station_id'))
        batch_op.drop_index(batch_op.f('ix_tickets_service_id'))
        batch_op.drop_index(batch_op.f('ix_tickets_ring_deadline'))
        batch_op.drop_index(batch_op.f('ix_tickets_resident_hash'))
        batch_op.drop_index('ix_tickets_queue_pick')
        batch_op.drop_index(batch_op.f('ix_tickets_agent_id'))

    op.drop_table('tickets')
    with op.batch_alter_table('service_revisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_revisions_service_id'))

    op.drop_table('service_revisions')
    with op.batch_alter_table('service_materials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_materials_service_id'))

    op.drop_table('service_materials')
    with op.batch_alter_table('agent_states', schema=None) as batch_op:
        batch_op.drop_index('ix_agent_states_office_state')

    op.drop_table('agent_states')
    op.drop_table('agent_skills')
    op.drop_table('ticket_counters')
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_services_category_id'))

    op.drop_table('services')
    op.drop_table('queue_settings')
    op.drop_table('service_categories')
