"""call handlers: one row per (agent, call) the agent handled (the call's agent of record, or an
agent with a part in call_agents), carrying the call's created_at, so "an agent's calls, newest
first" is one index range walk (agent_id, created_at, call_id) that stops after a page.

The rows are kept by triggers on calls and call_agents, on both databases: every writer (the
switchboard's store, the CDR writer, bulk loads) fills them without knowing of the table, and
the rule lives in one place, HANDLED below. Existing calls are filled by the upgrade.

Also on PostgreSQL: the number trigram index's pending list kept short (PENDING_LIMIT).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 19:45:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

# Does agent :a still handle call :c? (After a part leaves, or the agent of record changes.)
HANDLED = ("EXISTS (SELECT 1 FROM calls WHERE calls.id = {c} AND calls.agent_id = {a}) OR "
           "EXISTS (SELECT 1 FROM call_agents WHERE call_agents.call_id = {c} "
           "AND call_agents.agent_id = {a})")


def _forget(a: str, c: str) -> str:
    return (f"DELETE FROM call_handlers WHERE agent_id = {a} AND call_id = {c} "  # noqa: S608
            f"AND NOT ({HANDLED.format(a=a, c=c)})")


SQLITE = (
    "CREATE TRIGGER call_handlers_call_insert AFTER INSERT ON calls "
    "WHEN new.agent_id IS NOT NULL BEGIN "
    "INSERT OR IGNORE INTO call_handlers (agent_id, call_id, created_at) "
    "VALUES (new.agent_id, new.id, new.created_at); END",
    # The CDR writer sets every column of a summary: only a real change does anything.
    "CREATE TRIGGER call_handlers_call_update AFTER UPDATE OF agent_id, created_at ON calls "  # noqa: S608
    "WHEN old.agent_id IS NOT new.agent_id OR old.created_at IS NOT new.created_at BEGIN "
    f"{_forget('old.agent_id', 'old.id')}; "
    "INSERT OR IGNORE INTO call_handlers (agent_id, call_id, created_at) "
    "SELECT new.agent_id, new.id, new.created_at WHERE new.agent_id IS NOT NULL; "
    "UPDATE call_handlers SET created_at = new.created_at WHERE call_id = new.id; END",
    "CREATE TRIGGER call_handlers_part_insert AFTER INSERT ON call_agents "
    "WHEN new.agent_id IS NOT NULL BEGIN "
    "INSERT OR IGNORE INTO call_handlers (agent_id, call_id, created_at) "
    "SELECT new.agent_id, id, created_at FROM calls WHERE id = new.call_id; END",
    "CREATE TRIGGER call_handlers_part_update AFTER UPDATE OF agent_id, call_id ON call_agents "  # noqa: S608
    "WHEN old.agent_id IS NOT new.agent_id OR old.call_id IS NOT new.call_id BEGIN "
    f"{_forget('old.agent_id', 'old.call_id')}; "
    "INSERT OR IGNORE INTO call_handlers (agent_id, call_id, created_at) "
    "SELECT new.agent_id, id, created_at FROM calls "
    "WHERE id = new.call_id AND new.agent_id IS NOT NULL; END",
    "CREATE TRIGGER call_handlers_part_delete AFTER DELETE ON call_agents "
    f"WHEN old.agent_id IS NOT NULL BEGIN {_forget('old.agent_id', 'old.call_id')}; END",  # noqa: S608
)
SQLITE_DROP = tuple(f"DROP TRIGGER IF EXISTS call_handlers_{name}" for name in (
    "call_insert", "call_update", "part_insert", "part_update", "part_delete"))

POSTGRESQL = (
    f"""CREATE FUNCTION call_handlers_from_calls() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' THEN
            {_forget('OLD.agent_id', 'OLD.id')};
            UPDATE call_handlers SET created_at = NEW.created_at
             WHERE call_id = NEW.id AND created_at IS DISTINCT FROM NEW.created_at;
        END IF;
        IF NEW.agent_id IS NOT NULL THEN
            INSERT INTO call_handlers (agent_id, call_id, created_at)
            VALUES (NEW.agent_id, NEW.id, NEW.created_at) ON CONFLICT DO NOTHING;
        END IF;
        RETURN NULL;
    END $$""",  # noqa: S608
    f"""CREATE FUNCTION call_handlers_from_parts() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.agent_id IS NOT NULL THEN
            {_forget('OLD.agent_id', 'OLD.call_id')};
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.agent_id IS NOT NULL THEN
            INSERT INTO call_handlers (agent_id, call_id, created_at)
            SELECT NEW.agent_id, id, created_at FROM calls WHERE id = NEW.call_id
            ON CONFLICT DO NOTHING;
        END IF;
        RETURN NULL;
    END $$""",  # noqa: S608
    "CREATE TRIGGER call_handlers_call_insert AFTER INSERT ON calls FOR EACH ROW "
    "WHEN (NEW.agent_id IS NOT NULL) EXECUTE FUNCTION call_handlers_from_calls()",
    "CREATE TRIGGER call_handlers_call_update AFTER UPDATE OF agent_id, created_at ON calls "  # noqa: S608
    "FOR EACH ROW WHEN (OLD.agent_id IS DISTINCT FROM NEW.agent_id "
    "OR OLD.created_at IS DISTINCT FROM NEW.created_at) "
    "EXECUTE FUNCTION call_handlers_from_calls()",
    "CREATE TRIGGER call_handlers_part_change AFTER INSERT OR DELETE OR UPDATE OF agent_id, "
    "call_id ON call_agents FOR EACH ROW EXECUTE FUNCTION call_handlers_from_parts()",
)
POSTGRESQL_DROP = (
    "DROP TRIGGER IF EXISTS call_handlers_call_insert ON calls",
    "DROP TRIGGER IF EXISTS call_handlers_call_update ON calls",
    "DROP TRIGGER IF EXISTS call_handlers_part_change ON call_agents",
    "DROP FUNCTION IF EXISTS call_handlers_from_calls()",
    "DROP FUNCTION IF EXISTS call_handlers_from_parts()",
)

# New calls' trigrams wait in the GIN index's pending list until a vacuum merges them, and
# every "contains" search reads that list through: up to 4 MB by default (1.2 MB of it cost
# a search's count some 10 ms at a million calls), flushed by the writer past 256 kB instead.
PENDING_LIMIT = 'ALTER INDEX ix_calls_number_trigram SET (gin_pending_list_limit = 256)'

# The calls handled so far: agents of record, then agents with a part (each pair once).
BACKFILL = (
    "INSERT INTO call_handlers (agent_id, call_id, created_at) "
    "SELECT agent_id, id, created_at FROM calls WHERE agent_id IS NOT NULL",
    "INSERT INTO call_handlers (agent_id, call_id, created_at) "
    "SELECT DISTINCT call_agents.agent_id, calls.id, calls.created_at "
    "FROM call_agents JOIN calls ON calls.id = call_agents.call_id "
    "WHERE call_agents.agent_id IS NOT NULL AND (calls.agent_id IS NULL "
    "OR calls.agent_id <> call_agents.agent_id)",
)


def upgrade() -> None:
    op.create_table(
        'call_handlers',
        sa.Column('agent_id', sa.Integer(), nullable=False),
        sa.Column('call_id', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], ondelete='CASCADE',
                                name=op.f('fk_call_handlers_agent_id_agents')),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id'], ondelete='CASCADE',
                                name=op.f('fk_call_handlers_call_id_calls')),
        sa.PrimaryKeyConstraint('agent_id', 'call_id', name=op.f('pk_call_handlers')),
    )
    for statement in BACKFILL:
        op.execute(statement)
    op.create_index('ix_call_handlers_agent_created', 'call_handlers',
                    ['agent_id', 'created_at', 'call_id'])
    op.create_index(op.f('ix_call_handlers_call_id'), 'call_handlers', ['call_id'])
    postgres = op.get_bind().dialect.name == 'postgresql'
    for statement in POSTGRESQL if postgres else SQLITE:
        op.execute(statement)
    if postgres:
        op.execute(PENDING_LIMIT)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == 'postgresql'
    if postgres:
        op.execute('ALTER INDEX ix_calls_number_trigram RESET (gin_pending_list_limit)')
    for statement in POSTGRESQL_DROP if postgres else SQLITE_DROP:
        op.execute(statement)
    op.drop_index(op.f('ix_call_handlers_call_id'), table_name='call_handlers')
    op.drop_index('ix_call_handlers_agent_created', table_name='call_handlers')
    op.drop_table('call_handlers')
