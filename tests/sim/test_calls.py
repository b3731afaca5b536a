"""Originate, the scripted far ends, job results, timeouts, park and bridge, on a ManualClock."""

from __future__ import annotations

import gevent
import pytest

from callcenter.esl.connection import Connection
from callcenter.sim import Behaviour, Simulator
from tests.sim.conftest import PASSWORD, Recorder, agent_leg, customer_leg, settle
from tests.sim.esl_client import RawClient

NUMBER = "15551234567"


def test_agent_leg_answers_at_once_and_parks(connection):
    leg, arg = agent_leg()
    job = connection.bgapi(f"originate {arg}")
    assert job.get(5) == f"+OK {leg}\n"
    park = connection.recorder.wait(lambda e: e.uuid == leg and e.name == "CHANNEL_PARK", "park")
    assert park.get("variable_cc_call_id") == "C1"
    assert park.get("Answer-State") == "answered"
    assert connection.recorder.names(leg) == [
        "CHANNEL_OUTGOING", "CHANNEL_CREATE", "CHANNEL_ORIGINATE", "CHANNEL_PROGRESS",
        "CHANNEL_ANSWER", "CHANNEL_OUTGOING", "CHANNEL_EXECUTE", "CHANNEL_PARK"]


def test_customer_answers_after_the_scripted_delay(sim, clock, connection):
    sim.script(NUMBER, Behaviour.answer(1500))
    leg, arg = customer_leg()
    job = connection.bgapi(f"originate {arg}")
    clock.advance(1.4)
    settle(connection)
    assert not job.ready()
    assert connection.recorder.names(leg)[-1] == "CHANNEL_PROGRESS"
    clock.advance(0.2)
    assert job.get(5) == f"+OK {leg}\n"
    answer = connection.recorder.wait(lambda e: e.uuid == leg and e.name == "CHANNEL_ANSWER",
                                      "answer")
    answered_us = int(answer.get("Caller-Channel-Answered-Time"))
    created_us = int(answer.get("Caller-Channel-Created-Time"))
    assert answered_us - created_us == 1_500_000


def test_default_customer_rings_then_answers(sim, clock, connection):
    assert sim.default_customer.answer_after_ms == 1500
    sim.default_customer = Behaviour.answer(200)
    leg, arg = customer_leg("15550009999")
    job = connection.bgapi(f"originate {arg}")
    clock.advance(0.2)
    assert job.get(5) == f"+OK {leg}\n"


def test_early_media_completes_the_originate_before_the_answer(sim, clock, connection):
    sim.script(NUMBER, Behaviour.early_media(300, answer_after_ms=2000))
    leg, arg = customer_leg()
    job = connection.bgapi(f"originate {arg}")
    clock.advance(0.3)
    assert job.get(5) == f"+OK {leg}\n"
    park = connection.recorder.wait(lambda e: e.uuid == leg and e.name == "CHANNEL_PARK", "park")
    assert park.get("Answer-State") == "early"
    assert park.get("Channel-Call-State") == "EARLY"
    clock.advance(1.7)
    answer = connection.recorder.wait(lambda e: e.uuid == leg and e.name == "CHANNEL_ANSWER",
                                      "answer")
    assert answer.get("Answer-State") == "answered"


@pytest.mark.parametrize(("behaviour", "cause", "status"), [
    (Behaviour.busy(), "USER_BUSY", "486"),
    (Behaviour.reject("NORMAL_TEMPORARY_FAILURE", 500), "NORMAL_TEMPORARY_FAILURE", "503"),
    (Behaviour.reject("CALL_REJECTED"), "CALL_REJECTED", "603"),
])
def test_refusals_fail_the_job_with_their_cause(sim, clock, connection, behaviour, cause,
                                                  status):
    sim.script(NUMBER, behaviour)
    leg, arg = customer_leg()
    job = connection.bgapi(f"originate {arg}")
    clock.advance(0.5)
    assert job.get(5) == f"-ERR {cause}\n"
    done = connection.recorder.wait(
        lambda e: e.uuid == leg and e.name == "CHANNEL_HANGUP_COMPLETE", "hangup complete")
    assert done.get("Hangup-Cause") == cause
    assert done.get("variable_sip_term_status") == status
    assert done.get("variable_sip_hangup_disposition") == "recv_refuse"
    assert connection.recorder.names(leg) == [
        "CHANNEL_OUTGOING", "CHANNEL_CREATE", "CHANNEL_ORIGINATE", "CHANNEL_HANGUP",
        "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY"]


def test_unknown_reject_cause_is_refused_when_scripting():
    with pytest.raises(ValueError):
        Behaviour.reject("NO_SUCH_CAUSE")


