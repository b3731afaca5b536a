"""inbound numbers: the DID -> queue table the controller serves FreeSWITCH's public dialplan from

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 13:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inbound_numbers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('queue_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['queue_id'], ['queues.id'], name=op.f('fk_inbound_numbers_queue_id_queues'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_numbers')),
    sa.UniqueConstraint('number', name=op.f('uq_inbound_numbers_number'))
    )
    with op.batch_alter_table('inbound_numbers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_numbers_queue_id'), ['queue_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('inbound_numbers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_numbers_queue_id'))
    op.drop_table('inbound_numbers')
