"""Fixtures for the simulator's tests: a simulator on a ManualClock, clients to talk to it."""

from __future__ import annotations

import uuid

import gevent.event
import pytest

from callcenter.clock import ManualClock
from callcenter.esl.connection import Connection
from callcenter.esl.protocol import Event
from callcenter.sim import Simulator
from tests.sim.esl_client import RawClient

PASSWORD = "sim-test-password"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sim(clock, tmp_path):
    simulator = Simulator(PASSWORD, clock=clock, recordings_dir=str(tmp_path))
    simulator.start()
    simulator.register("1000")
    yield simulator
    simulator.stop()


@pytest.fixture
def client(sim):
    """A raw client, authenticated and subscribed to every event in plain format."""
    raw = RawClient(sim.port, PASSWORD)
    raw.command("event plain ALL")
    yield raw
    raw.close()


class Recorder:
    """Events a Connection delivered, with a way to wait for one (never for time)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._arrived = gevent.event.Event()

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        self._arrived.set()

    def wait(self, predicate, what: str, timeout: float = 5.0) -> Event:
        with gevent.Timeout(timeout, AssertionError(f"timed out waiting for {what}")):
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                self._arrived.clear()
                self._arrived.wait()

    def of(self, uuid: str, name: str | None = None) -> list[Event]:
        return [e for e in self.events if e.uuid == uuid and (name is None or e.name == name)]

    def names(self, uuid: str, skip=("CHANNEL_STATE", "CHANNEL_CALLSTATE")) -> list[str]:
        return [e.name for e in self.events if e.uuid == uuid and e.name not in skip]


@pytest.fixture
def connection(sim):
    """The controller's own Connection, subscribed to every event; `.recorder` has them."""
    recorder = Recorder()
    conn = Connection("127.0.0.1", sim.port, PASSWORD, on_event=recorder)
    conn.connect()
    conn.subscribe(["ALL"])
    conn.recorder = recorder
    yield conn
    conn.close()


def settle(conn: Connection) -> None:
    """Wait until every event the simulator queued so far has been delivered."""
    marker = f"settle-{uuid.uuid4()}"
    conn.api(f"uuid_exists {marker}")
    conn.recorder.wait(lambda e: e.name == "API" and e.get("API-Command-Argument") == marker,
                       "the settle marker")


def agent_leg(**variables: str) -> tuple[str, str]:
    """(uuid, originate argument) for an agent leg to user/1000, parked."""
    leg = str(uuid.uuid4())
    extra = "".join(f",{k}={v}" for k, v in variables.items())
    return leg, (f"{{origination_uuid={leg},cc_call_id=C1,sip_h_Call-Info=<sip:127.0.0.1>;"
                 f"answer-after=0,origination_caller_id_number=5550100{extra}}}user/1000 &park()")


def customer_leg(number: str = "15551234567", **variables: str) -> tuple[str, str]:
    leg = str(uuid.uuid4())
    extra = "".join(f",{k}={v}" for k, v in variables.items())
    return leg, (f"{{origination_uuid={leg},cc_call_id=C1{extra}}}"
                 f"sofia/gateway/carrier/{number} &park()")
