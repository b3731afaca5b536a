"""Upgrading an empty database gives exactly the models' schema, and downgrade works."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from callcenter import db as dbmod
from callcenter.models import Base
from callcenter.records.search import NUMBER_INDEX


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def url(request, settings):
    if request.param == "sqlite":
        return settings.database_url
    return request.getfixturevalue("postgres_url")


def for_this_database(dialect: str):
    """Alembic's include_object: leaves out what the models create on another database only
    (an index with `ddl_if(dialect=...)`), which autogenerate does not know of, and SQLite's
    FTS5 number index (a virtual table and its shadow tables, made by migration 0020)."""
    def include(obj, name, type_, reflected, compare_to) -> bool:
        if type_ == "table" and reflected and name.startswith(NUMBER_INDEX):
            return False
        condition = getattr(obj, "_ddl_if", None)
        return condition is None or condition.dialect in (None, dialect)
    return include


def test_upgrade_gives_the_models_schema(url):
    dbmod.upgrade(url)
    database = dbmod.Database(url)
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "compare_type": True, "include_object": for_this_database(conn.dialect.name)})
        assert compare_metadata(context, Base.metadata) == []
    assert database.is_current()
    names = set(inspect(database.engine).get_table_names())
    assert {"users", "agents", "queues", "queue_agents", "calls", "call_legs"} <= names
    indexes = {ix["name"] for ix in inspect(database.engine).get_indexes("calls")}
    assert {"ix_calls_created_at", "ix_calls_agent_created", "ix_calls_queue_created",
            "ix_calls_customer_created"} <= indexes
    database.dispose()


def test_downgrade_to_base_and_back(url):
    dbmod.upgrade(url)
    dbmod.downgrade(url, "base")
    database = dbmod.Database(url)
    assert set(inspect(database.engine).get_table_names()) == {"alembic_version"}
    assert not database.is_current()
    dbmod.upgrade(url)
    assert database.is_current()
    database.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(database):
    with database.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_login_sessions_come_and_go_with_their_revision(url):
    dbmod.upgrade(url)
    database = dbmod.Database(url)
    columns = {c["name"] for c in inspect(database.engine).get_columns("login_sessions")}
    assert columns == {"id", "user_id", "created_at", "last_seen_at", "expires_at", "address",
                       "user_agent"}
    dbmod.downgrade(url, "0005-1")
    inspector = inspect(database.engine)
    assert "login_sessions" not in inspector.get_table_names()
    assert {"users", "sip_credentials"} <= set(inspector.get_table_names())
    dbmod.upgrade(url)
    assert "login_sessions" in inspect(database.engine).get_table_names()
    assert database.is_current()
    database.dispose()


def test_queue_strategies_migrate_to_mod_callcenters_names_and_back(url):
    """0006 renames the two old strategies, and its CHECK admits the nine and nothing else."""
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    dbmod.upgrade(url, "0005")
    database = dbmod.Database(url)
    with database.engine.begin() as conn:
        for n, strategy in enumerate(("longest_idle", "fewest_calls", "ring_all")):
            conn.execute(text("INSERT INTO queues (name, strategy, hold_music, max_wait_seconds,"
                              " service_level_seconds, agent_ring_seconds, description) VALUES"
                              " (:n, :s, 'local_stream://moh', 60, 20, 20, '')"),
                         {"n": f"q{n}", "s": strategy})
    dbmod.upgrade(url)
    with database.engine.begin() as conn:
        rows = dict(conn.execute(text("SELECT name, strategy FROM queues")).all())
        music = set(conn.execute(text("SELECT hold_music FROM queues")).scalars())
    assert rows == {"q0": "longest_idle_agent", "q1": "agent_with_fewest_calls",
                    "q2": "ring_all"}
    assert music == {"tone_stream://%(400,200,523,659);%(400,3000,587,698);loops=-1"}
    with pytest.raises(IntegrityError), database.engine.begin() as conn:
        conn.execute(text("UPDATE queues SET strategy = 'loudest_agent'"))
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE queues SET strategy = 'ring_progressively' WHERE name='q2'"))
    dbmod.downgrade(url, "0005")
    with database.engine.begin() as conn:
        rows = dict(conn.execute(text("SELECT name, strategy FROM queues")).all())
    assert rows == {"q0": "longest_idle", "q1": "fewest_calls", "q2": "longest_idle"}
    database.dispose()


def test_open_hours_come_and_go_with_their_revision(url):
    """0007 adds the queues' open hours and closed action, and lets a call end closed; its
    downgrade drops them and reads closed calls as failed."""
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from callcenter.models import Call

    added = {"open_hours", "holidays", "closed_action", "closed_target", "closed_message"}
    dbmod.upgrade(url)
    database = dbmod.Database(url)
    assert added <= {c["name"] for c in inspect(database.engine).get_columns("queues")}
    with database.engine.begin() as conn:
        conn.execute(text("INSERT INTO queues (name, strategy, hold_music, max_wait_seconds,"
                          " service_level_seconds, agent_ring_seconds, description) VALUES"
                          " ('sales', 'ring_all', 'local_stream://moh', 60, 20, 20, '')"))
        assert conn.execute(text("SELECT closed_action, open_hours FROM queues")).one() \
            == ("hang_up", "")
        # The model's defaults fill the rest of the row (the schema is at head here).
        conn.execute(Call.__table__.insert().values(id="c1", direction="inbound",
                                                    outcome="closed"))
    with pytest.raises(IntegrityError), database.engine.begin() as conn:
        conn.execute(text("UPDATE queues SET closed_action = 'voicemail'"))
    dbmod.downgrade(url, "0006")
    assert not added & {c["name"] for c in inspect(database.engine).get_columns("queues")}
    with database.engine.begin() as conn:
        assert conn.execute(text("SELECT outcome FROM calls")).scalar() == "failed"
    with pytest.raises(IntegrityError), database.engine.begin() as conn:
        conn.execute(text("UPDATE calls SET outcome = 'closed'"))
    dbmod.upgrade(url)
    assert database.is_current()
    database.dispose()


def test_callbacks_come_and_go_with_their_revision(url):
    """0008 adds the callbacks table, the queues' callback settings, the closed action callback
    and the outcome callback_requested; its downgrade drops them, reads those calls as
    abandoned and those queues as hanging up."""
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from callcenter.models import Call

    added = {"callback_key", "callback_retries", "callback_retry_delay_seconds",
             "callback_confirm_message", "callback_unavailable_message"}
    dbmod.upgrade(url)
    database = dbmod.Database(url)
    assert added <= {c["name"] for c in inspect(database.engine).get_columns("queues")}
    assert "callbacks" in inspect(database.engine).get_table_names()
    with database.engine.begin() as conn:
        conn.execute(text("INSERT INTO queues (name, strategy, hold_music, max_wait_seconds,"
                          " service_level_seconds, agent_ring_seconds, description,"
                          " closed_action) VALUES ('sales', 'ring_all', 'local_stream://moh',"
                          " 60, 20, 20, '', 'callback')"))
        assert conn.execute(text("SELECT callback_key, callback_retries,"
                                 " callback_retry_delay_seconds FROM queues")).one() \
            == ("", 2, 300)
        conn.execute(Call.__table__.insert().values(id="c1", direction="inbound",
                                                    outcome="callback_requested"))
    with pytest.raises(IntegrityError), database.engine.begin() as conn:
        conn.execute(text("UPDATE callbacks SET state = 'lost'"))
        conn.execute(text("INSERT INTO callbacks (id, number, caller_name, entered_at,"
                          " requested_at, state, attempts) VALUES ('r1', '5551234', '',"
                          " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 'lost', 0)"))
    dbmod.downgrade(url, "0007")
    assert "callbacks" not in inspect(database.engine).get_table_names()
    assert not added & {c["name"] for c in inspect(database.engine).get_columns("queues")}
    with database.engine.begin() as conn:
        assert conn.execute(text("SELECT outcome FROM calls")).scalar() == "abandoned"
        assert conn.execute(text("SELECT closed_action FROM queues")).scalar() == "hang_up"
    with pytest.raises(IntegrityError), database.engine.begin() as conn:
        conn.execute(text("UPDATE calls SET outcome = 'callback_requested'"))


def test_events_and_the_audit_log_come_and_go_with_their_revision(url):
    dbmod.upgrade(url)
    database = dbmod.Database(url)
    inspector = inspect(database.engine)
    assert {"events", "audit_log"} <= set(inspector.get_table_names())
    postgresql_only = {"ix_events_time_sums"} if url.startswith("postgresql") else set()
    assert {ix["name"] for ix in inspector.get_indexes("events")} == {
        "ix_events_agent_at", "ix_events_call", "ix_events_at", "ix_events_agent_time",
        *postgresql_only}
    assert "ix_offers_offered_at" in {ix["name"] for ix in inspector.get_indexes("offers")}
    dbmod.downgrade(url, "0007")
    inspector = inspect(database.engine)
    assert not {"events", "audit_log"} & set(inspector.get_table_names())
    assert "ix_offers_offered_at" not in {ix["name"] for ix in inspector.get_indexes("offers")}
    dbmod.upgrade(url)
    assert database.is_current()
    database.dispose()


def test_the_figures_indexes_come_and_go_with_their_revision(url):
    dbmod.upgrade(url)
    database = dbmod.Database(url)
    assert "ix_events_agent_time" in {ix["name"] for ix in inspect(database.engine)
                                      .get_indexes("events")}
    assert "ix_calls_entered" in {ix["name"] for ix in inspect(database.engine)
                                  .get_indexes("calls")}
    offers = {ix["name"]: ix["column_names"] for ix in inspect(database.engine)
              .get_indexes("offers")}
    assert offers["ix_offers_offered_at"] == ["offered_at", "agent_id", "outcome"]
    dbmod.downgrade(url, "0011")
    inspector = inspect(database.engine)
    assert {ix["name"] for ix in inspector.get_indexes("events")} == {
        "ix_events_agent_at", "ix_events_call", "ix_events_at"}
    assert "ix_calls_entered" not in {ix["name"] for ix in inspector.get_indexes("calls")}
    offers = {ix["name"]: ix["column_names"] for ix in inspector.get_indexes("offers")}
    assert offers["ix_offers_offered_at"] == ["offered_at"]
    database.dispose()


def test_recorded_calls_get_their_recordings_row_on_upgrade(url):
    """0021 gives each call with a recording_path one recordings row (the call's first file,
    started when it was bridged, ended when the call did); unrecorded calls get none."""
    from sqlalchemy import text

    dbmod.upgrade(url, "0019")
    database = dbmod.Database(url)
    with database.engine.begin() as conn:
        for call_id, path in (("c1", "/r/2026/12/01/c1.wav"), ("c2", None), ("c3", "")):
            conn.execute(text(
                "INSERT INTO calls (id, direction, customer_number, caller_id, created_at, "
                "bridged_at, ended_at, ring_seconds, talk_seconds, hold_seconds, "
                "recording_path) VALUES (:id, 'outbound', '1555', '', '2026-12-01 10:00:00', "
                "'2026-12-01 10:00:05', '2026-12-01 10:01:00', 0, 0, 0, :path)"),
                {"id": call_id, "path": path})
    dbmod.upgrade(url)
    with database.engine.begin() as conn:
        rows = conn.execute(text("SELECT call_id, path, started_at, ended_at, seconds "
                                 "FROM recordings")).all()
    assert [(r.call_id, r.path, r.seconds) for r in rows] == [
        ("c1", "/r/2026/12/01/c1.wav", None)]
    assert str(rows[0].started_at).startswith("2026-12-01 10:00:05")
    assert str(rows[0].ended_at).startswith("2026-12-01 10:01:00")
    dbmod.downgrade(url, "0019")
    assert "recordings" not in inspect(database.engine).get_table_names()
    database.dispose()


def test_raw_cdrs_move_compressed_into_leg_cdrs_and_back(url):
    """0020 moves each leg's document out of call_legs.raw_cdr into leg_cdrs, compressed, and
    indexes the existing calls' numbers; its downgrade puts the documents back."""
    import json

    from sqlalchemy import text

    from callcenter.cdr import raw_cdr
    from callcenter.records.search import Filters, Search

    dbmod.upgrade(url, "0019")
    database = dbmod.Database(url)
    documents = {f"leg-{n}": json.dumps({"variables": {"n": str(n), "pad": "y" * 2000}})
                 for n in range(3)}
    with database.engine.begin() as conn:
        conn.execute(text("INSERT INTO calls (id, direction, customer_number, caller_id, "
                          "created_at, ring_seconds, talk_seconds, hold_seconds) VALUES "
                          "('c1', 'inbound', '+12125550147', '', '2026-12-01 10:00:00', 0, 0, 0)"))
        for uuid, document in documents.items():
            conn.execute(text("INSERT INTO call_legs (uuid, call_id, role, channel_name, "
                              "created_at, raw_cdr) VALUES (:u, 'c1', 'customer', '', "
                              "'2026-12-01 10:00:00', :d)"), {"u": uuid, "d": document})
    dbmod.upgrade(url)
    with database.sessions() as session:
        assert {uuid: raw_cdr(session, uuid) for uuid in documents} == documents
        stored = session.execute(text("SELECT sum(length(document)) FROM leg_cdrs")).scalar()
        assert stored < sum(map(len, documents.values())) / 10
        contains = Search(Filters(number="555014", number_match="contains"))
        assert [call.id for call in contains.page(session, 10).calls] == ["c1"]
    dbmod.downgrade(url, "0019")
    with database.engine.connect() as conn:
        back = dict(conn.execute(text("SELECT uuid, raw_cdr FROM call_legs")).all())
    assert back == documents
    assert "leg_cdrs" not in inspect(database.engine).get_table_names()
    dbmod.upgrade(url)
    database.dispose()


