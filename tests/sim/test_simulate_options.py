"""`callcenter simulate` options for load runs and demos: softphones registered from the
start, customers that answer and hang up on cue, and inbound callers with their patience and
talk time. Bad values are one clear error, nothing started."""

from __future__ import annotations

import json
import random

import pytest

from callcenter import cli
from callcenter.sim.callers import Callers, Seconds, parse_count, parse_rate, parse_seconds
from callcenter.sim.simulator import customer_behaviour, parse_extensions, parse_script
from tests.process import ServerProcess
from tests.sim.esl_client import RawClient


def test_extension_ranges_keep_their_digits():
    assert parse_extensions("1000-1002") == ["1000", "1001", "1002"]
    assert parse_extensions("0098-0101") == ["0098", "0099", "0100", "0101"]
    assert parse_extensions("2000") == ["2000"]


@pytest.mark.parametrize("text,problem", [
    ("1002-1000", "FIRST <= LAST"),
    ("99-1000", "as many digits"),
    ("10a0-1001", "only digits"),
    ("1000-", "only digits"),
    ("100000-300000", "at most 100000"),
])
def test_bad_extension_ranges_say_why(text, problem):
    with pytest.raises(ValueError, match=problem):
        parse_extensions(text)


def test_scripts_name_a_number_an_answer_time_and_a_talk_time():
    number, behaviour = parse_script("5551234=200:3.5")
    assert number == "5551234"
    assert (behaviour.ring_ms, behaviour.answer_after_ms, behaviour.hangup_after_s) == (0, 200, 3.5)
    assert parse_script("5551234=0")[1].hangup_after_s is None
    assert customer_behaviour(None, 0).answer_after_ms == 1500, "the simulator's default ring"


@pytest.mark.parametrize("text,problem", [
    ("5551234", "NUMBER=ANSWER_MS"),
    ("5551234=soon", "NUMBER=ANSWER_MS"),
    ("555 1234=100", "number"),
    ("5551234=-5", "cannot be negative"),
    ("5551234=100:-1", "0 or more"),
    ("5551234=100:inf", "0 or more"),
])
def test_bad_scripts_say_why(text, problem):
    with pytest.raises(ValueError, match=problem):
        parse_script(text)


@pytest.mark.parametrize("args,problem", [
    (["--register", "12-3"], "argument --register: '12-3'"),
    (["--script", "5551234"], "argument --script: '5551234'"),
    (["--customer-answer-ms", "fast"], "argument --customer-answer-ms: invalid int"),
])
def test_the_command_refuses_bad_options(capsys, args, problem):
    with pytest.raises(SystemExit) as exited:
        cli.main(["simulate", *args])
    assert exited.value.code == 2 and problem in capsys.readouterr().err


def test_a_negative_talk_time_is_one_line(capsys):
    assert cli.main(["simulate", "--customer-hangup-s", "-1"]) == 2
    assert capsys.readouterr().err == (
        "callcenter: error: simulate: the hang-up time must be a number of seconds, 0 or more\n")


@pytest.mark.slow
def test_registered_softphones_and_scripted_customers():
    proc = ServerProcess(["simulate", "--password", "pw-options", "--register", "2000-2002",
                          "--customer-answer-ms", "0", "--customer-hangup-s", "0.2",
                          "--script", "5559999=0"], {})
    try:
        port = int(proc.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1))
        client = RawClient(port, "pw-options")
        rows = json.loads(client.api("show registrations as json"))["rows"]
        assert sorted(row["reg_user"] for row in rows) == ["2000", "2001", "2002"]
        client.command("event plain CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE")
        talker, holder = "11111111-1111-4111-8111-111111111111", (
            "22222222-2222-4222-8222-222222222222")
        for uuid, number in ((talker, "5551234"), (holder, "5559999")):
            reply = client.api(f"originate {{origination_uuid={uuid}}}"
                               f"sofia/gateway/carrier/{number} &park()")
            assert reply.startswith("+OK"), reply
        # The default customer hangs up 0.2 s after answering; the scripted one stays.
        client.wait_event(lambda e: e.uuid == talker and e.name == "CHANNEL_HANGUP_COMPLETE",
                          "the talker's hang-up")
        assert client.api(f"uuid_exists {holder}").strip() == "true"
        assert any(e.uuid == holder and e.name == "CHANNEL_ANSWER" for e in client.events())
        client.close()
    finally:
        proc.stop()


# --- inbound callers ------------------------------------------------------------------------


def test_rates_and_times_parse():
    assert parse_rate("0.25") == 0.25 and parse_rate(" 50 ") == 50
    assert parse_seconds("30") == Seconds(30, 30)
    assert parse_seconds("20-60") == Seconds(20, 60)
    assert parse_seconds("0.5-0.5") == Seconds(0.5, 0.5)
    assert str(Seconds(20, 60)) == "20-60 s" and str(Seconds(2.5, 2.5)) == "2.5 s"
    assert parse_count("5") == 5


