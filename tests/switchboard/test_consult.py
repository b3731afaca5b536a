"""Consult (warm transfer) end to end: switchboard → real ESL over TCP → simulator, on a
ManualClock. Each path checks the commands sent, where every leg is in the simulator (bridged,
parked with music, gone), the agents' states, what the page saw and the CDR."""

from __future__ import annotations

import pytest

from callcenter.models import AgentState, HangupBy, LegRole
from callcenter.sim import Behaviour
from callcenter.switchboard import ControlError
from callcenter.switchboard.consult import HOLD_MUSIC
from callcenter.switchboard.dialer import RINGBACK
from tests.switchboard.conftest import NUMBER, TIMES
from tests.switchboard.test_controls import OTHER_NUMBER, bob, cdr, seen, talking  # noqa: F401
from tests.switchboard.test_events import events, story


def states(rig, call):
    return [c["state"] for c in seen(rig, call.id, "consult")[1:]]


def partner(rig, uuid):
    other = rig.sim.channels[uuid].partner
    return other.uuid if other is not None else None


def consult_story(rig, call, agent_id):
    """The call's consult rows, each by the consulting agent."""
    rows = events(rig, kind="consult", call_id=call.id)
    assert {row.agent_id for row in rows} == {agent_id}
    return [detail for _kind, detail in story(rows)]


def music(rig, uuid):
    channel = rig.sim.channels[uuid]
    return channel.parked and channel.last_app == ("playback", HOLD_MUSIC)


def consulting_bob(rig, agent_id, bob):  # noqa: F811 - the fixture, passed on
    """alice talks to a customer, then to bob (answered at once); commands forgotten."""
    call = talking(rig, agent_id)
    agent, customer = call.agent_leg, call.customer_leg
    consult = rig.board.consult(call.id, agent_id=bob)
    rig.settle()
    target = consult.leg
    assert rig.commands()[:4] == [f"uuid_setvar {customer} park_after_bridge true",
                                  f"uuid_setvar {agent} park_after_bridge true",
                                  f"uuid_setvar {agent} uuid_bridge_park_on_cancel true",
                                  f"uuid_park {customer}"]
    assert rig.commands()[4].startswith(f"originate {{origination_uuid={target},")
    assert "cc_transfer=joining" in rig.commands()[4]
    assert rig.commands()[5:] == [
        f"uuid_broadcast {customer} {HOLD_MUSIC} aleg",
        f"uuid_broadcast {agent} {RINGBACK} aleg",
        f"uuid_setvar {target} park_after_bridge true",
        f"uuid_break {agent} all",
        f"uuid_bridge {agent} {target}"]
    assert partner(rig, agent) == target and music(rig, customer)
    assert consult.state == "consulting"
    assert rig.board.agent(bob).state is AgentState.IN_CALL
    assert rig.board.agent(agent_id).state is AgentState.IN_CALL
    rig.link.commands.clear()
    return call, consult


def assert_first_agent_told_last(rig, call, agent_id, state):
    """The first agent's page is told the hand-over with a version above every earlier message
    about the call (the reply to its own "complete" carries one of those: it must not win)."""
    about = [(m["call"]["version"], (m["call"]["consult"] or {}).get("state"), to)
             for m, to in rig.hub.messages if m["type"] == "call" and m["call"]["id"] == call.id]
    versions = [(version, seen_state) for version, seen_state, _to in about]
    told = [(version, seen_state) for version, seen_state, to in about if to == agent_id]
    assert told[-1][1] == state
    earlier = [version for version, seen_state in versions if seen_state != state]
    assert told[-1][0] > max(earlier)


