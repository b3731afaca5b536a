"""The events table as a simulated flow writes it (switchboard → real ESL → simulator, on both
databases), and today's figures read back from those rows."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from callcenter import figures
from callcenter.figures.day import day_of
from callcenter.models import Agent, AgentStatus, Event, Queue, QueueAgent
from callcenter.sim import Behaviour
from callcenter.switchboard.records import dumps, loads

DID, CALLER, NUMBER = "5550100", "15557654321", "5551234"
UTC = ZoneInfo("UTC")


def events(rig, **where) -> list[Event]:
    with rig.database.session() as session:
        rows = session.scalars(select(Event).filter_by(**where).order_by(Event.id)).all()
        session.expunge_all()
        return rows


def story(rows) -> list[tuple]:
    return [(row.kind.value, json.loads(row.detail)) for row in rows]


def add_bob(rig, make_user, database) -> int:
    user_id = make_user("bob", extension="1001")
    with database.session() as session:
        bob = session.scalar(select(Agent.id).where(Agent.user_id == user_id))
    rig.board.agent(bob)
    rig.sim.register("1001")
    rig.settle()
    return bob


def test_a_queued_call_s_story_and_today_s_figures(rig, make_user, database, tmp_path):
    bob = add_bob(rig, make_user, database)
    with database.session() as session:
        queue = Queue(name="sales", service_level_seconds=20, wrapup_seconds=10)
        session.add(queue)
        session.flush()
        session.add(QueueAgent(queue_id=queue.id, agent_id=bob, level=1, position=1))
    rig.board.reload_queues()
    rig.board.recording.recordings_dir = tmp_path / "recordings"
    caller = rig.sim.inject_inbound(DID, CALLER, "sales")
    rig.settle()
    rig.advance(8)                                  # waits 8 s: nobody is Available
    rig.board.set_status(bob, AgentStatus.AVAILABLE)
    rig.settle()
    rig.advance(0)                                  # bob's softphone answers by itself
    call = rig.board.call(rig.board.legs.legs[caller].call_id)
    assert call.agent_id == bob
    rig.advance(2)
    rig.board.hold(call.id)
    rig.advance(3)
    rig.board.unhold(call.id)
    rig.board.record(call.id, True)
    rig.advance(1)
    rig.board.record(call.id, False)
    rig.advance(4)
    rig.sim.far_end_hangs_up(caller)
    rig.settle()
    rig.advance(10)                                 # the queue's wrap-up ends

    assert story(events(rig, agent_id=bob)) == [
        ("agent_status", {"status": "available"}),
        ("agent_state", {"state": "reserved"}),
        ("agent_state", {"state": "ringing"}),
        ("agent_state", {"state": "in_call"}),
        ("hold", {}), ("unhold", {}),
        ("recording_started", {"path": f"{tmp_path}/recordings/{call_path(call)}.wav"}),
        ("recording_stopped", {"path": f"{tmp_path}/recordings/{call_path(call)}.wav"}),
        ("agent_state", {"state": "wrap_up"}),
        ("agent_state", {"state": "idle"}),
    ]
    assert {row.call_id for row in events(rig, agent_id=bob)[1:]} == {call.id}
    *_, wrap_up, idle = events(rig, agent_id=bob)
    assert (wrap_up.prior_state.value, wrap_up.prior_seconds) == ("in_call", 10.0)
    assert (idle.prior_status.value, idle.prior_state.value, idle.prior_seconds) == (
        "available", "wrap_up", 10.0)
    assert [row.kind.value for row in events(rig, call_id=call.id)][:4] == [
        "agent_state"] * 3 + ["hold"]

    rig.advance(20)                                 # bob waits, Available, for the next one
    now = rig.clock.now()
    day = figures.today(database, now=now, timezone=UTC)
    assert day["day"] == day_of(now, UTC).isoformat() and day["timezone"] == "UTC"
    [sales] = day["queues"]
    assert sales == {"queue": "sales", "offered": 1, "answered": 1, "abandoned": 0,
                     "short_abandoned": 0, "timed_out": 0, "overflowed": 0,
                     "callbacks_requested": 0, "abandon_rate": 0.0, "service_level": 1.0,
                     "service_level_seconds": 20, "asa_s": 8.0, "aht_s": 20.0}
    assert day["totals"] == {k: v for k, v in sales.items()
                             if k not in ("queue", "service_level_seconds")}
    row = next(a for a in day["agents"] if a["agent_id"] == bob)
    assert (row["handled"], row["missed_offers"], row["aht_s"]) == (1, 0, 20.0)
    assert (row["seconds"]["in_call"], row["seconds"]["wrap_up"]) == (10.0, 10.0)
    assert row["seconds"]["available"] == 40.0 and row["occupancy"] == 0.5
    busy = [i for i in day["intervals"] if i["offered"]]
    assert [(i["queue"], i["answered"], i["peak_waiting"]) for i in busy] == [
        (None, 1, 1), ("sales", 1, 1)]


def call_path(call) -> str:
    from datetime import UTC, datetime
    return f"{datetime.fromtimestamp(call.created, UTC):%Y/%m/%d}/{call.id}"


def test_a_transfer_is_in_the_call_s_story_and_the_first_agent_wraps_it_up(
        rig, agent_id, make_user, database):
    bob = add_bob(rig, make_user, database)
    rig.board.set_status(bob, AgentStatus.AVAILABLE)
    rig.sim.script(NUMBER, Behaviour.answer(0))
    call = rig.board.dial(agent_id, NUMBER)
    rig.settle()
    rig.advance(3)
    rig.board.transfer(call.id, agent_id=bob)
    rig.settle()
    rig.advance(4)
    rig.sim.far_end_hangs_up(call.customer_leg)
    rig.settle()
    transfers = story(events(rig, kind="transfer"))
    assert transfers == [("transfer", {"to": "1001", "result": "started", "to_agent_id": bob}),
                         ("transfer", {"to": "1001", "result": "done", "to_agent_id": bob})]
    assert {row.agent_id for row in events(rig, kind="transfer")} == {agent_id}
    alice = [(row.kind.value, json.loads(row.detail).get("state"), row.call_id)
             for row in events(rig, agent_id=agent_id) if row.kind.value == "agent_state"]
    assert alice[-1] == ("agent_state", "wrap_up", call.id)


def test_an_event_replayed_from_the_spool_is_written_once(rig, agent_id):
    persist, store = rig.board.persist, rig.board.store
    rig.board.set_status(agent_id, AgentStatus.AVAILABLE)
    [record] = persist._event_records()   # taken before the writer: as the spool would keep it
    store.submit(record)
    store.submit(loads(dumps(record)))
    rig.settle()
    with rig.database.session() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 1
