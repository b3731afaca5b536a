"""The database writer runs in an OS thread of its own: a write stuck in the database never
stops the hub; records are copied when submitted; a web request's write runs there and the
request waits on its own result; stopping writes what was submitted."""

from __future__ import annotations

import threading
import time

import gevent
import pytest
from sqlalchemy import event, func, insert, select
from sqlalchemy.exc import IntegrityError

from callcenter.app import create_app
from callcenter.errors import Unavailable
from callcenter.models import Call, LoginSession
from callcenter.switchboard import records
from callcenter.switchboard.store import Store
from tests.conftest import AuthActions
from tests.switchboard.test_store import (
    SQLITE_READONLY,
    FailingSessions,
    count,
    new_call,
    sqlite_fault,
)


class GatedSessions:
    """The database's sessions, each handed out only once `gate` is open (a real thread's
    Event: the writer waits in its own thread, as it would inside a slow commit)."""

    def __init__(self, database) -> None:
        self.database = database
        self.gate = threading.Event()
        self.waiting = threading.Event()   # the writer is waiting at the gate

    def __call__(self):
        self.waiting.set()
        assert self.gate.wait(10), "the test never opened the gate"
        return self.database.sessions()


def wait_in_thread(event: threading.Event) -> None:
    """Wait for a real thread's event without holding up the hub."""
    assert gevent.get_hub().threadpool.apply(event.wait, (10,))


def test_records_land_written_by_another_thread(database):
    writers = set()

    def note(*_args):
        writers.add(threading.get_ident())

    event.listen(database.engine, "before_cursor_execute", note)
    store = Store(database.sessions)
    store.start()
    try:
        for i in range(20):
            store.submit(new_call(f"c{i}"))
        assert store.flush(10)
    finally:
        store.stop()
        event.remove(database.engine, "before_cursor_execute", note)
    assert count(database) == 20 and store.written == 20 and store.depth == 0
    assert writers and threading.get_ident() not in writers


def test_a_write_stuck_in_the_database_does_not_stop_the_hub(database):
    sessions = GatedSessions(database)
    store = Store(sessions)
    store.start()
    try:
        store.submit(new_call("a"))
        wait_in_thread(sessions.waiting)
        started = time.monotonic()
        ticks = [gevent.spawn_later(0.01 * i, lambda: None) for i in range(5)]
        gevent.joinall(ticks, timeout=5)
        assert all(tick.dead for tick in ticks), "the hub ran while the writer was stuck"
        assert time.monotonic() - started < 2
        assert store.depth == 1 and not store.flush(0.01)
        sessions.gate.set()
        assert store.flush(10) and count(database) == 1
    finally:
        sessions.gate.set()
        store.stop()


def test_a_row_changed_after_it_was_submitted_is_written_as_it_was(database):
    sessions = GatedSessions(database)
    store = Store(sessions)
    store.start()
    try:
        row = {"id": "a", "direction": "outbound", "customer_number": "15550001"}
        store.submit(records.insert("calls", [row]))
        wait_in_thread(sessions.waiting)    # the writer holds the batch, not yet written
        row["customer_number"] = "15559999"
        row["id"] = "b"
        sessions.gate.set()
        assert store.flush(10)
    finally:
        sessions.gate.set()
        store.stop()
    with database.session() as session:
        assert session.execute(select(Call.id, Call.customer_number)).all() == [
            ("a", "15550001")]


def test_a_web_write_runs_in_the_writer_and_the_request_waits_for_its_result(database):
    store = Store(database.sessions)
    store.start()
    try:
        threads = []

        def add_call(session):
            threads.append(threading.get_ident())
            session.execute(insert(Call).values(id="w1", direction="outbound"))
            return "written"

        assert store.run(add_call) == "written"
        assert count(database) == 1, "committed before the result came back"
        assert threads and threads[0] != threading.get_ident()
        # A write refused for its own data: the request gets the error; nothing else is lost.
        with pytest.raises(IntegrityError):
            store.run(lambda session: session.execute(
                insert(Call).values(id="w1", direction="outbound")))
        store.submit(new_call("c1"))
        assert store.flush(10) and count(database) == 2 and store.failed == 0
    finally:
        store.stop()


