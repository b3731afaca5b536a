"""call search: indexes for the records search (newest first by created_at and id; agent, queue,
disposition), a trigram index for "number contains" (SQLite FTS5 `calls_numbers`, kept in step
by triggers; PostgreSQL pg_trgm), and each leg's raw CDR moved, zlib-compressed, from
call_legs.raw_cdr into leg_cdrs

SQLite's `calls_numbers` is an external-content FTS5 table over calls' rowids. A later
migration that rebuilds `calls` (batch mode copies the table) must recreate the triggers and run
`INSERT INTO calls_numbers(calls_numbers) VALUES ('rebuild')`; so must anyone who VACUUMs,
which may renumber the rowids of a table without an INTEGER PRIMARY KEY.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 16:30:00
"""

import zlib

from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

BATCH = 2000

SQLITE_NUMBERS = (
    "CREATE VIRTUAL TABLE calls_numbers USING fts5(customer_number, content='calls', "
    "content_rowid='rowid', tokenize='trigram')",
    "CREATE TRIGGER calls_numbers_insert AFTER INSERT ON calls BEGIN "
    "INSERT INTO calls_numbers(rowid, customer_number) VALUES (new.rowid, new.customer_number); "
    "END",
    "CREATE TRIGGER calls_numbers_delete AFTER DELETE ON calls BEGIN "
    "INSERT INTO calls_numbers(calls_numbers, rowid, customer_number) "
    "VALUES ('delete', old.rowid, old.customer_number); END",
    # The CDR writer sets the number on every summary: only a real change touches the index.
    "CREATE TRIGGER calls_numbers_update AFTER UPDATE OF customer_number ON calls "
    "WHEN old.customer_number IS NOT new.customer_number BEGIN "
    "INSERT INTO calls_numbers(calls_numbers, rowid, customer_number) "
    "VALUES ('delete', old.rowid, old.customer_number); "
    "INSERT INTO calls_numbers(rowid, customer_number) VALUES (new.rowid, new.customer_number); "
    "END",
    "INSERT INTO calls_numbers(calls_numbers) VALUES ('rebuild')",
)
SQLITE_NUMBERS_DROP = (
    "DROP TRIGGER IF EXISTS calls_numbers_insert",
    "DROP TRIGGER IF EXISTS calls_numbers_delete",
    "DROP TRIGGER IF EXISTS calls_numbers_update",
    "DROP TABLE IF EXISTS calls_numbers",
)

INDEXES = (  # name, table, new columns, old columns (None: new in this revision)
    ('ix_calls_created_at', 'calls', ['created_at', 'id'], ['created_at']),
    ('ix_calls_agent_created', 'calls', ['agent_id', 'created_at', 'id'],
     ['agent_id', 'created_at']),
    ('ix_calls_queue_created', 'calls', ['queue_id', 'created_at', 'id'],
     ['queue_id', 'created_at']),
    ('ix_calls_disposition_created', 'calls', ['disposition', 'created_at', 'id'], None),
    ('ix_calls_talk', 'calls', ['talk_seconds'], None),
    ('ix_call_agents_agent_call', 'call_agents', ['agent_id', 'call_id'], None),
)


def upgrade() -> None:
    conn = op.get_bind()
    for name, table, columns, old in INDEXES:
        if old is not None:
            op.drop_index(name, table_name=table)
        op.create_index(name, table, columns)
    if conn.dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        op.create_index('ix_calls_number_trigram', 'calls', ['customer_number'],
                        postgresql_using='gin',
                        postgresql_ops={'customer_number': 'gin_trgm_ops'})
        op.create_index('ix_calls_number_prefix', 'calls', ['customer_number'],
                        postgresql_ops={'customer_number': 'varchar_pattern_ops'})
    else:
        for statement in SQLITE_NUMBERS:
            op.execute(statement)

    op.create_table(
        'leg_cdrs',
        sa.Column('leg_uuid', sa.String(length=36), nullable=False),
        sa.Column('call_id', sa.String(length=64), nullable=False),
        sa.Column('document', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id'], ondelete='CASCADE',
                                name=op.f('fk_leg_cdrs_call_id_calls')),
        sa.PrimaryKeyConstraint('leg_uuid', name=op.f('pk_leg_cdrs')),
    )
    op.create_index(op.f('ix_leg_cdrs_call_id'), 'leg_cdrs', ['call_id'])
    _move_documents(conn, compress=True)
    with op.batch_alter_table('call_legs', schema=None) as batch_op:
        batch_op.drop_column('raw_cdr')


def downgrade() -> None:
    conn = op.get_bind()
    with op.batch_alter_table('call_legs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('raw_cdr', sa.Text(), nullable=True))
    _move_documents(conn, compress=False)
    op.drop_index(op.f('ix_leg_cdrs_call_id'), table_name='leg_cdrs')
    op.drop_table('leg_cdrs')
    if conn.dialect.name == 'postgresql':
        op.drop_index('ix_calls_number_prefix', table_name='calls')
        op.drop_index('ix_calls_number_trigram', table_name='calls')
    else:
        for statement in SQLITE_NUMBERS_DROP:
            op.execute(statement)
    for name, table, _columns, old in reversed(INDEXES):
        op.drop_index(name, table_name=table)
        if old is not None:
            op.create_index(name, table, old)


def _move_documents(conn, *, compress: bool) -> None:
    """Every leg's document from call_legs.raw_cdr into leg_cdrs (compressed), or back, a
    batch at a time in the order of the legs' UUIDs (constant memory, however many)."""
    if compress:
        read = sa.text('SELECT uuid, call_id, raw_cdr FROM call_legs WHERE raw_cdr IS NOT NULL'
                       ' AND uuid > :after ORDER BY uuid LIMIT :n')
        write = sa.text('INSERT INTO leg_cdrs (leg_uuid, call_id, document) '
                        'VALUES (:uuid, :call_id, :document)')
    else:
        read = sa.text('SELECT leg_uuid AS uuid, call_id, document FROM leg_cdrs '
                       'WHERE leg_uuid > :after ORDER BY leg_uuid LIMIT :n')
        write = sa.text('UPDATE call_legs SET raw_cdr = :raw_cdr WHERE uuid = :uuid')
    after = ''
    while True:
        rows = conn.execute(read, {'after': after, 'n': BATCH}).all()
        if not rows:
            return
        if compress:
            conn.execute(write, [{'uuid': uuid, 'call_id': call_id,
                                  'document': zlib.compress(text.encode(), 6)}
                                 for uuid, call_id, text in rows])
        else:
            conn.execute(write, [{'uuid': uuid, 'raw_cdr': zlib.decompress(document).decode()}
                                 for uuid, _call_id, document in rows])
        after = rows[-1][0]
