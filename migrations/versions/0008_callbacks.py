"""callbacks: a waiting caller's request to be called back at its place in line (the callbacks
table), each queue's callback settings, the outcome callback_requested and the closed action
callback

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10 05:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

OLD_OUTCOMES = ('answered', 'busy', 'no_answer', 'failed', 'cancelled', 'agent_no_answer',
                'agent_not_registered', 'cut_off', 'abandoned', 'timed_out', 'overflowed',
                'closed')
OUTCOMES = OLD_OUTCOMES + ('callback_requested',)
OLD_ACTIONS = ('hang_up', 'queue', 'number')
ACTIONS = OLD_ACTIONS + ('callback',)
STATES = ('waiting', 'offered', 'dialing', 'done', 'failed', 'cancelled')


def _enum(values, name, length=16):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=length)


def _actions(batch_op, values) -> None:
    for column in ('timeout_action', 'closed_action'):
        batch_op.drop_constraint(op.f(f'ck_queues_{column}'), type_='check')
        batch_op.alter_column(column, existing_type=sa.String(length=16),
                              type_=_enum(values, column), existing_nullable=False)


def _outcomes(values) -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_calls_outcome'), type_='check')
        batch_op.alter_column('outcome', existing_type=sa.String(length=24),
                              type_=_enum(values, 'outcome', 24), existing_nullable=True)


def upgrade() -> None:
    with op.batch_alter_table('queues', schema=None) as batch_op:
        batch_op.add_column(sa.Column('callback_key', sa.String(length=1), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('callback_retries', sa.Integer(), nullable=False,
                                      server_default='2'))
        batch_op.add_column(sa.Column('callback_retry_delay_seconds', sa.Integer(),
                                      nullable=False, server_default='300'))
        batch_op.add_column(sa.Column('callback_confirm_message', sa.String(length=255),
                                      nullable=False, server_default=''))
        batch_op.add_column(sa.Column('callback_unavailable_message', sa.String(length=255),
                                      nullable=False, server_default=''))
        _actions(batch_op, ACTIONS)
    _outcomes(OUTCOMES)
    op.create_table(
        'callbacks',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('call_id', sa.String(length=64), nullable=True),
        sa.Column('queue_id', sa.Integer(), nullable=True),
        sa.Column('number', sa.String(length=32), nullable=False),
        sa.Column('caller_name', sa.String(length=64), nullable=False),
        sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('state', _enum(STATES, 'callback_state'), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_result', sa.String(length=32), nullable=True),
        sa.Column('agent_id', sa.Integer(), nullable=True),
        sa.Column('callback_call_id', sa.String(length=64), nullable=True),
        sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['agent_id'], ['agents.id'],
                                name=op.f('fk_callbacks_agent_id_agents'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id'],
                                name=op.f('fk_callbacks_call_id_calls'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['callback_call_id'], ['calls.id'],
                                name=op.f('fk_callbacks_callback_call_id_calls'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['queue_id'], ['queues.id'],
                                name=op.f('fk_callbacks_queue_id_queues'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_callbacks')),
    )
    op.create_index('ix_callbacks_state', 'callbacks', ['state'], unique=False)
    op.create_index('ix_callbacks_requested_at', 'callbacks', ['requested_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_callbacks_requested_at', table_name='callbacks')
    op.drop_index('ix_callbacks_state', table_name='callbacks')
    op.drop_table('callbacks')
    # Neither existed before: a caller who left for a callback reads as abandoned, and a closed
    # queue offering callbacks hangs up.
    op.execute(sa.text("UPDATE calls SET outcome = 'abandoned' "
                       "WHERE outcome = 'callback_requested'"))
    _outcomes(OLD_OUTCOMES)
    op.execute(sa.text("UPDATE queues SET closed_action = 'hang_up', closed_target = '' "
                       "WHERE closed_action = 'callback'"))
    op.execute(sa.text("UPDATE queues SET timeout_action = 'hang_up', timeout_target = '' "
                       "WHERE timeout_action = 'callback'"))
    with op.batch_alter_table('queues', schema=None) as batch_op:
        _actions(batch_op, OLD_ACTIONS)
        for column in ('callback_unavailable_message', 'callback_confirm_message',
                       'callback_retry_delay_seconds', 'callback_retries', 'callback_key'):
            batch_op.drop_column(column)
