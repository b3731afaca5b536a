"""indexes today's figures read instead of the tables: the agents' time and wrap-ups (events),
the queued calls of a day (calls) and the offers, each holding every column its query uses

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-20 08:00:00
"""

from alembic import op


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_events_agent_time', 'events',
                    ['agent_id', 'prior_status', 'prior_state', 'id', 'kind', 'prior_seconds',
                     'call_id'])
    op.create_index('ix_calls_entered', 'calls',
                    ['entered_at', 'queue_id', 'left_at', 'connected_at', 'ended_at', 'outcome',
                     'talk_seconds', 'id'])
    op.drop_index('ix_offers_offered_at', table_name='offers')
    op.create_index('ix_offers_offered_at', 'offers', ['offered_at', 'agent_id', 'outcome'])


def downgrade() -> None:
    op.drop_index('ix_offers_offered_at', table_name='offers')
    op.create_index('ix_offers_offered_at', 'offers', ['offered_at'])
    op.drop_index('ix_calls_entered', table_name='calls')
    op.drop_index('ix_events_agent_time', table_name='events')
