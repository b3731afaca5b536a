"""open hours per queue: the weekly schedule and holidays (compact text forms), what a closed
queue does with a caller, and the outcome closed

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-09 05:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

OLD_OUTCOMES = ('answered', 'busy', 'no_answer', 'failed', 'cancelled', 'agent_no_answer',
                'agent_not_registered', 'cut_off', 'abandoned', 'timed_out', 'overflowed')
OUTCOMES = OLD_OUTCOMES + ('closed',)
CLOSED_ACTIONS = ('hang_up', 'queue', 'number')


def _enum(values, name, length=16):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=length)


def upgrade() -> None:
    with op.batch_alter_table('queues', schema=None) as batch_op:
        batch_op.add_column(sa.Column('open_hours', sa.String(length=500), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('holidays', sa.String(length=500), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('closed_action', _enum(CLOSED_ACTIONS, 'closed_action'),
                                      nullable=False, server_default='hang_up'))
        batch_op.add_column(sa.Column('closed_target', sa.String(length=64), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('closed_message', sa.String(length=255), nullable=False,
                                      server_default=''))
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_calls_outcome'), type_='check')
        batch_op.alter_column('outcome', existing_type=sa.String(length=24),
                              type_=_enum(OUTCOMES, 'outcome', 24), existing_nullable=True)


def downgrade() -> None:
    # Closed did not exist before: such calls read as failed (nobody served them).
    op.execute(sa.text("UPDATE calls SET outcome = 'failed' WHERE outcome = 'closed'"))
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_calls_outcome'), type_='check')
        batch_op.alter_column('outcome', existing_type=sa.String(length=24),
                              type_=_enum(OLD_OUTCOMES, 'outcome', 24), existing_nullable=True)
    with op.batch_alter_table('queues', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_queues_closed_action'), type_='check')
        for column in ('closed_message', 'closed_target', 'closed_action', 'holidays',
                       'open_hours'):
            batch_op.drop_column(column)
