"""Transfer to a queue end to end: an agent sends its customer into a queue's line —
switchboard → real ESL over TCP → simulator, on both databases. Each path checks the commands
sent, the legs in the simulator, the agents' states, the caller's place in line and the CDR."""

from __future__ import annotations

import json

import pytest

from callcenter.models import AgentState, AgentStatus, HangupBy, LegRole, Outcome
from callcenter.switchboard import ControlError
from tests.switchboard.test_controls import cdr
from tests.switchboard.test_events import events
from tests.switchboard.test_queues import (  # noqa: F401 - fixtures
    HOLD,
    agents,
    available,
    call_of,
    caller_enters,
    make_queue,
    queued,
)


def bob_answers_a_caller(rig, agents):  # noqa: F811
    """A caller enters sales and bob takes it; commands forgotten."""
    available(rig, agents["bob"])
    caller = caller_enters(rig)
    call = call_of(rig, caller)
    assert call.agent_id == agents["bob"] and rig.sim.channels[caller].partner is not None
    rig.link.commands.clear()
    return call


def line_of(rig, name):
    return [call.id for call in rig.board.distributor.lines[name]]


@pytest.mark.parametrize("keep", [True, False])
def test_back_to_its_own_queue_the_caller_keeps_its_place_unless_the_site_says_not(
        queued, agents, keep):  # noqa: F811
    rig = queued
    rig.board.requeue.keep_entry = keep
    call = bob_answers_a_caller(rig, agents)
    customer, bob_leg = call.customer_leg, call.agent_leg
    entered = call.features["queue"].entered
    rig.advance(30)
    later = call_of(rig, caller_enters(rig, caller="15550000002"))   # nobody free: it waits
    rig.link.commands.clear()
    rig.advance(5)

    rig.board.transfer_to_queue(call.id, "sales")
    rig.settle()
    assert rig.link.commands == [
        f"uuid_setvar {customer} park_after_bridge true",
        f"uuid_setvar {bob_leg} cc_transfer left",
        f"uuid_park {customer}",
        f"uuid_kill {bob_leg} NORMAL_CLEARING",
        f"uuid_answer {customer}",
        f"uuid_broadcast {customer} {HOLD} aleg"]
    channel = rig.sim.channels[customer]
    assert channel.parked and channel.last_app == ("playback", HOLD), "music in the line"
    assert bob_leg not in rig.sim.channels
    assert rig.board.agent(agents["bob"]).state is AgentState.WRAP_UP
    assert call.agent_id is None and call.progress.value == "waiting"
    waiting = call.features["queue"]
    assert waiting.entered == (entered if keep else rig.clock.now())
    assert line_of(rig, "sales") == ([call.id, later.id] if keep else [later.id, call.id])

    # The next free agent takes the first in line; one CDR for the whole call.
    available(rig, agents["carol"])
    first = call if keep else later
    assert first.agent_id == agents["carol"]
    rig.sim.far_end_hangs_up(first.customer_leg)
    rig.settle()
    if keep:
        assert customer not in rig.sim.channels
        row, legs = cdr(rig, call.id)
        assert (row.agent_id, row.outcome, row.hangup_by) == (
            agents["carol"], Outcome.ANSWERED, HangupBy.CUSTOMER)
        assert sorted(leg.role for leg in legs) == [LegRole.AGENT, LegRole.AGENT,
                                                    LegRole.CUSTOMER]
    story = [json.loads(row.detail) for row in events(rig, kind="transfer", call_id=call.id)]
    assert story == [{"to_queue": "sales", "result": "done", "kept_entry": keep}]


def test_to_another_queue_the_caller_enters_it_now(queued, agents, database):  # noqa: F811
    rig = queued
    make_queue(database, name="support", tiers=[(agents["carol"], 1, 1)])
    rig.board.reload_queues()
    call = bob_answers_a_caller(rig, agents)
    rig.advance(20)
    rig.board.transfer_to_queue(call.id, "support")
    rig.settle()
    assert call.features["queue"].entered == rig.clock.now()
    assert line_of(rig, "support") == [call.id] and line_of(rig, "sales") == []
    rig.board.set_status(agents["carol"], AgentStatus.AVAILABLE)
    rig.settle()
    rig.advance(0)
    assert call.agent_id == agents["carol"]
    assert rig.board.agent(agents["bob"]).state is AgentState.WRAP_UP


def test_a_transfer_to_a_queue_that_does_not_exist_changes_nothing(queued, agents):  # noqa: F811
    rig = queued
    call = bob_answers_a_caller(rig, agents)
    with pytest.raises(ControlError, match="no queue named"):
        rig.board.transfer_to_queue(call.id, "nowhere")
    rig.settle()
    assert rig.link.commands == [] and call.agent_id == agents["bob"]
    assert rig.board.agent(agents["bob"]).state is AgentState.IN_CALL
