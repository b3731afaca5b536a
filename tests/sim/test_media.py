"""Inbound callers, playback, hold, recording, eavesdrop and transfer."""

from __future__ import annotations

import wave

from callcenter.sim import Behaviour
from tests.sim.conftest import agent_leg, customer_leg, settle

TONE = "tone_stream://%(2000,4000,440,480);loops=-1"


def _answered_pair(sim, clock, connection):
    sim.script("15551234567", Behaviour.answer(0))
    a, arg_a = agent_leg()
    b, arg_b = customer_leg()
    connection.bgapi(f"originate {arg_a}").get(5)
    connection.bgapi(f"originate {arg_b}").get(5)
    assert connection.api(f"uuid_bridge {a} {b}") == f"+OK {b}\n"
    return a, b


def test_inbound_caller_parks_with_its_queue_and_takes_a_call_id(sim, connection):
    caller = sim.inject_inbound("5550100", "15551234567", "sales")
    park = connection.recorder.wait(lambda e: e.uuid == caller and e.name == "CHANNEL_PARK",
                                    "park")
    assert park.get("variable_cc_queue") == "sales"
    assert park.get("Answer-State") == "ringing"
    assert park.get("Call-Direction") == "inbound"
    assert park.get("Caller-Destination-Number") == "5550100"
    assert park.get("Caller-Caller-ID-Number") == "15551234567"
    assert "variable_cc_call_id" not in park.headers
    assert connection.api(f"uuid_setvar {caller} cc_call_id C9") == "+OK\n"
    assert connection.api(f"uuid_getvar {caller} cc_call_id") == "C9"
    assert connection.api(f"uuid_kill {caller}") == "+OK\n"
    hangup = connection.recorder.wait(lambda e: e.uuid == caller and e.name == "CHANNEL_HANGUP",
                                      "hangup")
    assert hangup.get("variable_cc_call_id") == "C9"


def test_broadcast_pre_answers_and_break_stops_the_playback(sim, clock, connection):
    caller = sim.inject_inbound("5550100", "15551234567", "sales")
    assert connection.api(f"uuid_broadcast {caller} {TONE} aleg") == "+OK Message sent\n"
    start = connection.recorder.wait(
        lambda e: e.uuid == caller and e.name == "PLAYBACK_START", "playback start")
    assert start.get("Playback-File-Path") == TONE
    assert start.get("Playback-File-Type") == "tone_stream"
    assert start.get("Answer-State") == "early"
    clock.advance(60)  # an endless tone plays until broken
    assert connection.api(f"uuid_break {caller} all") == "+OK\n"
    stop = connection.recorder.wait(
        lambda e: e.uuid == caller and e.name == "PLAYBACK_STOP", "playback stop")
    assert stop.get("Playback-Status") == "break"
    assert stop.get("variable_playback_seconds") == "60"
    settle(connection)
    assert connection.recorder.names(caller)[-4:] == [
        "CHANNEL_EXECUTE", "PLAYBACK_START", "PLAYBACK_STOP", "CHANNEL_EXECUTE_COMPLETE"]


def test_a_sound_file_finishes_on_its_own(sim, clock, connection):
    caller = sim.inject_inbound("5550100", "15551234567", "sales")
    connection.api(f"uuid_broadcast {caller} silence_stream://1500")
    clock.advance(1.5)
    stop = connection.recorder.wait(
        lambda e: e.uuid == caller and e.name == "PLAYBACK_STOP", "playback stop")
    assert stop.get("Playback-Status") == "done"
    assert caller in sim.channels  # still parked in its queue


def test_bridging_an_inbound_caller_answers_it(sim, connection):
    caller = sim.inject_inbound("5550100", "15551234567", "sales")
    agent, arg = agent_leg()
    connection.bgapi(f"originate {arg}").get(5)
    assert connection.api(f"uuid_bridge {caller} {agent}") == f"+OK {agent}\n"
    bridge = connection.recorder.wait(
        lambda e: e.uuid == caller and e.name == "CHANNEL_BRIDGE", "bridge")
    assert bridge.get("Answer-State") == "answered"
    assert bridge.get("Other-Leg-Unique-ID") == agent
    assert bridge.get("Bridge-B-Unique-ID") == agent
    names = connection.recorder.names(caller)
    assert names.index("CHANNEL_ANSWER") < names.index("CHANNEL_BRIDGE")
    # The agent hangs up: FreeSWITCH hangs up the caller too, it does not re-park it.
    connection.api(f"uuid_kill {agent}")
    connection.recorder.wait(
        lambda e: e.uuid == caller and e.name == "CHANNEL_HANGUP_COMPLETE", "caller hangup")


def test_patient_caller_gives_up(sim, clock, connection):
    sim.script("15550001111", Behaviour(patience_s=30))
    caller = sim.inject_inbound("5550100", "15550001111", "sales")
    clock.advance(30)
    done = connection.recorder.wait(
        lambda e: e.uuid == caller and e.name == "CHANNEL_HANGUP_COMPLETE", "abandon")
    assert done.get("Hangup-Cause") == "ORIGINATOR_CANCEL"


