"""`callcenter simulate` options for load runs: softphones registered from the start and
customers that answer and hang up on cue. Bad values are one clear error, nothing started."""

from __future__ import annotations

import json

import pytest

from callcenter import cli
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