def test_a_web_write_fails_at_once_while_the_database_refuses_writes(database, tmp_path):
    sessions = FailingSessions(database, sqlite_fault(SQLITE_READONLY))
    store = Store(sessions, retry_initial=5, retry_max=5)   # a long pause between attempts
    store.start()
    try:
        store.submit(new_call("a"))
        with gevent.Timeout(10, AssertionError("the writer never tried")):
            while not store.failing:
                gevent.sleep(0.005)
        started = time.monotonic()
        with pytest.raises(Unavailable, match="readonly"):
            store.run(lambda session: None)
        assert time.monotonic() - started < 2, "it did not wait behind the retries"
        assert store.depth == 1, "the switchboard's waiting write is kept"
    finally:
        sessions.failing = False
        store.stop(timeout=0.5)


def test_stopping_writes_everything_submitted(database):
    store = Store(database.sessions, budget=0.0)    # one statement per transaction: many
    store.start()
    for i in range(50):
        store.submit(new_call(f"c{i}"))
    store.stop()
    assert count(database) == 50 and store.depth == 0


def test_a_login_and_its_touches_are_written_by_the_writer_not_the_hub(rig, settings, database,
                                                                         admin):
    """The real switchboard: logging in inserts the login's row through the writer (the
    request waits for it); a later request notes the login was seen there too."""
    app = create_app(settings, database, rig.board, rig.hub)
    app.config["TESTING"] = True
    client = app.test_client()
    on_hub: list[str] = []
    by_writer: list[str] = []

    def hub_statement(_conn, _cursor, statement, *_args):
        if "login_sessions" in statement and not statement.startswith("SELECT"):
            on_hub.append(statement.split()[0])

    def writer_statement(_conn, _cursor, statement, *_args):
        if "login_sessions" in statement:
            by_writer.append(statement.split()[0])

    event.listen(database.engine, "before_cursor_execute", hub_statement)
    event.listen(database.writer.engine, "before_cursor_execute", writer_statement)
    try:
        AuthActions(client).login("alice")
        assert by_writer == ["INSERT"]
        with database.session() as session:
            seen = session.scalar(select(LoginSession.last_seen_at))
        rig.clock.advance(61)
        assert client.get("/healthz").status_code == 200
        assert rig.board.store.flush(10)
        assert by_writer == ["INSERT", "UPDATE"]
        with database.session() as session:
            assert session.scalar(select(func.count()).select_from(LoginSession)) == 1
            assert (session.scalar(select(LoginSession.last_seen_at)) - seen).total_seconds() \
                == pytest.approx(61, abs=1)
    finally:
        event.remove(database.engine, "before_cursor_execute", hub_statement)
        event.remove(database.writer.engine, "before_cursor_execute", writer_statement)
    assert on_hub == []


def test_a_json_cdr_post_is_written_by_the_writer_and_answered_with_its_result(rig, settings,
                                                                               database):
    """FreeSWITCH posts two CDRs a call: the post waits for the writer's verdict (here: a leg
    no call owns, kept as unmatched) and the hub's engine writes nothing."""
    from tests.cdrdocs import hangups, json_cdr

    app = create_app(settings, database, rig.board, rig.hub)
    app.config["TESTING"] = True
    on_hub: list[str] = []
    by_writer: list[str] = []

    def hub_statement(_conn, _cursor, statement, *_args):
        if not statement.startswith("SELECT"):
            on_hub.append(statement.split()[0])

    def writer_statement(_conn, _cursor, statement, *_args):
        if "unmatched_legs" in statement:
            by_writer.append(statement.split()[0])

    event.listen(database.engine, "before_cursor_execute", hub_statement)
    event.listen(database.writer.engine, "before_cursor_execute", writer_statement)
    try:
        assert rig.board.store.flush(10)
        body = json_cdr(hangups("03-click-to-dial.plain")[0])
        reply = app.test_client().post(
            "/freeswitch/cdr", data=body, content_type="application/json",
            auth=(settings.freeswitch_http_user, settings.freeswitch_http_password))
    finally:
        event.remove(database.engine, "before_cursor_execute", hub_statement)
        event.remove(database.writer.engine, "before_cursor_execute", writer_statement)
    assert reply.status_code == 200 and "unmatched" in reply.json, reply.json
    assert by_writer == ["INSERT"] and on_hub == []
