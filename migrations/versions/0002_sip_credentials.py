"""sip credentials: per-login SIP passwords, kept as a1-hash only

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 09:24:45.713548
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sip_credentials',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('live_agent_id', sa.Integer(), nullable=True),
    sa.Column('login_key', sa.String(length=64), nullable=False),
    sa.Column('extension', sa.String(length=16), nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('a1_hash', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_why', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_sip_credentials_agent_id_agents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sip_credentials')),
    sa.UniqueConstraint('live_agent_id', name=op.f('uq_sip_credentials_live_agent_id')),
    sa.UniqueConstraint('login_key', name=op.f('uq_sip_credentials_login_key'))
    )
    with op.batch_alter_table('sip_credentials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sip_credentials_agent_id'), ['agent_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('sip_credentials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sip_credentials_agent_id'))

    op.drop_table('sip_credentials')
