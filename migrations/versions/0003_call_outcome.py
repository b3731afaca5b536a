"""call outcome: how a call ended in call-center terms, and the SIP status FreeSWITCH saw

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 02:50:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

OUTCOMES = ('answered', 'busy', 'no_answer', 'failed', 'cancelled', 'agent_no_answer',
            'agent_not_registered', 'cut_off')


def upgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outcome', sa.Enum(
            *OUTCOMES, name='outcome', native_enum=False, create_constraint=True, length=24),
            nullable=True))
        batch_op.add_column(sa.Column('sip_status', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sip_reason', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_calls_outcome'), type_='check')
        batch_op.drop_column('sip_reason')
        batch_op.drop_column('sip_status')
        batch_op.drop_column('outcome')
