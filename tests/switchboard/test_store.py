"""The switchboard's one database writer: records in batches; a write the database refuses waits
(on disk too) and lands when the database is back; a write refused for its own data is set
aside without blocking the others."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

import gevent
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from callcenter import db as dbmod
from callcenter.models import Call, Direction
from callcenter.switchboard import records
from callcenter.switchboard.spool import Spool
from callcenter.switchboard.store import Store
from tests.switchboard.conftest import write_switch

SQLITE_READONLY, SQLITE_IOERR_WRITE = 8, 778


def new_call(call_id: str) -> records.Record:
    return records.insert("calls", [dict(id=call_id, direction=Direction.OUTBOUND,
                                         customer_number="15551234567",
                                         created_at=datetime(2026, 1, 2, 3, 4, tzinfo=UTC))])


def orphan_leg(uuid: str) -> records.Record:
    """A leg of a call that does not exist: the foreign key refuses it (its own data)."""
    return records.insert("call_legs", [dict(uuid=uuid, call_id="no-such-call", role="agent")])


def count(database) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(Call))


def sqlite_fault(code: int) -> OperationalError:
    error = sqlite3.OperationalError("attempt to write a readonly database")
    error.sqlite_errorcode = code
    return OperationalError("INSERT", {}, error)


class FailingSessions:
    """The database's sessions, whose commit raises `fault` while `failing` is set."""

    def __init__(self, database, fault: Exception) -> None:
        self.database, self.fault, self.failing = database, fault, True
        self.attempts = 0

    def __call__(self):
        session = self.database.sessions()
        if self.failing:
            self.attempts += 1

            def refuse():
                raise self.fault
            session.commit = refuse
        return session


def wait_for(condition, timeout: float = 10) -> None:
    with gevent.Timeout(timeout, AssertionError("condition never became true")):
        while not condition():
            gevent.sleep(0.005)


@pytest.fixture
def spool(tmp_path) -> Spool:
    return Spool(tmp_path / "spool")


def test_records_are_committed_in_batches(database):
    store = Store(database.sessions, batch=100)
    store.start()
    for i in range(250):
        store.submit(new_call(f"c{i}"))
    assert store.flush(10)
    assert count(database) == 250 and store.written == 250 and store.failed == 0
    assert store.health() == {"database": "ok", "backlog": 0, "spool": 0, "spool_state": "ok",
                              "dead_letters": 0}
    store.stop()


def test_a_record_refused_for_its_data_is_set_aside_and_the_others_land(database, spool,
                                                                        caplog):
    store = Store(database.sessions, spool=spool)
    store.start()
    store.submit(new_call("a"))
    store.submit(orphan_leg("leg-1"))
    store.submit(new_call("b"))
    assert store.flush(10)
    assert count(database) == 2 and store.failed == 1 and store.written == 2
    # The refused batch is said out loud and counted, not only the record set aside.
    assert store.batches_refused == 1
    assert "writing them one by one" in caplog.text
    [line] = spool.dead_letters.read_text().splitlines()
    letter = json.loads(line)
    assert "FOREIGN KEY" in letter["reason"].upper()
    assert records.loads(letter["record"]) == orphan_leg("leg-1")
    store.stop()


def test_a_record_no_operation_can_run_is_set_aside(database, spool):
    store = Store(database.sessions, spool=spool)
    store.start()
    store.submit(records.Record("drop", "calls", {}, [{"id": "x"}]))
    store.submit(new_call("a"))
    assert store.flush(10)
    assert count(database) == 1 and store.failed == 1
    assert "unknown record operation" in spool.dead_letters.read_text()
    store.stop()


