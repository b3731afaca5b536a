"""the events table records consult (warm transfer) steps: the event kind 'consult'

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-30 05:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

OLD_KINDS = ('agent_status', 'agent_state', 'hold', 'unhold', 'transfer', 'recording_started',
             'recording_stopped', 'monitor')
KINDS = OLD_KINDS + ('consult',)


def _kinds(values):
    return sa.Enum(*values, name='event_kind', native_enum=False, create_constraint=True,
                   length=24)


def _widen(new) -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_events_event_kind'), type_='check')
        batch_op.alter_column('kind', existing_type=sa.String(length=24), type_=_kinds(new),
                              existing_nullable=False)


def upgrade() -> None:
    _widen(KINDS)


def downgrade() -> None:
    # Consult steps did not exist before: their rows go (the calls' CDRs keep the calls).
    op.execute(sa.text("DELETE FROM events WHERE kind = 'consult'"))
    _widen(OLD_KINDS)
