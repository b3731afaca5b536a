"""The switchboard's one database writer: batches, a bad write loses only itself, an
unreachable database loses nothing."""

from __future__ import annotations

import sqlite3

import gevent
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from callcenter.models import Call, Direction
from callcenter.switchboard.store import Store


def add_call(call_id: str):
    def write(session):
        session.add(Call(id=call_id, direction=Direction.OUTBOUND, customer_number="15551234567"))
    return write


def count(database) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(Call))


def test_writes_are_committed_in_batches(database):
    store = Store(database.sessions, batch=100)
    store.start()
    for i in range(250):
        store.submit(add_call(f"c{i}"))
    assert store.flush(10)
    assert count(database) == 250 and store.written == 250 and store.failed == 0
    store.stop()


def test_a_bad_write_loses_only_itself(database):
    store = Store(database.sessions)
    store.start()
    store.submit(add_call("a"))
    store.submit(add_call("a"))  # duplicate key
    store.submit(add_call("b"))
    assert store.flush(10)
    assert count(database) == 2 and store.failed == 1 and store.written == 2
    store.stop()


def test_an_unreachable_database_is_retried_and_loses_nothing(database):
    outages = iter([True, True])

    class FlakySessions:
        """The database refuses connections twice, then comes back."""
        def __call__(self):
            session = database.sessions()
            if next(outages, False):
                def refuse():
                    raise OperationalError("COMMIT", {}, sqlite3.OperationalError(
                        "could not connect to server: Connection refused"))
                session.commit = refuse
            return session

    store = Store(FlakySessions(), retry_initial=0.01)
    store.start()
    for i in range(5):
        store.submit(add_call(f"c{i}"))
    assert store.flush(10)
    assert count(database) == 5 and store.retries == 2 and store.failed == 0
    store.stop()


def test_a_batch_stops_at_its_time_budget_and_the_writer_yields_between_batches(database):
    transactions = []

    def sessions():
        transactions.append(1)
        return database.sessions()

    store = Store(sessions, batch=100, budget=0.0)  # over budget after every write
    store.start()
    for i in range(10):
        store.submit(add_call(f"c{i}"))
    seen: set[int] = set()

    def watch():  # another greenlet, as the event handler would be
        while store.depth:
            seen.add(store.written)
            gevent.sleep(0)

    watcher = gevent.spawn(watch)
    assert store.flush(10)
    watcher.join(5)
    assert count(database) == 10 and store.written == 10 and store.failed == 0
    assert len(transactions) == 10, "one write per transaction once the budget is spent"
    assert any(0 < written < 10 for written in seen), "the hub ran between two transactions"
    store.stop()


def test_a_bad_write_in_a_batch_cut_by_the_budget_loses_only_itself(database):
    store = Store(database.sessions, budget=0.0)
    store.start()
    for call_id in ("a", "a", "b", "c"):  # the second is a duplicate key
        store.submit(add_call(call_id))
    assert store.flush(10)
    assert count(database) == 3 and store.failed == 1 and store.written == 3
    store.stop()
