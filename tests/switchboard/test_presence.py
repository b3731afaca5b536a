"""What the agent's page is told about the agent and the phone system: the status after a web
login (On break), dialling refused while Logged Out, Logged Out is no status to choose, and the
link to FreeSWITCH going down and coming back reaching every page."""

from __future__ import annotations

import socket

import gevent.event
import pytest
from sqlalchemy import select

from callcenter.app import create_app
from callcenter.models import Agent, AgentStatus
from callcenter.switchboard import DialError
from tests.conftest import AuthActions
from tests.switchboard.conftest import EVERYONE, NUMBER


@pytest.fixture
def web(rig, settings, database, admin):
    """A web app on the rig's switchboard, and a browser (not yet logged in) on it."""
    app = create_app(settings, database, rig.board, rig.hub)
    app.config["TESTING"] = True
    return app.test_client()


def status_in_db(rig, agent_id) -> AgentStatus:
    rig.settle()
    with rig.database.session() as session:
        return session.scalar(select(Agent.status).where(Agent.id == agent_id))


def api(client, method, path, json=None):
    token = AuthActions(client).csrf("/agent")
    return client.open(path, method=method, json=json, headers={"X-CSRF-Token": token})


# -- the status after login ----------------------------------------------------------------------


def test_a_web_login_puts_a_logged_out_agent_on_break(rig, web, agent_id):
    rig.board.set_status(agent_id, AgentStatus.LOGGED_OUT)
    assert status_in_db(rig, agent_id) is AgentStatus.LOGGED_OUT
    AuthActions(web).login("alice")
    assert rig.board.agent(agent_id).status is AgentStatus.ON_BREAK
    assert rig.hub.messages[-1][0]["agent"]["status"] == "on_break"
    assert status_in_db(rig, agent_id) is AgentStatus.ON_BREAK
    # On break takes no queued call but may dial out.
    reply = api(web, "POST", "/api/calls", {"number": NUMBER})
    assert reply.status_code == 201, reply.json


def test_a_second_login_keeps_the_status_the_agent_chose(rig, web, agent_id):
    rig.board.set_status(agent_id, AgentStatus.AVAILABLE)
    AuthActions(web).login("alice")
    assert rig.board.agent(agent_id).status is AgentStatus.AVAILABLE


def test_a_login_without_a_switchboard_writes_on_break(client, auth, admin, make_user, database):
    user_id = make_user("alice", extension="1000")
    auth.login("alice")
    with database.session() as session:
        agent = session.scalar(select(Agent).where(Agent.user_id == user_id))
        assert agent.status is AgentStatus.ON_BREAK


# -- dialling while Logged Out -------------------------------------------------------------------


def test_dialling_while_logged_out_is_refused_with_the_reason(rig, web, agent_id):
    AuthActions(web).login("alice")
    # Logged Out while the session lives: the softphone's credential expired (12 h).
    rig.board.set_status(agent_id, AgentStatus.LOGGED_OUT)
    with pytest.raises(DialError, match="Logged Out"):
        rig.board.dial(agent_id, NUMBER)
    reply = api(web, "POST", "/api/calls", {"number": NUMBER})
    assert reply.status_code == 409 and "Logged Out" in reply.json["error"]
    assert rig.commands() == [] and rig.board.legs.calls == {}


@pytest.mark.parametrize("status", [AgentStatus.AVAILABLE, AgentStatus.ON_BREAK])
def test_available_and_on_break_may_dial_out(rig, agent_id, status):
    rig.board.set_status(agent_id, status)
    call = rig.board.dial(agent_id, NUMBER)
    rig.settle()
    assert rig.commands()[0].startswith("originate ")
    assert rig.hub.progress(call.id)[:2] == ["dialing_agent", "dialing"]
    rig.board.hang_up(call.id)
    rig.settle()


# -- the statuses an agent may choose ------------------------------------------------------------


def test_logged_out_is_not_a_status_to_choose(rig, web, agent_id):
    AuthActions(web).login("alice")
    refused = api(web, "PUT", "/api/agents/me/status", {"status": "logged_out"})
    assert refused.status_code == 422 and refused.json["field"] == "status"
    assert "Log out" in refused.json["error"]
    assert rig.board.agent(agent_id).status is AgentStatus.ON_BREAK
    for value in (None, "asleep", ["available"]):
        bad = api(web, "PUT", "/api/agents/me/status", {"status": value})
        assert bad.status_code == 422 and "available, on_break" in bad.json["error"], value
    chosen = api(web, "PUT", "/api/agents/me/status", {"status": "available"})
    assert chosen.status_code == 200 and chosen.json["agent"]["status"] == "available"


# -- the link to FreeSWITCH, as every page hears it ----------------------------------------------


def switch_news(rig) -> list[bool]:
    return [message["switch"]["connected"] for message, to in rig.hub.messages
            if message["type"] == "switch" and to == EVERYONE]


def test_every_page_hears_the_link_drop_and_come_back(rig, agent_id):
    assert rig.board.snapshot(agent_id)["switch"] == {"connected": True}
    assert rig.board.snapshot(None)["switch"] == {"connected": True}
    assert switch_news(rig) == [True]
    reconnected = gevent.event.Event()
    rig.link.on_resync(reconnected.set)
    rig.link._link._connection.sock.shutdown(socket.SHUT_RDWR)
    assert reconnected.wait(5)
    assert switch_news(rig) == [True, False, True]
    # A resync without a reconnect (after an event flood) is no news.
    rig.board._switch_changed()
    assert switch_news(rig) == [True, False, True]


def test_a_page_that_connects_while_the_switch_is_down_sees_it_at_once(rig, agent_id):
    lost = gevent.event.Event()
    rig.link.on_disconnect(lambda reason: lost.set())
    rig.sim.stop()
    assert lost.wait(5)
    assert switch_news(rig)[-1] is False
    assert rig.board.snapshot(agent_id)["switch"] == {"connected": False}