def test_a_refusing_database_keeps_every_write_queued_in_order_until_it_is_back(database, spool):
    sessions = FailingSessions(database, sqlite_fault(SQLITE_READONLY))
    reopened = []
    store = Store(sessions, spool=spool, retry_initial=0.01, retry_max=0.02,
                  reopen=lambda: reopened.append(1))
    store.start()
    for i in range(5):
        store.submit(new_call(f"c{i}"))
    wait_for(lambda: sessions.attempts >= 3)
    health = store.health()
    assert health["database"] == "failing" and health["backlog"] == 5 and health["spool"] == 5
    assert "readonly" in health["database_error"]
    assert not store.flush(0.05) and count(database) == 0 and store.failed == 0
    assert reopened, "the engine is reopened after a database fault"
    store.submit(new_call("c5"))  # arrives while failing: spooled by the next attempt
    wait_for(lambda: store.health()["spool"] == 6)
    sessions.failing = False
    assert store.flush(10)
    assert count(database) == 6 and store.failed == 0
    assert store.health()["database"] == "ok" and store.health()["spool"] == 0
    assert spool.load() == [], "the spool is emptied once everything in it landed"
    store.stop()


def test_writes_refused_by_a_read_only_connection_land_once_it_is_writable(database):
    """A refusal that works as root too: the writer's connections open read-only."""
    read_only = write_switch(database)
    read_only(True)
    store = Store(database.sessions, reopen=database.dispose, retry_initial=0.01,
                  retry_max=0.02)
    store.start()
    store.submit(new_call("a"))
    store.submit(new_call("b"))
    wait_for(lambda: store.retries >= 2)
    assert store.failing and store.depth == 2 and count(database) == 0
    read_only(False)            # the next reopened connection can write again
    assert store.flush(10), "no restart needed"
    assert count(database) == 2 and not store.failing
    store.stop()


def test_writes_kept_in_the_spool_land_after_a_restart(database, spool):
    sessions = FailingSessions(database, sqlite_fault(SQLITE_IOERR_WRITE))
    store = Store(sessions, spool=spool, retry_initial=0.01, retry_max=0.02)
    store.start()
    for i in range(3):
        store.submit(new_call(f"c{i}"))
    store.stop(timeout=0.1)              # the controller stops while the database refuses
    assert [r.values[0]["id"] for r in spool.load()] == ["c0", "c1", "c2"]
    assert count(database) == 0

    restarted = Store(database.sessions, spool=spool)
    restarted.submit(new_call("c3"))     # new work waits behind what the spool kept
    restarted.start()
    assert restarted.flush(10)
    with database.session() as session:
        assert sorted(session.scalars(select(Call.id))) == ["c0", "c1", "c2", "c3"]
    assert spool.load() == []
    restarted.stop()


def test_replaying_writes_that_had_already_landed_changes_nothing(database, spool):
    store = Store(database.sessions, spool=spool)
    store.start()
    store.submit(new_call("a"))
    assert store.flush(10)
    store.stop()
    spool.append([new_call("a"), new_call("b")])  # stopped between commit and emptying
    again = Store(database.sessions, spool=spool)
    again.start()
    assert again.flush(10)
    assert count(database) == 2 and again.failed == 0
    again.stop()


def test_a_torn_last_spool_line_is_skipped(spool):
    spool.append([new_call("a")])
    with open(spool.path, "a") as file:
        file.write('["insert","calls",{},[{"id":"b"')   # the process died mid-append
    assert [r.values[0]["id"] for r in spool.load()] == ["a"]


def test_when_the_spool_cannot_be_written_the_store_says_so_and_keeps_writes_in_memory(
        database, spool, caplog):
    sessions = FailingSessions(database, sqlite_fault(SQLITE_READONLY))

    def disk_full(_records):
        raise OSError(28, "No space left on device")

    spool.append = disk_full
    store = Store(sessions, spool=spool, retry_initial=0.01, retry_max=0.02)
    store.start()
    store.submit(new_call("a"))
    wait_for(lambda: store.spool_error is not None)
    health = store.health()
    assert health["spool_state"] == "failing" and "No space" in health["spool_error"]
    assert health["backlog"] == 1
    assert any("CANNOT WRITE THE STORE SPOOL" in r.getMessage() for r in caplog.records)
    sessions.failing = False
    assert store.flush(10)
    assert count(database) == 1
    store.stop()


