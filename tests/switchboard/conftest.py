"""A switchboard on a ManualClock, linked over real TCP to a simulator on the same clock.

Every test here that uses the database runs on SQLite and on PostgreSQL (tests/postgres.py)."""

from __future__ import annotations

from collections.abc import Callable

import gevent
import gevent.event
import pytest
from sqlalchemy import event, select

from callcenter.clock import ManualClock
from callcenter.esl.connection import Link
from callcenter.models import Agent, AgentStatus, Call, CallLeg
from callcenter.sim import Simulator
from callcenter.switchboard import Switchboard
from callcenter.switchboard.dialer import DialTimes
from tests.postgres import on_both_databases

SIM_PASSWORD = "switchboard-test-password"
NUMBER = "15551234567"
CALLER_ID = "5550100"
TIMES = DialTimes(agent_ring=20, customer_ring=30, timer_margin=2, park=120, partner_grace=5)


def pytest_generate_tests(metafunc):
    on_both_databases(metafunc)


class RecordingLink:
    """The real Link, with every command the switchboard sends written down."""

    def __init__(self, link: Link) -> None:
        self._link = link
        self.commands: list[str] = []

    def api(self, command, timeout=None):
        self.commands.append(command)
        return self._link.api(command, timeout)

    def bgapi(self, command, timeout=None):
        self.commands.append(command)
        return self._link.bgapi(command, timeout)

    def post(self, commands):
        self.commands.extend(wire.split(" ", 1)[1] for wire, _slot in commands)
        return self._link.post(commands)

    def __getattr__(self, name):
        return getattr(self._link, name)


EVERYONE = "everyone"  # RecordingHub: the recipient of a broadcast


class RecordingHub:
    """Stands in for the live hub: keeps what was published, to whom."""

    def __init__(self) -> None:
        self.messages: list[tuple[dict, int | None]] = []
        self.topical: list[tuple[dict, tuple[str, ...]]] = []   # queue rows, figures
        self.snapshot = None
        self.sections: dict = {}
        self.listeners: set[str] = set()      # topics someone subscribes to

    def set_snapshot(self, provider) -> None:
        self.snapshot = provider

    def provide(self, section: str, provider) -> None:
        self.sections[section] = provider

    def listening(self, topic: str) -> bool:
        return topic in self.listeners

    def publish(self, message: dict, agent_id: int | None = None,
                topics: tuple[str, ...] = ()) -> None:
        if topics:
            self.topical.append((message, topics))
        else:
            self.messages.append((message, agent_id))

    def broadcast(self, message: dict) -> None:
        self.messages.append((message, EVERYONE))

    def progress(self, call_id: str) -> list[str]:
        """The call's progress as its agent's page saw it, repeats folded."""
        seen: list[str] = []
        for message, _ in self.messages:
            call = message.get("call")
            if message["type"] == "call" and call["id"] == call_id:
                if not seen or seen[-1] != call["progress"]:
                    seen.append(call["progress"])
        return seen

    def agent_states(self, agent_id: int) -> list[str]:
        states: list[str] = []
        for message, _ in self.messages:
            if message["type"] == "agent" and message["agent"]["id"] == agent_id:
                if not states or states[-1] != message["agent"]["state"]:
                    states.append(message["agent"]["state"])
        return states


class Rig:
    def __init__(self, sim: Simulator, clock: ManualClock, board: Switchboard,
                 link: RecordingLink, hub: RecordingHub, database) -> None:
        self.sim, self.clock, self.board, self.link, self.hub = sim, clock, board, link, hub
        self.database = database

    def settle(self) -> None:
        """Wait until the switchboard has handled every event the simulator has sent, and
        every command those events caused has been answered (then again, until quiet)."""
        with gevent.Timeout(10, AssertionError("the switchboard did not settle")):
            while True:
                sent = self.board.sender.sent
                # A job's result travels behind every event sent before it.
                self.link._link.bgapi("status").get(5)
                self.board.sender.wait_idle()
                if self.board.sender.sent == sent:
                    break
        assert self.board.store.flush(10), "database writes did not finish"

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.settle()

    def commands(self, start: int = 0) -> list[str]:
        """Commands sent, uuids shortened to their role in the call for readability."""
        return self.link.commands[start:]

    def rows(self):
        with self.database.session() as session:
            calls = session.scalars(select(Call)).all()
            legs = session.scalars(select(CallLeg)).all()
            session.expunge_all()
            return calls, legs


