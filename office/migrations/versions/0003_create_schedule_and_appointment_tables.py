"""create schedule and appointment tables

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 02:03:59.411312
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import office.models.base


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('booking_policies',
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('hold_minutes', sa.Integer(), nullable=False),
    sa.Column('horizon_days', sa.Integer(), nullable=False),
    sa.Column('min_notice_minutes', sa.Integer(), nullable=False),
    sa.Column('change_cutoff_minutes', sa.Integer(), nullable=False),
    sa.Column('checkin_early_minutes', sa.Integer(), nullable=False),
    sa.Column('checkin_late_minutes', sa.Integer(), nullable=False),
    sa.Column('no_show_limit', sa.Integer(), nullable=False),
    sa.Column('no_show_window_days', sa.Integer(), nullable=False),
    sa.CheckConstraint('hold_minutes >= 1', name=op.f('ck_booking_policies_hold_pos')),
    sa.CheckConstraint('horizon_days >= 1', name=op.f('ck_booking_policies_horizon_pos')),
    sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_booking_policies_office_id_offices')),
    sa.PrimaryKeyConstraint('office_id', name=op.f('pk_booking_policies'))
    )
    op.create_table('calendar_overrides',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('closed', sa.Boolean(), nullable=False),
    sa.Column('hours', sa.JSON(), nullable=True),
    sa.Column('working_day', sa.Boolean(), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('created_at', office.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_calendar_overrides_office_id_offices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_overrides')),
    sa.UniqueConstraint('office_id', 'day', name=op.f('uq_calendar_overrides_office_id_day'))
    )
    with op.batch_alter_table('calendar_overrides', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_overrides_office_id'), ['office_id'], unique=False)

    op.create_table('office_schedules',
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('plan', sa.JSON(), nullable=False),
    sa.Column('updated_at', office.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_office_schedules_office_id_offices')),
    sa.PrimaryKeyConstraint('office_id', name=op.f('pk_office_schedules'))
    )
    op.create_table('rota_shifts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=False),
    sa.Column('start_min', sa.Integer(), nullable=False),
    sa.Column('end_min', sa.Integer(), nullable=False),
    sa.CheckConstraint('start_min >= 0 AND start_min < end_min AND end_min <= 1440', name=op.f('ck_rota_shifts_minutes_range')),
    sa.CheckConstraint('weekday >= 0 AND weekday <= 6', name=op.f('ck_rota_shifts_weekday_range')),
    sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_rota_shifts_office_id_offices')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_rota_shifts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rota_shifts'))
    )
    with op.batch_alter_table('rota_shifts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rota_shifts_office_id'), ['office_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rota_shifts_user_id'), ['user_id'], unique=False)

    op.create_table('slot_capacity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', office.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', office.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('remaining', sa.Integer(), nullable=False),
    sa.CheckConstraint('remaining <= capacity', name=op.f('ck_slot_capacity_remaining_le_capacity')),
    sa.CheckConstraint('remaining >= 0', name=op.f('ck_slot_capacity_remaining_nonneg')),
    sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_slot_capacity_office_id_offices')),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_slot_capacity_service_id_services')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_slot_capacity')),
    sa.UniqueConstraint('office_id', 'service_id', 'starts_at', name=op.f('uq_slot_capacity_office_id_service_id_starts_at'))
    )
    op.create_table('appointments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=True),
    sa.Column('kiosk_id', sa.Integer(), nullable=True),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('slot_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', office.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', office.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('hold_token_hash', sa.String(length=64), nullable=False),
    sa.Column('hold_idem_key', sa.String(length=64), nullable=True),
    sa.Column('hold_expires_at', office.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=True),
    sa.Column('ics_token', sa.String(length=32), nullable=True),
    sa.Column('id_hash', sa.String(length=64), nullable=True),
    sa.Column('id_enc', sa.LargeBinary(), nullable=True),
    sa.Column('phone_enc', sa.LargeBinary(), nullable=True),
    sa.Column('id_source', sa.String(length=8), nullable=False),
    sa.Column('active_key', sa.String(length=120), nullable=True),
    sa.Column('created_at', office.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('booked_at', office.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', office.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.String(length=200), nullable=False),
    sa.Column('cancelled_by', sa.String(length=16), nullable=False),
    sa.Column('checked_in_at', office.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('checked_in_late', sa.Boolean(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('reschedule_count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['kiosk_id'], ['kiosks.id'], name=op.f('fk_appointments_kiosk_id_kiosks')),
    sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_appointments_office_id_offices')),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_appointments_service_id_services')),
    sa.ForeignKeyConstraint(['slot_id'], ['slot_capacity.id'], name=op.f('fk_appointments_slot_id_slot_capacity')),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_appointments_station_id_stations')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_appointments_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointments')),
    sa.UniqueConstraint('active_key', name=op.f('uq_appointments_active_key')),
    sa.UniqueConstraint('code', name=op.f('uq_appointments_code')),
    sa.UniqueConstraint('kiosk_id', 'hold_idem_key', name=op.f('uq_appointments_kiosk_id_hold_idem_key'))
    )
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appointments_hold_expires_at'), ['hold_expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_appointments_id_hash'), ['id_hash'], unique=False)
        batch_op.create_index('ix_appointments_office_start', ['office_id', 'starts_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_appointments_service_id'), ['service_id'], unique=False)
        batch_op.create_index('ix_appointments_slot_state', ['slot_id', 'state'], unique=False)

    op.create_table('appointment_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('appointment_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('claimed_at', office.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', office.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['appointment_id'], ['appointments.id'], name=op.f('fk_appointment_notices_appointment_id_appointments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointment_notices')),
    sa.UniqueConstraint('appointment_id', 'kind', name=op.f('uq_appointment_notices_appointment_id_kind'))
    )


def downgrade() -> None:
    op.drop_table('appointment_notices')
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_index('ix_appointments_slot_state')
        batch_op.drop_index(batch_op.f('ix_appointments_service_id'))
        batch_op.drop_index('ix_appointments_office_start')
        batch_op.drop_index(batch_op.f('ix_appointments_id_hash'))
        batch_op.drop_index(batch_op.f('ix_appointments_hold_expires_at'))

    op.drop_table('appointments')
    op.drop_table('slot_capacity')
    with op.batch_alter_table('rota_shifts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rota_shifts_user_id'))
        batch_op.drop_index(batch_op.f('ix_rota_shifts_office_id'))

    op.drop_table('rota_shifts')
    op.drop_table('office_schedules')
    with op.batch_alter_table('calendar_overrides', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_overrides_office_id'))

    op.drop_table('calendar_overrides')
    op.drop_table('booking_policies')