def test_no_answer_hangs_up_at_originate_timeout(sim, clock, connection):
    sim.script(NUMBER, Behaviour.no_answer())
    leg, arg = customer_leg(originate_timeout="8")
    job = connection.bgapi(f"originate {arg}")
    clock.advance(7.9)
    settle(connection)
    assert not job.ready()
    clock.advance(0.2)
    assert job.get(5) == "-ERR NO_ANSWER\n"
    done = connection.recorder.wait(
        lambda e: e.uuid == leg and e.name == "CHANNEL_HANGUP_COMPLETE", "hangup complete")
    assert done.get("variable_sip_hangup_disposition") == "send_cancel"
    assert done.get("variable_billsec") == "0"


def test_far_end_hangs_up_after_the_scripted_talk_time(sim, clock, connection):
    sim.script(NUMBER, Behaviour.answer(0, hangup_after_s=5))
    leg, arg = customer_leg()
    assert connection.bgapi(f"originate {arg}").get(5) == f"+OK {leg}\n"
    clock.advance(5)
    done = connection.recorder.wait(
        lambda e: e.uuid == leg and e.name == "CHANNEL_HANGUP_COMPLETE", "hangup complete")
    assert done.get("Hangup-Cause") == "NORMAL_CLEARING"
    assert done.get("variable_sip_hangup_disposition") == "recv_bye"
    assert done.get("variable_billsec") == "5"
    assert int(done.get("variable_end_epoch")) - int(done.get("variable_answer_epoch")) == 5


def test_unregistered_extension_fails_without_a_channel(sim, connection):
    leg, arg = agent_leg()
    job = connection.bgapi(f"originate {arg.replace('user/1000', 'user/1009')}")
    assert job.get(5) == "-ERR USER_NOT_REGISTERED\n"
    settle(connection)
    assert connection.recorder.of(leg) == []
    assert connection.api("sofia_contact */1009@127.0.0.1") == "error/user_not_registered"
    assert connection.api("sofia_contact */1000@127.0.0.1").startswith(
        "sofia/internal/sip:1000@127.0.0.1:")


def test_auto_register_makes_every_extension_reachable(clock):
    sim = Simulator(PASSWORD, clock=clock, auto_register=True)
    sim.start()
    try:
        raw = RawClient(sim.port, PASSWORD)
        reply = raw.api("originate user/1234 &park()")
        assert reply.startswith("+OK ")
        raw.close()
    finally:
        sim.stop()


def test_park_timeout_hangs_up_a_forgotten_leg(clock, connection):
    leg, arg = agent_leg(park_timeout="10")
    connection.bgapi(f"originate {arg}").get(5)
    park = connection.recorder.wait(lambda e: e.uuid == leg and e.name == "CHANNEL_PARK", "park")
    assert "variable_park_timeout" not in park.headers  # park takes it
    clock.advance(9.9)
    settle(connection)
    assert not connection.recorder.of(leg, "CHANNEL_HANGUP")
    clock.advance(0.1)
    hangup = connection.recorder.wait(lambda e: e.uuid == leg and e.name == "CHANNEL_HANGUP",
                                      "hangup")
    assert hangup.get("Hangup-Cause") == "NORMAL_CLEARING"


def test_park_timeout_with_a_cause(clock, connection):
    leg, arg = agent_leg(park_timeout="3:ALLOTTED_TIMEOUT")
    connection.bgapi(f"originate {arg}").get(5)
    clock.advance(3)
    hangup = connection.recorder.wait(lambda e: e.uuid == leg and e.name == "CHANNEL_HANGUP",
                                      "hangup")
    assert hangup.get("Hangup-Cause") == "ALLOTTED_TIMEOUT"


def _bridged(sim, clock, connection, customer: Behaviour):
    sim.script(NUMBER, customer)
    a, arg_a = agent_leg()
    b, arg_b = customer_leg()
    connection.bgapi(f"originate {arg_a}").get(5)
    job = connection.bgapi(f"originate {arg_b}")
    clock.advance(0.3)
    assert job.get(5) == f"+OK {b}\n"
    assert connection.api(f"uuid_bridge {a} {b}") == f"+OK {b}\n"
    connection.recorder.wait(lambda e: e.uuid == a and e.name == "CHANNEL_BRIDGE", "bridge")
    return a, b


def test_killing_a_bridged_agent_hangs_up_the_ringing_customer(sim, clock, connection):
    a, b = _bridged(sim, clock, connection, Behaviour.early_media(300))
    assert connection.api(f"uuid_kill {a}") == "+OK\n"
    done = connection.recorder.wait(
        lambda e: e.uuid == b and e.name == "CHANNEL_HANGUP_COMPLETE", "customer hangup")
    assert done.get("Hangup-Cause") == "ORIGINATOR_CANCEL"
    agent = connection.recorder.wait(
        lambda e: e.uuid == a and e.name == "CHANNEL_HANGUP_COMPLETE", "agent hangup")
    assert agent.get("variable_bridge_hangup_cause") == "ORIGINATOR_CANCEL"
    assert connection.recorder.of(a, "CHANNEL_UNBRIDGE")
    assert sim.channels == {}


