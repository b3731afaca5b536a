"""The auditor end to end: each inconsistency is injected — into the simulator (a channel lost
without events, as after an event-socket gap) or into the switchboard's memory — and its repair
proved after two audits (never after one); a healthy busy system, and a parked caller nobody
claimed, get no repair at all."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from callcenter.models import Agent, AgentState, AgentStatus, OfferOutcome, Outcome
from callcenter.sim import Behaviour, Simulator
from callcenter.switchboard.auditor import REPAIRS
from tests.switchboard import test_queues
from tests.switchboard.conftest import NUMBER, SIM_PASSWORD, connect_board
from tests.switchboard.test_queues import (
    CALLER,
    available,
    call_of,
    call_row,
    caller_enters,
    offers,
    originates,
)

AUDIT_S = 5

# The queue tests' fixtures (they use this module's rig, with the auditor on).
agents, queued = test_queues.agents, test_queues.queued


@pytest.fixture
def rig(clock, database, tmp_path, agent_id):
    """The switchboard rig with the auditor every AUDIT_S seconds."""
    sim = Simulator(SIM_PASSWORD, clock=clock, recordings_dir=str(tmp_path))
    sim.start()
    made = connect_board(sim, clock, database, audit_seconds=AUDIT_S)
    sim.register("1000")
    made.settle()
    made.link.commands.clear()
    yield made
    made.link.stop()
    made.board.stop()
    sim.stop()


def audit(rig) -> None:
    """Time moves on to the next audit, its replies are in, and what it set off is done
    (far ends due now answer)."""
    rig.advance(AUDIT_S)
    rig.advance(0)


def repairs(rig) -> dict[str, int]:
    return rig.board.figures()["auditor"]["repairs"]


def kills(rig) -> list[str]:
    return [c for c in rig.link.commands if c.startswith("uuid_kill")]


def no_repairs() -> dict[str, int]:
    return dict.fromkeys(REPAIRS, 0)


def test_an_audit_follows_the_first_resync_and_then_every_few_seconds(rig):
    figures = rig.board.figures()["auditor"]
    assert figures["runs"] == 1 and figures["repairs"] == no_repairs()
    assert figures["last_run"] == rig.clock.now() and figures["seconds"] == AUDIT_S
    rig.advance(AUDIT_S - 1)
    assert rig.board.figures()["auditor"]["runs"] == 1
    rig.advance(1)
    assert rig.board.figures()["auditor"]["runs"] == 2
    assert rig.link.commands == ["show channels as json"]


def test_an_agent_ringing_for_a_leg_that_vanished_is_released(queued, agents):
    rig = queued
    rig.sim.script("1001", Behaviour.ringing())
    available(rig, agents["bob"])
    caller = caller_enters(rig)
    call = call_of(rig, caller)
    (lost,) = call.features["queue"].offers
    bob = rig.board.agent(agents["bob"])
    assert bob.state is AgentState.RINGING
    rig.sim.script("1001", Behaviour.answer(0))
    assert rig.sim.vanish(lost)

    audit(rig)
    assert bob.state is AgentState.RINGING, "one audit is never enough"
    assert repairs(rig) == no_repairs()
    audit(rig)
    assert repairs(rig) == no_repairs() | {"agent_released": 1}
    # The offer ended (not held against bob), and the caller went on to an agent.
    assert lost not in call.features["queue"].offers
    lost_offer = next(o for o in offers(rig) if o.leg_uuid == lost)
    assert lost_offer.outcome is OfferOutcome.CANCELLED
    assert call.agent_id == agents["bob"] and call.progress.value == "answered"
    assert bob.state is AgentState.IN_CALL and bob.call_id == call.id
    audit(rig)
    assert repairs(rig) == no_repairs() | {"agent_released": 1}


def test_an_agent_reserved_with_no_call_is_released_on_the_second_audit(queued, agents):
    rig = queued
    bob = rig.board.agent(agents["bob"])
    rig.board.roster.set_state(bob, AgentState.RESERVED, "a-call-that-never-was")
    audit(rig)
    assert bob.state is AgentState.RESERVED
    audit(rig)
    assert bob.state is AgentState.IDLE and bob.call_id is None
    assert repairs(rig)["agent_released"] == 1


def test_an_agent_in_call_whose_call_vanished_is_released_and_the_call_closed(rig, agent_id):
    rig.sim.script(NUMBER, Behaviour.answer(0))
    call = rig.board.dial(agent_id, NUMBER)
    rig.settle()
    assert call.bridged_at is not None
    alice = rig.board.agent(agent_id)
    for leg in (call.agent_leg, call.customer_leg):
        rig.sim.vanish(leg)
    audit(rig)
    assert alice.state is AgentState.IN_CALL
    audit(rig)
    assert alice.state is AgentState.IDLE
    assert rig.board.call(call.id) is None, "the call is closed too"
    assert call_row(rig, call.id).ended_at is not None
    assert repairs(rig) == no_repairs() | {"agent_released": 1}
    assert kills(rig) == []


def test_a_waiting_caller_whose_channel_vanished_leaves_as_abandoned(queued, agents):
    rig = queued
    caller = caller_enters(rig)
    call = call_of(rig, caller)
    rig.sim.vanish(caller)
    audit(rig)
    assert len(rig.board.distributor.lines["sales"]) == 1
    audit(rig)
    assert len(rig.board.distributor.lines["sales"]) == 0
    assert rig.board.call(call.id) is None
    row = call_row(rig, call.id)
    assert row.outcome is Outcome.ABANDONED and row.ended_at is not None
    assert rig.board.distributor.counts["abandoned"] == 1
    assert repairs(rig) == no_repairs() | {"caller_removed": 1}
    available(rig, agents["bob"])
    assert originates(rig) == [], "nobody is offered a caller who is gone"


def test_legs_carrying_our_call_id_that_no_call_owns_are_hung_up(rig, agent_id):
    rig.sim.script(NUMBER, Behaviour.answer(0))
    call = rig.board.dial(agent_id, NUMBER)
    rig.settle()
    legs = {call.agent_leg, call.customer_leg}
    # The switchboard loses the call (its memory, not FreeSWITCH's).
    rig.board.legs.forget(call)
    rig.board.roster.set_state(rig.board.agent(agent_id), AgentState.IDLE, None)
    rig.link.commands.clear()
    audit(rig)
    assert {c.split()[1] for c in rig.link.commands if c.startswith("uuid_getvar")} == legs
    assert kills(rig) == [] and set(rig.sim.channels) == legs
    audit(rig)
    assert {c.split()[1] for c in kills(rig)} == legs
    assert dict(rig.sim.channels) == {}
    assert repairs(rig) == no_repairs() | {"leg_hung_up": 2}


def test_a_parked_caller_nobody_claimed_is_never_hung_up(rig):
    """A DID with no queue: parked by the dialplan, never claimed, no cc_call_id."""
    caller = rig.sim.inject_inbound("5559999", CALLER)
    rig.settle()
    assert rig.sim.channels[caller].parked and rig.board.legs.legs == {}
    for _ in range(6):
        audit(rig)
    assert f"uuid_getvar {caller} cc_call_id" in rig.link.commands   # it was looked at
    assert kills(rig) == [] and caller in rig.sim.channels
    assert repairs(rig) == no_repairs()


def test_a_stalled_dispatch_is_detected_and_run_again(queued, agents):
    rig = queued
    distributor = rig.board.distributor
    distributor._defer = lambda run: None     # a lost wake-up: dispatch never runs by itself
    caller = caller_enters(rig)
    available(rig, agents["bob"])
    assert originates(rig) == []
    audit(rig)
    assert originates(rig) == []
    audit(rig)
    assert repairs(rig) == no_repairs() | {"dispatch_restarted": 1}
    call = call_of(rig, caller)
    assert call.agent_id == agents["bob"] and call.progress.value == "answered"


def test_a_healthy_busy_system_gets_no_repair(queued, agents, make_user, database):
    """Queued callers talking and waiting, a dial-out, a blind transfer under way and a
    caller nobody claimed, across a dozen audits: nothing to repair, nothing hung up."""
    rig = queued
    user_id = make_user("dave", extension="1003")
    with database.session() as session:
        dave = session.scalar(select(Agent.id).where(Agent.user_id == user_id))
    rig.board.agent(dave)
    rig.sim.register("1003")
    rig.board.set_status(dave, AgentStatus.ON_BREAK)
    available(rig, agents["alice"], agents["bob"], agents["carol"])
    callers = [caller_enters(rig, caller=f"1555000000{n}") for n in range(5)]
    rig.sim.script(NUMBER, Behaviour.answer(0))
    dial_out = rig.board.dial(dave, NUMBER)
    unclaimed = rig.sim.inject_inbound("5559999", "15553333333")
    rig.settle()
    talking = [call_of(rig, uuid) for uuid in callers[:3]]
    assert all(call.bridged_at is not None for call in talking)
    assert [len(line) for line in rig.board.distributor.lines.values()] == [2]
    rig.sim.script("15559876543", Behaviour.ringing())
    transfer = rig.board.transfer(talking[0].id, number="15559876543")
    rig.settle()
    assert transfer.under_way and dial_out.bridged_at is not None
    channels = set(rig.sim.channels)
    for _ in range(5):
        audit(rig)
    assert transfer.under_way and set(rig.sim.channels) == channels
    # A waiting caller leaves and a talking one ends: the busy system moves on meanwhile.
    rig.sim.far_end_hangs_up(callers[4])
    rig.sim.far_end_hangs_up(callers[1])
    rig.settle()
    for _ in range(7):
        audit(rig)
    figures = rig.board.figures()["auditor"]
    assert figures["runs"] >= 13 and figures["repairs"] == no_repairs()
    assert not any(unclaimed in kill for kill in kills(rig)) and unclaimed in rig.sim.channels
