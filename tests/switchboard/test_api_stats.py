"""GET /api/stats: the switchboard's figures for supervisors, admins and the benchmark."""

from __future__ import annotations

import pytest

from callcenter.app import create_app
from callcenter.models import Role
from callcenter.sim import Behaviour
from tests.conftest import AuthActions
from tests.switchboard.conftest import NUMBER


@pytest.fixture
def login(rig, settings, database, make_user, admin):
    make_user("sam", Role.SUPERVISOR)

    def as_user(username: str):
        app = create_app(settings, database, rig.board, rig.hub)
        app.config["TESTING"] = True
        client = app.test_client()
        auth = AuthActions(client)
        auth.login(username)
        token = auth.csrf("/agent" if username == "alice" else "/")

        def call(method, path, json=None):
            return client.open(path, method=method, json=json, headers={"X-CSRF-Token": token})
        return call

    return as_user


def test_agents_may_not_read_the_figures(login):
    reply = login("alice")("GET", "/api/stats")
    assert reply.status_code == 403 and reply.json == {"error": "your role may not do this"}


@pytest.mark.parametrize("who", ["root", "sam"])
def test_supervisors_and_admins_see_a_dial_in_the_figures(rig, login, who):
    rig.sim.script(NUMBER, Behaviour.answer(0))
    dialed = login("alice")("POST", "/api/calls", {"number": NUMBER})
    assert dialed.status_code == 201, dialed.json
    rig.settle()
    figures = login(who)("GET", "/api/stats?since=0").json
    assert figures["calls"]["placed"] == 1
    assert figures["latency"]["api_to_originate"]["count"] == 1
    assert figures["latency"]["api_to_originate"]["p99_ms"] > 0
    assert figures["latency"]["media_to_bridge"]["count"] == 1
    assert figures["live_calls"] == 1 and figures["bridged_calls"] == 1
    assert figures["agents"] == {"known": 1, "registered": 1}
    assert figures["link"]["connected"] is True
    assert figures["peaks"]["event_queue_peak_since"] == figures["peaks"]["event_queue_peak"]
    assert figures["memory"]["rss_mb"] > 10 and figures["memory"]["peak_rss_mb"] >= (
        figures["memory"]["rss_mb"])


def test_peaks_since_a_time_to_come_are_zero(login):
    figures = login("root")("GET", "/api/stats?since=4102444800").json  # 2100-01-01
    assert figures["peaks"]["event_queue_peak_since"] == 0
    assert "event_queue_peak_since" not in login("root")("GET", "/api/stats").json["peaks"]


@pytest.mark.parametrize("since", ["yesterday", "nan", "inf", ""])
def test_a_bad_since_is_422_naming_it(login, since):
    reply = login("root")("GET", f"/api/stats?since={since}")
    assert reply.status_code == 422 and reply.json["field"] == "since"