def test_consult_then_complete_hands_the_customer_to_the_target(rig, agent_id, bob):  # noqa: F811
    call, consult = consulting_bob(rig, agent_id, bob)
    agent, customer, target = call.agent_leg, call.customer_leg, consult.leg
    rig.advance(3)
    rig.board.consult_step(call.id, "complete")
    rig.settle()
    assert rig.commands() == [
        f"uuid_setvar {customer} park_after_bridge false", f"uuid_break {customer} all",
        f"uuid_setvar {target} park_after_bridge false", f"uuid_break {target} all",
        f"uuid_setvar {agent} cc_transfer left",
        f"uuid_bridge {target} {customer}",
        f"uuid_setvar {target} cc_transfer joined",
        f"uuid_kill {agent} NORMAL_CLEARING"]
    assert partner(rig, customer) == target and agent not in rig.sim.channels
    assert (call.agent_leg, call.agent_id, consult.state) == (target, bob, "completed")
    assert rig.board.agent(bob).state is AgentState.IN_CALL
    assert rig.board.agent(agent_id).state is AgentState.WRAP_UP
    assert states(rig, call) == ["dialing", "ringing", "consulting", "completing", "completed"]
    assert_first_agent_told_last(rig, call, agent_id, "completed")
    rig.advance(4)
    rig.sim.far_end_hangs_up(customer)
    rig.settle()
    assert dict(rig.sim.channels) == {}, "no leg left behind"
    assert rig.board.agent(bob).state is AgentState.WRAP_UP
    row, legs = cdr(rig, call.id)
    assert (row.agent_id, row.hangup_by) == (bob, HangupBy.CUSTOMER)
    assert sorted((leg.uuid, leg.role) for leg in legs) == sorted(
        [(agent, LegRole.AGENT), (target, LegRole.AGENT), (customer, LegRole.CUSTOMER)])
    assert all(leg.ended_at is not None for leg in legs)
    assert consult_story(rig, call, agent_id) == [
        {"to": "1001", "result": "started", "to_agent_id": bob},
        {"to": "1001", "result": "completed", "to_agent_id": bob}]


def test_the_target_hanging_up_while_swapped_leaves_the_agent_with_the_customer(
        rig, agent_id, bob):  # noqa: F811
    """Swapped: the agent already talks to the customer; bob's hangup must not make the agent
    wait for a park that never comes (it is not leaving a bridge)."""
    call, consult = consulting_bob(rig, agent_id, bob)
    agent, customer, target = call.agent_leg, call.customer_leg, consult.leg
    rig.board.consult_step(call.id, "swap")
    rig.settle()
    rig.link.commands.clear()
    rig.sim.far_end_hangs_up(target)
    rig.settle()
    assert rig.commands() == [
        f"uuid_break {agent} all", f"uuid_break {customer} all",
        f"uuid_bridge {agent} {customer}",
        f"uuid_setvar {customer} park_after_bridge false",
        f"uuid_setvar {agent} park_after_bridge false"]
    assert partner(rig, agent) == customer and target not in rig.sim.channels
    assert consult.state == "failed" and not consult.returning
    assert rig.board.agent(agent_id).state is AgentState.IN_CALL


def test_swap_then_cancel_brings_the_agent_back_to_the_customer(rig, agent_id, bob):  # noqa: F811
    call, consult = consulting_bob(rig, agent_id, bob)
    agent, customer, target = call.agent_leg, call.customer_leg, consult.leg
    rig.board.consult_step(call.id, "swap")
    rig.settle()
    assert rig.commands() == [f"uuid_break {customer} all", f"uuid_bridge {agent} {customer}",
                              f"uuid_broadcast {target} {HOLD_MUSIC} aleg"]
    assert partner(rig, agent) == customer and music(rig, target), "bob waits with music"
    assert seen(rig, call.id, "consult")[-1]["on_hold"] == "target"
    with pytest.raises(ControlError, match="finish the consult with bob first"):
        rig.board.hold(call.id)
    rig.link.commands.clear()
    rig.board.consult_step(call.id, "swap")
    rig.settle()
    assert rig.commands() == [f"uuid_break {target} all", f"uuid_bridge {agent} {target}",
                              f"uuid_broadcast {customer} {HOLD_MUSIC} aleg"]
    rig.link.commands.clear()
    rig.board.consult_step(call.id, "cancel")
    rig.settle()
    assert rig.commands() == [
        f"uuid_kill {target} NORMAL_CLEARING",
        f"uuid_break {agent} all", f"uuid_break {customer} all",
        f"uuid_bridge {agent} {customer}",
        f"uuid_setvar {customer} park_after_bridge false",
        f"uuid_setvar {agent} park_after_bridge false"]
    assert partner(rig, agent) == customer and target not in rig.sim.channels
    assert consult.state == "cancelled" and call.agent_id == agent_id
    assert rig.board.agent(bob).state is AgentState.WRAP_UP, "bob talked: he wraps up"
    assert rig.board.agent(agent_id).state is AgentState.IN_CALL
    with pytest.raises(ControlError, match="only while you consult"):
        rig.board.consult_step(call.id, "complete")
    rig.board.hold(call.id)       # alice's call again: every control works
    rig.settle()
    rig.sim.far_end_hangs_up(customer)
    rig.settle()
    assert dict(rig.sim.channels) == {}
    row, legs = cdr(rig, call.id)
    assert (row.agent_id, row.hangup_by, len(legs)) == (agent_id, HangupBy.CUSTOMER, 3)
    bob_too = {"to": "1001", "to_agent_id": bob}
    assert consult_story(rig, call, agent_id) == [
        {**bob_too, "result": "started"},
        {**bob_too, "result": "swapped", "talking_to": "customer"},
        {**bob_too, "result": "swapped", "talking_to": "target"},
        {**bob_too, "result": "cancelled"}]


