"""calls.talk_seconds sampled finely on PostgreSQL: long calls are a thin tail the default
statistics overestimate several times, so the planner walked every call newest first looking
for them instead of reading ix_calls_talk

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-02 23:45:00.000000
"""

from alembic import op


revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

# A histogram of 1,000 buckets (the default is 100) sees the calls above 20 minutes, 0.1% of
# them, closely enough: the planner then reads ix_calls_talk and sorts the few it finds.
TALK_STATISTICS = 1000


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'ALTER TABLE calls ALTER COLUMN talk_seconds SET STATISTICS {TALK_STATISTICS}')
        # Sampled again at once where there are calls; an empty table's statistics would
        # tell the planner it stays empty until autovacuum looks again.
        if op.get_bind().exec_driver_sql('SELECT EXISTS (SELECT 1 FROM calls)').scalar():
            op.execute('ANALYZE calls')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE calls ALTER COLUMN talk_seconds SET STATISTICS -1')
