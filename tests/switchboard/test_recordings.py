"""Recordings rows end to end: switchboard → real ESL → simulator, whose RECORD_START and
RECORD_STOP carry what FreeSWITCH's do (Record-File-Path, record_ms, record_file_size)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from sqlalchemy import select

from callcenter.esl.protocol import Event
from callcenter.models import Recording
from tests.switchboard import test_controls
from tests.switchboard.test_controls import customer_hangs_up, talking

bob, recordings = test_controls.bob, test_controls.recordings   # their fixtures


def rows(rig):
    with rig.database.session() as session:
        found = session.scalars(select(Recording).order_by(Recording.id)).all()
        session.expunge_all()
        return found


def test_each_recording_of_a_call_gets_its_row_from_start_to_stop(rig, agent_id, recordings):
    call = talking(rig, agent_id)
    day = datetime.fromtimestamp(call.created, UTC)
    first = f"{recordings}/{day:%Y/%m/%d}/{call.id}.wav"
    second = f"{recordings}/{day:%Y/%m/%d}/{call.id}-2.wav"
    rig.board.record(call.id, True)
    rig.settle()
    [started] = rows(rig)
    assert (started.call_id, started.leg_uuid, started.path) == (call.id, call.agent_leg, first)
    assert started.ended_at is None and started.seconds is None and started.bytes is None
    rig.advance(5)
    rig.board.record(call.id, False)
    rig.advance(1)
    rig.board.record(call.id, True)
    rig.advance(2)
    customer_hangs_up(rig, call)     # the second ends with the agent's leg
    one, two = rows(rig)
    assert (one.path, two.path) == (first, second)
    assert (one.seconds, two.seconds) == (5.0, 2.0)
    assert (one.bytes, two.bytes) == (os.path.getsize(first), os.path.getsize(second))
    assert one.bytes == 44 + 5 * 8000 * 4            # 8 kHz, 16-bit stereo, and the header
    assert (one.ended_at - one.started_at).total_seconds() == 5
    assert two.started_at > one.ended_at and two.leg_uuid == call.agent_leg


def test_a_transferred_call_has_a_row_for_each_agent_leg(rig, agent_id, bob, recordings):
    call = talking(rig, agent_id)
    old = call.agent_leg
    rig.board.record(call.id, True)
    rig.advance(3)
    transfer = rig.board.transfer(call.id, agent_id=bob)
    rig.settle()
    rig.advance(4)
    customer_hangs_up(rig, call)
    one, two = rows(rig)
    assert (one.leg_uuid, one.seconds) == (old, 3.0)
    assert (two.leg_uuid, two.seconds) == (transfer.leg, 4.0)
    assert {one.call_id, two.call_id} == {call.id}
    assert all(row.ended_at is not None and row.bytes > 44 for row in (one, two))


def test_the_size_comes_from_the_disk_when_the_stop_does_not_say(rig, agent_id, recordings):
    call = talking(rig, agent_id)
    rig.board.record(call.id, True)
    rig.advance(2)
    [row] = rows(rig)
    os.makedirs(os.path.dirname(row.path), exist_ok=True)
    with open(row.path, "wb") as file:
        file.write(b"x" * 1234)
    stop = Event({"Event-Name": "RECORD_STOP", "Unique-ID": call.agent_leg,
                  "Record-File-Path": row.path, "variable_record_ms": "2500"})
    rig.board.recording.on_record(stop)
    rig.board.recording.measuring.join(timeout=10)
    rig.settle()
    [row] = rows(rig)
    assert (row.bytes, row.seconds) == (1234, 2.5)
