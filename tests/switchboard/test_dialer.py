"""Click-to-dial, every outcome, end to end: switchboard → real ESL over TCP → simulator.

Each test checks the commands sent, what the agent's page was told, the agent's state, the CDR
and its legs, and that no leg is left behind in the switch."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from callcenter.cdr import raw_cdr
from callcenter.errors import CallEnded
from callcenter.models import AgentState, HangupBy, LegRole
from callcenter.sim import Behaviour
from callcenter.switchboard import DialError
from tests.switchboard.conftest import CALLER_ID, NUMBER, TIMES

RINGBACK = "tone_stream://%(2000,4000,440,480);loops=-1"


def dial(rig, agent_id, number=NUMBER):
    call = rig.board.dial(agent_id, number)
    rig.settle()
    return call


def legs_of(call):
    return call.agent_leg, call.customer_leg


def only_call(rig):
    calls, legs = rig.rows()
    assert len(calls) == 1, calls
    return calls[0], {leg.role: leg for leg in legs if leg.call_id == calls[0].id}


def assert_nothing_left(rig):
    assert dict(rig.sim.channels) == {}
    assert rig.board.legs.calls == {} and rig.board.legs.legs == {}


def agent_originate(rig, call):
    agent_leg = call.agent_leg
    return (f"originate {{origination_uuid={agent_leg},cc_call_id={call.id},cc_role=agent,"
            f"cc_direction=outbound,cc_customer_number={NUMBER},cc_agent_id={call.agent_id},"
            f"cc_caller_id={CALLER_ID},sip_h_Call-Info=<sip:127.0.0.1>;answer-after=0,"
            f"origination_caller_id_number={NUMBER},originate_timeout={TIMES.agent_ring},"
            f"park_timeout={TIMES.park}}}user/1000@127.0.0.1 &park()")


def customer_originate(rig, call):
    return (f"originate {{origination_uuid={call.customer_leg},cc_call_id={call.id},"
            f"cc_role=customer,cc_direction=outbound,cc_customer_number={NUMBER},"
            f"cc_agent_id={call.agent_id},cc_caller_id={CALLER_ID},"
            f"originate_timeout={TIMES.customer_ring},park_timeout={TIMES.park},"
            f"origination_caller_id_number={CALLER_ID}}}sofia/gateway/carrier/{NUMBER} &park()")


def test_answered_call_customer_hangs_up(rig, agent_id):
    rig.sim.script(NUMBER, Behaviour.answer(1500))
    call = dial(rig, agent_id)
    agent, customer = legs_of(call)
    assert rig.commands() == [agent_originate(rig, call), customer_originate(rig, call),
                              f"uuid_broadcast {agent} {RINGBACK} aleg"]
    assert rig.hub.progress(call.id) == ["dialing_agent", "dialing", "ringing"]
    rig.advance(1.5)
    assert rig.commands()[3:] == [f"uuid_break {agent} all", f"uuid_bridge {agent} {customer}"]
    assert rig.hub.progress(call.id)[-1] == "answered"
    assert rig.board.agent(agent_id).state is AgentState.IN_CALL
    rig.advance(20)
    rig.sim.far_end_hangs_up(customer)
    rig.settle()
    assert len(rig.commands()) == 5, "FreeSWITCH hangs up the bridged agent by itself"
    assert rig.hub.progress(call.id)[-1] == "ended"
    ended = rig.hub.messages[-1][0]["call"] if rig.hub.messages[-1][0]["type"] == "call" else None
    last_call = [m for m, _ in rig.hub.messages if m["type"] == "call"][-1]["call"]
    assert (last_call["outcome"], last_call["cause"], last_call["hangup_by"]) == (
        "answered", "NORMAL_CLEARING", "customer")
    assert ended is None or ended["progress"] == "ended"
    assert_nothing_left(rig)
    row, legs = only_call(rig)
    assert (row.agent_id, row.customer_number, row.caller_id) == (agent_id, NUMBER, CALLER_ID)
    assert row.hangup_cause == "NORMAL_CLEARING" and row.hangup_by is HangupBy.CUSTOMER
    assert row.ring_seconds == 1 and row.talk_seconds == 20
    assert row.answered_at is not None and row.bridged_at is not None
    assert set(legs) == {LegRole.AGENT, LegRole.CUSTOMER}
    assert all(leg.ended_at is not None and leg.hangup_cause for leg in legs.values())
    # Wrap-up, then idle when the agent's wrap-up time is over.
    view = rig.board.agent(agent_id)
    assert view.state is AgentState.WRAP_UP
    rig.advance(view.wrapup_seconds)
    assert rig.board.agent(agent_id).state is AgentState.IDLE
    assert rig.hub.agent_states(agent_id) == [
        "idle", "reserved", "ringing", "in_call", "wrap_up", "idle"]


def test_agent_hangs_up_first(rig, agent_id):
    rig.sim.script(NUMBER, Behaviour.answer(0))
    call = dial(rig, agent_id)
    agent, customer = legs_of(call)
    rig.advance(30)
    rig.sim.far_end_hangs_up(agent)
    rig.settle()
    assert not any(c.startswith("uuid_kill") for c in rig.commands())
    assert_nothing_left(rig)
    row, _ = only_call(rig)
    assert row.hangup_by is HangupBy.AGENT and row.talk_seconds == 30


def test_early_media_bridges_before_the_answer(rig, agent_id):
    rig.sim.script(NUMBER, Behaviour.early_media(500, answer_after_ms=3000))
    call = dial(rig, agent_id)
    agent, customer = legs_of(call)
    rig.advance(0.5)
    assert rig.commands()[3:] == [f"uuid_break {agent} all", f"uuid_bridge {agent} {customer}"]
    assert rig.hub.progress(call.id)[-1] == "early_media"
    rig.advance(2.5)
    assert rig.hub.progress(call.id)[-1] == "answered"
    assert len(rig.commands()) == 5, "one bridge only"
    rig.advance(10)
    rig.sim.far_end_hangs_up(customer)
    rig.settle()
    assert_nothing_left(rig)
    row, _ = only_call(rig)
    assert row.ring_seconds == 3 and row.talk_seconds == 10
    assert row.bridged_at < row.answered_at


@pytest.mark.parametrize("behaviour,outcome,cause,sip", [
    (Behaviour.busy(), "busy", "USER_BUSY", (486, "Busy Here")),
    (Behaviour.reject("NORMAL_TEMPORARY_FAILURE"), "failed", "NORMAL_TEMPORARY_FAILURE",
     (503, "Service Unavailable")),
    (Behaviour.reject("CALL_REJECTED"), "failed", "CALL_REJECTED", (603, "Decline")),
])
def test_customer_refuses(rig, agent_id, behaviour, outcome, cause, sip):
    rig.sim.script(NUMBER, behaviour)
    call = dial(rig, agent_id)
    agent, customer = legs_of(call)
    # FreeSWITCH leaves the parked agent leg alone: we hang it up.
    assert rig.commands()[2:] == [f"uuid_kill {agent} NORMAL_CLEARING"]
    last = [m for m, _ in rig.hub.messages if m["type"] == "call"][-1]["call"]
    assert (last["progress"], last["outcome"], last["cause"]) == ("ended", outcome, cause)
    assert last["hangup_by"] == "customer"
    assert (last["sip_status"], last["sip_reason"]) == sip, "what SIP said, from FreeSWITCH"
    assert_nothing_left(rig)
    row, legs = only_call(rig)
    assert row.hangup_cause == cause and row.hangup_by is HangupBy.CUSTOMER
    assert (row.outcome.value, row.sip_status, row.sip_reason) == (outcome, *sip)
    assert row.answered_at is None and row.talk_seconds == 0
    assert legs[LegRole.CUSTOMER].hangup_cause == cause
    assert rig.board.agent(agent_id).state is AgentState.WRAP_UP


def test_no_answer_while_ringing_is_freeswitchs_timeout(rig, agent_id):
    rig.sim.script(NUMBER, Behaviour.ringing())
    call = dial(rig, agent_id)
    agent, customer = legs_of(call)
    rig.advance(TIMES.customer_ring)
    assert rig.commands()[3:] == [f"uuid_kill {agent} NORMAL_CLEARING"]
    last = [m for m, _ in rig.hub.messages if m["type"] == "call"][-1]["call"]
    assert (last["outcome"], last["cause"]) == ("no_answer", "NO_ANSWER")
    assert_nothing_left(rig)
    row, _ = only_call(rig)
    assert row.hangup_cause == "NO_ANSWER" and row.ring_seconds == TIMES.customer_ring
    assert row.hangup_by is HangupBy.SYSTEM


def test_no_answer_on_early_media_is_our_timer(rig, agent_id):
    """The originate said +OK at early media, so FreeSWITCH's timeout no longer applies."""
    rig.sim.script(NUMBER, Behaviour.early_media(200, answer_after_ms=None))
    call = dial(rig, agent_id)
    agent, customer = legs_of(call)
    rig.advance(1)
    assert rig.hub.progress(call.id)[-1] == "early_media"
    rig.advance(TIMES.customer_ring + TIMES.timer_margin - 1)
    assert rig.commands()[5:] == [f"uuid_kill {customer} NO_ANSWER",
                                  f"uuid_kill {agent} NORMAL_CLEARING"]
    last = [m for m, _ in rig.hub.messages if m["type"] == "call"][-1]["call"]
    assert (last["outcome"], last["cause"], last["hangup_by"]) == (
        "no_answer", "NO_ANSWER", "system")
    assert_nothing_left(rig)
    row, _ = only_call(rig)
    assert row.hangup_cause == "NO_ANSWER" and row.answered_at is None


