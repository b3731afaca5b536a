"""In-call controls end to end: switchboard → real ESL over TCP → simulator, on a ManualClock.

Each test checks the exact commands sent, what the events did (the call as the agent's page
sees it, agents' states), the CDR the call leaves, and that bad input or a control used at the
wrong moment changes nothing."""

from __future__ import annotations

import wave
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from callcenter.errors import CallEnded, InvalidInput
from callcenter.esl.commands import CommandError
from callcenter.models import Agent, AgentState, AgentStatus, CallHandler, HangupBy, LegRole
from callcenter.records.search import Filters, Search
from callcenter.sim import Behaviour
from callcenter.switchboard import AgentError, ControlError
from callcenter.switchboard.recording import recording_now
from tests.switchboard.conftest import CALLER_ID, NUMBER, TIMES

OTHER_NUMBER = "15559876543"


def talking(rig, agent_id):
    """A click-to-dial call the customer answered at once, bridged; commands forgotten."""
    rig.sim.script(NUMBER, Behaviour.answer(0))
    call = rig.board.dial(agent_id, NUMBER)
    rig.settle()
    assert call.progress.value == "answered"
    assert rig.board.legs.legs[call.agent_leg].bridged_to == call.customer_leg
    rig.link.commands.clear()
    return call


def seen(rig, call_id, key):
    """The values the agent's page saw for call[key], repeats folded."""
    values = []
    for message, _ in rig.hub.messages:
        if message["type"] == "call" and message["call"]["id"] == call_id:
            value = message["call"][key]
            if not values or values[-1] != value:
                values.append(value)
    return values


def cdr(rig, call_id):
    calls, legs = rig.rows()
    row = next(c for c in calls if c.id == call_id)
    return row, [leg for leg in legs if leg.call_id == call_id]


def customer_hangs_up(rig, call):
    rig.sim.far_end_hangs_up(call.customer_leg)
    rig.settle()
    assert dict(rig.sim.channels) == {}
    assert rig.board.legs.calls == {} and rig.board.legs.legs == {}


@pytest.fixture
def bob(rig, make_user, database):
    """A second agent, registered and available."""
    user_id = make_user("bob", extension="1001")
    with database.session() as session:
        bob_id = session.scalar(select(Agent.id).where(Agent.user_id == user_id))
    rig.board.agent(bob_id)  # the roster learns of the new agent
    rig.sim.register("1001")
    rig.board.set_status(bob_id, AgentStatus.AVAILABLE)
    rig.settle()
    rig.link.commands.clear()
    return bob_id


@pytest.fixture
def recordings(rig, tmp_path):
    rig.board.recording.recordings_dir = tmp_path / "recordings"
    return tmp_path / "recordings"


# --- hold -----------------------------------------------------------------------------------


def test_hold_puts_the_customer_on_music_and_the_cdr_counts_it(rig, agent_id):
    call = talking(rig, agent_id)
    agent, customer = call.agent_leg, call.customer_leg
    rig.advance(2)
    rig.board.hold(call.id)
    rig.settle()
    assert rig.commands() == [f"uuid_hold {agent}"]
    # FreeSWITCH plays the music to the held leg's partner: the customer hears it.
    assert rig.sim.channels[customer].last_app == ("playback", "local_stream://moh")
    assert call.held and seen(rig, call.id, "held") == [False, True]
    with pytest.raises(ControlError, match="already on hold"):
        rig.board.hold(call.id)
    rig.advance(3)
    rig.board.unhold(call.id)
    rig.settle()
    assert rig.commands() == [f"uuid_hold {agent}", f"uuid_hold off {agent}"]
    assert not call.held and seen(rig, call.id, "held") == [False, True, False]
    with pytest.raises(ControlError, match="not on hold"):
        rig.board.unhold(call.id)
    assert len(rig.commands()) == 2, "refused controls send nothing"
    rig.advance(4)
    customer_hangs_up(rig, call)
    row, _ = cdr(rig, call.id)
    assert (row.hold_seconds, row.talk_seconds, row.hangup_by) == (3, 9, HangupBy.CUSTOMER)