def write_switch(database) -> Callable[[bool], None]:
    """A switch that makes the database's new connections refuse every write, as root too:
    SQLite's `PRAGMA query_only`, PostgreSQL's `default_transaction_read_only` (SQLSTATE
    25006). Each switch reopens the engine so the next write meets it."""
    refusing = {"on": False}
    for engine in (database.engine, database.writer.engine):   # the hub's and the writer's
        if engine.dialect.name == "sqlite":
            @event.listens_for(engine, "connect")
            def query_only(connection, _record):
                if refusing["on"]:
                    connection.execute("PRAGMA query_only=ON")
        else:
            @event.listens_for(engine, "do_connect")
            def read_only(_dialect, _record, _args, params):
                if refusing["on"]:
                    params["options"] = "-c default_transaction_read_only=on"

    def switch(on: bool) -> None:
        refusing["on"] = on
        database.dispose()

    return switch


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def agent_id(make_user, database) -> int:
    """alice, extension 1000, logged in (On break: she may dial out, takes no queued call)."""
    user_id = make_user("alice", extension="1000")
    with database.session() as session:
        agent = session.scalar(select(Agent).where(Agent.user_id == user_id))
        agent.status = AgentStatus.ON_BREAK
        session.commit()
        return agent.id


def connect_board(sim: Simulator, clock: ManualClock, database, **options) -> Rig:
    """A switchboard linked to `sim` over TCP, its first resync done; `options` go to the
    Switchboard. The auditor runs after each resync, and every `audit_seconds` only if given
    (test_auditor.py): other tests count the commands sent while time passes."""
    options.setdefault("audit_seconds", 0)
    link = RecordingLink(Link("127.0.0.1", sim.port, SIM_PASSWORD, backoff_initial=0.01))
    hub = RecordingHub()
    board = Switchboard(link, database, hub=hub, clock=clock, domain="127.0.0.1",
                        gateway="carrier", caller_id=CALLER_ID, times=TIMES, **options)
    board.start()
    resynced = gevent.event.Event()
    link.on_resync(resynced.set)
    link.start()
    assert resynced.wait(5), "the link never came up"
    return Rig(sim, clock, board, link, hub, database)


@pytest.fixture
def rig_factory(clock, database, tmp_path, agent_id):
    made = []

    def make(**sim_options) -> Rig:
        sim = Simulator(SIM_PASSWORD, clock=clock, recordings_dir=str(tmp_path), **sim_options)
        sim.start()
        rig = connect_board(sim, clock, database)
        sim.register("1000")
        rig.settle()
        # The resync, then the audit that follows every resync.
        assert rig.link.commands == ["show registrations as json", "global_getvar core_uuid",
                                     "show channels as json", "show calls as json",
                                     "show channels as json"]
        rig.link.commands.clear()
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.link.stop()
        rig.board.stop()
        rig.sim.stop()


@pytest.fixture
def rig(rig_factory) -> Rig:
    return rig_factory()


@pytest.fixture
def admin_post(rig, settings, database, admin):
    """admin_post(path, **form): a form posted by the logged-in admin, on an app wired to the
    rig's real switchboard (admin edits must reach it at once)."""
    from callcenter.app import create_app
    from tests.conftest import AuthActions

    app = create_app(settings, database, rig.board, rig.hub)
    app.config["TESTING"] = True
    client = app.test_client()
    auth = AuthActions(client)
    auth.login(admin)
    token = auth.csrf("/admin/users")

    def post(path: str, **form):
        reply = client.post(path, data={**form, "csrf_token": token})
        assert reply.status_code == 302, reply.get_data(as_text=True)
        return reply
    return post