def test_agent_softphone_does_not_answer(rig, agent_id):
    rig.sim.script("1000", Behaviour.ringing())
    call = dial(rig, agent_id)
    assert rig.hub.progress(call.id) == ["dialing_agent"]
    rig.advance(TIMES.agent_ring)
    assert rig.commands() == [agent_originate(rig, call)], "the customer is never dialled"
    last = [m for m, _ in rig.hub.messages if m["type"] == "call"][-1]["call"]
    assert (last["outcome"], last["cause"]) == ("agent_no_answer", "NO_ANSWER")
    assert_nothing_left(rig)
    row, legs = only_call(rig)
    assert row.hangup_cause == "NO_ANSWER" and set(legs) == {LegRole.AGENT}
    assert rig.board.agent(agent_id).state is AgentState.IDLE


def test_unregistered_agent_is_refused_before_anything_is_sent(rig, agent_id):
    rig.sim.unregister("1000")
    rig.settle()
    assert not rig.board.agent(agent_id).registered
    with pytest.raises(DialError, match="not registered"):
        rig.board.dial(agent_id, NUMBER)
    assert rig.commands() == []
    assert rig.rows() == ([], [])


def test_agent_believed_registered_but_not(rig, agent_id):
    rig.sim.directory.registrations.pop("1000")  # expired in the switch without an event
    assert rig.board.agent(agent_id).registered
    call = dial(rig, agent_id)
    assert rig.commands() == [agent_originate(rig, call)]
    last = [m for m, _ in rig.hub.messages if m["type"] == "call"][-1]["call"]
    assert (last["outcome"], last["cause"]) == ("agent_not_registered", "USER_NOT_REGISTERED")
    view = rig.board.agent(agent_id)
    assert not view.registered and view.state is AgentState.IDLE
    assert rig.hub.messages[-2][0]["type"] == "agent" or not view.registered
    assert_nothing_left(rig)
    row, _ = only_call(rig)
    assert row.hangup_cause == "USER_NOT_REGISTERED" and row.ended_at is not None


