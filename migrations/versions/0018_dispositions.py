"""dispositions: the outcomes agents pick from, global or for one queue, with "requires notes"

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 13:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'dispositions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=64), nullable=False),
        sa.Column('label', sa.String(length=128), nullable=False),
        sa.Column('queue_id', sa.Integer(), nullable=True),
        sa.Column('requires_notes', sa.Boolean(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['queue_id'], ['queues.id'], ondelete='CASCADE',
                                name=op.f('fk_dispositions_queue_id_queues')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dispositions')),
        sa.UniqueConstraint('queue_id', 'code', name=op.f('uq_dispositions_queue_id')),
    )


def downgrade() -> None:
    op.drop_table('dispositions')