@pytest.mark.parametrize("parse,text,problem", [
    (parse_rate, "-1", "above 0"),
    (parse_rate, "0", "above 0"),
    (parse_rate, "5000", "at most 1000"),
    (parse_rate, "fast", "not a number"),
    (parse_rate, "nan", "not a number"),
    (parse_rate, "inf", "not a number"),
    (parse_seconds, "60-20", "MIN is more than MAX"),
    (parse_seconds, "-5", "cannot be negative"),
    (parse_seconds, "soon", "S or MIN-MAX"),
    (parse_seconds, "10-", "S or MIN-MAX"),
    (parse_seconds, "1-2-3", "S or MIN-MAX"),
    (parse_seconds, "100000", "from 0 to 86400"),
    (parse_count, "0", "from 1"),
    (parse_count, "-3", "whole number"),
    (parse_count, "2.5", "whole number"),
])
def test_bad_caller_values_say_why(parse, text, problem):
    with pytest.raises(ValueError, match=problem):
        parse(text)


def test_ranges_are_picked_per_caller_and_repeat_with_the_seed():
    callers = Callers(rate=1, patience=Seconds(20, 60), talk=Seconds(10, 10))
    first = callers.behaviour(random.Random(callers.seed))
    rng = random.Random(callers.seed)
    picks = [callers.behaviour(rng) for _ in range(200)]
    assert picks[0] == first  # same seed, same first caller
    patience = [b.patience_s for b in picks]
    assert min(patience) >= 20 and max(patience) <= 60 and len(set(patience)) == 200
    assert min(patience) < 25 and max(patience) > 55  # spread over the range
    assert {b.talk_after_bridge_s for b in picks} == {10}
    assert {b.hangup_after_s for b in picks} == {None}  # talk counts from the bridge


def _callers_of(*args):
    return cli._callers(cli._parser().parse_args(["simulate", *args]))


def test_the_demo_and_its_overrides():
    assert _callers_of() is None
    demo = _callers_of("--demo")
    assert (demo.rate, demo.did, demo.queue_name, demo.count) == (0.25, "5550100", "sales", None)
    assert (demo.patience, demo.talk) == (Seconds(20, 60), Seconds(10, 40))
    tuned = _callers_of("--demo", "--callers", "2", "--caller-talk", "5", "--count", "7")
    assert (tuned.rate, tuned.talk, tuned.patience, tuned.count) == (
        2, Seconds(5, 5), Seconds(20, 60), 7)
    plain = _callers_of("--callers", "3", "--did", "5559999", "--queue", "support")
    assert (plain.did, plain.queue_name, plain.patience, plain.talk) == (
        "5559999", "support", None, None)


@pytest.mark.parametrize("args,problem", [
    (["--callers", "-1"], "argument --callers: '-1': the rate must be above 0"),
    (["--callers", "often"], "argument --callers: 'often' is not a number"),
    (["--callers", "1", "--caller-patience", "60-20"],
     "argument --caller-patience: '60-20': MIN is more than MAX"),
    (["--callers", "1", "--caller-talk", "a-b"], "argument --caller-talk: 'a-b'"),
    (["--callers", "1", "--count", "0"], "argument --count: '0'"),
    (["--callers", "1", "--did", "55x"], "argument --did: '55x'"),
    (["--callers", "1", "--queue", "sales queue"], "argument --queue: 'sales queue'"),
])
def test_the_command_refuses_bad_caller_options(capsys, args, problem):
    with pytest.raises(SystemExit) as exited:
        cli.main(["simulate", *args])
    assert exited.value.code == 2 and problem in capsys.readouterr().err


@pytest.mark.parametrize("args,problem", [
    (["--count", "5", "--caller-talk", "3"],
     "simulate: --count, --caller-talk: give --callers RATE or --demo too"),
    (["--callers", "1", "--did", "5551234"],
     "simulate: the simulator's dialplan has no queue for DID 5551234 (it knows 5550100 "
     "(sales)): name its queue with --queue"),
])
def test_caller_options_that_do_not_fit_are_one_line(capsys, args, problem):
    assert cli.main(["simulate", *args]) == 2
    assert capsys.readouterr().err == f"callcenter: error: {problem}\n"


@pytest.mark.slow
def test_simulate_sends_callers_once_a_client_subscribes():
    proc = ServerProcess(["simulate", "--password", "pw-callers", "--callers", "50",
                          "--count", "5", "--caller-talk", "1-2"], {})
    try:
        port = int(proc.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1))
        proc.wait_for(r"^5 callers at 50/s to 5550100 \(queue sales\), no patience limit, "
                      r"talk 1-2 s, from the first event subscription$")
        client = RawClient(port, "pw-callers")
        assert client.api("show channels count").strip() == "0 total."  # nobody listened yet
        client.command("event plain CHANNEL_PARK")

        def parked():
            parks = [e for e in client.events() if e.name == "CHANNEL_PARK"]
            return parks if len(parks) == 5 else None
        parks = client.wait_for(parked, "5 callers parked")
        assert {e.get("Call-Direction") for e in parks} == {"inbound"}
        assert {e.get("variable_cc_queue") for e in parks} == {"sales"}
        assert {e.get("Caller-Destination-Number") for e in parks} == {"5550100"}
        assert {e.get("Answer-State") for e in parks} == {"ringing"}
        assert len({e.get("Caller-Caller-ID-Number") for e in parks}) == 5
        rows = json.loads(client.api("show channels as json"))["rows"]
        assert sorted(row["uuid"] for row in rows) == sorted(e.uuid for e in parks)
        assert {row["application"] for row in rows} == {"park"}
        client.sync()
        assert len([e for e in client.events() if e.name == "CHANNEL_PARK"]) == 5  # --count
        client.close()
    finally:
        assert proc.stop() == 0
