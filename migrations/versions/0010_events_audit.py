"""the events table (agent status and state changes, call events, with their times) and the
audit log (forced changes: who, when, what, before and after)

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-16 05:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

EVENT_KINDS = ('agent_status', 'agent_state', 'hold', 'unhold', 'transfer', 'recording_started',
               'recording_stopped', 'monitor')
STATUSES = ('logged_out', 'available', 'on_break')
STATES = ('idle', 'reserved', 'ringing', 'in_call', 'wrap_up')


def _enum(values, name, length=16):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=length)


def upgrade() -> None:
    op.create_table(
        'events',
        # SQLite's INTEGER primary key is the rowid: a day's events lie together.
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  autoincrement=False, nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('kind', _enum(EVENT_KINDS, 'event_kind', 24), nullable=False),
        sa.Column('agent_id', sa.Integer(), nullable=True),
        sa.Column('call_id', sa.String(length=64), nullable=True),
        sa.Column('queue_id', sa.Integer(), nullable=True),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.Column('prior_status', _enum(STATUSES, 'event_prior_status'), nullable=True),
        sa.Column('prior_state', _enum(STATES, 'event_prior_state'), nullable=True),
        sa.Column('prior_seconds', sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    )
    op.create_index('ix_events_agent_at', 'events', ['agent_id', 'at'])
    op.create_index('ix_events_call', 'events', ['call_id'])
    op.create_index('ix_events_at', 'events', ['at'])
    op.create_table(
        'audit_log',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.Column('action', sa.String(length=64), nullable=False),
        sa.Column('target', sa.String(length=128), nullable=False),
        sa.Column('before', sa.Text(), nullable=True),
        sa.Column('after', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_audit_log_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')),
    )
    op.create_index(op.f('ix_audit_log_at'), 'audit_log', ['at'])
    # The figures read a day's offers across every agent.
    op.create_index('ix_offers_offered_at', 'offers', ['offered_at'])


def downgrade() -> None:
    op.drop_index('ix_offers_offered_at', table_name='offers')
    op.drop_index(op.f('ix_audit_log_at'), table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_index('ix_events_at', table_name='events')
    op.drop_index('ix_events_call', table_name='events')
    op.drop_index('ix_events_agent_at', table_name='events')
    op.drop_table('events')
