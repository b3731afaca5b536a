"""Replays of the captured flows against the simulator.

Each capture in tests/fixtures/esl/ comes with a `.sent.txt`: what the client sent and when.
A replay sends the same commands (with fresh UUIDs) at the same times on a ManualClock, plays
the SIP side the capture's NOTE lines describe (SIPp registering, calling, hanging up) with
scripted far ends timed like the captured ones, and records every frame the simulator sends.
"""

from __future__ import annotations

import ast
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from callcenter.clock import ManualClock
from callcenter.esl.protocol import Event, FrameParser, parse_event
from callcenter.sim import Behaviour, Simulator
from tests.sim.esl_client import RawClient

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "esl"
PASSWORD = "sim-test-password"

# Left out of per-leg comparisons (the issue allows it; the simulator does not send most).
NOISE = frozenset({"CHANNEL_STATE", "CHANNEL_CALLSTATE", "PRESENCE_IN", "CODEC", "CALL_UPDATE",
                   "HEARTBEAT", "RE_SCHEDULE"})

_LINE = re.compile(r"^\+\s+([\d.]+)\s+off=\d+\s+frame=\d+\s+(\w+)\s*(.*)$")


@dataclass
class Step:
    t: float
    kind: str  # SEND, NOTE, CONNECT, EOF
    data: str  # the command sent (SEND) or the note (NOTE)


@dataclass
class Sent:
    legs: dict[str, str]  # role (A, B, caller, AG, S) -> the capture's uuid
    call_id: str | None
    steps: list[Step]


def read_sent(name: str, fmt: str) -> Sent:
    legs: dict[str, str] = {}
    call_id = None
    steps: list[Step] = []
    for line in (FIXTURES / f"{name}.{fmt}.sent.txt").read_text().splitlines():
        if line.startswith("# legs/ids:"):
            for part in line.split(":", 1)[1].split(","):
                role, _, value = part.strip().partition("=")
                if role == "cc_call_id":
                    call_id = value
                elif re.fullmatch(r"[0-9a-f-]{36}", value):
                    legs[role] = value
            continue
        match = _LINE.match(line)
        if not match:
            continue
        t, kind, rest = float(match.group(1)), match.group(2), match.group(3)
        if kind == "SEND":
            literal, _, _ = rest.partition("   #")
            data = ast.literal_eval(literal.strip()).decode().rstrip("\n")
        else:
            data = rest.lstrip("# ").strip()
        steps.append(Step(t, kind, data))
    return Sent(legs, call_id, steps)


def capture_events(name: str, fmt: str) -> list[Event]:
    parser = FrameParser()
    frames = parser.feed((FIXTURES / f"{name}.{fmt}.esl").read_bytes())
    return [parse_event(f) for f in frames if f.headers["Content-Type"].startswith("text/event")]


def per_leg(events: list[Event], legs: dict[str, str]) -> dict[str, list[Event]]:
    """Each leg's events (by role), without the noise the comparison leaves out."""
    roles = {uuid_: role for role, uuid_ in legs.items()}
    out: dict[str, list[Event]] = {role: [] for role in legs}
    for event in events:
        role = roles.get(event.headers.get("Unique-ID", ""))
        if role is not None and event.name not in NOISE:
            out[role].append(event)
    return out


def label(event: Event) -> str:
    if event.name.startswith("CHANNEL_EXECUTE"):
        return f"{event.name}({event.headers.get('Application')})"
    return event.name


# --- the SIP side of each capture: far ends timed like the captured ones -------------------

def _setup_click_to_dial(sim: Simulator) -> None:
    # 180, 183 with SDP ~0.3 s, 200 ~2.3 s after the INVITE, BYE ~4.9 s after answering.
    sim.script("15551234567", Behaviour.early_media(300, 2330, hangup_after_s=4.86))