def test_customer_bye_hangs_up_the_bridged_agent(sim, clock, connection):
    a, b = _bridged(sim, clock, connection, Behaviour.answer(300, hangup_after_s=4))
    clock.advance(4)
    agent = connection.recorder.wait(
        lambda e: e.uuid == a and e.name == "CHANNEL_HANGUP_COMPLETE", "agent hangup")
    assert agent.get("Hangup-Cause") == "NORMAL_CLEARING"
    assert agent.get("variable_sip_hangup_disposition") == "send_bye"
    assert agent.get("variable_bridge_hangup_cause") == "NORMAL_CLEARING"
    names = connection.recorder.names(a)
    assert names.index("CHANNEL_UNBRIDGE") < names.index("CHANNEL_HANGUP")
    customer = connection.recorder.wait(
        lambda e: e.uuid == b and e.name == "CHANNEL_HANGUP_COMPLETE", "customer hangup")
    assert customer.get("variable_sip_hangup_disposition") == "recv_bye"
    assert customer.get("variable_billsec") == "4"


def test_a_parked_leg_is_left_alone_when_the_other_leg_fails(sim, clock, connection):
    sim.script(NUMBER, Behaviour.busy())
    a, arg_a = agent_leg()
    b, arg_b = customer_leg()
    connection.bgapi(f"originate {arg_a}").get(5)
    assert connection.bgapi(f"originate {arg_b}").get(5) == "-ERR USER_BUSY\n"
    clock.advance(60)
    settle(connection)
    assert a in sim.channels and sim.channels[a].parked
    assert connection.api(f"uuid_kill {a}") == "+OK\n"
    settle(connection)
    assert connection.recorder.names(a)[-5:] == [
        "CHANNEL_HANGUP", "CHANNEL_UNPARK", "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY"]


def test_bridge_before_the_originate_returns_reports_originator_cancel(clock):
    """README, load section: the job says ORIGINATOR_CANCEL, the bridge still happened."""
    sim = Simulator(PASSWORD, clock=clock, originate_settle_ms=50)
    sim.start()
    sim.register("1000")
    sim.script(NUMBER, Behaviour.answer(0))
    recorder = Recorder()
    conn = Connection("127.0.0.1", sim.port, PASSWORD, on_event=recorder)
    conn.connect()
    conn.subscribe(["ALL"])
    conn.recorder = recorder
    try:
        a, arg_a = agent_leg()
        b, arg_b = customer_leg()
        job_a = conn.bgapi(f"originate {arg_a}")
        clock.advance(0.05)
        assert job_a.get(5) == f"+OK {a}\n"
        job_b = conn.bgapi(f"originate {arg_b}")
        recorder.wait(lambda e: e.uuid == b and e.name == "CHANNEL_ANSWER", "answer")
        assert conn.api(f"uuid_bridge {a} {b}") == f"+OK {b}\n"
        clock.advance(0.05)
        assert job_b.get(5) == "-ERR ORIGINATOR_CANCEL\n"
        settle(conn)
        assert recorder.of(a, "CHANNEL_BRIDGE")
        assert not recorder.of(b, "CHANNEL_PARK")
        assert sim.channels[b].partner is sim.channels[a]
    finally:
        conn.close()
        sim.stop()


def test_blocking_api_originate_replies_once_answered(sim, clock, connection):
    sim.script(NUMBER, Behaviour.answer(1000))
    leg, arg = customer_leg()
    reply = []
    waiter = gevent.spawn(lambda: reply.append(connection.api(f"originate {arg}", timeout=5)))
    connection.recorder.wait(lambda e: e.uuid == leg and e.name == "CHANNEL_PROGRESS", "ringing")
    assert reply == []
    clock.advance(1)
    waiter.join(5)
    assert reply == [f"+OK {leg}\n"]


@pytest.mark.parametrize(("command", "answer"), [
    ("uuid_kill 00000000-0000-0000-0000-000000000000", "-ERR No such channel!\n"),
    ("uuid_bridge 00000000-0000-0000-0000-000000000000 x", "-ERR Invalid uuid\n"),
    ("uuid_hold 00000000-0000-0000-0000-000000000000", "-ERR Operation failed\n"),
    ("uuid_bridge", "-USAGE: <uuid> <other_uuid>\n"),
    ("originate sofia/gateway/nope/123 &park()", "-ERR INVALID_GATEWAY\n"),
    ("originate foo/bar &park()", "-ERR CHAN_NOT_IMPLEMENTED\n"),
    ("originate error/user_busy &park()", "-ERR USER_BUSY\n"),
    ("originate user/1000", "-USAGE: <call url> <exten>|&<application_name>(<app_args>) "
     "[<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n"),
])
def test_error_replies(connection, command, answer):
    assert connection.api(command) == answer


