"""today's figures on PostgreSQL: the agents' sums read the day's range of event ids from an
index that carries the summed columns (its planner walks the id range, not ix_events_agent_time)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 11:00:00
"""

from alembic import op


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

INCLUDE = ['agent_id', 'kind', 'prior_status', 'prior_state', 'prior_seconds', 'call_id']


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.create_index('ix_events_time_sums', 'events', ['id'], postgresql_include=INCLUDE)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_events_time_sums', table_name='events')
