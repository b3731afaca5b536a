"""guest_calls.call_id indexed: a website call rebuilt after a controller restart finds its
visitor's row by the call's id

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02 20:05:00.000000
"""

from alembic import op


revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f('ix_guest_calls_call_id'), 'guest_calls', ['call_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_guest_calls_call_id'), table_name='guest_calls')
