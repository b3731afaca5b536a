"""unmatched legs: CDRs FreeSWITCH sent for legs no call owns, kept for audit

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 02:10:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('unmatched_legs',
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('named_call_id', sa.String(length=64), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('raw_cdr', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('uuid', name=op.f('pk_unmatched_legs'))
    )
    with op.batch_alter_table('unmatched_legs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unmatched_legs_received_at'), ['received_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('unmatched_legs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unmatched_legs_received_at'))

    op.drop_table('unmatched_legs')