def test_a_batch_stops_at_its_time_budget_and_the_hub_hears_of_each_commit(database):
    transactions = []

    def sessions():
        transactions.append(1)
        return database.sessions()

    heard: list[list] = []   # the batches the hub was told were committed

    store = Store(sessions, batch=100, budget=0.0,  # over budget after every write
                  committed=heard.append)
    store.start()
    for i in range(10):
        store.submit(new_call(f"c{i}"))
        store.submit(records.update_rows("calls", [{"id": f"c{i}", "caller_id": "5550100"}]))
    assert store.flush(60)
    assert count(database) == 10 and store.written == 20 and store.failed == 0
    assert len(transactions) == 20, "one statement per transaction once the budget is spent"
    assert [len(batch) for batch in heard] == [1] * 20, "the hub hears of each commit"
    store.stop()


def test_a_bad_record_in_a_batch_cut_by_the_budget_loses_only_itself(database):
    store = Store(database.sessions, budget=0.0)
    store.start()
    for record in (new_call("a"), orphan_leg("x"), new_call("b"), new_call("c")):
        store.submit(record)
    assert store.flush(10)
    assert count(database) == 3 and store.failed == 1 and store.written == 3
    store.stop()


def test_updates_fills_and_cdr_legs_round_trip_through_the_spool_text():
    started = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
    from callcenter.cdr import LegRecord
    from callcenter.models import LegRole
    leg = LegRecord(uuid="u1", call_id="c1", role=LegRole.AGENT, direction=Direction.OUTBOUND,
                    started=started, hangup_cause="NORMAL_CLEARING")
    for record in (records.update_rows("agents", [{"id": 1, "status": "available"}]),
                   records.fill_rows("calls", [{"id": "c1", "ended_at": started}]),
                   records.cdr_legs([leg])):
        assert records.loads(records.dumps(record)) == record
    assert records.leg_record(records.loads(records.dumps(records.cdr_legs([leg]))).values[0]) \
        == leg


# --- which faults are the record's own --------------------------------------------------------


class _PgError(Exception):
    def __init__(self, sqlstate):
        super().__init__("boom")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(("exc", "data"), [
    (sqlite_fault(SQLITE_READONLY), False),
    (sqlite_fault(SQLITE_IOERR_WRITE), False),
    (sqlite_fault(5), False),                                       # SQLITE_BUSY
    (sqlite_fault(13), False),                                      # SQLITE_FULL
    (IntegrityError("INSERT", {}, sqlite3.IntegrityError("x")), True),
    (sqlite_fault(19 | (7 << 8)), True),                            # CONSTRAINT_FOREIGNKEY
    (OperationalError("INSERT", {}, _PgError("57P01")), False),     # admin shutdown
    (OperationalError("INSERT", {}, _PgError("08006")), False),     # connection failure
    (OperationalError("INSERT", {}, _PgError("25006")), False),     # read-only transaction
    (IntegrityError("INSERT", {}, _PgError("23505")), True),        # unique violation
    (OperationalError("INSERT", {}, _PgError("22001")), True),      # value too long
    (ValueError("a record names no known table"), True),
])
def test_faults_are_classified_by_code_not_by_message(exc, data):
    assert dbmod.is_data_fault(exc) is data