@pytest.mark.parametrize("behaviour, cause", [
    (Behaviour.busy(300), "USER_BUSY"), (Behaviour.ringing(), "NO_ANSWER")])
def test_a_target_that_is_busy_or_does_not_answer_gives_the_customer_back(
        rig, agent_id, bob, behaviour, cause):  # noqa: F811
    call = talking(rig, agent_id)
    agent, customer = call.agent_leg, call.customer_leg
    rig.sim.script("1001", behaviour)
    consult = rig.board.consult(call.id, agent_id=bob)
    rig.settle()
    assert music(rig, customer) and rig.sim.channels[agent].parked
    rig.advance(TIMES.agent_ring + TIMES.timer_margin)
    assert (consult.state, consult.cause) == ("failed", cause)
    assert partner(rig, agent) == customer and consult.leg not in rig.sim.channels
    assert rig.board.agent(bob).state is AgentState.IDLE
    assert rig.board.agent(agent_id).state is AgentState.IN_CALL
    rig.sim.far_end_hangs_up(customer)
    rig.settle()
    assert dict(rig.sim.channels) == {}
    assert consult_story(rig, call, agent_id) == [
        {"to": "1001", "result": "started", "to_agent_id": bob},
        {"to": "1001", "result": "failed", "to_agent_id": bob, "cause": cause}]


def test_consult_of_an_agent_who_cannot_take_it_changes_nothing(rig, agent_id, bob):  # noqa: F811
    call = talking(rig, agent_id)
    rig.board.set_status(bob, rig.board.agent(bob).status.ON_BREAK)
    with pytest.raises(ControlError, match="bob is not free"):
        rig.board.consult(call.id, agent_id=bob)
    with pytest.raises(ControlError, match="only while you consult"):
        rig.board.consult_step(call.id, "swap")
    assert rig.commands() == [], "nothing sent"


def test_customer_hanging_up_during_the_consult_ends_every_leg(rig, agent_id, bob):  # noqa: F811
    call, consult = consulting_bob(rig, agent_id, bob)
    rig.sim.far_end_hangs_up(call.customer_leg)
    rig.settle()
    assert dict(rig.sim.channels) == {}, "no leg left behind"
    assert consult.state == "failed"
    assert rig.board.agent(bob).state is AgentState.WRAP_UP
    assert rig.board.agent(agent_id).state is AgentState.WRAP_UP
    row, _ = cdr(rig, call.id)
    assert (row.agent_id, row.hangup_by) == (agent_id, HangupBy.CUSTOMER)


def test_first_agent_hanging_up_while_consulting_hands_the_customer_over(
        rig, agent_id, bob):  # noqa: F811
    call, consult = consulting_bob(rig, agent_id, bob)
    agent, customer, target = call.agent_leg, call.customer_leg, consult.leg
    rig.sim.far_end_hangs_up(agent)
    rig.settle()
    assert partner(rig, customer) == target, "the customer is with bob"
    assert (call.agent_leg, call.agent_id, consult.state) == (target, bob, "completed")
    assert rig.board.agent(agent_id).state is AgentState.WRAP_UP
    rig.sim.far_end_hangs_up(target)
    rig.settle()
    assert dict(rig.sim.channels) == {}
    row, _ = cdr(rig, call.id)
    assert (row.agent_id, row.hangup_by) == (bob, HangupBy.AGENT)


