"""CALLCENTER_CDR_SPOOL_DIR: what mod_json_cdr could not post is loaded by the controller itself
at start, after each reconnection to FreeSWITCH and every minute; files still being written
wait, files that can never load are moved once to rejected/."""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta

import gevent.event
import pytest
from sqlalchemy import select

from callcenter.app import create_app
from callcenter.cdr import LegRecord, raw_cdr
from callcenter.clock import ManualClock
from callcenter.models import CallLeg, Direction, LegRole, Role, UnmatchedLeg
from callcenter.sim import Simulator
from callcenter.switchboard.legs import Call
from tests.cdrdocs import T0, leg_doc, own, snapshot
from tests.conftest import AuthActions
from tests.switchboard.conftest import SIM_PASSWORD, connect_board

START = T0 + timedelta(hours=1)  # the controller's clock: the documents below are an hour old


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=START.timestamp())


@pytest.fixture
def spool(tmp_path):
    directory = tmp_path / "json_cdr"
    directory.mkdir()
    return directory


@pytest.fixture
def start_board(clock, database, tmp_path, spool):
    """The controller with its spool directory, its first pass over it done."""
    made = []

    def start():
        sim = Simulator(SIM_PASSWORD, clock=clock, recordings_dir=str(tmp_path))
        sim.start()
        rig = connect_board(sim, clock, database, cdr_spool_dir=spool)
        made.append(rig)
        assert rig.board.cdr_spool.idle.wait(10), "the first pass never ended"
        return rig

    yield start
    for rig in made:
        rig.link.stop()
        rig.board.stop()
        rig.sim.stop()


def uuid(n: int) -> str:
    return f"5b0c6d4e-0000-4000-8000-{n:012d}"


def placed(database, n: int, call_id: str = "c-1", **kw) -> str:
    """A leg the controller placed (its rows written) and the document FreeSWITCH made of it."""
    document = leg_doc(uuid(n), call_id, start=0, progress=1, answer=2, bridge=3, end=33,
                       role="customer", **kw)
    own(database, LegRecord.from_json_cdr(document))
    return document


def raw_cdrs(database) -> dict[str, str | None]:
    with database.session() as session:
        return {uuid: raw_cdr(session, uuid)
                for uuid in session.scalars(select(CallLeg.uuid))}


def unmatched(database) -> list[tuple[str, str | None, str]]:
    with database.session() as session:
        return [(u.uuid, u.named_call_id, u.source)
                for u in session.scalars(select(UnmatchedLeg).order_by(UnmatchedLeg.uuid))]


def write(path, text: str, *, at: float | None = None):
    """A file as mod_json_cdr writes it, last modified at `at` on the controller's clock."""
    path.write_text(text)
    if at is not None:
        os.utime(path, (at, at))
    return path


def next_pass(rig) -> None:
    assert rig.board.cdr_spool.idle.wait(10), "the pass never ended"


def test_at_start_the_spool_is_loaded_and_emptied(start_board, database, spool):
    document = placed(database, 1)
    (spool / "2026-11-21-09-00-00").mkdir()  # rotate's dated directories
    write(spool / "2026-11-21-09-00-00" / f"a_{uuid(1)}.cdr.json", document)
    stranger = leg_doc(uuid(2), "c-1", start=0, answer=1, bridge=1, end=900, role="customer")
    write(spool / f"{uuid(2)}.cdr.json", stranger)
    rig = start_board()
    assert raw_cdrs(database) == {uuid(1): document}
    assert snapshot(database)[0][0]["talk_seconds"] == 30  # the stranger changed nothing
    assert unmatched(database) == [(uuid(2), "c-1", "spool")]
    assert list(spool.rglob("*.cdr.json")) == []
    figures = rig.board.cdr_spool.as_dict()
    assert {k: figures[k] for k in ("directory", "imported", "rejected", "waiting")} == {
        "directory": str(spool), "imported": 2, "rejected": 0, "waiting": 0}


def test_after_a_reconnect_the_spool_is_loaded(start_board, database, spool):
    rig = start_board()
    passes = rig.board.cdr_spool.passes
    document = placed(database, 1)
    file = write(spool / f"{uuid(1)}.cdr.json", document)
    rig.settle()
    assert file.exists() and rig.board.cdr_spool.passes == passes  # nothing made it look
    reconnected = gevent.event.Event()
    rig.link.on_resync(reconnected.set)  # after the spool's own hook
    rig.link._link._connection.sock.shutdown(socket.SHUT_RDWR)  # the link to FreeSWITCH drops
    assert reconnected.wait(5)
    next_pass(rig)
    assert rig.board.cdr_spool.passes == passes + 1
    assert not file.exists() and raw_cdrs(database) == {uuid(1): document}


