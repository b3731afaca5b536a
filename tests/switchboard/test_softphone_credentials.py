"""Revoking a softphone's SIP credential through the real switchboard: logout and expiry flush
the extension's registration through the Sender and set the agent Logged Out on the roster."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, select

from callcenter.app import create_app
from callcenter.credentials import Credentials, start_sweeper
from callcenter.models import AgentStatus, AuditEntry, SipCredential
from tests.conftest import AuthActions

FLUSH = "sofia profile internal flush_inbound_reg 1000@127.0.0.1"
WRITES = {"INSERT", "UPDATE", "DELETE"}


@pytest.fixture
def web(rig, settings, database, admin):
    app = create_app(settings, database, rig.board, rig.hub)
    app.config["TESTING"] = True
    client = app.test_client()
    AuthActions(client).login("alice")
    return client


def directory_knows_1000(web, settings) -> bool:
    reply = web.post("/freeswitch/directory", auth=(settings.freeswitch_http_user,
                                                    settings.freeswitch_http_password),
                     data={"section": "directory", "action": "sip_auth", "user": "1000",
                           "domain": "127.0.0.1", "key_value": "127.0.0.1"})
    assert reply.status_code == 200
    return b"a1-hash" in reply.data


def test_logout_flushes_the_registration_and_logs_the_agent_out(rig, web, settings, agent_id):
    token = AuthActions(web).csrf("/agent")
    reply = web.put("/api/agents/me/status", json={"status": "available"},
                    headers={"X-CSRF-Token": token})
    assert reply.status_code == 200, reply.json
    assert directory_knows_1000(web, settings)
    rig.link.commands.clear()
    AuthActions(web).logout()
    rig.settle()
    assert rig.commands() == [FLUSH]
    assert rig.board.agent(agent_id).status is AgentStatus.LOGGED_OUT
    assert rig.hub.messages[-1][0]["agent"]["status"] == "logged_out"
    assert not directory_knows_1000(web, settings)


def test_expiry_does_the_same_on_the_switchboards_clock(rig, web, settings, database, agent_id):
    rig.board.set_status(agent_id, AgentStatus.AVAILABLE)
    sweeper = start_sweeper(Credentials.of(settings, rig.board), database, seconds=60)
    rig.settle()
    rig.link.commands.clear()
    rig.advance(12 * 3600 - 60)
    assert rig.commands() == [] and directory_knows_1000(web, settings)
    rig.advance(60)
    sweeper.stop()
    assert rig.commands() == [FLUSH]
    assert rig.board.agent(agent_id).status is AgentStatus.LOGGED_OUT
    assert not directory_knows_1000(web, settings)
    # The web login has ended too (12 hours at most); logging in again gives a new credential,
    # which the directory knows.
    assert web.get("/api/softphone").status_code == 401
    AuthActions(web).login("alice")
    assert web.get("/api/softphone").status_code == 200
    assert directory_knows_1000(web, settings)


def test_a_login_and_a_logout_write_nothing_on_the_hub(rig, settings, database, admin,
                                                        agent_id):
    """The login's row, its audit row and the softphone's credential, then the logout's, all
    go through the switchboard's database writer (its own thread): a burst of logins at the
    start of a shift never waits inside SQLite's busy timeout on the hub."""
    hub = threading.get_native_id()
    on_the_hub: list[str] = []

    def seen(conn, cursor, statement, *args):
        if threading.get_native_id() == hub and statement.split()[0] in WRITES:
            on_the_hub.append(statement.split("(")[0])
    app = create_app(settings, database, rig.board, rig.hub)
    app.config["TESTING"] = True
    client = app.test_client()
    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        assert AuthActions(client).login("alice").status_code == 302
        assert client.get("/api/softphone").status_code == 200
        AuthActions(client).logout()
        rig.settle()
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
    assert on_the_hub == []
    with database.session() as s:
        actions = s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        revoked = s.scalars(select(SipCredential.revoked_why)).all()
    assert actions[-2:] == ["login", "logout"]
    assert revoked == ["logout"]