def test_controls_wait_for_the_customer_and_stop_when_the_call_ends(rig, agent_id):
    rig.sim.script(NUMBER, Behaviour.ringing())
    call = rig.board.dial(agent_id, NUMBER)
    rig.settle()
    before = len(rig.commands())
    for control in (lambda: rig.board.hold(call.id), lambda: rig.board.send_dtmf(call.id, "1"),
                    lambda: rig.board.record(call.id, True),
                    lambda: rig.board.transfer(call.id, number=OTHER_NUMBER)):
        with pytest.raises(ControlError, match="only while the customer is on the line"):
            control()
    assert len(rig.commands()) == before
    rig.board.hang_up(call.id)
    rig.settle()
    # Every control on an ended call, hanging up included, is the same conflict.
    for control in (lambda: rig.board.hold(call.id), lambda: rig.board.unhold(call.id),
                    lambda: rig.board.hang_up(call.id)):
        with pytest.raises(CallEnded, match="already ended"):
            control()


# --- DTMF ------------------------------------------------------------------------------------


def test_dtmf_goes_to_the_customer(rig, agent_id):
    call = talking(rig, agent_id)
    rig.board.send_dtmf(call.id, "12#*AD")
    assert rig.commands() == [f"uuid_send_dtmf {call.customer_leg} 12#*AD"]
    assert rig.sim.api.dtmf_sent == [(call.customer_leg, "12#*AD")]


@pytest.mark.parametrize("digits", ["12x", "", "1 2", "1&park()", "{x=y}1", "1\n2", "E", "1" * 65,
                                    "１２"])
def test_bad_dtmf_is_refused_before_anything_is_sent(rig, agent_id, digits):
    call = talking(rig, agent_id)
    with pytest.raises(CommandError) as refused:
        rig.board.send_dtmf(call.id, digits)
    assert refused.value.field == "digits" and "0-9" in str(refused.value)
    assert rig.commands() == [] and rig.sim.api.dtmf_sent == []


# --- recording -------------------------------------------------------------------------------


def test_recording_start_stop_again_writes_wav_files_beside_each_other(rig, agent_id,
                                                                      recordings):
    call = talking(rig, agent_id)
    agent = call.agent_leg
    day = datetime.fromtimestamp(call.created, UTC)
    first = f"{recordings}/{day:%Y/%m/%d}/{call.id}.wav"
    second = f"{recordings}/{day:%Y/%m/%d}/{call.id}-2.wav"
    rig.board.record(call.id, True)
    rig.settle()
    assert rig.commands() == [f"uuid_record {agent} start {first}"]
    assert recording_now(call) == first and seen(rig, call.id, "recording") == [None, first]
    with pytest.raises(ControlError, match="already being recorded"):
        rig.board.record(call.id, True)
    rig.advance(5)
    rig.board.record(call.id, False)
    rig.settle()
    assert rig.commands()[1:] == [f"uuid_record {agent} stop {first}"]
    assert recording_now(call) is None and seen(rig, call.id, "recording") == [None, first, None]
    with pytest.raises(ControlError, match="not being recorded"):
        rig.board.record(call.id, False)
    with wave.open(first) as wav:
        assert (wav.getnframes(), wav.getframerate(), wav.getnchannels()) == (40000, 8000, 2)
    rig.board.record(call.id, True)  # again: a new file, the first is kept
    rig.settle()
    assert rig.commands()[2:] == [f"uuid_record {agent} start {second}"]
    rig.advance(2)
    customer_hangs_up(rig, call)  # the recording ends with the agent's leg
    assert seen(rig, call.id, "recording")[-1] is None
    with wave.open(second) as wav:
        assert wav.getnframes() == 2 * 8000
    with wave.open(first) as wav:
        assert wav.getnframes() == 40000
    row, _ = cdr(rig, call.id)
    assert row.recording_path == first


def test_always_record_starts_when_the_call_is_bridged(rig, agent_id, recordings, database):
    with database.session() as session:
        session.execute(update(Agent).where(Agent.id == agent_id).values(always_record=True))
    rig.board.roster.reload()
    rig.sim.script(NUMBER, Behaviour.answer(1000))
    call = rig.board.dial(agent_id, NUMBER)
    rig.settle()
    assert not any(c.startswith("uuid_record") for c in rig.commands())
    rig.advance(1)
    day = datetime.fromtimestamp(call.created, UTC)
    path = f"{recordings}/{day:%Y/%m/%d}/{call.id}.wav"
    assert rig.commands()[-1] == f"uuid_record {call.agent_leg} start {path}"
    rig.advance(6)
    customer_hangs_up(rig, call)
    with wave.open(path) as wav:
        assert wav.getnframes() == 6 * 8000
    assert cdr(rig, call.id)[0].recording_path == path


