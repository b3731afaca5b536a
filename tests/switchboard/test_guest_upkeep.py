"""Website visitors' rows are purged (callcenter/widgets/upkeep.py): a credential never used
goes ten minutes after it was minted, a used one the retention after its call ended (or after
it was minted, when no ended call names it); the purge runs every few minutes on the injectable
clock, through the switchboard's database writer, never on the hub."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from callcenter.audit import CLI
from callcenter.models import Call, Direction, GuestCall
from callcenter.widgets import credentials
from callcenter.widgets import settings as rules
from callcenter.widgets.upkeep import PURGE_SECONDS, UNUSED_KEEP_S, purge, start_purge
from tests.switchboard.test_queues import make_queue

DAY = 86400.0


@pytest.fixture
def widget_id(database) -> int:
    make_queue(database)
    with database.session() as s:
        widget = rules.add_widget(s, {"name": "Shop", "queue": "sales",
                                      "allowed_origins": "https://shop.example.com",
                                      "calls_per_address_hour": "10", "concurrent_calls": "5",
                                      "max_call_seconds": "300", "active": "on"}, who=CLI)
        s.commit()
        return widget.id


@pytest.fixture
def mint(database, clock, widget_id):
    """mint(used=False, call_ended_after=None): a visitor's credential minted now; used by an
    INVITE now, and its call (a CDR row) ended that many seconds later when asked. Its token."""
    def minting(used: bool = False, call_ended_after: float | None = None) -> str:
        with database.session() as s:
            minted = credentials.mint(s, widget_id, "guests.example.com", clock,
                                      address="192.0.2.1", video=False, fields={"name": "Ann"},
                                      page_url="https://shop.example.com/", page_title="Shop")
            s.commit()
            if used:
                row = credentials.use(s, minted.user, f"sip-{minted.token}", clock)
                if call_ended_after is not None:
                    row.call_id = f"call-{minted.token}"
                    s.add(Call(id=row.call_id, direction=Direction.INBOUND, channel="web",
                               created_at=row.used_at, ended_at=row.used_at + timedelta(
                                   seconds=call_ended_after)))
                s.commit()
            return minted.token
    return minting


def kept(database) -> set[str]:
    with database.session() as s:
        return set(s.scalars(select(GuestCall.token)))


def purge_now(database, clock, keep_days: int = 30):
    with database.session() as s:
        purged = purge(s, credentials.when(clock), keep_days)
        s.commit()
        return purged


def test_a_credential_never_used_goes_ten_minutes_after_it_was_minted(database, clock, mint):
    unused = mint()
    used = mint(used=True)              # its call is on (no CDR row yet)
    clock.advance(UNUSED_KEEP_S - 1)
    assert purge_now(database, clock).unused == 0 and kept(database) == {unused, used}
    clock.advance(1)
    assert purge_now(database, clock).unused == 1
    assert kept(database) == {used}


def test_an_ended_call_s_details_go_the_retention_after_it_ended(database, clock, mint):
    long_call = mint(used=True, call_ended_after=3600)
    short_call = mint(used=True, call_ended_after=60)
    never_queued = mint(used=True)      # used by an INVITE that never reached a queue
    clock.advance(30 * DAY - 1)
    assert purge_now(database, clock).ended == 0
    assert kept(database) == {long_call, short_call, never_queued}
    clock.advance(1)                    # 30 days since it was used, and no call ended lately
    assert purge_now(database, clock).ended == 1
    assert kept(database) == {long_call, short_call}
    clock.advance(60)
    purge_now(database, clock)
    assert kept(database) == {long_call}
    clock.advance(3600 - 60)
    purge_now(database, clock)
    assert kept(database) == set()


def test_the_retention_is_the_operator_s(database, clock, mint):
    token = mint(used=True, call_ended_after=0)
    clock.advance(7 * DAY - 1)
    purge_now(database, clock, keep_days=7)
    assert kept(database) == {token}
    clock.advance(1)
    purge_now(database, clock, keep_days=7)
    assert kept(database) == set()


def test_the_purge_runs_every_few_minutes_through_the_writer_off_the_hub(rig, database, mint):
    hub = threading.get_native_id()
    deletes: list[bool] = []            # a DELETE of guest_calls: was it on the hub's thread?

    def seen(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("DELETE FROM GUEST_CALLS"):
            deletes.append(threading.get_native_id() == hub)

    token = mint()
    event.listen(Engine, "before_cursor_execute", seen)    # every engine: the writer's too
    purging = start_purge(rig.board, database, rig.clock, keep_days=30)
    try:
        assert deletes == [False, False]        # at once: both rules, in the writer's thread
        assert kept(database) == {token}
        rig.clock.advance(PURGE_SECONDS)
        assert len(deletes) == 4 and kept(database) == {token}   # 5 minutes old: kept
        rig.clock.advance(PURGE_SECONDS)
        assert len(deletes) == 6 and kept(database) == set()     # 10 minutes old: gone
        assert not any(deletes)
    finally:
        purging.stop()
        event.remove(Engine, "before_cursor_execute", seen)
    rig.clock.advance(PURGE_SECONDS)
    assert len(deletes) == 6                    # stopped