def test_agent_hangs_up_while_customer_rings_not_bridged(rig, agent_id):
    rig.sim.script(NUMBER, Behaviour.ringing())
    call = dial(rig, agent_id)
    agent, customer = legs_of(call)
    rig.advance(2)
    rig.sim.far_end_hangs_up(agent)
    rig.settle()
    assert rig.commands()[3:] == [f"uuid_kill {customer} ORIGINATOR_CANCEL"]
    last = [m for m, _ in rig.hub.messages if m["type"] == "call"][-1]["call"]
    assert (last["outcome"], last["hangup_by"]) == ("cancelled", "agent")
    assert_nothing_left(rig)
    row, _ = only_call(rig)
    assert row.hangup_by is HangupBy.AGENT and row.answered_at is None


def test_agent_hangs_up_while_bridged_on_early_media(rig, agent_id):
    rig.sim.script(NUMBER, Behaviour.early_media(100, answer_after_ms=None))
    call = dial(rig, agent_id)
    agent, customer = legs_of(call)
    rig.advance(1)
    rig.sim.far_end_hangs_up(agent)
    rig.settle()
    assert not any(c.startswith("uuid_kill") for c in rig.commands()), \
        "the bridge takes the customer leg down"
    assert_nothing_left(rig)
    row, legs = only_call(rig)
    assert legs[LegRole.CUSTOMER].hangup_cause == "ORIGINATOR_CANCEL"
    assert row.hangup_by is HangupBy.AGENT


