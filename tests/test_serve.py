"""`callcenter serve` as a subprocess: SQLite, the embedded simulator, the banner, clean stop."""

from __future__ import annotations

import json
import urllib.request

import pytest

from callcenter import db as dbmod
from tests.process import ServerProcess

pytestmark = pytest.mark.slow


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:     # noqa: S310 - loopback only
        return response.status, response.read().decode()


def test_serve_runs_the_embedded_simulator_and_says_so(env, settings):
    dbmod.upgrade(settings.database_url)
    server = ServerProcess(["serve"], {**env, "CALLCENTER_HTTP_BIND": "127.0.0.1:0"})
    try:
        base = server.wait_for(r"serving on (http://127\.0\.0\.1:\d+)").group(1)
        server.wait_for(r"switch link up: 127\.0\.0\.1:\d+")
        status, page = get(base + "/setup")
        assert status == 200 and 'id="simulated-banner"' in page
        assert "create the administrator" in page
        status, body = get(base + "/healthz")
        assert json.loads(body) == {"ok": True, "switch": "simulated", "switch_connected": True,
                                    "database": "ok", "backlog": 0, "spool": 0,
                                    "spool_state": "ok", "dead_letters": 0}
    finally:
        assert server.stop() == 0


def test_embedded_simulator_registers_every_agent(settings, database, make_user):
    from callcenter.server import build_switch

    make_user("alice", extension="1001")
    make_user("bob", extension="1002")
    switch = build_switch(settings, database)
    switch.start()
    try:
        assert switch.link.wait_connected(10)
        rows = json.loads(switch.link.api("show registrations as json")).get("rows", [])
        assert sorted(row["reg_user"] for row in rows) == ["1001", "1002"]
    finally:
        switch.stop()


def test_embedded_simulator_sends_callers_when_asked(settings, database):
    from dataclasses import replace

    from callcenter.server import build_switch
    from tests.sim.esl_client import RawClient

    switch = build_switch(replace(settings, sim_callers=20), database)
    switch.start()
    try:
        assert switch.link.wait_connected(10)
        simulator = switch.simulator
        client = RawClient(simulator.port, simulator.password)
        client.command("event plain CHANNEL_PARK")
        parks = client.wait_for(
            lambda: [e for e in client.events() if e.name == "CHANNEL_PARK"][:3], "3 callers")
        assert {(e.get("Caller-Destination-Number"), e.get("variable_cc_queue"))
                for e in parks} == {("5550100", "sales")}
        # The demo's callers: patience 20-60 s, talk 10-40 s from the bridge, per caller.
        behaviours = [simulator.channels[e.uuid].behaviour for e in parks
                      if e.uuid in simulator.channels]
        assert behaviours and all(20 <= b.patience_s <= 60 and 10 <= b.talk_after_bridge_s <= 40
                                  for b in behaviours)
        client.close()
    finally:
        switch.stop()
    assert switch.callers.generator.done.is_set()  # stopping the switch ends the stream


def test_the_demo_callers_reach_an_available_agent_through_queue_sales(settings, database,
                                                                      make_user):
    """With CALLCENTER_SIM_CALLERS, `make run` shows a queue working: queue sales exists with
    every agent in it, and an Available agent takes the demo's callers."""
    from dataclasses import replace

    import gevent.event
    from sqlalchemy import select

    from callcenter.models import Agent, AgentState, AgentStatus, Queue, QueueAgent
    from callcenter.server import build_switch

    user_id = make_user("dora", extension="1001")
    with database.session() as session:
        agent = session.scalar(select(Agent).where(Agent.user_id == user_id))
        agent.status = AgentStatus.AVAILABLE
        agent_id = agent.id
        session.commit()
    switch = build_switch(replace(settings, sim_callers=5), database)
    switch.start()
    try:
        with database.session() as session:
            queue = session.scalar(select(Queue).where(Queue.name == "sales"))
            assert queue is not None
            assert list(session.scalars(select(QueueAgent.agent_id)
                                        .where(QueueAgent.queue_id == queue.id))) == [agent_id]
        talking = gevent.event.Event()
        switch.board.roster.listeners.append(
            lambda view: talking.set() if view.id == agent_id
            and view.state is AgentState.IN_CALL else None)
        assert talking.wait(15), "no demo caller reached the agent"
    finally:
        switch.stop()


