"""call_agents: every agent who handled a call, with its talk, hold and wrap-up

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 11:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

AGENT_LEFT = ('hung_up', 'customer_hung_up', 'transferred', 'completed_consult', 'requeued',
              'ended')


def upgrade() -> None:
    op.create_table('call_agents',
    sa.Column('leg_uuid', sa.String(length=36), nullable=False),
    sa.Column('call_id', sa.String(length=64), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('talk_seconds', sa.Float(), nullable=True),
    sa.Column('hold_seconds', sa.Float(), nullable=False),
    sa.Column('wrapup_seconds', sa.Float(), nullable=True),
    sa.Column('left_how', sa.Enum(*AGENT_LEFT, name='agent_left', native_enum=False,
                                  create_constraint=True, length=24), nullable=True),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_call_agents_call_id_calls'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'],
                            name=op.f('fk_call_agents_agent_id_agents'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('leg_uuid', name=op.f('pk_call_agents'))
    )
    with op.batch_alter_table('call_agents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_agents_call_id'), ['call_id'], unique=False)
        batch_op.create_index('ix_call_agents_agent_joined', ['agent_id', 'joined_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('call_agents', schema=None) as batch_op:
        batch_op.drop_index('ix_call_agents_agent_joined')
        batch_op.drop_index(batch_op.f('ix_call_agents_call_id'))
    op.drop_table('call_agents')