def test_a_recordings_dir_freeswitch_cannot_be_told_is_a_clear_error(rig, agent_id, tmp_path):
    rig.board.recording.recordings_dir = tmp_path / "my recordings"
    call = talking(rig, agent_id)
    with pytest.raises(ControlError, match="CALLCENTER_RECORDINGS_DIR"):
        rig.board.record(call.id, True)
    assert rig.commands() == [] and recording_now(call) is None


# --- blind transfer --------------------------------------------------------------------------


def test_transfer_to_another_agent_keeps_the_call_and_its_cdr(rig, agent_id, bob):
    call = talking(rig, agent_id)
    old, customer = call.agent_leg, call.customer_leg
    rig.advance(3)
    transfer = rig.board.transfer(call.id, agent_id=bob)
    rig.settle()
    new = transfer.leg
    assert rig.commands() == [
        f"originate {{origination_uuid={new},cc_call_id={call.id},cc_role=agent,"
        # The one offer path (offers.py): the same variables, in the same order, as the
        # agent leg of a dial-out.
        f"cc_direction=outbound,cc_customer_number={NUMBER},cc_agent_id={bob},"
        f"cc_caller_id={CALLER_ID},cc_transfer=joining,"
        f"sip_h_Call-Info=<sip:127.0.0.1>;answer-after=0,"
        f"origination_caller_id_number={NUMBER},originate_timeout={TIMES.agent_ring},"
        f"park_timeout={TIMES.park}}}user/1001@127.0.0.1 &park()",
        # Bridged to the customer before the old leg leaves; FreeSWITCH hangs that up itself.
        f"uuid_setvar {old} cc_transfer left",
        f"uuid_bridge {new} {customer}",
        f"uuid_setvar {new} cc_transfer joined",
    ]
    assert (call.agent_leg, call.customer_leg, call.agent_id) == (new, customer, bob)
    assert rig.sim.channels[customer].partner is rig.sim.channels[new]
    assert old not in rig.sim.channels
    assert [t["state"] for t in seen(rig, call.id, "transfer")[1:]] == [
        "dialing", "ringing", "connecting", "done"]
    assert rig.board.agent(bob).state is AgentState.IN_CALL
    assert rig.board.agent(agent_id).state is AgentState.WRAP_UP
    assert rig.board.agent(agent_id).call_id == call.id
    # The old agent's page was told the call is no longer its own, with a version above the
    # transfer's earlier news (the reply to its own "transfer" must not overwrite it there).
    about = [(message["call"], to) for message, to in rig.hub.messages
             if message["type"] == "call" and message["call"]["id"] == call.id]
    told = [c for c, to in about if to == agent_id][-1]
    assert told["agent_id"] == bob and told["transfer"]["state"] == "done"
    assert told["version"] > max(c["version"] for c, _ in about if c["transfer"] is None
                                 or c["transfer"]["state"] != "done")
    rig.advance(4)
    customer_hangs_up(rig, call)
    assert rig.board.agent(bob).state is AgentState.WRAP_UP
    row, legs = cdr(rig, call.id)
    assert (row.agent_id, row.talk_seconds, row.hangup_cause, row.hangup_by) == (
        bob, 7, "NORMAL_CLEARING", HangupBy.CUSTOMER)
    assert sorted((leg.uuid, leg.role) for leg in legs) == sorted(
        [(old, LegRole.AGENT), (new, LegRole.AGENT), (customer, LegRole.CUSTOMER)])
    assert all(leg.ended_at is not None for leg in legs)
    # Both agents handled it: each one's records search finds it (call_handlers, kept by
    # the database as the switchboard writes the call and its agents' parts).
    with rig.database.session() as session:
        handlers = set(session.execute(select(CallHandler.agent_id, CallHandler.call_id)))
        assert handlers == {(agent_id, call.id), (bob, call.id)}
        for agent in (agent_id, bob):
            assert [c.id for c in Search(Filters(), agent).page(session, 10).calls] == [call.id]