def test_every_minute_the_spool_is_loaded(start_board, database, spool, clock):
    rig = start_board()
    document = placed(database, 1)
    file = write(spool / f"{uuid(1)}.cdr.json", document, at=clock.now())
    clock.advance(59)
    next_pass(rig)
    assert file.exists()
    clock.advance(1)
    next_pass(rig)
    assert not file.exists() and raw_cdrs(database) == {uuid(1): document}


def test_a_half_written_young_file_waits_for_the_next_pass(start_board, database, spool, clock):
    rig = start_board()
    document = placed(database, 1)
    file = write(spool / f"{uuid(1)}.cdr.json", document[:300], at=clock.now() - 10)
    rig.board.cdr_spool.wake()
    next_pass(rig)
    assert file.exists() and not (spool / "rejected").exists()
    assert rig.board.cdr_spool.as_dict()["waiting"] == 1
    write(file, document, at=clock.now())  # mod_json_cdr finishes writing it
    clock.advance(60)
    next_pass(rig)
    assert not file.exists() and raw_cdrs(database) == {uuid(1): document}
    assert rig.board.cdr_spool.as_dict()["waiting"] == 0


def test_a_file_that_can_never_load_is_moved_once_and_counted(start_board, database, spool,
                                                               clock, caplog, settings,
                                                               make_user, admin):
    rig = start_board()
    first = placed(database, 1)
    write(spool / f"{uuid(1)}.cdr.json", first)
    rig.board.cdr_spool.wake()
    next_pass(rig)
    # Cut short for good; a second, different document for a leg that has one; a start two
    # hours before its call began; a file named for another leg.
    cut = write(spool / f"{uuid(3)}.cdr.json", "{\"variables\": {\"uuid\"", at=clock.now() - 10)
    write(spool / f"{uuid(1)}.cdr.json", first.replace("NORMAL_CLEARING", "MEDIA_TIMEOUT"))
    placed(database, 4, call_id="c-4")
    write(spool / f"{uuid(4)}.cdr.json", leg_doc(uuid(4), "c-4", start=-7200, end=1))
    write(spool / f"{uuid(5)}.cdr.json", first, at=clock.now() - 120)
    before = snapshot(database)
    with caplog.at_level(logging.ERROR, "callcenter.cdr.files"):
        rig.board.cdr_spool.wake()
        next_pass(rig)
        assert sorted(p.name for p in (spool / "rejected").iterdir()) == sorted(
            f"{uuid(n)}.cdr.json" for n in (1, 4, 5))  # the young one waits
        assert cut.exists() and rig.board.cdr_spool.rejected == 3
        clock.advance(60)  # a minute on, it still does not read: rejected
        next_pass(rig)
        clock.advance(60)
        next_pass(rig)
    assert not cut.exists() and (spool / "rejected" / cut.name).exists()
    assert sorted(p.name for p in spool.rglob("*.cdr.json")) == sorted(
        f"{uuid(n)}.cdr.json" for n in (1, 3, 4, 5))  # moved once, never tried again
    assert rig.board.cdr_spool.rejected == 4
    moved = [r.getMessage() for r in caplog.records if "moved to" in r.getMessage()]
    assert len(moved) == 4
    assert any(f"its start time {T0 - timedelta(hours=2):%Y-%m-%d %H:%M:%S}" in m
               for m in moved)
    assert snapshot(database) == before and raw_cdrs(database)[uuid(1)] == first
    # The figure supervisors read.
    make_user("sam", Role.SUPERVISOR)
    app = create_app(settings, database, rig.board, rig.hub)
    client = app.test_client()
    AuthActions(client).login("sam")
    assert client.get("/api/stats").get_json()["cdr_spool"]["rejected"] == 4


def test_a_leg_the_switchboard_holds_but_has_not_written_waits(start_board, database, spool):
    rig = start_board()
    legs = rig.board.legs
    call = legs.add_call(Call(id="c-9", direction=Direction.OUTBOUND, agent_id=None,
                              number="15551234567"))
    legs.add_leg(call, uuid(9), LegRole.CUSTOMER)
    document = leg_doc(uuid(9), "c-9", start=0, answer=1, bridge=1, end=9, role="customer")
    file = write(spool / f"{uuid(9)}.cdr.json", document)
    rig.board.cdr_spool.wake()
    next_pass(rig)
    assert file.exists() and unmatched(database) == [] and snapshot(database) == ([], [])
    # The writer catches up: the next pass files it in its call.
    own(database, LegRecord.from_json_cdr(document))
    rig.board.cdr_spool.wake()
    next_pass(rig)
    assert not file.exists() and raw_cdrs(database) == {uuid(9): document}
