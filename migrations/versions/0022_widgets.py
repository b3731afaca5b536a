"""widgets: website "Call us" buttons, visitors' one-call guest credentials, and the channel a
call came by (phone or web)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 16:20:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('widgets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('queue_id', sa.Integer(), nullable=False),
    sa.Column('allowed_origins', sa.Text(), nullable=False),
    sa.Column('video', sa.Boolean(), nullable=False),
    sa.Column('fields', sa.Text(), nullable=False),
    sa.Column('calls_per_address_hour', sa.Integer(), nullable=False),
    sa.Column('concurrent_calls', sa.Integer(), nullable=False),
    sa.Column('max_call_seconds', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['queue_id'], ['queues.id'], name=op.f('fk_widgets_queue_id_queues'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_widgets')),
    sa.UniqueConstraint('public_id', name=op.f('uq_widgets_public_id'))
    )
    with op.batch_alter_table('widgets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_widgets_queue_id'), ['queue_id'], unique=False)
    op.create_table('guest_calls',
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('guest_user', sa.String(length=21), nullable=False),
    sa.Column('a1_hash', sa.String(length=32), nullable=False),
    sa.Column('widget_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sip_call_id', sa.String(length=255), nullable=True),
    sa.Column('call_id', sa.String(length=64), nullable=True),
    sa.Column('client_address', sa.String(length=64), nullable=False),
    sa.Column('video', sa.Boolean(), nullable=False),
    sa.Column('fields', sa.Text(), nullable=False),
    sa.Column('page_url', sa.String(length=1024), nullable=False),
    sa.Column('page_title', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['widget_id'], ['widgets.id'], name=op.f('fk_guest_calls_widget_id_widgets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token', name=op.f('pk_guest_calls')),
    sa.UniqueConstraint('guest_user', name=op.f('uq_guest_calls_guest_user'))
    )
    with op.batch_alter_table('guest_calls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_guest_calls_widget_id'), ['widget_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_guest_calls_created_at'), ['created_at'], unique=False)
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=8), nullable=False,
                                      server_default='phone'))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN in place (SQLite 3.35+), not batch mode's copy of `calls`:
    # the copy would lose the call-number search's triggers (0020) and renumber its rowids.
    op.drop_column('calls', 'channel')
    with op.batch_alter_table('guest_calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_guest_calls_created_at'))
        batch_op.drop_index(batch_op.f('ix_guest_calls_widget_id'))
    op.drop_table('guest_calls')
    with op.batch_alter_table('widgets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_widgets_queue_id'))
    op.drop_table('widgets')