def test_transfer_to_a_number_bridges_on_early_media(rig, agent_id):
    call = talking(rig, agent_id)
    old, customer = call.agent_leg, call.customer_leg
    rig.sim.script(OTHER_NUMBER, Behaviour.early_media(500, answer_after_ms=2500))
    transfer = rig.board.transfer(call.id, number=OTHER_NUMBER)
    rig.settle()
    new = transfer.leg
    assert rig.commands() == [
        f"originate {{origination_uuid={new},cc_call_id={call.id},cc_role=agent,"
        f"cc_direction=outbound,cc_customer_number={NUMBER},cc_caller_id={CALLER_ID},"
        f"cc_transfer=joining,originate_timeout={TIMES.customer_ring},"
        f"park_timeout={TIMES.park},origination_caller_id_number={CALLER_ID}}}"
        f"sofia/gateway/carrier/{OTHER_NUMBER} &park()"]
    assert transfer.state == "ringing" and call.agent_leg == old, "talking on meanwhile"
    rig.advance(0.5)
    assert rig.commands()[1:] == [f"uuid_setvar {old} cc_transfer left",
                                  f"uuid_bridge {new} {customer}",
                                  f"uuid_setvar {new} cc_transfer joined"]
    assert transfer.state == "done" and call.agent_leg == new and call.agent_id is None
    assert rig.board.agent(agent_id).state is AgentState.WRAP_UP
    rig.advance(2)
    assert rig.sim.channels[new].answered
    rig.advance(TIMES.customer_ring + TIMES.timer_margin)  # answered: no no-answer timer
    assert new in rig.sim.channels and len(rig.commands()) == 4
    rig.sim.far_end_hangs_up(new)
    rig.settle()
    assert dict(rig.sim.channels) == {}, "FreeSWITCH hangs up the customer with it"
    row, legs = cdr(rig, call.id)
    assert (row.agent_id, row.hangup_by, len(legs)) == (agent_id, HangupBy.AGENT, 3)
    assert row.talk_seconds == int(TIMES.customer_ring + TIMES.timer_margin + 2.5)


@pytest.mark.parametrize("ending", ["never answers", "refuses after early media"])
def test_a_number_bridged_on_early_media_that_never_answers_takes_the_customer(rig, agent_id,
                                                                                ending):
    call = talking(rig, agent_id)
    rig.sim.script(OTHER_NUMBER, Behaviour.early_media(0, answer_after_ms=None))
    transfer = rig.board.transfer(call.id, number=OTHER_NUMBER)
    rig.settle()
    assert transfer.state == "done" and call.agent_leg == transfer.leg
    if ending == "never answers":
        rig.advance(TIMES.customer_ring + TIMES.timer_margin)  # our own timer: 183 is +OK
        assert rig.commands()[-1] == f"uuid_kill {transfer.leg} NO_ANSWER"
        cause = "NO_ANSWER"
    else:
        rig.advance(5)
        rig.sim.far_end_hangs_up(transfer.leg, "CALL_REJECTED")
        rig.settle()
        cause = "CALL_REJECTED"
    assert dict(rig.sim.channels) == {}
    last = seen(rig, call.id, "progress")[-1], seen(rig, call.id, "outcome")[-1]
    assert last == ("ended", "answered"), "the customer had answered: not the agent's no-answer"
    assert [m["call"]["cause"] for m, _ in rig.hub.messages if m["type"] == "call"][-1] == cause


def test_transfer_to_a_busy_number_leaves_the_customer_with_the_agent(rig, agent_id):
    call = talking(rig, agent_id)
    old, customer = call.agent_leg, call.customer_leg
    rig.sim.script(OTHER_NUMBER, Behaviour.busy(300))
    transfer = rig.board.transfer(call.id, number=OTHER_NUMBER)
    rig.settle()
    assert transfer.state == "dialing"
    rig.advance(0.3)
    assert (transfer.state, transfer.cause) == ("failed", "USER_BUSY")
    assert seen(rig, call.id, "transfer")[-1] == {"to": OTHER_NUMBER, "agent_id": None,
                                                  "state": "failed", "cause": "USER_BUSY"}
    assert len(rig.commands()) == 1, "nothing but the originate"
    assert (call.agent_leg, rig.sim.channels[customer].partner.uuid) == (old, old)
    assert rig.board.agent(agent_id).state is AgentState.IN_CALL
    rig.board.hold(call.id)  # still the agent's call, every control works
    rig.settle()
    assert rig.commands()[-1] == f"uuid_hold {old}"
    rig.advance(2)
    customer_hangs_up(rig, call)
    row, legs = cdr(rig, call.id)
    # The refused transfer leg (its far end refused: recv_refuse) ended first, but it never
    # was part of the call.
    assert (row.hangup_by, row.hangup_cause, len(legs)) == (
        HangupBy.CUSTOMER, "NORMAL_CLEARING", 3)


