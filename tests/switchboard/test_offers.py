"""Offering a call to an agent: who may be offered one (pure), and the states an offer moves the
agent through on a real switchboard: reserved -> ringing -> in call, or back to idle."""

from __future__ import annotations

import pytest

from callcenter.models import AgentState, AgentStatus
from callcenter.sim import Behaviour
from callcenter.switchboard.agents import AgentView
from callcenter.switchboard.offers import refusal
from tests.switchboard.conftest import NUMBER


def agent(**changes) -> AgentView:
    view = AgentView(id=7, extension="1007", name="bob", status=AgentStatus.AVAILABLE,
                     state=AgentState.IDLE, wrapup_seconds=10, always_record=False,
                     contacts={"reg-1"})
    for name, value in changes.items():
        setattr(view, name, value)
    return view


@pytest.mark.parametrize(("changes", "own", "theirs"), [
    ({}, None, None),
    ({"status": AgentStatus.ON_BREAK}, None, "not free to take it (on break, idle)"),
    ({"state": AgentState.WRAP_UP}, None, "not free to take it (available, wrap up)"),
    ({"state": AgentState.RESERVED}, "already on a call (reserved)", "not free"),
    ({"state": AgentState.IN_CALL}, "already on a call (in call)", "not free"),
    ({"status": AgentStatus.LOGGED_OUT}, "you are Logged Out", "not free"),
    ({"contacts": set()}, "your softphone (extension 1007) is not registered",
     "bob's softphone (extension 1007) is not registered"),
    ({"active": False}, "your account is deactivated", "bob's account is deactivated"),
])
def test_who_may_be_offered_a_call(changes, own, theirs):
    view = agent(**changes)
    for own_call, expected in ((True, own), (False, theirs)):
        said = refusal(view, own_call=own_call)
        if expected is None:
            assert said is None
        else:
            assert said is not None and expected in said


def test_a_transfer_offer_reserves_then_rings_and_a_miss_frees_the_agent(rig, agent_id,
                                                                          make_user):
    from sqlalchemy import select

    from callcenter.models import Agent

    user_id = make_user("bob", extension="1001")
    with rig.database.session() as session:
        bob = session.scalar(select(Agent.id).where(Agent.user_id == user_id))
    rig.sim.register("1001")
    rig.settle()
    rig.board.set_status(bob, AgentStatus.AVAILABLE)
    rig.sim.script(NUMBER, Behaviour.answer(0))
    rig.sim.script("1001", Behaviour.ringing())      # bob's phone rings and nobody answers
    call = rig.board.dial(agent_id, NUMBER)
    rig.settle()
    rig.advance(2)
    rig.board.transfer(call.id, agent_id=bob)
    assert rig.board.agent(bob).state is AgentState.RESERVED, "reserved while the offer goes out"
    rig.settle()
    assert rig.board.agent(bob).state is AgentState.RINGING, "ringing once the leg exists"
    rig.advance(30)                                   # the ring time runs out: missed
    assert rig.board.agent(bob).state is AgentState.IDLE
    assert rig.hub.agent_states(bob)[-3:] == ["reserved", "ringing", "idle"]
