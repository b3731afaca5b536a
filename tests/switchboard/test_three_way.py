"""Three-way from a consult, on the simulator: everyone in one conference room, who hears whom,
either agent leaving, the customer leaving, agent states, CDR and events."""

from __future__ import annotations

import pytest

from callcenter.models import AgentLeft, AgentState, HangupBy, LegRole
from callcenter.switchboard import ControlError
from tests.switchboard.test_consult import consult_story, consulting_bob, states
from tests.switchboard.test_controls import bob, cdr, talking  # noqa: F401
from tests.switchboard.test_handlers import handlers


def room(call):
    return f"cc-{call.id}"


def three_way(rig, agent_id, bob, swapped=False):  # noqa: F811 - the fixture, passed on
    call, consult = consulting_bob(rig, agent_id, bob)
    if swapped:
        rig.board.consult_step(call.id, "swap")
        rig.settle()
        rig.link.commands.clear()
    rig.board.consult_step(call.id, "three-way")
    rig.settle()
    return call, consult


@pytest.mark.parametrize("swapped", [False, True], ids=["consulting", "swapped"])
def test_three_way_puts_everyone_in_one_room(rig, agent_id, bob, swapped):  # noqa: F811
    call, consult = three_way(rig, agent_id, bob, swapped)
    agent, customer, target = call.agent_leg, call.customer_leg, consult.leg
    parked = target if swapped else customer
    where = f"conference:{room(call)}@callcenter inline"
    assert rig.commands() == [
        f"uuid_setvar {customer} conference_member_flags endconf",
        f"uuid_setvar {customer} cc_hangup_by customer",
        f"uuid_setvar {target} cc_transfer joined",
        f"uuid_break {customer} all", f"uuid_break {agent} all", f"uuid_break {target} all",
        f"uuid_transfer {agent} -both {where}",
        f"uuid_transfer {parked} {where}"]
    switch = rig.sim.switch
    assert sorted(m.uuid for m in switch.rooms[room(call)].members) == sorted(
        [agent, customer, target])
    for leg in (agent, customer, target):
        channel = rig.sim.channels[leg]
        assert channel.partner is None and not channel.parked and channel.playback is None
        assert switch.room_hears(channel) == {agent, customer, target} - {leg}
    assert consult.state == "three_way" and call.outcome is None
    assert rig.board.agent(agent_id).state is AgentState.IN_CALL
    assert rig.board.agent(bob).state is AgentState.IN_CALL
    assert states(rig, call)[-1] == "three_way"
    assert consult_story(rig, call, agent_id)[-1] == {
        "to": "1001", "result": "three_way", "to_agent_id": bob}
    with pytest.raises(ControlError):
        rig.board.hold(call.id)


def test_the_customer_leaving_ends_the_three_way_call(rig, agent_id, bob):  # noqa: F811
    call, consult = three_way(rig, agent_id, bob)
    agent, customer, target = call.agent_leg, call.customer_leg, consult.leg
    rig.advance(5)
    rig.sim.far_end_hangs_up(customer)
    rig.settle()
    assert dict(rig.sim.channels) == {} and rig.sim.switch.rooms == {}, "no leg left behind"
    assert rig.board.agent(agent_id).state is AgentState.WRAP_UP
    assert rig.board.agent(bob).state is AgentState.WRAP_UP
    row, legs = cdr(rig, call.id)
    assert (row.agent_id, row.hangup_by) == (agent_id, HangupBy.CUSTOMER)
    assert sorted((leg.uuid, leg.role) for leg in legs) == sorted(
        [(agent, LegRole.AGENT), (target, LegRole.AGENT), (customer, LegRole.CUSTOMER)])