def test_transfer_to_an_agent_who_does_not_answer(rig, agent_id, bob):
    call = talking(rig, agent_id)
    rig.sim.script("1001", Behaviour.ringing())
    transfer = rig.board.transfer(call.id, agent_id=bob)
    rig.settle()
    assert rig.board.agent(bob).state is AgentState.RINGING
    with pytest.raises(ControlError, match="already being transferred to 1001"):
        rig.board.transfer(call.id, number=OTHER_NUMBER)
    rig.advance(TIMES.agent_ring)
    assert (transfer.state, transfer.cause) == ("failed", "NO_ANSWER")
    assert rig.board.agent(bob).state is AgentState.IDLE
    assert rig.board.agent(agent_id).state is AgentState.IN_CALL
    assert call.agent_leg == transfer.from_leg and transfer.leg not in rig.sim.channels


def test_customer_leaving_during_a_transfer_ends_it(rig, agent_id, bob):
    call = talking(rig, agent_id)
    rig.sim.script("1001", Behaviour.ringing())
    transfer = rig.board.transfer(call.id, agent_id=bob)
    rig.settle()
    customer_hangs_up(rig, call)
    assert f"uuid_kill {transfer.leg} NORMAL_CLEARING" in rig.commands()
    assert transfer.state == "failed"
    assert rig.board.agent(bob).state is AgentState.IDLE
    assert rig.board.agent(agent_id).state is AgentState.WRAP_UP
    row, _ = cdr(rig, call.id)
    assert (row.agent_id, row.hangup_by) == (agent_id, HangupBy.CUSTOMER)


def test_recording_goes_on_after_a_transfer_in_a_new_file(rig, agent_id, bob, recordings):
    call = talking(rig, agent_id)
    old = call.agent_leg
    day = datetime.fromtimestamp(call.created, UTC)
    first = f"{recordings}/{day:%Y/%m/%d}/{call.id}.wav"
    rig.board.record(call.id, True)
    rig.advance(3)
    transfer = rig.board.transfer(call.id, agent_id=bob)
    rig.settle()
    second = f"{recordings}/{day:%Y/%m/%d}/{call.id}-2.wav"
    assert rig.commands()[-1] == f"uuid_record {transfer.leg} start {second}"
    assert recording_now(call) == second
    rig.advance(4)
    customer_hangs_up(rig, call)
    with wave.open(first) as wav:
        assert wav.getnframes() == 3 * 8000, "stopped as the old leg left"
    with wave.open(second) as wav:
        assert wav.getnframes() == 4 * 8000
    assert cdr(rig, call.id)[0].recording_path == first
    assert old != transfer.leg


@pytest.mark.parametrize("number", ["15551234567&park()", "{origination_uuid=x}1555",
                                    "1555,1666", "1555 &echo()", "", "user/1000"])
def test_a_transfer_target_cannot_inject_anything(rig, agent_id, number):
    call = talking(rig, agent_id)
    with pytest.raises(CommandError) as refused:
        rig.board.transfer(call.id, number=number)
    assert refused.value.field == "number"
    assert rig.commands() == [] and call.transfer is None and call.others == []


