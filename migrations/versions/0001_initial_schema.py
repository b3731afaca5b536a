"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-21 08:02:44.390787
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('queues',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('strategy', sa.Enum('longest_idle', 'round_robin', 'top_down', 'fewest_calls', 'random', 'ring_all', name='queue_strategy', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('hold_music', sa.String(length=255), nullable=False),
    sa.Column('max_wait_seconds', sa.Integer(), nullable=False),
    sa.Column('service_level_seconds', sa.Integer(), nullable=False),
    sa.Column('agent_ring_seconds', sa.Integer(), nullable=False),
    sa.Column('wrapup_seconds', sa.Integer(), nullable=True),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_queues')),
    sa.UniqueConstraint('name', name=op.f('uq_queues_name'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.Enum('agent', 'supervisor', 'admin', name='role', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('agents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('extension', sa.String(length=16), nullable=False),
    sa.Column('status', sa.Enum('logged_out', 'available', 'on_break', name='agent_status', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('state', sa.Enum('idle', 'reserved', 'ringing', 'in_call', 'wrap_up', name='agent_state', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('registered', sa.Boolean(), nullable=False),
    sa.Column('wrapup_seconds', sa.Integer(), nullable=False),
    sa.Column('max_no_answer', sa.Integer(), nullable=False),
    sa.Column('no_answer_count', sa.Integer(), nullable=False),
    sa.Column('always_record', sa.Boolean(), nullable=False),
    sa.Column('last_call_ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_agents_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agents')),
    sa.UniqueConstraint('extension', name=op.f('uq_agents_extension')),
    sa.UniqueConstraint('user_id', name=op.f('uq_agents_user_id'))
    )
    op.create_table('calls',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('direction', sa.Enum('inbound', 'outbound', name='direction', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('queue_id', sa.Integer(), nullable=True),
    sa.Column('customer_number', sa.String(length=32), nullable=False),
    sa.Column('caller_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ringing_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('bridged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ring_seconds', sa.Integer(), nullable=False),
    sa.Column('talk_seconds', sa.Integer(), nullable=False),
    sa.Column('hold_seconds', sa.Integer(), nullable=False),
    sa.Column('hangup_cause', sa.String(length=64), nullable=True),
    sa.Column('hangup_by', sa.Enum('customer', 'agent', 'system', name='hangup_by', native_enum=False, create_constraint=True, length=16), nullable=True),
    sa.Column('disposition', sa.String(length=64), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('recording_path', sa.String(length=512), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_calls_agent_id_agents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['queue_id'], ['queues.id'], name=op.f('fk_calls_queue_id_queues'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calls'))
    )
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.create_index('ix_calls_agent_created', ['agent_id', 'created_at'], unique=False)
        batch_op.create_index('ix_calls_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_calls_customer_created', ['customer_number', 'created_at'], unique=False)
        batch_op.create_index('ix_calls_queue_created', ['queue_id', 'created_at'], unique=False)

    op.create_table('queue_agents',
    sa.Column('queue_id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_queue_agents_agent_id_agents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['queue_id'], ['queues.id'], name=op.f('fk_queue_agents_queue_id_queues'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('queue_id', 'agent_id', name=op.f('pk_queue_agents'))
    )
    op.create_table('call_legs',
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('call_id', sa.String(length=64), nullable=False),
    sa.Column('role', sa.Enum('customer', 'agent', 'supervisor', name='leg_role', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('channel_name', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('hangup_cause', sa.String(length=64), nullable=True),
    sa.Column('raw_cdr', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_call_legs_call_id_calls'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('uuid', name=op.f('pk_call_legs'))
    )
    with op.batch_alter_table('call_legs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_legs_call_id'), ['call_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('call_legs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_legs_call_id'))

    op.drop_table('call_legs')
    op.drop_table('queue_agents')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_index('ix_calls_queue_created')
        batch_op.drop_index('ix_calls_customer_created')
        batch_op.drop_index('ix_calls_created_at')
        batch_op.drop_index('ix_calls_agent_created')

    op.drop_table('calls')
    op.drop_table('agents')
    op.drop_table('users')
    op.drop_table('queues')