def test_the_first_agent_leaving_leaves_the_target_with_the_customer(rig, agent_id, bob):  # noqa: F811
    call, consult = three_way(rig, agent_id, bob)
    agent, customer, target = call.agent_leg, call.customer_leg, consult.leg
    rig.advance(5)
    rig.sim.far_end_hangs_up(agent)
    rig.settle()
    assert agent not in rig.sim.channels
    assert sorted(m.uuid for m in rig.sim.switch.rooms[room(call)].members) == sorted(
        [customer, target]), "the other two stay talking"
    assert (call.agent_leg, call.agent_id, call.outcome) == (target, bob, None)
    assert rig.board.agent(agent_id).state is AgentState.WRAP_UP
    assert rig.board.agent(bob).state is AgentState.IN_CALL
    assert consult_story(rig, call, agent_id)[-1] == {
        "to": "1001", "result": "left", "to_agent_id": bob, "who": "agent"}
    rig.advance(5)
    rig.sim.far_end_hangs_up(customer)
    rig.settle()
    assert dict(rig.sim.channels) == {}, "no leg left behind"
    assert rig.board.agent(bob).state is AgentState.WRAP_UP
    row, legs = cdr(rig, call.id)
    assert (row.agent_id, row.hangup_by) == (bob, HangupBy.CUSTOMER)
    assert {leg.uuid for leg in legs} == {agent, customer, target}, "both agents' legs kept"
    # Each agent's part: alice from the first answer to her leaving, bob from the room on.
    parts = {agent_id_: (talk, how) for agent_id_, talk, _hold, _wrap, how
             in handlers(rig, call.id)}
    assert parts == {agent_id: (5, AgentLeft.HUNG_UP), bob: (10, AgentLeft.CUSTOMER_HUNG_UP)}


def test_the_target_leaving_leaves_the_agent_with_the_customer(rig, agent_id, bob):  # noqa: F811
    call, consult = three_way(rig, agent_id, bob, swapped=True)
    agent, customer, target = call.agent_leg, call.customer_leg, consult.leg
    rig.sim.far_end_hangs_up(target)
    rig.settle()
    assert sorted(m.uuid for m in rig.sim.switch.rooms[room(call)].members) == sorted(
        [customer, agent])
    assert (call.agent_leg, call.agent_id, call.outcome) == (agent, agent_id, None)
    assert rig.board.agent(bob).state is AgentState.WRAP_UP
    assert rig.board.agent(agent_id).state is AgentState.IN_CALL
    assert consult_story(rig, call, agent_id)[-1]["who"] == "target"
    rig.sim.far_end_hangs_up(agent)
    rig.settle()
    assert dict(rig.sim.channels) == {}, "no agent left: the customer is hung up"
    row, _ = cdr(rig, call.id)
    assert (row.agent_id, row.hangup_by) == (agent_id, HangupBy.AGENT)


def test_three_way_needs_someone_to_talk_to(rig, agent_id, bob):  # noqa: F811
    call = talking(rig, agent_id)
    with pytest.raises(ControlError, match="three-way"):
        rig.board.consult_step(call.id, "three-way")
    with pytest.raises(ControlError, match="leave a three-way call"):
        rig.board.consult_step(call.id, "leave")


def test_the_agent_leaves_from_the_page(rig, agent_id, bob):  # noqa: F811
    call, consult = three_way(rig, agent_id, bob)
    agent, customer, target = call.agent_leg, call.customer_leg, consult.leg
    rig.link.commands.clear()
    rig.board.consult_step(call.id, "leave")
    rig.settle()
    assert rig.commands()[0] == f"uuid_kill {agent} NORMAL_CLEARING"
    assert agent not in rig.sim.channels and {customer, target} <= set(rig.sim.channels)
    assert (call.agent_id, call.outcome) == (bob, None)
    with pytest.raises(ControlError, match="swap only while you consult someone"):
        rig.board.consult_step(call.id, "swap")


def test_the_rooms_events_follow_mod_conference(rig, agent_id, bob):  # noqa: F811
    """The order and sizes FreeSWITCH 1.10.12 sent (tests/freeswitch/test_three_way.py)."""
    heard, fire = [], rig.sim.bus.fire

    def keep(name, make, subclass=None):
        if subclass == "conference::maintenance":
            heard.append(make())
        return fire(name, make, subclass)

    rig.sim.bus.fire = keep
    call, consult = three_way(rig, agent_id, bob)
    rig.sim.far_end_hangs_up(call.agent_leg)
    rig.sim.far_end_hangs_up(call.customer_leg)
    rig.settle()
    assert [(e.get("Action"), e.get("Conference-Size")) for e in heard] == [
        ("conference-create", "0"), ("add-member", "1"), ("add-member", "2"),
        ("add-member", "3"), ("del-member", "2"), ("del-member", "1"), ("del-member", "0"),
        ("conference-destroy", "0")]
    assert {e.get("Conference-Name") for e in heard} == {room(call)}
