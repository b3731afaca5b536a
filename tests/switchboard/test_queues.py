"""Inbound queues end to end: a caller parked by the dialplan with cc_queue → the switchboard
claims it, holds it, offers it to agents by the queue's strategy and bridges the first to
answer — switchboard → real ESL over TCP → simulator, on both databases.

mod_callcenter's known failures are tests here: a caller who leaves while the agent's phone
rings (or before its leg exists) takes the offer with it; several agents answering one ring-all
caller leave exactly one bridged and nobody Reserved; an unavailable agent never halts
distribution; an answered or abandoned caller never stays in line."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from callcenter.models import (
    Agent,
    AgentState,
    AgentStatus,
    Call,
    HangupBy,
    Offer,
    OfferOutcome,
    Outcome,
    Queue,
    QueueAgent,
    QueueStrategy,
    TimeoutAction,
)
from callcenter.sim import Behaviour
from callcenter.switchboard.queues.distributor import MISSED_CALLS

DID = "5550100"
CALLER = "15557654321"
HOLD = "tone_stream://%(400,200,523,659);%(400,3000,587,698);loops=-1"


@pytest.fixture
def agents(make_user, database, agent_id) -> dict[str, int]:
    """alice (1000, from the switchboard rig), bob (1001), carol (1002): agent ids by name."""
    ids = {"alice": agent_id}
    for name, extension in (("bob", "1001"), ("carol", "1002")):
        user_id = make_user(name, extension=extension)
        with database.session() as session:
            ids[name] = session.scalar(select(Agent.id).where(Agent.user_id == user_id))
    return ids


def make_queue(database, name="sales", strategy=QueueStrategy.LONGEST_IDLE_AGENT,
               tiers=(), **settings) -> int:
    """`tiers`: (agent id, level, position) each."""
    with database.session() as session:
        queue = Queue(name=name, strategy=strategy, **settings)
        session.add(queue)
        session.flush()
        for agent_id, level, position in tiers:
            session.add(QueueAgent(queue_id=queue.id, agent_id=agent_id, level=level,
                                   position=position))
        session.commit()
        return queue.id


@pytest.fixture
def queued(rig, agents, database):
    """The rig with queue `sales` (longest idle; alice, bob, carol at level 1), every agent
    registered; none Available yet."""
    make_queue(database, tiers=[(agents[n], 1, p) for p, n in enumerate(agents, 1)])
    for extension in ("1001", "1002"):
        rig.sim.register(extension)
    rig.board.roster.reload()
    rig.board.reload_queues()
    rig.settle()
    rig.link.commands.clear()
    return rig


def available(rig, *agent_ids):
    for agent_id in agent_ids:
        rig.board.set_status(agent_id, AgentStatus.AVAILABLE)
    rig.settle()
    rig.advance(0)      # far ends due now (an auto-answering softphone) answer


def caller_enters(rig, caller=CALLER, queue="sales"):
    uuid = rig.sim.inject_inbound(DID, caller, queue)
    rig.settle()
    rig.advance(0)
    return uuid


def call_of(rig, leg_uuid):
    leg = rig.board.legs.legs.get(leg_uuid)
    return rig.board.legs.calls.get(leg.call_id) if leg else None


def offers(rig):
    with rig.database.session() as session:
        rows = session.scalars(select(Offer).order_by(Offer.offered_at)).all()
        session.expunge_all()
        return rows


def call_row(rig, call_id):
    with rig.database.session() as session:
        row = session.get(Call, call_id)
        session.expunge_all()
        return row


def originates(rig):
    return [c for c in rig.link.commands if c.startswith("originate")]


def test_a_caller_waits_is_offered_to_a_free_agent_and_bridged(queued, agents):
    rig = queued
    caller = caller_enters(rig)
    call = call_of(rig, caller)
    assert call is not None and call.kind.value == "queued"
    assert call.progress.value == "waiting" and call.number == CALLER
    # Tagged, answered on entry, hold music: as captured in 05-inbound.
    assert rig.link.commands[:4] == [
        f"uuid_setvar {caller} cc_call_id {call.id}",
        f"uuid_setvar {caller} cc_queue_entered {call.features['queue'].entered:.3f}",
        f"uuid_answer {caller}",
        f"uuid_broadcast {caller} {HOLD} aleg"]
    assert rig.sim.channels[caller].answered
    assert originates(rig) == []   # nobody Available yet: the caller waits

    available(rig, agents["bob"])
    (originate,) = originates(rig)
    assert "user/1001@127.0.0.1" in originate and "cc_queue=sales" in originate
    assert "cc_offer=1" in originate and "answer-after=0" in originate
    assert f"origination_caller_id_number={CALLER}" in originate
    assert "origination_caller_id_name=sales" in originate
    agent_leg = call.agent_leg
    assert agent_leg is not None and call.agent_id == agents["bob"]
    assert f"uuid_bridge {caller} {agent_leg}" in rig.link.commands
    assert call.progress.value == "answered" and call.bridged_at is not None
    bob = rig.board.agent(agents["bob"])
    assert bob.state is AgentState.IN_CALL and bob.call_id == call.id
    assert rig.hub.agent_states(agents["bob"]) == ["idle", "reserved", "ringing", "in_call"]
    assert len(rig.board.distributor.lines["sales"]) == 0

    rig.sim.far_end_hangs_up(caller)
    rig.settle()
    assert dict(rig.sim.channels) == {}
    row = call_row(rig, call.id)
    assert row.outcome is Outcome.ANSWERED and row.hangup_by is HangupBy.CUSTOMER
    assert row.agent_id == agents["bob"] and row.queue_id is not None
    assert row.entered_at is not None and row.connected_at is not None
    assert row.connected_at >= row.entered_at and row.wait_seconds == 0
    assert row.customer_number == CALLER
    (offer,) = offers(rig)
    assert offer.outcome is OfferOutcome.ANSWERED and offer.agent_id == agents["bob"]
    assert rig.board.agent(agents["bob"]).state is AgentState.WRAP_UP


def test_the_caller_abandons_while_waiting(queued, agents):
    rig = queued
    caller = caller_enters(rig)
    call = call_of(rig, caller)
    rig.advance(7)
    rig.sim.far_end_hangs_up(caller)
    rig.settle()
    row = call_row(rig, call.id)
    assert row.outcome is Outcome.ABANDONED and row.hangup_by is HangupBy.CUSTOMER
    assert row.agent_id is None and row.wait_seconds == 7 and row.left_at is not None
    assert len(rig.board.distributor.lines["sales"]) == 0
    assert rig.board.distributor.counts["abandoned"] == 1
    # Agents who become free later are offered nothing.
    available(rig, agents["bob"])
    assert originates(rig) == []


def test_the_caller_leaves_while_the_agents_phone_rings(queued, agents):
    rig = queued
    rig.sim.script("1001", Behaviour.ringing())
    available(rig, agents["bob"])
    caller = caller_enters(rig)
    call = call_of(rig, caller)
    (agent_leg,) = call.features["queue"].offers
    assert rig.sim.channels[agent_leg].state  # bob's phone rings
    assert rig.board.agent(agents["bob"]).state is AgentState.RINGING
    rig.sim.far_end_hangs_up(caller)
    rig.settle()
    assert agent_leg not in rig.sim.channels          # cancelled at once, never a zombie
    assert dict(rig.sim.channels) == {}
    assert rig.board.agent(agents["bob"]).state is AgentState.IDLE
    (offer,) = offers(rig)
    assert offer.outcome is OfferOutcome.CANCELLED
    assert call_row(rig, call.id).outcome is Outcome.ABANDONED
    assert call_row(rig, call.id).agent_id is None


def test_the_caller_leaves_before_the_agent_leg_exists(queued, agents):
    """The originate is on its way when the caller hangs up: the agent leg is hung up the
    moment it shows up."""
    rig = queued
    rig.sim.script("1001", Behaviour.ringing())
    available(rig, agents["bob"])
    uuid = rig.sim.inject_inbound(DID, CALLER, "sales")
    # The caller's hangup travels right behind its park, before the offer's leg can exist.
    rig.sim.far_end_hangs_up(uuid)
    rig.settle()
    assert dict(rig.sim.channels) == {}
    assert rig.board.agent(agents["bob"]).state is AgentState.IDLE
    assert rig.board.legs.calls == {}


def test_a_missed_offer_goes_to_the_next_agent_and_the_caller_keeps_its_place(queued, agents):
    rig = queued
    rig.sim.script("1001", Behaviour.ringing())
    available(rig, agents["bob"])
    rig.advance(5)
    available(rig, agents["carol"])     # bob has been idle longest: he is offered first
    caller = caller_enters(rig)
    call = call_of(rig, caller)
    assert rig.board.agent(agents["bob"]).state is AgentState.RINGING
    rig.advance(25)                     # bob's phone rings out (originate_timeout 20 s)
    assert call.agent_id == agents["carol"] and call.progress.value == "answered"
    outcomes = [(o.agent_id, o.outcome) for o in offers(rig)]
    assert outcomes == [(agents["bob"], OfferOutcome.MISSED),
                        (agents["carol"], OfferOutcome.ANSWERED)]
    assert rig.board.agent(agents["bob"]).state is AgentState.IDLE
    row = call_row(rig, call.id)
    assert row.agent_id == agents["carol"]


def test_missed_offers_in_a_row_put_the_agent_on_break(queued, agents, database):
    rig = queued
    with database.session() as session:
        session.get(Agent, agents["bob"]).max_no_answer = 2
        session.get(Agent, agents["bob"]).no_answer_delay_seconds = 0
        session.commit()
    rig.board.roster.reload()
    rig.sim.script("1001", Behaviour.ringing())
    available(rig, agents["bob"])
    caller = caller_enters(rig)
    rig.advance(25)
    rig.advance(25)
    bob = rig.board.agent(agents["bob"])
    assert bob.status is AgentStatus.ON_BREAK and bob.break_reason == MISSED_CALLS
    assert [o.outcome for o in offers(rig)] == [OfferOutcome.MISSED, OfferOutcome.MISSED]
    assert call_of(rig, caller).progress.value == "waiting"
    with database.session() as session:
        assert session.get(Agent, agents["bob"]).break_reason == MISSED_CALLS
    # Choosing Available again clears the reason and the count.
    rig.board.set_status(agents["bob"], AgentStatus.AVAILABLE)
    rig.settle()
    assert rig.board.agent(agents["bob"]).break_reason is None


def test_ring_all_rings_every_free_agent_first_answer_wins(rig, agents, database):
    make_queue(database, strategy=QueueStrategy.RING_ALL,
               tiers=[(agents[n], 1, p) for p, n in enumerate(agents, 1)])
    for extension in ("1001", "1002"):
        rig.sim.register(extension)
    rig.board.roster.reload()
    rig.board.reload_queues()
    for name in ("alice", "carol"):
        rig.sim.script({"alice": "1000", "carol": "1002"}[name], Behaviour.ringing())
    rig.sim.script("1001", Behaviour.answer(800))
    available(rig, *agents.values())
    rig.link.commands.clear()
    caller = caller_enters(rig)
    call = call_of(rig, caller)
    assert len(originates(rig)) == 3
    assert not any("answer-after=0" in o for o in originates(rig))   # no auto-answer
    rig.advance(1)
    assert call.agent_id == agents["bob"]
    assert {o.agent_id: o.outcome for o in offers(rig)} == {
        agents["alice"]: OfferOutcome.LOST_RACE, agents["bob"]: OfferOutcome.ANSWERED,
        agents["carol"]: OfferOutcome.LOST_RACE}
    assert set(rig.sim.channels) == {caller, call.agent_leg}
    states = {n: rig.board.agent(i).state for n, i in agents.items()}
    assert states == {"alice": AgentState.IDLE, "bob": AgentState.IN_CALL,
                      "carol": AgentState.IDLE}


def test_ring_all_several_answer_at_once_exactly_one_is_bridged(rig, make_user, database):
    """Twenty agents, several answering within the same instant: one bridged, the others
    released at once, nobody left Reserved or Ringing (signalwire/freeswitch #2540)."""
    ids = []
    for n in range(20):
        user_id = make_user(f"agent{n}", extension=str(2000 + n))
        with database.session() as session:
            ids.append(session.scalar(select(Agent.id).where(Agent.user_id == user_id)))
        rig.sim.register(str(2000 + n))
        rig.sim.script(str(2000 + n), Behaviour.answer(500) if n % 4 == 0
                       else Behaviour.ringing())
    make_queue(database, strategy=QueueStrategy.RING_ALL,
               tiers=[(agent_id, 1, n) for n, agent_id in enumerate(ids)])
    rig.board.roster.reload()
    rig.board.reload_queues()
    available(rig, *ids)
    caller = caller_enters(rig)
    call = call_of(rig, caller)
    assert len(originates(rig)) == 20
    rig.advance(1)
    assert call.agent_id in ids[::4]
    assert set(rig.sim.channels) == {caller, call.agent_leg}
    states = [rig.board.agent(i).state for i in ids]
    assert states.count(AgentState.IN_CALL) == 1
    assert states.count(AgentState.IDLE) == 19
    answered = [o for o in offers(rig) if o.outcome is OfferOutcome.ANSWERED]
    assert len(answered) == 1 and len(offers(rig)) == 20


def test_an_unavailable_last_agent_never_halts_top_down(rig, agents, database):
    """signalwire/freeswitch #1216: top-down with the last agent unavailable."""
    make_queue(database, strategy=QueueStrategy.TOP_DOWN,
               tiers=[(agents["alice"], 1, 1), (agents["bob"], 1, 2), (agents["carol"], 1, 3)])
    rig.sim.register("1001")
    rig.board.roster.reload()
    rig.board.reload_queues()
    available(rig, agents["alice"], agents["bob"])   # carol: On break and unregistered
    taken = [call_of(rig, caller_enters(rig, caller=f"1555000000{n}")).agent_id
             for n in range(3)]
    assert taken == [agents["alice"], agents["bob"], None]   # two agents, three callers
    assert len(rig.board.distributor.lines["sales"]) == 1


def test_priority_and_then_the_longest_waiting_caller(rig, agents, database):
    make_queue(database, name="sales", tiers=[(agents["alice"], 1, 1)])
    make_queue(database, name="vip", priority=5, tiers=[(agents["alice"], 1, 1)])
    rig.board.reload_queues()
    first = caller_enters(rig, caller="15550000001", queue="sales")
    rig.advance(3)
    vip = caller_enters(rig, caller="15550000002", queue="vip")
    available(rig, agents["alice"])
    assert call_of(rig, vip).agent_id == agents["alice"]
    assert call_of(rig, first).agent_id is None


def test_max_wait_hangs_up_or_moves_the_caller_on(rig, agents, database):
    make_queue(database, name="overflow", tiers=[(agents["alice"], 1, 1)])
    make_queue(database, name="sales", max_wait_seconds=30,
               timeout_action=TimeoutAction.QUEUE, timeout_target="overflow")
    make_queue(database, name="support", max_wait_seconds=10)
    rig.board.reload_queues()
    moved = caller_enters(rig, caller="15550000001", queue="sales")
    dropped = caller_enters(rig, caller="15550000002", queue="support")
    moved_call, dropped_call = call_of(rig, moved), call_of(rig, dropped)
    rig.advance(11)
    assert dropped not in rig.sim.channels
    assert call_row(rig, dropped_call.id).outcome is Outcome.TIMED_OUT
    rig.advance(20)
    assert moved_call.features["queue"].queue == "overflow"
    available(rig, agents["alice"])
    assert moved_call.agent_id == agents["alice"]
    row = call_row(rig, moved_call.id)
    with rig.database.session() as session:
        overflow_id = session.scalar(select(Queue.id).where(Queue.name == "overflow"))
    assert row.queue_id == overflow_id and row.wait_seconds == 31


def test_an_untrusted_caller_id_never_fails_the_offer(queued, agents):
    rig = queued
    available(rig, agents["bob"])
    caller = caller_enters(rig, caller="anonymous")
    call = call_of(rig, caller)
    assert call.agent_id == agents["bob"] and call.number == "anonymous"
    (originate,) = originates(rig)
    assert "origination_caller_id_number" not in originate   # not a number: not shown as one
    assert "cc_customer_number=anonymous" in originate


def test_a_caller_for_an_unknown_queue_is_refused_not_left_parked(rig):
    caller = caller_enters(rig, queue="nosuchqueue")
    assert caller not in rig.sim.channels
    assert rig.board.distributor.counts["unknown_queue"] == 1


def restart(rig):
    """The controller stops (FreeSWITCH keeps its channels) and a new one starts on the same
    switch and database."""
    from tests.switchboard.conftest import connect_board
    rig.link.stop()
    rig.board.stop()
    fresh = connect_board(rig.sim, rig.clock, rig.database)
    fresh.settle()
    fresh.advance(0)
    return fresh


def test_a_waiting_caller_keeps_its_place_across_a_controller_restart(queued, agents):
    rig = queued
    first = caller_enters(rig, caller="15550000001")
    rig.advance(4)
    second = caller_enters(rig, caller="15550000002")
    call_id = call_of(rig, first).id
    entered = call_of(rig, first).features["queue"].entered
    rig.advance(3)
    fresh = restart(rig)
    try:
        call = call_of(fresh, first)
        assert call is not None and call.id == call_id          # the same call, the same CDR
        assert call.features["queue"].entered == entered        # read back from the channel
        assert [c.id for c in fresh.board.distributor.lines["sales"]][0] == call_id
        available(fresh, agents["bob"])
        assert call.agent_id == agents["bob"]
        assert call_of(fresh, second).agent_id is None
        row = call_row(fresh, call_id)
        assert row.wait_seconds == 7 and row.agent_id == agents["bob"]
    finally:
        fresh.link.stop()
        fresh.board.stop()


def test_a_caller_parked_while_no_controller_ran_is_found(queued, agents):
    rig = queued
    rig.link.stop()
    rig.board.stop()
    caller = rig.sim.inject_inbound(DID, CALLER, "sales")   # nobody claims it now
    from tests.switchboard.conftest import connect_board
    fresh = connect_board(rig.sim, rig.clock, rig.database)
    try:
        fresh.settle()
        call = call_of(fresh, caller)
        assert call is not None and call.features["queue"].queue == "sales"
        assert f"uuid_setvar {caller} cc_call_id {call.id}" in fresh.link.commands
        available(fresh, agents["bob"])
        assert call.agent_id == agents["bob"]
    finally:
        fresh.link.stop()
        fresh.board.stop()


def test_ringing_until_answered_when_the_queue_does_not_answer_on_entry(rig, agents, database):
    make_queue(database, answer_on_entry=False, tiers=[(agents["alice"], 1, 1)])
    rig.board.reload_queues()
    caller = caller_enters(rig)
    assert f"uuid_answer {caller}" not in rig.link.commands
    assert not rig.sim.channels[caller].answered       # early media only (183)
    available(rig, agents["alice"])
    call = call_of(rig, caller)
    assert call.agent_id == agents["alice"] and rig.sim.channels[caller].answered


def test_a_queue_wrap_up_overrides_the_agents(rig, agents, database):
    make_queue(database, wrapup_seconds=2, tiers=[(agents["alice"], 1, 1)])
    rig.board.reload_queues()
    available(rig, agents["alice"])
    caller = caller_enters(rig)
    rig.sim.far_end_hangs_up(caller)
    rig.settle()
    assert rig.board.agent(agents["alice"]).state is AgentState.WRAP_UP
    rig.advance(2)
    assert rig.board.agent(agents["alice"]).state is AgentState.IDLE


def test_no_agent_logged_in_for_too_long_sends_callers_on(rig, agents, database):
    make_queue(database, max_wait_no_agent_seconds=5, tiers=[(agents["alice"], 1, 1)])
    rig.board.reload_queues()
    caller = caller_enters(rig)          # alice is On break: the queue has nobody
    call = call_of(rig, caller)
    rig.advance(6)
    assert caller not in rig.sim.channels
    assert call_row(rig, call.id).outcome is Outcome.TIMED_OUT


def test_overflow_to_a_number_sends_the_caller_through_our_own_context(rig, database):
    make_queue(database, max_wait_seconds=5, timeout_action=TimeoutAction.NUMBER,
               timeout_target="15559990000")
    rig.board.reload_queues()
    caller = caller_enters(rig)
    call = call_of(rig, caller)
    rig.advance(6)
    assert f"uuid_transfer {caller} 15559990000 XML default" in rig.link.commands
    assert call.outcome is Outcome.OVERFLOWED


def test_ring_progressively_adds_the_next_agent_and_keeps_the_first_ringing(rig, agents,
                                                                          database):
    make_queue(database, strategy=QueueStrategy.RING_PROGRESSIVELY,
               tiers=[(agents["alice"], 1, 1), (agents["bob"], 1, 2)])
    rig.sim.register("1001")
    rig.board.roster.reload()
    rig.board.reload_queues()
    rig.sim.script("1000", Behaviour.ringing())
    rig.sim.script("1001", Behaviour.ringing())
    available(rig, agents["alice"], agents["bob"])
    rig.link.commands.clear()
    caller = caller_enters(rig)
    assert [o for o in originates(rig) if "user/1000" in o] and len(originates(rig)) == 1
    rig.advance(10)
    assert len(originates(rig)) == 2 and "user/1001" in originates(rig)[1]
    waiting = call_of(rig, caller).features["queue"]
    assert sorted(waiting.offers.values()) == [agents["alice"], agents["bob"]]
    assert not any("answer-after=0" in o for o in originates(rig))


def test_tier_rules_open_the_next_level_after_its_wait(rig, agents, database):
    """Level 2 (bob) joins only after the caller waited 15 s on level 1 (alice, Available but
    on another call); a level with nobody Available is not waited on."""
    make_queue(database, tier_wait_seconds=15,
               tiers=[(agents["alice"], 1, 1), (agents["bob"], 2, 1)])
    rig.sim.register("1001")
    rig.board.roster.reload()
    rig.board.reload_queues()
    available(rig, agents["alice"], agents["bob"])
    first = caller_enters(rig, caller="15550000001")       # alice takes it: level 1 is busy
    assert call_of(rig, first).agent_id == agents["alice"]
    second = caller_enters(rig, caller="15550000002")
    rig.advance(14)
    assert call_of(rig, second).agent_id is None            # bob's level is not open yet
    rig.advance(2)
    assert call_of(rig, second).agent_id == agents["bob"]
    # With alice On break, level 1 has nobody Available: a new caller goes to level 2 at once.
    rig.sim.far_end_hangs_up(second)
    rig.settle()
    rig.board.set_status(agents["alice"], AgentStatus.ON_BREAK)
    rig.advance(30)                                         # bob's wrap-up is over
    third = caller_enters(rig, caller="15550000003")
    assert call_of(rig, third).agent_id == agents["bob"]


def test_the_offered_agent_hears_of_its_offer_from_ringing_to_its_end(queued, agents):
    rig = queued
    available(rig, agents["bob"])
    caller_enters(rig)
    offers_heard = [(m["offer"]["state"], m["offer"]["auto_answer"], m["offer"]["queue"])
                    for m, to in rig.hub.messages
                    if m["type"] == "offer" and to == agents["bob"]]
    assert offers_heard == [("ringing", True, "sales"), ("answered", True, "sales")]


def test_an_offer_the_switch_refuses_at_once_puts_the_caller_back_and_nothing_stays_open(
        queued, agents):
    """The roster believed bob registered; FreeSWITCH says USER_NOT_REGISTERED with no channel
    at all: the offer is missed, bob is unregistered, the caller waits on, and when the caller
    leaves the call closes (no leg left that could keep it open)."""
    rig = queued
    rig.sim.unregister("1001")
    rig.settle()
    rig.board.note_registration("1001", "stale-registration")
    available(rig, agents["bob"])
    caller = caller_enters(rig)
    call = call_of(rig, caller)
    assert [o.outcome for o in offers(rig)] == [OfferOutcome.MISSED]
    bob = rig.board.agent(agents["bob"])
    assert not bob.registered and bob.state is AgentState.IDLE
    assert call.progress.value == "waiting" and call.agent_id is None
    rig.sim.far_end_hangs_up(caller)
    rig.settle()
    assert rig.board.legs.calls == {} and dict(rig.sim.channels) == {}
    assert call_row(rig, call.id).outcome is Outcome.ABANDONED


def test_a_snapshot_lists_the_offers_still_ringing(queued, agents):
    """A page opened (or reloaded) while an offer rings shows it: the snapshot carries it."""
    rig = queued
    rig.sim.script("1001", Behaviour.ringing())
    available(rig, agents["bob"])
    caller = caller_enters(rig)
    call = call_of(rig, caller)
    (leg,) = call.features["queue"].offers
    (offer,) = rig.board.snapshot(agents["bob"])["offers"]
    assert (offer["call_id"], offer["leg"], offer["queue"], offer["state"]) == (
        call.id, leg, "sales", "ringing")
    assert rig.board.snapshot(agents["carol"])["offers"] == []
    assert [o["leg"] for o in rig.board.snapshot(None)["offers"]] == [leg]   # supervisors
    rig.sim.far_end_hangs_up(caller)
    rig.settle()
    assert rig.board.snapshot(agents["bob"])["offers"] == []