def test_handled_calls_get_their_call_handlers_rows_on_upgrade_and_lose_them_on_downgrade(url):
    """0023 gives each (agent, call) pair of the calls so far one call_handlers row, from the
    call's agent of record and from its call_agents parts (twice the same agent: one row),
    with the call's start; from then on the database keeps them; its downgrade removes the
    table and the triggers (writing calls afterwards still works)."""
    from sqlalchemy import insert, select, text

    from callcenter.models import Agent, Role, User

    dbmod.upgrade(url, "0022")
    database = dbmod.Database(url)
    call = ("INSERT INTO calls (id, direction, agent_id, customer_number, caller_id, created_at,"
            " ring_seconds, talk_seconds, hold_seconds) VALUES (:id, 'inbound', :agent, '1555',"
            " '', :at, 0, 0, 0)")
    part = ("INSERT INTO call_agents (leg_uuid, call_id, agent_id, joined_at, hold_seconds) "
            "VALUES (:leg, :call, :agent, '2026-12-01 10:00:00', 0)")
    with database.session() as session:   # users and agents are as the models say at 0022
        session.execute(insert(User), [{"username": name, "password_hash": "x",
                                        "role": Role.AGENT} for name in ("a1", "a2")])
        users = session.scalars(select(User.id).order_by(User.id)).all()
        session.execute(insert(Agent), [{"user_id": user, "extension": str(2001 + n)}
                                        for n, user in enumerate(users)])
        a1, a2 = session.scalars(select(Agent.id).order_by(Agent.id)).all()
    with database.engine.begin() as conn:
        conn.execute(text(call), [
            {"id": "c1", "agent": a1, "at": "2026-12-01 10:00:00"},   # a1's, then a2's too
            {"id": "c2", "agent": None, "at": "2026-12-01 11:00:00"},  # a2 talked, twice
            {"id": "c3", "agent": None, "at": "2026-12-01 12:00:00"}])  # nobody's
        conn.execute(text(part), [{"leg": "l1", "call": "c1", "agent": a1},
                                  {"leg": "l2", "call": "c1", "agent": a2},
                                  {"leg": "l3", "call": "c2", "agent": a2},
                                  {"leg": "l4", "call": "c2", "agent": a2}])
    dbmod.upgrade(url)
    read = text("SELECT agent_id, call_id, created_at FROM call_handlers "
                "ORDER BY agent_id, call_id")
    with database.engine.begin() as conn:
        rows = [(r.agent_id, r.call_id, str(r.created_at)[:19]) for r in conn.execute(read)]
        assert rows == [(a1, "c1", "2026-12-01 10:00:00"), (a2, "c1", "2026-12-01 10:00:00"),
                        (a2, "c2", "2026-12-01 11:00:00")]
        conn.execute(text(call), {"id": "c4", "agent": a2, "at": "2026-12-01 13:00:00"})
        conn.execute(text(part), {"leg": "l5", "call": "c3", "agent": a1})
        assert {(r.agent_id, r.call_id) for r in conn.execute(read)} >= {(a2, "c4"), (a1, "c3")}
        if conn.dialect.name == "postgresql":   # the trigram index's short pending list
            options = "SELECT reloptions FROM pg_class WHERE relname = 'ix_calls_number_trigram'"
            assert conn.execute(text(options)).scalar() == ["gin_pending_list_limit=256"]
    dbmod.downgrade(url, "0022")
    assert "call_handlers" not in inspect(database.engine).get_table_names()
    with database.engine.begin() as conn:   # no trigger left behind writing to it
        if conn.dialect.name == "postgresql":
            assert conn.execute(text(options)).scalar() is None
        conn.execute(text(call), {"id": "c5", "agent": a1, "at": "2026-12-01 14:00:00"})
        conn.execute(text(part), {"leg": "l6", "call": "c5", "agent": a2})
        conn.execute(text("UPDATE calls SET agent_id = :a WHERE id = 'c5'"), {"a": a2})
        conn.execute(text("DELETE FROM call_agents WHERE leg_uuid = 'l6'"))
    dbmod.upgrade(url)
    with database.engine.begin() as conn:
        assert (a2, "c5") in {(r.agent_id, r.call_id) for r in conn.execute(read)}
    database.dispose()


def test_talk_time_is_sampled_finely_on_postgresql_until_downgraded(url):
    """0025 raises talk_seconds' statistics target on PostgreSQL (the planner then sees how few
    long calls there are and reads ix_calls_talk); its downgrade puts the default back."""
    from sqlalchemy import create_engine, text

    if not url.startswith("postgresql"):
        pytest.skip("statistics targets are PostgreSQL's")
    target = text("SELECT attstattarget FROM pg_attribute WHERE attrelid = 'calls'::regclass "
                  "AND attname = 'talk_seconds'")
    engine = create_engine(url)
    try:
        dbmod.upgrade(url)
        with engine.connect() as conn:
            assert conn.execute(target).scalar() == 1000
        dbmod.downgrade(url, "0024")
        with engine.connect() as conn:
            assert conn.execute(target).scalar() in (-1, None)   # the default (None from 17)
        dbmod.upgrade(url)
    finally:
        engine.dispose()