def test_embedded_simulator_registers_supervisors_own_phones(settings, database, make_user):
    """`make run`'s demo: a supervisor's extension is registered like an agent's, so Listen
    rings it instead of answering 409; one an admin gives later is registered at once."""
    import gevent.event
    from sqlalchemy import update

    from callcenter.models import Agent, AgentState, AgentStatus, Role
    from callcenter.server import build_switch
    from callcenter.switchboard.supervision import Mode, Supervisor

    make_user("alice", extension="1001")
    with database.session() as session:
        session.execute(update(Agent).values(status=AgentStatus.ON_BREAK))
        session.commit()
    sue = make_user("sue", Role.SUPERVISOR, extension="2001")
    switch = build_switch(settings, database)
    switch.start()
    try:
        assert switch.link.wait_connected(10)
        rows = json.loads(switch.link.api("show registrations as json")).get("rows", [])
        assert sorted(row["reg_user"] for row in rows) == ["1001", "2001"]
        board = switch.board
        assert board.roster.phone_registered("2001")
        agent = next(view for view in board.roster.agents.values() if view.extension == "1001")
        talking = gevent.event.Event()
        board.roster.listeners.append(
            lambda view: talking.set() if view.id == agent.id
            and view.state is AgentState.IN_CALL else None)
        call = board.dial(agent.id, "5551234567")
        assert talking.wait(15), "the demo's customer never answered"
        monitors = board.monitor(call.id, Supervisor(sue, "sue", "2001"), Mode.LISTEN)
        assert [m["supervisor"] for m in monitors] == ["sue"]

        board.own_phone_given("2002")
        assert board.roster.phone_registered("2002")
    finally:
        switch.stop()


def test_the_active_controller_purges_website_visitors_old_details_at_start(env, settings,
                                                                            database):
    from datetime import timedelta

    from sqlalchemy import select

    from callcenter.audit import CLI
    from callcenter.clock import RealClock
    from callcenter.models import Call, Direction, GuestCall, Queue
    from callcenter.widgets import credentials
    from callcenter.widgets import settings as rules

    clock = RealClock()
    with database.session() as s:
        s.add(Queue(name="sales"))
        s.flush()
        widget = rules.add_widget(s, {"name": "Shop", "queue": "sales",
                                      "allowed_origins": "https://shop.example.com",
                                      "calls_per_address_hour": "10", "concurrent_calls": "5",
                                      "max_call_seconds": "300", "active": "on"}, who=CLI)
        tokens = [credentials.mint(s, widget.id, "guests.example.com", clock,
                                   address="192.0.2.1", video=False, fields={}, page_url="",
                                   page_title="").token for _ in range(3)]
        s.flush()
        unused, ended, fresh = (s.get(GuestCall, token) for token in tokens)
        unused.created_at -= timedelta(hours=1)
        ended.created_at = ended.used_at = credentials.when(clock) - timedelta(days=9)
        ended.call_id = "web-call-1"
        s.add(Call(id="web-call-1", direction=Direction.INBOUND, channel="web",
                   created_at=ended.used_at, ended_at=ended.used_at + timedelta(minutes=5)))
        s.commit()
    server = ServerProcess(["serve"], {**env, "CALLCENTER_HTTP_BIND": "127.0.0.1:0",
                                       "CALLCENTER_GUEST_CALLS_KEEP_DAYS": "7"})
    try:
        server.wait_for(r"website calls: 1 unused credentials and 1 ended calls' details removed")
    finally:
        assert server.stop() == 0
    with database.session() as s:
        assert set(s.scalars(select(GuestCall.token))) == {fresh.token}
