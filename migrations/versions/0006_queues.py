"""inbound queues: mod_callcenter's nine strategies, queue and agent settings, the caller's
times in the queue, and the offers table

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 05:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

OLD_STRATEGIES = ('longest_idle', 'round_robin', 'top_down', 'fewest_calls', 'random',
                  'ring_all')
STRATEGIES = ('ring_all', 'longest_idle_agent', 'round_robin', 'top_down',
              'agent_with_least_talk_time', 'agent_with_fewest_calls',
              'sequentially_by_agent_order', 'random', 'ring_progressively')
RENAMED = {'longest_idle': 'longest_idle_agent', 'fewest_calls': 'agent_with_fewest_calls'}
OLD_OUTCOMES = ('answered', 'busy', 'no_answer', 'failed', 'cancelled', 'agent_no_answer',
                'agent_not_registered', 'cut_off')
OUTCOMES = OLD_OUTCOMES + ('abandoned', 'timed_out', 'overflowed')
TIMEOUT_ACTIONS = ('hang_up', 'queue', 'number')
OFFER_OUTCOMES = ('answered', 'missed', 'declined', 'cancelled', 'lost_race')
HOLD_MUSIC = "tone_stream://%(400,200,523,659);%(400,3000,587,698);loops=-1"


def _enum(values, name, length=16):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=length)


def _rename(table, column, mapping):
    for old, new in mapping.items():
        # Table and column are this file's own constants, never input.
        op.execute(sa.text(f"UPDATE {table} SET {column} = :new WHERE {column} = :old")  # noqa: S608
                   .bindparams(old=old, new=new))


def upgrade() -> None:
    with op.batch_alter_table('queues', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_queues_queue_strategy'), type_='check')
        batch_op.alter_column('strategy', existing_type=sa.String(length=16),
                              type_=sa.String(length=32), existing_nullable=False)
    _rename('queues', 'strategy', RENAMED)
    with op.batch_alter_table('queues', schema=None) as batch_op:
        batch_op.alter_column('strategy', existing_type=sa.String(length=32),
                              type_=_enum(STRATEGIES, 'queue_strategy', 32),
                              existing_nullable=False)
        batch_op.add_column(sa.Column('max_wait_no_agent_seconds', sa.Integer(),
                                      nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('timeout_action', _enum(TIMEOUT_ACTIONS, 'timeout_action'),
                                      nullable=False, server_default='hang_up'))
        batch_op.add_column(sa.Column('timeout_target', sa.String(length=64), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('priority', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('answer_on_entry', sa.Boolean(), nullable=False,
                                      server_default=sa.true()))
        batch_op.add_column(sa.Column('tier_wait_seconds', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('tier_wait_multiply', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('tier_wait_empty', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    # The old default (local_stream://moh) plays nothing in the shipped configuration.
    op.execute(sa.text("UPDATE queues SET hold_music = :tone WHERE hold_music = :moh")
               .bindparams(tone=HOLD_MUSIC, moh='local_stream://moh'))

    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reject_delay_seconds', sa.Integer(), nullable=False,
                                      server_default='10'))
        batch_op.add_column(sa.Column('busy_delay_seconds', sa.Integer(), nullable=False,
                                      server_default='30'))
        batch_op.add_column(sa.Column('no_answer_delay_seconds', sa.Integer(), nullable=False,
                                      server_default='10'))
        batch_op.add_column(sa.Column('auto_answer', sa.Boolean(), nullable=False,
                                      server_default=sa.true()))
        batch_op.add_column(sa.Column('break_reason', sa.String(length=64), nullable=True))

    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_calls_outcome'), type_='check')
        batch_op.alter_column('outcome', existing_type=sa.String(length=24),
                              type_=_enum(OUTCOMES, 'outcome', 24), existing_nullable=True)
        batch_op.add_column(sa.Column('entered_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('connected_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('left_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('wait_seconds', sa.Integer(), nullable=True))

    op.create_table('offers',
    sa.Column('leg_uuid', sa.String(length=36), nullable=False),
    sa.Column('call_id', sa.String(length=64), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('queue_id', sa.Integer(), nullable=True),
    sa.Column('offered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', _enum(OFFER_OUTCOMES, 'offer_outcome'), nullable=True),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_offers_call_id_calls'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_offers_agent_id_agents'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['queue_id'], ['queues.id'], name=op.f('fk_offers_queue_id_queues'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('leg_uuid', name=op.f('pk_offers'))
    )
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offers_call_id'), ['call_id'], unique=False)
        batch_op.create_index('ix_offers_agent_offered', ['agent_id', 'offered_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.drop_index('ix_offers_agent_offered')
        batch_op.drop_index(batch_op.f('ix_offers_call_id'))
    op.drop_table('offers')

    # Queue outcomes did not exist before: such calls read as failed.
    op.execute(sa.text("UPDATE calls SET outcome = 'failed' "
                       "WHERE outcome IN ('abandoned', 'timed_out', 'overflowed')"))
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_calls_outcome'), type_='check')
        batch_op.alter_column('outcome', existing_type=sa.String(length=24),
                              type_=_enum(OLD_OUTCOMES, 'outcome', 24), existing_nullable=True)
        batch_op.drop_column('wait_seconds')
        batch_op.drop_column('left_at')
        batch_op.drop_column('connected_at')
        batch_op.drop_column('entered_at')

    with op.batch_alter_table('agents', schema=None) as batch_op:
        for column in ('break_reason', 'auto_answer', 'no_answer_delay_seconds',
                       'busy_delay_seconds', 'reject_delay_seconds'):
            batch_op.drop_column(column)

    with op.batch_alter_table('queues', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_queues_timeout_action'), type_='check')
        for column in ('tier_wait_empty', 'tier_wait_multiply', 'tier_wait_seconds',
                       'answer_on_entry', 'priority', 'timeout_target', 'timeout_action',
                       'max_wait_no_agent_seconds'):
            batch_op.drop_column(column)
        batch_op.drop_constraint(op.f('ck_queues_queue_strategy'), type_='check')
        batch_op.alter_column('strategy', existing_type=sa.String(length=32),
                              type_=sa.String(length=32), existing_nullable=False)
    # Strategies the old list lacks fall back to the old default.
    _rename('queues', 'strategy', {new: old for old, new in RENAMED.items()})
    op.execute(sa.text("UPDATE queues SET strategy = 'longest_idle' "
                       "WHERE strategy NOT IN :old").bindparams(
                           sa.bindparam('old', value=list(OLD_STRATEGIES), expanding=True)))
    with op.batch_alter_table('queues', schema=None) as batch_op:
        batch_op.alter_column('strategy', existing_type=sa.String(length=32),
                              type_=_enum(OLD_STRATEGIES, 'queue_strategy', 16),
                              existing_nullable=False)