@pytest.mark.parametrize("timing", [{"originate_settle_ms": 50}, {"app_delay_ms": 50}])
def test_bridge_before_park_job_says_originator_cancel(rig_factory, agent_id, timing):
    """Under load the customer job reports ORIGINATOR_CANCEL for a call that talked, or the
    bridge reaches a leg whose park never ran: channel events decide, not the job."""
    rig = rig_factory(**timing)
    rig.sim.script(NUMBER, Behaviour.answer(0))
    call = dial(rig, agent_id)
    agent, customer = legs_of(call)
    rig.advance(0.05)
    assert rig.board.call(call.id).progress.value == "answered"
    rig.advance(12)
    rig.sim.far_end_hangs_up(customer)
    rig.settle()
    assert_nothing_left(rig)
    row, _ = only_call(rig)
    assert row.talk_seconds == 12 and row.hangup_cause == "NORMAL_CLEARING"


def test_a_bad_number_is_refused_with_its_reason(rig, agent_id):
    for bad in ("", "12", "555 1234", "1555&park()", "{x=y}15551234567", "1555,123"):
        with pytest.raises(ValueError, match="number"):
            rig.board.dial(agent_id, bad)
    assert rig.commands() == [] and rig.rows() == ([], [])


def test_second_dial_while_on_a_call_is_refused(rig, agent_id):
    rig.sim.script(NUMBER, Behaviour.ringing())
    dial(rig, agent_id)
    with pytest.raises(DialError, match="already on a call"):
        rig.board.dial(agent_id, NUMBER)


def test_agent_presses_hang_up_while_talking(rig, agent_id):
    rig.sim.script(NUMBER, Behaviour.answer(0))
    call = dial(rig, agent_id)
    agent, customer = legs_of(call)
    rig.advance(9)
    sent = len(rig.commands())
    rig.board.hang_up(call.id)
    rig.settle()
    assert rig.commands()[sent:] == [f"uuid_setvar {agent} cc_hangup_by agent",
                                     f"uuid_setvar {customer} cc_hangup_by agent",
                                     f"uuid_kill {agent} NORMAL_CLEARING"]
    assert_nothing_left(rig)
    row, _ = only_call(rig)
    assert row.hangup_by is HangupBy.AGENT and row.talk_seconds == 9
    with pytest.raises(CallEnded, match="already ended"):
        rig.board.hang_up(call.id)


def test_agent_presses_hang_up_while_the_customer_rings(rig, agent_id):
    rig.sim.script(NUMBER, Behaviour.ringing())
    call = dial(rig, agent_id)
    agent, customer = legs_of(call)
    sent = len(rig.commands())
    rig.board.hang_up(call.id)
    rig.settle()
    assert rig.commands()[sent + 2:] == [f"uuid_kill {agent} NORMAL_CLEARING",
                                         f"uuid_kill {customer} ORIGINATOR_CANCEL"]
    assert_nothing_left(rig)
    row, legs = only_call(rig)
    assert row.hangup_by is HangupBy.AGENT and row.answered_at is None
    assert legs[LegRole.CUSTOMER].hangup_cause == "ORIGINATOR_CANCEL"


def test_an_originate_whose_reply_is_lost_leaves_no_leg(rig, agent_id):
    """Under overload the reply can come after the command timeout: the call is closed, and
    the leg FreeSWITCH created all the same is hung up when it shows up."""

    from callcenter.esl.connection import CommandTimeout

    real = rig.link._link.post

    class Unheard:           # where FreeSWITCH's reply goes: nowhere
        def set(self, frame):
            pass

        def set_exception(self, error):
            pass

    def reply_lost(commands):
        rig.link.commands.extend(wire.split(" ", 1)[1] for wire, _slot in commands)
        real([(wire, Unheard()) for wire, _slot in commands])  # FreeSWITCH runs them...
        for _wire, slot in commands:                           # ...but the reply comes too late
            slot.set_exception(CommandTimeout("no reply within 10s"))
        return [None] * len(commands)

    rig.link.post = reply_lost
    call = dial(rig, agent_id)
    rig.settle()
    last = [m for m, _ in rig.hub.messages if m["type"] == "call"][-1]["call"]
    assert (last["outcome"], last["cause"]) == ("failed", "SWITCH_UNREACHABLE")
    assert f"uuid_kill {call.agent_leg} NORMAL_CLEARING" in rig.commands()
    assert dict(rig.sim.channels) == {}
    row, legs = only_call(rig)
    assert row.ended_at is not None and legs[LegRole.AGENT].ended_at is not None
    assert rig.board.agent(agent_id).state is AgentState.IDLE