def test_records_of_one_statement_share_an_executemany_without_reordering_a_table():
    agent = [records.update_rows("agents", [{"id": i, "state": "in_call"}]) for i in range(3)]
    call_a, call_b = new_call("a"), new_call("b")
    outcome_a = records.update_rows("calls", [{"id": "a", "outcome": "answered"}])
    from callcenter.models import LegRole
    cdr = records.Record("cdr", "call_legs", {}, [{"uuid": "u", "call_id": "a",
                                                   "role": LegRole.AGENT}])
    seen_a, seen_b = (records.insert_fill("call_legs", [
        {"uuid": u, "call_id": "a", "channel_name": "x"}], fill=["channel_name"])
        for u in ("u1", "u2"))
    batch = [agent[0], call_a, agent[1], call_b, outcome_a, cdr, agent[2],
             records.update_rows("calls", [{"id": "b", "outcome": "busy"}]), seen_a, seen_b]
    groups = records.grouped(batch)
    # The agent updates ride together (nothing else touches agents between them); the two call
    # inserts too; the update of calls after the CDR (which writes calls) stays after it.
    assert groups == [[agent[0], agent[1], agent[2]], [call_a, call_b], [outcome_a], [cdr],
                      [batch[7]], [seen_a, seen_b]]


def test_ended_calls_cdrs_share_a_pass_unless_something_touched_their_call_since():
    from callcenter.models import LegRole

    def cdr(call_id):
        return records.Record("cdr", "call_legs", {}, [
            {"uuid": f"{call_id}-{n}", "call_id": call_id, "role": LegRole.AGENT}
            for n in (1, 2)])

    def outcome(call_id):
        return records.update_rows("calls", [{"id": call_id, "outcome": "answered"}])

    # Each ended call: its CDR, then its outcome. Other calls' rows between CDRs hold nobody
    # back, and each outcome still runs after its own call's CDR.
    batch = [cdr("a"), outcome("a"), cdr("b"), outcome("b"), cdr("c"), outcome("c")]
    assert records.grouped(batch) == [batch[0::2], batch[1::2]]
    # A CDR after a write of its own call's row, or of a leg named by UUID alone (whose call
    # the batch cannot tell), stays after it.
    again = [cdr("a"), outcome("b"), cdr("b")]
    assert records.grouped(again) == [[again[0]], [again[1]], [again[2]]]
    by_uuid = records.fill_rows("call_legs", [{"uuid": "x-1", "ended_at": None}], by="uuid")
    unknown = [cdr("a"), by_uuid, cdr("b")]
    assert records.grouped(unknown) == [[unknown[0]], [by_uuid], [unknown[2]]]
    # Nor does a CDR run before a later insert of a row it may refer to (its agent).
    agent = records.insert("agents", [{"id": 7, "user_id": 7, "extension": "1007"}])
    late_agent = [cdr("a"), agent, cdr("b")]
    assert records.grouped(late_agent) == [[late_agent[0]], [agent], [late_agent[2]]]


def leg_of(call_id: str, uuid: str) -> records.Record:
    return records.insert("call_legs", [dict(uuid=uuid, call_id=call_id, role="agent")])


def test_a_row_never_moves_ahead_of_the_row_it_refers_to():
    # The second leg insert may not join the first one's executemany: that would run it before
    # the insert of its call, and the foreign key would refuse the whole batch.
    batch = [leg_of("a", "u1"), new_call("b"), leg_of("b", "u2"), leg_of("b", "u3")]
    assert records.grouped(batch) == [[batch[0]], [batch[1]], [batch[2], batch[3]]]
    # Updates of a parent table do not hold children back (only inserts make rows to refer to).
    agent = records.update_rows("agents", [{"id": 1, "state": "idle"}])
    batch = [new_call("c"), agent, new_call("d")]
    assert records.grouped(batch) == [[batch[0], batch[2]], [agent]]


def test_a_call_and_its_legs_land_in_one_transaction_behind_another_calls_leg(database):
    transactions = []

    def sessions():
        transactions.append(1)
        return database.sessions()

    store = Store(sessions, budget=60.0)  # one batch, whatever the records cost
    store.start()
    store.submit(new_call("a"))
    assert store.flush(10)
    transactions.clear()
    for record in (leg_of("a", "u1"), new_call("b"), leg_of("b", "u2")):
        store.submit(record)
    assert store.flush(10)
    assert count(database) == 2 and store.failed == 0 and store.written == 4
    assert len(transactions) == 1, "no batch was refused and written again record by record"
    store.stop()
