"""Who handled a call (call_agents): one row per agent leg that talked to the customer, with
its talk, hold and wrap-up and how it left — through a plain call, a blind transfer, a completed
consult and a transfer to a queue. Switchboard → real ESL → simulator, on both databases."""

from __future__ import annotations

from sqlalchemy import select

from callcenter.models import AgentLeft, CallAgent
from tests.switchboard.test_api_controls import login  # noqa: F401 - fixture
from tests.switchboard.test_consult import consulting_bob
from tests.switchboard.test_controls import bob, customer_hangs_up, talking  # noqa: F401
from tests.switchboard.test_queues import (  # noqa: F401 - fixtures
    agents,
    available,
    call_of,
    caller_enters,
    queued,
)


def handlers(rig, call_id):
    """The call's rows as (agent, talk, hold, wrap-up, how it left), in the order they joined."""
    with rig.database.session() as session:
        rows = session.scalars(select(CallAgent).where(CallAgent.call_id == call_id)
                               .order_by(CallAgent.joined_at)).all()
        return [(row.agent_id, row.talk_seconds, row.hold_seconds, row.wrapup_seconds,
                 row.left_how) for row in rows]


def wrap_up_ends(rig, agent_id):
    """The agent's wrap-up timer runs out."""
    rig.advance(rig.board.agent(agent_id).wrapup_seconds)


def test_a_plain_call_has_one_row_with_its_hold_and_wrap_up(rig, agent_id):
    call = talking(rig, agent_id)
    rig.advance(10)
    rig.board.hold(call.id)
    rig.advance(4)
    rig.board.unhold(call.id)
    rig.advance(6)
    customer_hangs_up(rig, call)
    assert handlers(rig, call.id) == [(agent_id, 20.0, 4.0, None, AgentLeft.CUSTOMER_HUNG_UP)]
    seconds = rig.board.agent(agent_id).wrapup_seconds
    assert seconds > 0
    wrap_up_ends(rig, agent_id)
    assert handlers(rig, call.id) == [(agent_id, 20.0, 4.0, seconds,
                                       AgentLeft.CUSTOMER_HUNG_UP)]


def test_an_agent_who_hangs_up_left_by_hanging_up(rig, agent_id):
    call = talking(rig, agent_id)
    rig.advance(7)
    rig.sim.far_end_hangs_up(call.agent_leg)
    rig.settle()
    [(who, talk, _hold, _wrapup, how)] = handlers(rig, call.id)
    assert (who, talk, how) == (agent_id, 7.0, AgentLeft.HUNG_UP)


def test_a_blind_transfer_keeps_both_agents_shares(rig, agent_id, bob):  # noqa: F811
    call = talking(rig, agent_id)
    rig.advance(3)
    rig.board.transfer(call.id, agent_id=bob)
    rig.settle()
    rig.advance(4)
    wrap_up_ends(rig, agent_id)     # alice's wrap-up after her part, while bob talks
    rig.advance(2)
    customer_hangs_up(rig, call)
    alice_wrapup = rig.board.agent(agent_id).wrapup_seconds
    assert handlers(rig, call.id) == [
        (agent_id, 3.0, 0.0, alice_wrapup, AgentLeft.TRANSFERRED),
        (bob, 4.0 + alice_wrapup + 2, 0.0, None, AgentLeft.CUSTOMER_HUNG_UP)]


def test_a_completed_consult_keeps_both_agents_shares(rig, agent_id, bob):  # noqa: F811
    call, _consult = consulting_bob(rig, agent_id, bob)
    rig.advance(3)
    rig.board.consult_step(call.id, "complete")
    rig.settle()
    rig.advance(5)
    customer_hangs_up(rig, call)
    [alice, bobs] = handlers(rig, call.id)
    assert (alice[0], alice[1], alice[4]) == (agent_id, 3.0, AgentLeft.COMPLETED_CONSULT)
    assert (bobs[0], bobs[1], bobs[4]) == (bob, 5.0, AgentLeft.CUSTOMER_HUNG_UP)


def test_a_call_sent_back_to_the_queue_has_a_row_per_agent(queued, agents):  # noqa: F811
    rig = queued
    available(rig, agents["bob"])
    call = call_of(rig, caller_enters(rig))
    assert call.agent_id == agents["bob"]
    rig.advance(8)
    rig.board.transfer_to_queue(call.id, "sales")
    rig.settle()
    available(rig, agents["carol"])
    assert call.agent_id == agents["carol"]
    assert rig.sim.channels[call.customer_leg].partner is rig.sim.channels[call.agent_leg], \
        "the next agent to answer is bridged to the customer"
    rig.advance(6)
    rig.sim.far_end_hangs_up(call.customer_leg)
    rig.settle()
    [(bob_id, bob_talk, _, _, bob_how), (carol_id, carol_talk, _, _, carol_how)] = \
        handlers(rig, call.id)
    assert (bob_id, bob_talk, bob_how) == (agents["bob"], 8.0, AgentLeft.REQUEUED)
    assert (carol_id, carol_talk, carol_how) == (agents["carol"], 6.0,
                                                 AgentLeft.CUSTOMER_HUNG_UP)


def test_the_cdr_api_lists_every_agent_and_each_may_read_it(rig, agent_id, bob, login):  # noqa: F811
    call = talking(rig, agent_id)
    rig.advance(3)
    rig.board.transfer(call.id, agent_id=bob)
    rig.settle()
    rig.advance(4)
    customer_hangs_up(rig, call)
    alice = login("alice")      # no longer the call's agent, but she handled it
    reply = alice("GET", f"/api/calls/{call.id}")
    assert reply.status_code == 200
    parts = reply.json["call"]["agents"]
    assert [(p["agent_id"], p["talk_seconds"], p["left"]) for p in parts] == [
        (agent_id, 3.0, "transferred"), (bob, 4.0, "customer_hung_up")]
    assert parts[0]["leg"] != parts[1]["leg"] and parts[0]["left_at"] <= parts[1]["joined_at"]
