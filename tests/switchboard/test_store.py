"""The switchboard's one database writer: batches, a bad write loses only itself, an
unreachable database loses nothing."""

from __future__ import annotations

import sqlite3

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