@pytest.mark.parametrize("answers", [True, False])
def test_first_agent_hanging_up_while_the_target_rings(rig, agent_id, bob, answers):  # noqa: F811
    call = talking(rig, agent_id)
    agent, customer = call.agent_leg, call.customer_leg
    rig.sim.script("1001", Behaviour.answer(3000) if answers else Behaviour.ringing())
    consult = rig.board.consult(call.id, agent_id=bob)
    rig.settle()
    rig.sim.far_end_hangs_up(agent)
    rig.settle()
    assert music(rig, customer), "the customer waits for bob"
    rig.advance(3)
    rig.advance(TIMES.agent_ring + TIMES.timer_margin)
    if answers:
        assert partner(rig, customer) == consult.leg and call.agent_id == bob
        rig.sim.far_end_hangs_up(customer)
        rig.settle()
    assert dict(rig.sim.channels) == {}, "no leg left behind"
    assert rig.board.agent(bob).state is (AgentState.WRAP_UP if answers else AgentState.IDLE)
    row, _ = cdr(rig, call.id)
    assert row.agent_id == (bob if answers else agent_id)


def test_consult_a_number_bridges_on_its_early_media(rig, agent_id):
    """Its originate returns on early media and the leg parks: then it is bridged."""
    call = talking(rig, agent_id)
    agent, customer = call.agent_leg, call.customer_leg
    rig.sim.script(OTHER_NUMBER, Behaviour.early_media(500, answer_after_ms=2000))
    consult = rig.board.consult(call.id, number=OTHER_NUMBER)
    rig.settle()
    assert f"sofia/gateway/carrier/{OTHER_NUMBER} &park()" in rig.commands()[4]
    assert "cc_agent_id" not in rig.commands()[4]
    rig.advance(0.5)
    assert partner(rig, agent) == consult.leg and consult.state == "consulting"
    rig.advance(2)
    rig.board.consult_step(call.id, "complete")
    rig.settle()
    assert partner(rig, customer) == consult.leg and call.agent_id is None
    assert rig.board.agent(agent_id).state is AgentState.WRAP_UP
    rig.sim.far_end_hangs_up(consult.leg)
    rig.settle()
    assert dict(rig.sim.channels) == {}
    assert cdr(rig, call.id)[0].customer_number == NUMBER


def test_a_cancel_while_the_targets_originate_has_not_returned_keeps_the_call(
        rig, agent_id, bob):  # noqa: F811
    """Seen on FreeSWITCH 1.10.12 under load: bob answers, but his originate returns a little
    later. A uuid_bridge sent on his answer waits for it, and bob's hangup meanwhile (a quick
    cancel) hung the agent's leg up, then the customer. The agent is bridged to bob only once
    bob has parked."""
    call = talking(rig, agent_id)
    agent, customer = call.agent_leg, call.customer_leg
    rig.sim.switch.originate_settle_s = 0.05
    consult = rig.board.consult(call.id, agent_id=bob)
    rig.settle()
    assert rig.sim.channels[consult.leg].answered
    rig.board.consult_step(call.id, "cancel")
    rig.settle()
    rig.advance(0.1)
    rig.settle()
    assert consult.leg not in rig.sim.channels and consult.state == "cancelled"
    assert agent in rig.sim.channels, "the agent's leg is not hung up with bob's"
    assert partner(rig, agent) == customer, "the agent is back with the customer"
    assert call.outcome is None and rig.board.agent(agent_id).state is AgentState.IN_CALL



def test_the_steps_wait_until_the_agents_bridge_is_up(rig, agent_id, bob):  # noqa: F811
    """Seen on FreeSWITCH 1.10.12: a uuid_bridge sent while the agent's previous one is still
    being set up makes the switch hang up the party it waited for (DESTINATION_OUT_OF_ORDER).
    A step is refused until CHANNEL_BRIDGE says the agent's bridge is up; the page learns the
    new state only then."""
    call, consult = consulting_bob(rig, agent_id, bob)
    with rig.sim.bus.hold():            # FreeSWITCH has not said the bridge is up yet
        rig.board.consult_step(call.id, "swap")
        assert consult.state == "consulting"
        for step in ("swap", "three-way", "complete"):
            with pytest.raises(ControlError, match="still being connected"):
                rig.board.consult_step(call.id, step)
    rig.settle()
    assert consult.state == "swapped" and states(rig, call)[-1] == "swapped"
    rig.board.consult_step(call.id, "swap")
    rig.settle()
    assert consult.state == "consulting"
    assert rig.sim.channels[consult.leg].partner.uuid == call.agent_leg
