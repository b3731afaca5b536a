"""recordings: one row per recording of a call (started, stopped, seconds, bytes), filled from
FreeSWITCH's RECORD_START and RECORD_STOP; calls recorded before get one row from their
recording_path

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 16:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'recordings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('call_id', sa.String(length=64), nullable=False),
        sa.Column('leg_uuid', sa.String(length=36), nullable=True),
        sa.Column('path', sa.String(length=512), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('seconds', sa.Float(), nullable=True),
        sa.Column('bytes', sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id'], ondelete='CASCADE',
                                name=op.f('fk_recordings_call_id_calls')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recordings')),
        sa.UniqueConstraint('path', name=op.f('uq_recordings_path')),
    )
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recordings_call_id'), ['call_id'], unique=False)
        batch_op.create_index('ix_recordings_started_at', ['started_at'], unique=False)
    # Calls recorded before this table: the first file each kept on calls.recording_path. Its
    # leg, length and size were not kept; it ended at the latest when the call did.
    op.execute(
        "INSERT INTO recordings (call_id, path, started_at, ended_at) "
        "SELECT id, recording_path, COALESCE(bridged_at, answered_at, created_at), ended_at "
        "FROM calls WHERE recording_path IS NOT NULL AND recording_path <> ''")


def downgrade() -> None:
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.drop_index('ix_recordings_started_at')
        batch_op.drop_index(batch_op.f('ix_recordings_call_id'))
    op.drop_table('recordings')
