"""Inbound callers in a queue, as capture 05 and FreeSWITCH's source have them: parked
unanswered, pre-answered by a broadcast, answered on entry by uuid_answer and still parked,
hold music that loops until broken, bridged to an agent and hung up with it; what `show
channels` and uuid_getvar say about them; and the callers' own patience and talk time."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import gevent.event
import pytest

from callcenter.sim import Behaviour, CallGenerator
from callcenter.sim.apps import SHIPPED_DIDS
from callcenter.sim.callers import Callers, CallerStream, Seconds
from tests.sim.conftest import PASSWORD, agent_leg, settle
from tests.sim.esl_client import RawClient

TONE = "tone_stream://%(2000,4000,440,480);loops=-1"
ROOT = Path(__file__).resolve().parents[2]


def _park(connection, caller: str):
    return connection.recorder.wait(lambda e: e.uuid == caller and e.name == "CHANNEL_PARK",
                                    "the caller parks")


def _row(connection, uuid: str) -> dict:
    rows = json.loads(connection.api("show channels as json")).get("rows", [])
    return {row["uuid"]: row for row in rows}[uuid]


def _after_park(connection, caller: str) -> list[str]:
    names = connection.recorder.names(caller)
    return names[names.index("CHANNEL_PARK") + 1:]


def _callstates(connection, caller: str) -> list[str]:
    events = connection.recorder.of(caller, "CHANNEL_CALLSTATE")
    return [e.get("Channel-Call-State") for e in events]


def _agent(connection) -> str:
    agent, arg = agent_leg()
    assert connection.bgapi(f"originate {arg}").get(5) == f"+OK {agent}\n"
    return agent


def test_the_shipped_dids_are_the_simulators_dialplan(sim, connection):
    conf = ElementTree.parse(ROOT / "freeswitch-conf" / "dids.xml").getroot()  # noqa: S314
    shipped = {}
    for condition in conf.iter("condition"):
        did = condition.get("expression").strip("^$").replace("\\+?", "")
        queues = [a.get("data").split("=", 1)[1] for a in condition.iter("action")
                  if a.get("application") == "set" and a.get("data", "").startswith("cc_queue=")]
        shipped[did] = queues[0]
    assert shipped == SHIPPED_DIDS
    # A caller to a shipped DID, with no queue given, gets the DID's queue.
    for did, queue in shipped.items():
        caller = sim.inject_inbound(did, "15551234567")
        assert _park(connection, caller).get("variable_cc_queue") == queue
        plus = sim.inject_inbound(f"+{did}", "15551234568")
        assert _park(connection, plus).get("variable_cc_queue") == queue


def test_a_parked_caller_is_unanswered_and_shows_as_park(sim, connection):
    caller = sim.inject_inbound("5550100", "15551234567", "sales")
    park = _park(connection, caller)
    assert park.get("Answer-State") == "ringing"
    row = _row(connection, caller)
    assert (row["application"], row["application_data"]) == ("park", "")
    assert (row["direction"], row["dest"], row["callstate"]) == ("inbound", "5550100", "RINGING")
    assert connection.api(f"uuid_getvar {caller} cc_queue") == "sales"


def test_variables_set_on_a_caller_read_back(sim, connection):
    caller = sim.inject_inbound("5550100", "15551234567", "sales")
    assert connection.api(f"uuid_getvar {caller} cc_entered_at") == "_undef_"
    assert connection.api(f"uuid_setvar {caller} cc_entered_at 1795000000.25") == "+OK\n"
    assert connection.api(f"uuid_getvar {caller} cc_entered_at") == "1795000000.25"
    assert connection.api(f"uuid_setvar {caller} cc_note two words") == "+OK\n"
    assert connection.api(f"uuid_getvar {caller} cc_note") == "two words"
    assert connection.api(f"uuid_setvar {caller} cc_entered_at") == "+OK\n"  # no value: unset
    assert connection.api(f"uuid_getvar {caller} cc_entered_at") == "_undef_"
    assert connection.api(f"uuid_getvar {caller} cc_queue") == "sales"


def test_a_tone_pre_answers_then_the_bridge_answers_like_capture_05(sim, clock, connection):
    caller = sim.inject_inbound("5550100", "15551234567", "sales")
    _park(connection, caller)
    assert connection.api(f"uuid_broadcast {caller} {TONE} aleg") == "+OK Message sent\n"
    settle(connection)
    assert _after_park(connection, caller) == [
        "CHANNEL_PROGRESS_MEDIA", "CHANNEL_EXECUTE", "PLAYBACK_START"]
    execute = connection.recorder.of(caller, "CHANNEL_EXECUTE")[-1]
    assert (execute.get("Application"), execute.get("Application-Data")) == ("playback", TONE)
    clock.advance(3600)  # loops=-1: the tone never ends by itself
    settle(connection)
    assert not connection.recorder.of(caller, "PLAYBACK_STOP")
    assert connection.api(f"uuid_break {caller} all") == "+OK\n"
    stop = connection.recorder.wait(
        lambda e: e.uuid == caller and e.name == "PLAYBACK_STOP", "the tone stops")
    assert stop.get("Playback-Status") == "break"
    agent = _agent(connection)
    assert connection.api(f"uuid_bridge {caller} {agent}") == f"+OK {agent}\n"
    settle(connection)
    assert _after_park(connection, caller)[3:] == [
        "PLAYBACK_STOP", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_UNPARK",
        "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_EXECUTE", "CHANNEL_ANSWER", "CHANNEL_BRIDGE"]
    unparked = connection.recorder.of(caller, "CHANNEL_EXECUTE_COMPLETE")[-1]
    assert unparked.get("Application") == "park"
    assert connection.recorder.of(caller, "CHANNEL_EXECUTE")[-1].get("Application") == (
        "uuid_bridge")
    assert _callstates(connection, caller)[-2:] == ["EARLY", "ACTIVE"]
    # Killing the agent's leg hangs the caller up at once; it is never parked again.
    assert connection.api(f"uuid_kill {agent}") == "+OK\n"
    done = connection.recorder.wait(
        lambda e: e.uuid == caller and e.name == "CHANNEL_HANGUP_COMPLETE", "caller hangs up")
    assert done.get("Hangup-Cause") == "NORMAL_CLEARING"
    assert done.get("variable_sip_hangup_disposition") == "send_bye"
    names = connection.recorder.names(caller)
    assert names.count("CHANNEL_PARK") == 1
    assert names[names.index("CHANNEL_BRIDGE") + 1:names.index("CHANNEL_HANGUP")] == [
        "CHANNEL_UNBRIDGE"]
    assert caller not in sim.channels


def test_answer_on_entry_answers_the_caller_and_keeps_it_parked(sim, clock, connection):
    caller = sim.inject_inbound("5550100", "15551234567", "sales")
    _park(connection, caller)
    assert connection.api(f"uuid_answer {caller}") == "+OK\n"
    settle(connection)
    # Pre-answered first, as FreeSWITCH does (tests/freeswitch/test_queues.py).
    assert _after_park(connection, caller) == ["CHANNEL_PROGRESS_MEDIA", "CHANNEL_ANSWER"]
    answer = connection.recorder.of(caller, "CHANNEL_ANSWER")[0]
    assert answer.get("Answer-State") == "answered"
    assert _callstates(connection, caller)[-1] == "ACTIVE"
    assert sim.channels[caller].parked
    row = _row(connection, caller)
    assert (row["application"], row["callstate"]) == ("park", "ACTIVE")
    assert connection.api(f"uuid_getvar {caller} endpoint_disposition") == "ANSWER"
    assert connection.api(f"uuid_answer {caller}") == "+OK\n"  # already answered: nothing
    # Hold music on the answered caller: no 183 this time, and it plays until broken.
    assert connection.api(f"uuid_broadcast {caller} {TONE} aleg") == "+OK Message sent\n"
    clock.advance(600)
    settle(connection)
    assert _after_park(connection, caller) == [
        "CHANNEL_PROGRESS_MEDIA", "CHANNEL_ANSWER", "CHANNEL_EXECUTE", "PLAYBACK_START"]
    row = _row(connection, caller)
    assert (row["application"], row["application_data"]) == ("playback", TONE)
    # The bridge takes the caller out of its music and its park; no second answer.
    agent = _agent(connection)
    assert connection.api(f"uuid_bridge {caller} {agent}") == f"+OK {agent}\n"
    settle(connection)
    assert _after_park(connection, caller)[4:] == [
        "PLAYBACK_STOP", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_UNPARK",
        "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_EXECUTE", "CHANNEL_BRIDGE"]
    assert _row(connection, caller)["application"] == "uuid_bridge"


def test_uuid_answer_leaves_an_outbound_leg_alone_and_refuses_what_is_gone(sim, connection):
    agent = _agent(connection)
    before = len(connection.recorder.of(agent))
    assert connection.api(f"uuid_answer {agent}") == "+OK\n"
    settle(connection)
    assert len(connection.recorder.of(agent)) == before
    assert connection.api("uuid_answer 00000000-0000-4000-8000-000000000000") == "-ERROR\n"


def test_a_broken_hold_music_still_shows_as_playback(sim, connection):
    # FreeSWITCH's channels table keeps the last executed application: after uuid_break the
    # caller is parked again but `show channels` still says playback.
    caller = sim.inject_inbound("5550100", "15551234567", "sales")
    connection.api(f"uuid_answer {caller}")
    connection.api(f"uuid_broadcast {caller} {TONE} aleg")
    assert connection.api(f"uuid_break {caller} all") == "+OK\n"
    assert sim.channels[caller].parked
    row = _row(connection, caller)
    assert (row["application"], row["application_data"]) == ("playback", TONE)


def test_hold_blanks_the_application_as_freeswitchs_table_does(sim, connection):
    caller = sim.inject_inbound("5550100", "15551234567", "sales")
    agent = _agent(connection)
    connection.api(f"uuid_bridge {caller} {agent}")
    assert connection.api(f"uuid_hold {caller}") == "+OK Success\n"
    rows = {uuid: _row(connection, uuid) for uuid in (caller, agent)}
    assert rows[caller]["application"] == ""  # CHANNEL_HOLD carries no Application
    assert rows[agent]["application"] == "playback"  # its hold music


def test_a_looping_tone_plays_until_the_caller_hangs_up(sim, clock, connection):
    caller = sim.inject_inbound("5550100", "15551234567", "sales")
    connection.api(f"uuid_answer {caller}")
    connection.api(f"uuid_broadcast {caller} {TONE} aleg")
    clock.advance(90)
    assert sim.channels[caller].playback is not None
    assert sim.far_end_hangs_up(caller)
    stop = connection.recorder.wait(
        lambda e: e.uuid == caller and e.name == "PLAYBACK_STOP", "the tone stops")
    assert stop.get("Playback-Status") == "done"
    assert stop.get("variable_playback_seconds") == "90"
    done = connection.recorder.wait(
        lambda e: e.uuid == caller and e.name == "CHANNEL_HANGUP_COMPLETE", "hangup")
    assert done.get("variable_sip_hangup_disposition") == "recv_bye"


def test_an_answered_caller_runs_out_of_patience_with_a_bye(sim, clock, connection):
    caller = sim.inject_inbound("5550100", "15551234567", "sales",
                                behaviour=Behaviour(patience_s=30))
    connection.api(f"uuid_answer {caller}")  # answered on entry
    clock.advance(29.9)
    assert caller in sim.channels
    clock.advance(0.1)
    done = connection.recorder.wait(
        lambda e: e.uuid == caller and e.name == "CHANNEL_HANGUP_COMPLETE", "abandon")
    assert done.get("Hangup-Cause") == "NORMAL_CLEARING"
    assert done.get("variable_sip_hangup_disposition") == "recv_bye"


def test_an_unanswered_caller_runs_out_of_patience_with_a_cancel(sim, clock, connection):
    caller = sim.inject_inbound("5550100", "15551234567", "sales",
                                behaviour=Behaviour(patience_s=30))
    clock.advance(30)
    done = connection.recorder.wait(
        lambda e: e.uuid == caller and e.name == "CHANNEL_HANGUP_COMPLETE", "abandon")
    assert done.get("Hangup-Cause") == "ORIGINATOR_CANCEL"
    assert done.get("variable_sip_hangup_disposition") == "recv_cancel"


def test_a_caller_talks_from_its_bridge_not_from_its_answer(sim, clock, connection):
    caller = sim.inject_inbound("5550100", "15551234567", "sales",
                                behaviour=Behaviour(patience_s=60, talk_after_bridge_s=20))
    connection.api(f"uuid_answer {caller}")
    clock.advance(50)  # waits answered, well past its talk time, within its patience
    agent = _agent(connection)
    connection.api(f"uuid_bridge {caller} {agent}")
    clock.advance(19.9)  # past its patience too: reaching an agent ended the wait
    assert caller in sim.channels and agent in sim.channels
    clock.advance(0.1)
    done = connection.recorder.wait(
        lambda e: e.uuid == caller and e.name == "CHANNEL_HANGUP_COMPLETE", "caller hangs up")
    assert done.get("variable_sip_hangup_disposition") == "recv_bye"
    assert done.get("variable_billsec") == "70"  # answered on entry
    connection.recorder.wait(
        lambda e: e.uuid == agent and e.name == "CHANNEL_HANGUP_COMPLETE", "agent hung up too")


def test_generated_callers_each_get_their_own_behaviour(sim, clock, connection):
    generator = sim.generate_calls(
        1, 3, queue=None, behaviour=lambda n: Behaviour(patience_s=10 * (n + 1)))
    clock.advance(2)
    assert generator.done.is_set()
    assert [sim.channels[u].behaviour.patience_s for u in generator.uuids] == [10, 20, 30]
    clock.advance(10)  # the first gives up at 10 s, the second at 21 s, the third at 32 s
    gone = [u for u in generator.uuids if u not in sim.channels]
    assert gone == generator.uuids[:1]
    settle(connection)
    park = connection.recorder.of(generator.uuids[0], "CHANNEL_PARK")[0]
    assert park.get("variable_cc_queue") == "sales"  # the dialplan's queue for 5550100
    assert not sim.endpoints.scripts  # nothing kept per caller number


def test_an_endless_generator_runs_until_stopped_and_keeps_no_list(sim, clock, connection):
    generator = sim.generate_calls(2, None)
    clock.advance(9.9)
    assert generator.injected == 20 and not generator.done.is_set()
    assert generator.uuids == []
    generator.stop()
    clock.advance(10)
    assert generator.injected == 20 and generator.done.is_set()


def test_a_caller_stream_waits_for_a_subscriber(sim, clock):
    stream = CallerStream(sim, Callers(rate=1, count=2, patience=Seconds(5, 5)))
    clock.advance(10)
    assert not sim.channels and stream.generator is None  # nobody is listening yet
    client = RawClient(sim.port, PASSWORD)
    client.command("event plain CHANNEL_PARK CHANNEL_HANGUP_COMPLETE")
    clock.advance(0)
    client.wait_event(lambda e: e.name == "CHANNEL_PARK", "the first caller")
    clock.advance(1)
    parks = client.wait_for(
        lambda: [e for e in client.events() if e.name == "CHANNEL_PARK"][1:], "the second")
    assert parks[0].get("variable_cc_queue") == "sales"
    assert stream.generator.done.is_set() and stream.generator.injected == 2
    clock.advance(5)  # each gives up 5 s after it came
    client.wait_for(lambda: len([e for e in client.events()
                                 if e.name == "CHANNEL_HANGUP_COMPLETE"]) == 2, "both give up")
    client.close()


def test_a_generator_keeps_its_rate_however_long_each_caller_takes():
    class SlowSwitch:
        """Each caller costs 4 ms of the clock's time; timers run when the test says."""

        def __init__(self) -> None:
            self.now_s, self.timers = 100.0, []
            self.clock, self.stopped = self, gevent.event.Event()

        def now(self) -> float:
            return self.now_s

        def call_later(self, delay, fn, *args):
            self.timers.append((self.now_s + delay, fn, args))

        def inject(self, index: int) -> str:
            self.now_s += 0.004
            return f"caller-{index}"

    switch = SlowSwitch()
    generator = CallGenerator(switch, 10, 5, switch.inject)
    while switch.timers:
        due, fn, args = switch.timers.pop(0)
        switch.now_s = due
        fn(*args)
    assert generator.uuids == [f"caller-{n}" for n in range(5)]
    # Caller n is injected at 100 + n/10 s: the 4 ms each takes does not add up.
    assert switch.now_s == pytest.approx(100.4 + 0.004)