SETUPS: dict[str, Callable[[Simulator], None]] = {
    "03-click-to-dial": _setup_click_to_dial,
    "04a-busy": lambda sim: sim.script("15551234567", Behaviour.busy(500)),
    "04b-no-answer": lambda sim: sim.script("15551234567", Behaviour.no_answer()),
    "04c-reject-503": lambda sim: sim.script(
        "15551234567", Behaviour.reject("NORMAL_TEMPORARY_FAILURE", 500)),
    "04e-agent-killed-while-ringing": lambda sim: sim.script(
        "15551234567", Behaviour.early_media(300)),
    "04f-agent-killed-before-bridge": lambda sim: sim.script(
        "15551234567", Behaviour.no_answer()),
    "06-eavesdrop": lambda sim: sim.script("15551234567", Behaviour.answer(1000)),
}


# In the json run of 05, uuid_bridge reached the agent leg after its originate returned but
# before its park ran; the simulator reproduces that window with app_delay_ms.
OPTIONS: dict[tuple[str, str], dict] = {("05-inbound", "json"): {"app_delay_ms": 50}}


@dataclass
class Replay:
    name: str
    fmt: str
    sim: Simulator
    clock: ManualClock
    client: RawClient
    sent: Sent
    mine: dict[str, str] = field(default_factory=dict)  # role -> our uuid
    started: float = 0.0
    others: list[RawClient] = field(default_factory=list)

    def translate(self, command: str) -> str:
        for role, theirs in self.sent.legs.items():
            if role in self.mine:
                command = command.replace(theirs, self.mine[role])
        return command

    def at(self, t: float) -> None:
        target = self.started + t
        if target > self.clock.now():
            self.clock.advance(target - self.clock.now())

    def note(self, text: str) -> None:
        if "REGISTERs 1000" in text and "Expires: 0" in text:
            self.sim.unregister("1000")
        elif "REGISTERs 1000" in text:
            self.sim.register("1000")
        elif "calls DID 5550100" in text:
            self.mine["caller"] = self.sim.inject_inbound("5550100", "15551234567", "sales")
        elif "api fsctl shutdown" in text:
            other = RawClient(self.sim.port, PASSWORD)
            self.others.append(other)
            other.send("api fsctl shutdown")

    def run(self) -> None:
        for step in self.sent.steps:
            self.at(step.t)
            if step.kind == "NOTE":
                self.note(step.data)
            elif step.kind == "SEND":
                command = step.data
                if command.startswith("auth ") and "badauth" in self.name:
                    self.client.send(command)  # the wrong password: FreeSWITCH hangs up
                    self.client.wait_for(self.client.eof.is_set, "EOF after a bad password")
                    return
                if command.startswith("auth "):
                    command = f"auth {PASSWORD}"
                if command == "exit":
                    self.client.send("exit")
                    self.client.wait_for(self.client.eof.is_set, "EOF after exit")
                    return
                self.client.command(self.translate(command))
            elif step.kind == "EOF":
                self.client.wait_for(self.client.eof.is_set, "EOF")
                return
            if not self.client.eof.is_set() and step.kind != "CONNECT":
                self.client.sync()


def replay(name: str, fmt: str) -> Replay:
    """Run one captured flow against a fresh simulator and return what it sent."""
    clock = ManualClock()
    sim = Simulator(PASSWORD, clock=clock, **OPTIONS.get((name, fmt), {}))
    sim.start()
    sent = read_sent(name, fmt)
    if name != "02-registration":  # there SIPp registers 1000 during the capture
        for extension in ("1000", "1002"):  # registered before the captures began
            sim.register(extension)
    setup = SETUPS.get(name)
    if setup is not None:
        setup(sim)
    client = RawClient(sim.port)
    mine = {role: str(uuid.uuid4()) for role in sent.legs if role != "caller"}
    run = Replay(name, fmt, sim, clock, client, sent, mine, clock.now())
    try:
        run.run()
    finally:
        client.close()
        for other in run.others:
            other.close()
        sim.stop()
    return run