def test_transfer_to_an_agent_who_cannot_take_it(rig, agent_id, bob):
    call = talking(rig, agent_id)
    with pytest.raises(InvalidInput, match="no agent 999") as refused:
        rig.board.transfer(call.id, agent_id=999)
    assert refused.value.field == "agent_id" and not isinstance(refused.value, CommandError)
    with pytest.raises(ControlError, match="already with that agent"):
        rig.board.transfer(call.id, agent_id=agent_id)
    rig.board.set_status(bob, AgentStatus.ON_BREAK)
    with pytest.raises(ControlError, match="bob is not free.*on break"):
        rig.board.transfer(call.id, agent_id=bob)
    rig.board.set_status(bob, AgentStatus.AVAILABLE)
    rig.sim.unregister("1001")
    rig.settle()
    with pytest.raises(ControlError, match="extension 1001.*not registered"):
        rig.board.transfer(call.id, agent_id=bob)
    assert rig.commands() == [] and call.transfer is None


def test_a_deactivated_agent_takes_no_transfer_and_cannot_become_available(rig, agent_id,
                                                                          bob):
    call = talking(rig, agent_id)
    rig.board.set_active(bob, False)
    rig.settle()
    target = rig.board.agent(bob)
    assert target.status is AgentStatus.LOGGED_OUT and target.registered   # phone still up
    with pytest.raises(ControlError, match="bob's account is deactivated"):
        rig.board.transfer(call.id, agent_id=bob)
    with pytest.raises(AgentError, match="deactivated"):
        rig.board.set_status(bob, AgentStatus.AVAILABLE)
    assert rig.commands() == [] and call.transfer is None
    assert rig.hub.messages[-1][0]["agent"]["status"] == "logged_out"
    rig.board.set_active(bob, True)                # activated again: it may log in and work
    rig.board.set_status(bob, AgentStatus.AVAILABLE)
    assert rig.board.transfer(call.id, agent_id=bob).state == "dialing"


# --- disposition -----------------------------------------------------------------------------


def test_disposition_after_the_call_ends_wrap_up_early(rig, agent_id):
    call = talking(rig, agent_id)
    agent = rig.board.agent(agent_id)
    with pytest.raises(ControlError, match="still in progress"):
        rig.board.set_disposition(call.id, agent_id, "sale", None)
    customer_hangs_up(rig, call)
    assert agent.state is AgentState.WRAP_UP
    rig.board.set_disposition(call.id, agent_id, " sale ", "wants a callback\nat 5")
    rig.settle()
    assert agent.state is AgentState.IDLE and rig.hub.agent_states(agent_id)[-1] == "idle"
    row, _ = cdr(rig, call.id)
    assert (row.disposition, row.notes) == ("sale", "wants a callback\nat 5")


@pytest.mark.parametrize("disposition,notes,field", [
    ("", None, "disposition"), ("   ", None, "disposition"), (None, None, "disposition"),
    (5, None, "disposition"), ("x" * 65, None, "disposition"), ("sale\nnow", None, "disposition"),
    ("sale", 7, "notes"), ("sale", "x" * 4001, "notes"), ("sale", "bell\x07", "notes"),
])
def test_bad_dispositions_are_refused_and_nothing_is_written(rig, agent_id, disposition, notes,
                                                             field):
    call = talking(rig, agent_id)
    customer_hangs_up(rig, call)
    with pytest.raises(InvalidInput) as refused:
        rig.board.set_disposition(call.id, agent_id, disposition, notes)
    # The switchboard's own rule: the value never reaches an ESL command.
    assert refused.value.field == field and not isinstance(refused.value, CommandError)
    rig.settle()
    row, _ = cdr(rig, call.id)
    assert (row.disposition, row.notes) == (None, None)
    assert rig.board.agent(agent_id).state is AgentState.WRAP_UP


def test_hold_seconds_add_up_across_a_transfer(rig, agent_id, bob):
    call = talking(rig, agent_id)
    rig.board.hold(call.id)
    rig.advance(3)
    rig.board.unhold(call.id)
    rig.board.hold(call.id)  # on hold while the transfer rings, as agents do
    rig.settle()
    transfer = rig.board.transfer(call.id, agent_id=bob)
    rig.settle()
    assert transfer.state == "done" and not call.held
    assert seen(rig, call.id, "held")[-1] is False
    rig.board.hold(call.id)
    rig.settle()
    assert rig.commands()[-1] == f"uuid_hold {transfer.leg}", "bob's leg is held now"
    rig.advance(5)
    rig.board.unhold(call.id)
    customer_hangs_up(rig, call)
    assert cdr(rig, call.id)[0].hold_seconds == 8
