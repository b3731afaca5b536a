"""The website widget's API (web/widget.py, README: Calls from your website): settings, a
visitor's call and its one-call credential, the origin checks and CORS, the limits (429), the
status of a call, and /widget.js."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from sqlalchemy import select

from callcenter import queue_config
from callcenter.audit import CLI
from callcenter.clock import ManualClock
from callcenter.credentials import a1_hash
from callcenter.models import GuestCall, Queue
from callcenter.web import widget as widget_web
from callcenter.widgets import settings as rules

SITE = "https://shop.example.com"


def make_widget(database, **form) -> str:
    with database.session() as s:
        if s.scalar(select(Queue).where(Queue.name == "sales")) is None:
            queue_config.create_queue(s, "sales", who=CLI)
        values = {"name": "Shop", "queue": "sales", "allowed_origins": SITE,
                  "calls_per_address_hour": "10", "concurrent_calls": "5",
                  "max_call_seconds": "600", "active": "on", **form}
        widget = rules.add_widget(s, values, who=CLI)
        s.commit()
        return widget.public_id


@pytest.fixture
def clock(app):
    clock = ManualClock()
    app.extensions["widgets"] = widget_web.Desk(clock)
    return clock


@pytest.fixture
def wid(database):
    return make_widget(database, field_name="on", required_name="on", field_email="on")


def call(client, wid, origin=SITE, **body):
    body = {"video": False, "fields": {"name": "Ann"}, "page": {"url": f"{SITE}/shoes",
                                                                   "title": "Shoes"}, **body}
    headers = {"Origin": origin} if origin else {}
    return client.post(f"/widget/{wid}/call", json=body, headers=headers)


def test_settings_name_the_fields_and_carry_cors_for_an_allowed_origin(client, wid, clock):
    answer = client.get(f"/widget/{wid}/settings", headers={"Origin": SITE})
    assert answer.status_code == 200
    assert answer.json == {"name": "Shop", "video": False, "open": True, "message": None,
                           "fields": [{"name": "name", "label": "Your name", "required": True},
                                      {"name": "email", "label": "Your email",
                                       "required": False}]}
    assert answer.headers["Access-Control-Allow-Origin"] == SITE
    assert "Origin" in answer.headers["Vary"]


def test_another_origin_is_refused_with_no_cors_headers(client, wid, clock):
    for method, path in (("GET", "settings"), ("POST", "call"), ("OPTIONS", "call")):
        answer = client.open(f"/widget/{wid}/{path}", method=method, json={},
                             headers={"Origin": "https://evil.example.net"})
        assert answer.status_code == 403, (method, path)
        assert answer.json["error"] == "origin_refused" and answer.json["message"]
        assert "Access-Control-Allow-Origin" not in answer.headers
    assert call(client, wid, origin=None).status_code == 403    # a POST with no Origin


def test_preflight_is_answered_for_an_allowed_origin(client, wid, clock):
    answer = client.options(f"/widget/{wid}/call", headers={
        "Origin": SITE, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == SITE
    assert "POST" in answer.headers["Access-Control-Allow-Methods"]
    assert "content-type" in answer.headers["Access-Control-Allow-Headers"].lower()


def test_a_call_mints_a_guest_credential_of_the_guest_realm(client, wid, clock, database,
                                                           settings):
    answer = call(client, wid)
    assert answer.status_code == 201, answer.json
    body = answer.json
    sip, realm = body["sip"], settings.guest_realm
    assert realm == "guests.callcenter.invalid"          # the tests' SIP domain is an address
    assert sip["realm"] == realm and sip["ws_url"] == settings.softphone_wss_url
    assert len(sip["user"]) == 21 and sip["user"][0] == "g" and int(sip["user"][1:], 16) >= 0
    assert sip["uri"] == f"sip:{sip['user']}@{realm}" and sip["target"] == f"sip:call@{realm}"
    assert body["max_seconds"] == 600
    assert body["status_url"] == f"/widget/{wid}/calls/{body['call']}"
    assert answer.headers["Access-Control-Allow-Origin"] == SITE
    with database.session() as s:
        row = s.get(GuestCall, body["call"])
        assert row.guest_user == sip["user"] and row.used_at is None
        assert row.a1_hash == a1_hash(sip["user"], realm, sip["password"])
        assert sip["password"] not in (row.fields, row.a1_hash)
        assert row.page_url == f"{SITE}/shoes" and row.page_title == "Shoes"
    status = client.get(body["status_url"], headers={"Origin": SITE})
    assert status.json == {"state": "connecting", "position": None, "waited_seconds": None}
    clock.advance(121)
    assert client.get(body["status_url"], headers={"Origin": SITE}).json["state"] == "ended"


def test_missing_or_bad_fields_are_named(client, wid, clock):
    answer = call(client, wid, fields={"email": "not-an-address"})
    assert answer.status_code == 400
    assert answer.json["error"] == "bad_fields"
    assert set(answer.json["fields"]) == {"name", "email"}


def test_an_unknown_widget_is_404(client, clock):
    answer = call(client, "nosuchwidget123")
    assert answer.status_code == 404 and answer.json["error"] == "unknown_widget"


def test_a_closed_queue_refuses_calls_and_says_so(client, wid, clock, database):
    with database.session() as s:
        queue = s.scalar(select(Queue).where(Queue.name == "sales"))
        queue.holidays = "2026-11-18 test day"     # the ManualClock starts that day
        s.commit()
    assert client.get(f"/widget/{wid}/settings", headers={"Origin": SITE}).json["open"] is False
    answer = call(client, wid)
    assert answer.status_code == 409 and answer.json["error"] == "closed"


def test_a_queue_that_turns_callers_away_with_no_agent_says_nobody_is_available(
        client, wid, clock, database, make_user):
    from callcenter.models import Agent, AgentStatus, QueueAgent
    assert call(client, wid).status_code == 201     # no longest wait with no agent: it waits
    user_id = make_user("alice", extension="1000")
    with database.session() as s:
        queue = s.scalar(select(Queue).where(Queue.name == "sales"))
        queue.max_wait_no_agent_seconds = 60
        agent = s.scalar(select(Agent).where(Agent.user_id == user_id))
        s.add(QueueAgent(queue_id=queue.id, agent_id=agent.id, level=1, position=1))
        s.commit()
    refused = call(client, wid)
    assert refused.status_code == 503 and refused.json["error"] == "nobody_available"
    with database.session() as s:
        s.scalar(select(Agent).where(Agent.user_id == user_id)).status = AgentStatus.AVAILABLE
        s.commit()
    assert call(client, wid).status_code == 201


def test_calls_beyond_the_address_limit_get_429_with_retry_after(client, database, clock):
    wid = make_widget(database, calls_per_address_hour="2", concurrent_calls="100")
    assert [call(client, wid).status_code for _ in range(3)] == [201, 201, 429]
    refused = call(client, wid)
    assert refused.json["error"] == "too_many" and 0 < int(refused.headers["Retry-After"]) <= 3600
    other = client.post(f"/widget/{wid}/call", json={"fields": {}},
                        headers={"Origin": SITE}, environ_base={"REMOTE_ADDR": "192.0.2.9"})
    assert other.status_code == 201           # another address has its own count
    clock.advance(3601)
    assert call(client, wid).status_code == 201


def test_calls_beyond_the_widget_s_calls_at_once_get_429(client, database, clock):
    wid = make_widget(database, calls_per_address_hour="100", concurrent_calls="2")
    assert [call(client, wid).status_code for _ in range(3)] == [201, 201, 429]
    clock.advance(121)          # the unused credentials can no longer start a call
    assert call(client, wid).status_code == 201


def test_turn_credentials_follow_the_turn_rest_convention(client, database, settings, app,
                                                          clock):
    import dataclasses
    secret = "a-turn-secret-of-the-test"
    app.extensions["callcenter"].settings = dataclasses.replace(
        settings, turn_urls=("stun:turn.example.com:3478", "turn:turn.example.com:3478"),
        turn_secret=secret)
    wid = make_widget(database)
    body = call(client, wid).json
    stun, turn = body["ice_servers"]
    assert stun == {"urls": ["stun:turn.example.com:3478"]}
    assert turn["urls"] == ["turn:turn.example.com:3478"]
    expiry, user = turn["username"].split(":")
    assert user == body["sip"]["user"] and int(expiry) == int(clock.now()) + 60 + 600
    expected = base64.b64encode(hmac.new(secret.encode(), turn["username"].encode(),
                                         hashlib.sha1).digest()).decode()
    assert turn["credential"] == expected
    app.extensions["callcenter"].settings = settings
    assert call(client, wid).json["ice_servers"] == []


def test_widget_js_is_served_or_404_with_a_clear_text(client, admin, tmp_path, monkeypatch):
    monkeypatch.setattr(widget_web, "BUNDLE", tmp_path / "widget.js")
    missing = client.get("/widget.js")
    assert missing.status_code == 404 and b"not built" in missing.data
    (tmp_path / "widget.js").write_text("(()=>{})();")
    served = client.get("/widget.js")
    assert served.status_code == 200 and served.data == b"(()=>{})();"
    assert "javascript" in served.headers["Content-Type"]
    assert "max-age" in served.headers["Cache-Control"]