def test_hold_and_unhold_like_the_capture(sim, clock, connection):
    a, b = _answered_pair(sim, clock, connection)
    assert connection.api(f"uuid_hold {b}") == "+OK Success\n"
    clock.advance(2)
    assert connection.api(f"uuid_hold off {b}") == "+OK Success\n"
    settle(connection)
    assert connection.recorder.names(b)[-2:] == ["CHANNEL_HOLD", "CHANNEL_UNHOLD"]
    states = [e.get("Channel-Call-State") for e in connection.recorder.of(b, "CHANNEL_CALLSTATE")]
    assert states[-3:] == ["HELD", "UNHELD", "ACTIVE"]
    assert connection.recorder.names(a)[-3:] == [
        "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "PRIVATE_COMMAND"]
    assert connection.api(f"uuid_hold off {b}") == "-ERR Operation failed\n"
    connection.api(f"uuid_kill {b}")
    done = connection.recorder.wait(
        lambda e: e.uuid == b and e.name == "CHANNEL_HANGUP_COMPLETE", "hangup")
    assert done.get("variable_hold_accum_seconds") == "2"


def test_record_writes_a_real_wav_file(sim, clock, connection, tmp_path):
    a, b = _answered_pair(sim, clock, connection)
    path = tmp_path / "calls" / "rec-1.wav"
    assert connection.api(f"uuid_record {a} start {path}") == "+OK Success\n"
    clock.advance(2.5)
    assert connection.api(f"uuid_record {a} stop {path}") == "+OK Success\n"
    stop = connection.recorder.wait(lambda e: e.uuid == a and e.name == "RECORD_STOP", "stop")
    assert stop.get("Record-File-Path") == str(path)
    assert stop.get("variable_record_ms") == "2500"
    assert stop.get("variable_record_samples") == "20000"
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 2, 2)
        assert wav.getnframes() == 20000
    assert int(stop.get("variable_record_file_size")) == path.stat().st_size
    settle(connection)
    assert connection.recorder.names(a)[-4:] == [
        "RECORD_START", "MEDIA_BUG_START", "RECORD_STOP", "MEDIA_BUG_STOP"]
    assert connection.api(f"uuid_record {a} stop {path}") == "-ERR Cannot stop record session!\n"


def test_recording_stops_when_the_leg_hangs_up(sim, clock, connection, tmp_path):
    a, b = _answered_pair(sim, clock, connection)
    connection.api(f"uuid_record {a} start rec-2.wav")  # relative: the recordings dir
    clock.advance(1)
    connection.api(f"uuid_kill {a}")
    connection.recorder.wait(lambda e: e.uuid == a and e.name == "RECORD_STOP", "stop")
    with wave.open(str(tmp_path / "rec-2.wav")) as wav:
        assert wav.getnframes() == 8000


def test_eavesdrop_leaves_the_bridge_alone(sim, clock, connection):
    sim.register("1002")
    a, b = _answered_pair(sim, clock, connection)
    spy = "5f5f5f5f-0000-4000-8000-000000000002"
    job = connection.bgapi(f"originate {{origination_uuid={spy}}}user/1002 &eavesdrop({a})")
    assert job.get(5) == f"+OK {spy}\n"
    bug = connection.recorder.wait(lambda e: e.uuid == a and e.name == "MEDIA_BUG_START", "bug")
    assert bug.get("Media-Bug-Function") == "eavesdrop"
    rows = connection.api("show channels as json")
    assert '"row_count":3' in rows and '"application":"eavesdrop"' in rows
    connection.api(f"uuid_kill {spy}")
    connection.recorder.wait(lambda e: e.uuid == a and e.name == "MEDIA_BUG_STOP", "bug stop")
    settle(connection)
    assert sim.channels[a].partner is sim.channels[b]


def test_transfer_out_of_a_bridge_hangs_up_the_partner_unless_it_should_park(sim, clock,
                                                                               connection):
    a, b = _answered_pair(sim, clock, connection)
    assert connection.api(f"uuid_transfer {b} park") == "+OK\n"
    connection.recorder.wait(lambda e: e.uuid == a and e.name == "CHANNEL_HANGUP_COMPLETE",
                             "partner hung up")
    park = connection.recorder.wait(
        lambda e: e.uuid == b and e.name == "CHANNEL_PARK" and e.get("Caller-Profile-Index")
        == "3", "transferred leg parks")
    assert park.get("Caller-Destination-Number") == "park"

    c, arg_c = agent_leg()
    connection.bgapi(f"originate {arg_c}").get(5)
    assert connection.api(f"uuid_setvar {c} park_after_bridge true") == "+OK\n"
    assert connection.api(f"uuid_bridge {c} {b}") == f"+OK {b}\n"
    assert connection.api(f"uuid_transfer {b} 5550100") == "+OK\n"
    settle(connection)
    assert sim.channels[c].parked and sim.channels[c].partner is None
    assert connection.recorder.of(c, "CHANNEL_UNBRIDGE")
