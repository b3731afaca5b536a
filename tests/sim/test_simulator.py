"""The simulator as a whole: `show` output, the call generator, shutdown, `simulate` mode."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from callcenter.esl.protocol import FrameParser
from callcenter.sim import Behaviour
from tests.sim.conftest import PASSWORD, agent_leg, customer_leg, settle
from tests.sim.esl_client import RawClient
from tests.sim.replay import FIXTURES

ROOT = Path(__file__).resolve().parents[2]


def _captured_rows(name: str, command: str) -> list[dict]:
    """The rows FreeSWITCH returned for `api show ... as json` in a capture."""
    frames = FrameParser().feed((FIXTURES / name).read_bytes())
    bodies = [f.text for f in frames if f.headers["Content-Type"] == "api/response"
              and f.text.startswith('{"row_count":') and '"rows"' in f.text]
    return [json.loads(b)["rows"] for b in bodies if command in b][0]


def test_show_channels_and_calls_as_json_match_freeswitchs_shapes(sim, connection):
    assert connection.api("show channels as json") == '{"row_count": 0}\n'
    assert connection.api("show calls as json") == '{"row_count": 0}\n'
    sim.script("15551234567", Behaviour.answer(0))
    a, arg_a = agent_leg()
    b, arg_b = customer_leg()
    connection.bgapi(f"originate {arg_a}").get(5)
    connection.bgapi(f"originate {arg_b}").get(5)
    connection.api(f"uuid_bridge {a} {b}")
    text = connection.api("show channels as json")
    assert ", " not in text[:40] and not text.endswith("\n")
    channels = json.loads(text)
    assert channels["row_count"] == 2
    captured = _captured_rows("03-click-to-dial.plain.esl", '"application"')
    assert [list(row) for row in channels["rows"]] == [list(row) for row in captured]
    rows = {row["uuid"]: row for row in channels["rows"]}
    assert rows[a]["application"] == "uuid_bridge" and rows[a]["application_data"] == b
    assert rows[a]["callstate"] == rows[b]["callstate"] == "ACTIVE"
    assert rows[a]["presence_id"] == "1000@127.0.0.1"
    calls = json.loads(connection.api("show calls as json"))
    assert calls["row_count"] == 1
    captured_call = _captured_rows("03-click-to-dial.plain.esl", '"b_uuid"')
    assert list(calls["rows"][0]) == list(captured_call[0])
    assert (calls["rows"][0]["uuid"], calls["rows"][0]["b_uuid"]) == (a, b)


def test_registrations_as_json(sim, connection):
    rows = json.loads(connection.api("show registrations as json"))["rows"]
    captured = _captured_rows("02-registration.plain.esl", '"reg_user"')
    assert [list(r) for r in rows] == [list(r) for r in captured]
    assert rows[0]["reg_user"] == "1000"
    sim.unregister("1000")
    assert connection.api("show registrations as json") == '{"row_count": 0}\n'


def test_heartbeat_every_twenty_seconds(sim, clock, connection):
    clock.advance(19.9)
    settle(connection)
    assert not [e for e in connection.recorder.events if e.name == "HEARTBEAT"]
    clock.advance(20.1)
    settle(connection)
    beats = [e for e in connection.recorder.events if e.name == "HEARTBEAT"]
    assert len(beats) == 2
    assert beats[0].get("Event-Info") == "System Ready"
    assert beats[1].get("Up-Time").startswith("0 years, 0 days, 0 hours, 0 minutes, 40 seconds")


def test_channels_view_is_read_only(sim):
    caller = sim.inject_inbound("5550100", "15551234567", "sales")
    assert caller in sim.channels
    with pytest.raises(TypeError):
        sim.channels["x"] = None  # type: ignore[index]


def test_call_generator_injects_at_the_given_rate(sim, clock, connection):
    generator = sim.generate_calls(10, 5, queue="support")
    assert len(generator.uuids) == 1  # the first at once
    clock.advance(0.25)
    assert len(generator.uuids) == 3
    clock.advance(1)
    assert len(generator.uuids) == 5 and generator.done.is_set()
    settle(connection)
    parks = [e for e in connection.recorder.events if e.name == "CHANNEL_PARK"]
    assert {e.uuid for e in parks} == set(generator.uuids)
    assert {e.get("variable_cc_queue") for e in parks} == {"support"}
    assert len({e.get("Caller-Caller-ID-Number") for e in parks}) == 5


def test_shutdown_hangs_up_calls_and_disconnects_every_client(sim, connection):
    caller = sim.inject_inbound("5550100", "15551234567", "sales")
    raw = RawClient(sim.port, PASSWORD)
    raw.command("event plain SHUTDOWN")
    assert raw.api("fsctl shutdown") == "+OK\n"
    raw.wait_for(raw.eof.is_set, "EOF")
    assert raw.frames[-1].text == "The system is being shut down.\n"
    assert [e.name for e in raw.events()] == ["SHUTDOWN"]
    hangup = connection.recorder.wait(
        lambda e: e.uuid == caller and e.name == "CHANNEL_HANGUP", "hangup")
    assert hangup.get("Hangup-Cause") == "SYSTEM_SHUTDOWN"
    assert sim.stopped.is_set()


def test_simulate_mode_prints_its_port_and_stops_on_sigterm(tmp_path):
    code = ("from callcenter.sim import serve_forever; "
            f"serve_forever(0, 'pw-from-test', recordings_dir={str(tmp_path)!r})")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("ESL simulator listening on 127.0.0.1:"), proc.stderr.read()
        port = int(line.split(":")[1].split()[0])
        assert line.rstrip().endswith("password pw-from-test")
        raw = RawClient(port, "pw-from-test")
        assert raw.api("status").startswith("UP ")
        raw.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_status_and_sofia_status(sim, connection):
    sim.inject_inbound("5550100", "15551234567", "sales")
    status = connection.api("status")
    assert "1 session(s) since startup\n1 session(s) - peak 1" in status
    sofia = connection.api("sofia status")
    assert "external::carrier\tgateway" in sofia and "RUNNING (0)" in sofia
    assert "State   \tNOREG" in connection.api("sofia status gateway carrier")
    assert connection.api("sofia status gateway other") == "Invalid Gateway!\n"