def test_the_legs_of_a_call_that_ends_are_written_in_one_cdr_write(rig, agent_id, monkeypatch):
    from callcenter.switchboard import records as records_module

    groups: list[list[str]] = []
    write_legs = records_module.write_legs

    def recording(session, records):
        groups.append(sorted(record.uuid for record in records))
        return write_legs(session, records)

    monkeypatch.setattr(records_module, "write_legs", recording)
    rig.sim.script(NUMBER, Behaviour.answer(0))
    call = dial(rig, agent_id)
    rig.advance(5)
    rig.sim.far_end_hangs_up(call.customer_leg)
    rig.settle()
    assert groups == [sorted(legs_of(call))], "one write, the call summarized once"
    assert rig.board.stats.cdr_legs_written == 2 and rig.board.persist.held == 0
    row, legs = only_call(rig)
    assert row.talk_seconds == 5 and row.hangup_by is HangupBy.CUSTOMER
    assert all(leg.ended_at is not None for leg in legs.values())
    with rig.database.session() as session:
        assert all(raw_cdr(session, leg.uuid) for leg in legs.values())


def said_ok_to(rig, lost) -> None:
    """From now on FreeSWITCH says +OK to each command `lost(command)` picks and does nothing
    with it (it never reaches the simulator); the others go through."""
    real = rig.link._link.post

    def post(commands):
        rig.link.commands.extend(wire.split(" ", 1)[1] for wire, _slot in commands)
        picked = [lost(wire.split(" ", 1)[1]) for wire, _slot in commands]
        jobs = iter(real([c for c, gone in zip(commands, picked, strict=True) if not gone]))
        for (_wire, slot), gone in zip(commands, picked, strict=True):
            if gone:
                slot.set(SimpleNamespace(text="+OK\n", headers={"Reply-Text": "+OK"}))
        return [None if gone else next(jobs) for gone in picked]

    rig.link.post = post


def test_a_bridge_that_never_happens_is_sent_again(rig, agent_id):
    """On a real FreeSWITCH the ringback started on the 180 can begin playing after the
    uuid_break sent on the 183, and uuid_bridge then says +OK but never bridges."""
    swallowed = []

    def first_bridge(command: str) -> bool:
        if command.startswith("uuid_bridge") and not swallowed:
            swallowed.append(command)
            return True
        return False

    said_ok_to(rig, first_bridge)
    rig.sim.script(NUMBER, Behaviour.answer(500))
    call = dial(rig, agent_id)
    agent, customer = legs_of(call)
    rig.advance(0.5)
    assert rig.board.call(call.id).bridged_at is None
    rig.advance(1.0)
    bridges = [c for c in rig.commands() if c.startswith(("uuid_break", "uuid_bridge"))]
    assert bridges == [f"uuid_break {agent} all", f"uuid_bridge {agent} {customer}"] * 2
    assert rig.board.call(call.id).bridged_at is not None
    rig.advance(5)
    assert len([c for c in rig.commands() if c.startswith("uuid_bridge")]) == 2, "no more tries"
    rig.sim.far_end_hangs_up(customer)
    rig.settle()
    assert_nothing_left(rig)
    row, _ = only_call(rig)
    assert row.hangup_cause == "NORMAL_CLEARING" and row.bridged_at is not None


def test_a_bridge_that_never_happens_ends_the_call_after_three_tries(rig, agent_id):
    said_ok_to(rig, lambda command: command.startswith("uuid_bridge"))
    rig.sim.script(NUMBER, Behaviour.answer(0))
    dial(rig, agent_id)
    for _ in range(3):
        rig.advance(1.0)
    assert len([c for c in rig.commands() if c.startswith("uuid_bridge")]) == 3
    last = [m for m, _ in rig.hub.messages if m["type"] == "call"][-1]["call"]
    assert (last["outcome"], last["cause"]) == ("failed", "RECOVERY_ON_TIMER_EXPIRE")
    assert_nothing_left(rig)
    assert only_call(rig)[0].ended_at is not None