def test_loopback_and_dialplan_originates(sim, connection):
    reply = connection.api("originate loopback/9999 &park()")
    assert reply.startswith("+OK ")
    leg = reply.split()[1]
    park = connection.recorder.wait(lambda e: e.uuid == leg and e.name == "CHANNEL_PARK", "park")
    assert park.get("Channel-Name") == "loopback/9999-a"
    # An extension instead of &app: the leg runs the dialplan, which parks it.
    reply = connection.api("originate user/1000 5550100 XML default")
    leg = reply.split()[1]
    connection.recorder.wait(lambda e: e.uuid == leg and e.name == "CHANNEL_PARK", "park")


def test_uuid_answer_answers_an_inbound_caller(sim, connection):
    caller = sim.inject_inbound("5550100", "15551234567", "sales")
    assert connection.api(f"uuid_answer {caller}") == "+OK\n"
    answer = connection.recorder.wait(
        lambda e: e.uuid == caller and e.name == "CHANNEL_ANSWER", "answer")
    assert answer.get("Answer-State") == "answered"
    assert connection.api("uuid_answer nope") == "-ERROR\n"


def test_answering_a_parked_caller_pre_answers_it_first(sim, connection):
    """FreeSWITCH 1.10.12 with the shipped external profile (inbound-late-negotiation): the
    answer negotiates the caller's SDP, which marks the channel pre-answered, so uuid_answer on
    a caller still ringing in park sends CHANNEL_PROGRESS_MEDIA (Answer-State early, call state
    RINGING) and then CHANNEL_ANSWER (answered, call state EARLY), as tests/freeswitch saw."""
    caller = sim.inject_inbound("5550100", "15551234567", "sales")
    connection.recorder.wait(lambda e: e.uuid == caller and e.name == "CHANNEL_PARK", "park")
    assert connection.api(f"uuid_answer {caller}") == "+OK\n"
    connection.recorder.wait(lambda e: e.uuid == caller and e.name == "CHANNEL_ANSWER", "answer")
    names = connection.recorder.names(caller, skip=("CHANNEL_STATE", "CHANNEL_CALLSTATE",
                                                    "CODEC", "CALL_UPDATE", "PRESENCE_IN"))
    assert names[names.index("CHANNEL_PARK") + 1:] == ["CHANNEL_PROGRESS_MEDIA", "CHANNEL_ANSWER"]
    (early,) = connection.recorder.of(caller, "CHANNEL_PROGRESS_MEDIA")
    (answer,) = connection.recorder.of(caller, "CHANNEL_ANSWER")
    assert (early.get("Answer-State"), early.get("Channel-Call-State")) == ("early", "RINGING")
    assert (answer.get("Answer-State"), answer.get("Channel-Call-State")) == ("answered", "EARLY")
    # As at the answer in capture 05: the disposition the pre-answer set.
    assert answer.get("variable_endpoint_disposition") == "EARLY MEDIA"


def test_the_far_end_can_be_driven_by_hand(sim, clock, connection):
    sim.script(NUMBER, Behaviour.ringing())
    leg, arg = customer_leg()
    job = connection.bgapi(f"originate {arg}")
    connection.recorder.wait(lambda e: e.uuid == leg and e.name == "CHANNEL_PROGRESS", "ringing")
    assert sim.far_end_answers(leg)
    assert job.get(5) == f"+OK {leg}\n"
    assert not sim.far_end_answers(leg)  # already answered
    assert sim.far_end_hangs_up(leg)
    done = connection.recorder.wait(
        lambda e: e.uuid == leg and e.name == "CHANNEL_HANGUP_COMPLETE", "hangup")
    assert done.get("variable_sip_hangup_disposition") == "recv_bye"

    other, arg = customer_leg()
    job = connection.bgapi(f"originate {arg}")
    assert sim.far_end_hangs_up(other, "USER_BUSY")
    assert job.get(5) == "-ERR USER_BUSY\n"
    caller = sim.inject_inbound("5550100", "15550001", "sales")
    assert sim.far_end_hangs_up(caller)
    abandon = connection.recorder.wait(
        lambda e: e.uuid == caller and e.name == "CHANNEL_HANGUP_COMPLETE", "abandon")
    assert abandon.get("Hangup-Cause") == "ORIGINATOR_CANCEL"
    assert not sim.far_end_hangs_up(caller)
