"""The dial/status slice of the JSON API, against a real switchboard and simulator."""

from __future__ import annotations

import pytest

from callcenter.app import create_app
from callcenter.models import Role
from callcenter.sim import Behaviour
from tests.conftest import AuthActions
from tests.switchboard.conftest import NUMBER


@pytest.fixture
def api(rig, settings, database, admin):
    app = create_app(settings, database, rig.board, rig.hub)
    app.config["TESTING"] = True
    client = app.test_client()
    auth = AuthActions(client)
    auth.login("alice")
    token = auth.csrf("/agent")

    def call(method, path, json=None, csrf=True):
        headers = {"X-CSRF-Token": token} if csrf else {}
        return client.open(path, method=method, json=json, headers=headers)

    call.client = client
    return call


def test_dial_then_follow_the_call_to_its_cdr(rig, api, agent_id):
    rig.sim.script(NUMBER, Behaviour.answer(1000))
    reply = api("POST", "/api/calls", {"number": NUMBER})
    assert reply.status_code == 201, reply.json
    call_id = reply.json["call"]["id"]
    assert reply.json["call"]["progress"] == "dialing_agent"
    rig.settle()
    assert api("GET", f"/api/calls/{call_id}").json["call"]["progress"] == "ringing"
    rig.advance(1)
    assert api("GET", f"/api/calls/{call_id}").json["call"]["progress"] == "answered"
    rig.advance(7)
    rig.sim.far_end_hangs_up(rig.board.call(call_id).customer_leg)
    rig.settle()
    ended = api("GET", f"/api/calls/{call_id}").json["call"]
    assert (ended["progress"], ended["talk_seconds"], ended["cause"], ended["hangup_by"]) == (
        "ended", 7, "NORMAL_CLEARING", "customer")


@pytest.mark.parametrize("body,field", [
    ({"number": "555-CALL-NOW"}, "number"),
    ({"number": "15551234567&park()"}, "number"),
    ({"number": "{origination_uuid=x}15551234567"}, "number"),
    ({"number": 15551234567}, "number"),
    ({}, "number"),
    ([1, 2], "body"),
])
def test_bad_numbers_are_422_naming_the_field(rig, api, body, field):
    reply = api("POST", "/api/calls", body)
    assert reply.status_code == 422 and reply.json["field"] == field
    assert field in reply.json["error"]
    assert rig.commands() == []


def test_dial_needs_the_csrf_header(rig, api):
    reply = api("POST", "/api/calls", {"number": NUMBER}, csrf=False)
    assert reply.status_code == 400 and "CSRF" in reply.json["error"]
    assert rig.commands() == []


def test_unregistered_softphone_is_409_with_the_reason(rig, api):
    rig.sim.unregister("1000")
    rig.settle()
    reply = api("POST", "/api/calls", {"number": NUMBER})
    assert reply.status_code == 409 and "not registered" in reply.json["error"]


def test_switch_unreachable_is_503(rig, api):
    rig.sim.stop()
    rig.link._link.stop()
    reply = api("POST", "/api/calls", {"number": NUMBER})
    assert reply.status_code == 503 and "unreachable" in reply.json["error"]
    assert rig.board.legs.calls == {}


def test_agents_see_only_their_own_calls(rig, api, make_user, settings, database):
    reply = api("POST", "/api/calls", {"number": NUMBER})
    call_id = reply.json["call"]["id"]
    make_user("bob", extension="1001")
    app = create_app(settings, database, rig.board, rig.hub)
    other = app.test_client()
    AuthActions(other).login("bob")
    assert other.get(f"/api/calls/{call_id}").status_code == 403
    make_user("sue", Role.SUPERVISOR)
    boss = app.test_client()
    AuthActions(boss).login("sue")
    assert boss.get(f"/api/calls/{call_id}").json["call"]["id"] == call_id
    assert boss.get("/api/calls/no-such-call").status_code == 404


def test_status_is_set_written_and_pushed(rig, api, agent_id):
    reply = api("PUT", "/api/agents/me/status", {"status": "available"})
    assert reply.status_code == 200 and reply.json["agent"]["status"] == "available"
    assert rig.hub.messages[-1] == ({"type": "agent", "agent": reply.json["agent"]}, agent_id)
    rig.settle()
    from callcenter.models import Agent
    with rig.database.session() as session:
        assert session.get(Agent, agent_id).status.value == "available"
    bad = api("PUT", "/api/agents/me/status", {"status": "asleep"})
    assert bad.status_code == 422 and "available" in bad.json["error"]


def test_hang_up_through_the_api(rig, api, agent_id):
    rig.sim.script(NUMBER, Behaviour.answer(0))
    call_id = api("POST", "/api/calls", {"number": NUMBER}).json["call"]["id"]
    rig.settle()
    rig.advance(4)
    reply = api("POST", f"/api/calls/{call_id}/hangup")
    assert reply.status_code == 200 and reply.json["call"]["hangup_by"] == "agent"
    rig.settle()
    assert dict(rig.sim.channels) == {}
    again = api("POST", f"/api/calls/{call_id}/hangup")
    assert again.status_code == 409 and "ended" in again.json["error"]
    assert api("POST", "/api/calls/nope/hangup").status_code == 404
    ended = api("GET", f"/api/calls/{call_id}").json["call"]
    assert (ended["hangup_by"], ended["talk_seconds"]) == ("agent", 4)
