"""supervisor phones: a user's own extension, SIP credentials that belong to a user (not an
agent), and calls hung up by a supervisor

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 09:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

OLD_HANGUP_BY = ('customer', 'agent', 'system')
HANGUP_BY = OLD_HANGUP_BY + ('supervisor',)


def _hangup_by(values) -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_calls_hangup_by'), type_='check')
        batch_op.alter_column('hangup_by', existing_type=sa.String(length=16),
                              type_=sa.Enum(*values, name='hangup_by', native_enum=False,
                                            create_constraint=True, length=16),
                              existing_nullable=True)


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('extension', sa.String(length=16), nullable=True))
        batch_op.create_unique_constraint(op.f('uq_users_extension'), ['extension'])
    with op.batch_alter_table('sip_credentials', schema=None) as batch_op:
        batch_op.alter_column('agent_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('live_user_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_sip_credentials_user_id'), ['user_id'],
                              unique=False)
        batch_op.create_unique_constraint(op.f('uq_sip_credentials_live_user_id'),
                                          ['live_user_id'])
        batch_op.create_foreign_key(op.f('fk_sip_credentials_user_id_users'), 'users',
                                    ['user_id'], ['id'], ondelete='CASCADE')
    _hangup_by(HANGUP_BY)


def downgrade() -> None:
    # Calls a supervisor hung up read as hung up by the system; supervisors' credentials go.
    op.execute(sa.text("UPDATE calls SET hangup_by = 'system' WHERE hangup_by = 'supervisor'"))
    _hangup_by(OLD_HANGUP_BY)
    op.execute(sa.text("DELETE FROM sip_credentials WHERE agent_id IS NULL"))
    with op.batch_alter_table('sip_credentials', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('fk_sip_credentials_user_id_users'), type_='foreignkey')
        batch_op.drop_constraint(op.f('uq_sip_credentials_live_user_id'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_sip_credentials_user_id'))
        batch_op.drop_column('live_user_id')
        batch_op.drop_column('user_id')
        batch_op.alter_column('agent_id', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('uq_users_extension'), type_='unique')
        batch_op.drop_column('extension')
