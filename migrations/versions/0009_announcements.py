"""queue announcements: a greeting, a periodic message and its interval, the caller's position
and estimated wait and how often they are spoken

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-10 05:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

COLUMNS = ('greeting', 'announcement', 'announce_seconds', 'announce_position', 'announce_wait',
           'position_seconds')


def upgrade() -> None:
    with op.batch_alter_table('queues', schema=None) as batch_op:
        batch_op.add_column(sa.Column('greeting', sa.String(length=255), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('announcement', sa.String(length=255), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('announce_seconds', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('announce_position', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('announce_wait', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('position_seconds', sa.Integer(), nullable=False,
                                      server_default='60'))


def downgrade() -> None:
    with op.batch_alter_table('queues', schema=None) as batch_op:
        for column in reversed(COLUMNS):
            batch_op.drop_column(column)
