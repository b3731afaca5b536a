"""Every route declares how it is authenticated, and anonymous or wrong-role access is refused."""

from __future__ import annotations

import base64
import re

import pytest

from callcenter.models import Role
from callcenter.web.access import UNSAFE_METHODS, Access, access_of


def _routes(app):
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:int:)?[^>]+>", "1", rule.rule)
        if rule.endpoint == "static":
            path = "/static/app.css"
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, path


def test_every_route_declares_its_access(app):
    kinds = {}
    for endpoint, _method, _path in _routes(app):
        access = access_of(app, endpoint)
        assert isinstance(access, Access) and access.kind in (
            "public", "session", "freeswitch", "display", "bearer", "widget")
        if access.kind in ("session", "display"):
            assert access.roles, f"{endpoint} declares a session but no role"
        kinds[endpoint] = access.kind
    assert kinds["auth.login"] == "public" and kinds["admin.users"] == "session"
    assert kinds["supervising.wallboard"] == "display"
    assert kinds["metrics.metrics"] == "bearer"
    assert kinds["freeswitch.dialplan"] == "freeswitch"
    assert kinds["widget.call"] == "widget" and kinds["widget.bundle"] == "public"
    for endpoint in ("numbers.index", "numbers.add", "numbers.save", "numbers.delete",
                     "admin.edit_user", "admin.save_user", "admin.reset_password",
                     "admin.set_membership", "admin.remove_membership", "admin.import_users"):
        assert access_of(app, endpoint).roles == {Role.ADMIN}, endpoint


def test_an_undeclared_route_stops_the_app(settings, database):
    from flask import Blueprint

    from callcenter.app import create_app
    from callcenter.web import access

    app = create_app(settings, database)
    bp = Blueprint("stray", __name__)
    bp.add_url_rule("/stray", "stray", lambda: "x")
    app.register_blueprint(bp)
    with pytest.raises(RuntimeError, match="stray.stray"):
        access.init_app(app)


def test_anonymous_is_refused_everywhere_but_public_routes(app, client, admin):
    for endpoint, method, path in _routes(app):
        access = access_of(app, endpoint)
        response = client.open(path, method=method)
        if access.kind == "session":
            if method in UNSAFE_METHODS:
                assert response.status_code == 400, (endpoint, method)   # no CSRF token
            else:
                assert response.status_code in (302, 401), (endpoint, method)
                if response.status_code == 302:
                    assert "/login" in response.headers["Location"]
        elif access.kind in ("freeswitch", "display"):
            assert response.status_code == 401, (endpoint, method)
        elif access.kind == "bearer":
            assert response.status_code == 404, (endpoint, method)   # no token set: off
        else:
            assert response.status_code < 500, (endpoint, method)


def test_wrong_role_is_refused(app, client, auth, admin, make_user):
    make_user("alice", Role.AGENT)
    auth.login("alice")
    token = auth.csrf("/agent")
    checked = 0
    for endpoint, method, path in _routes(app):
        access = access_of(app, endpoint)
        if access.kind not in ("session", "display") or Role.AGENT in access.roles:
            continue
        response = client.open(path, method=method, headers={"X-CSRF-Token": token})
        assert response.status_code == 403, (endpoint, method)
        checked += 1
    assert checked >= 3      # the admin pages at least


def test_freeswitch_routes_need_the_http_credentials(app, client, settings):
    from callcenter.web.access import freeswitch

    # A probe route of this kind, beside whatever FreeSWITCH endpoints the app has.
    app.add_url_rule("/freeswitch/probe", "fs_probe", freeswitch(lambda: "ok"),
                     methods=["POST"])
    good = base64.b64encode(f"{settings.freeswitch_http_user}:"
                            f"{settings.freeswitch_http_password}".encode()).decode()
    bad = base64.b64encode(f"{settings.freeswitch_http_user}:nope".encode()).decode()
    checked = 0
    for endpoint, method, path in _routes(app):
        if access_of(app, endpoint).kind != "freeswitch":
            continue
        assert client.open(path, method=method).status_code == 401
        assert client.open(path, method=method,
                           headers={"Authorization": f"Basic {bad}"}).status_code == 401
        assert client.open(path, method=method,
                           headers={"Authorization": f"Basic {good}"}).status_code != 401
        checked += 1
    assert checked >= 1


def test_display_routes_take_a_valid_token_and_only_for_reading(app, client, admin, database):
    from callcenter import displays
    from callcenter.audit import CLI

    with database.session() as session:
        row, token = displays.create(session, "Lobby", who=CLI)
        session.commit()
    checked = 0
    for endpoint, method, path in _routes(app):
        access = access_of(app, endpoint)
        if access.kind != "display":
            continue
        assert method == "GET", f"{endpoint}: a display only reads"
        client.delete_cookie(displays.COOKIE)
        assert client.open(path, method=method).status_code == 401
        client.set_cookie(displays.COOKIE, token)
        assert client.open(path, method=method).status_code == 200, endpoint
        checked += 1
    with database.session() as session:
        displays.revoke(session, row.id, who=CLI)
        session.commit()
    for endpoint, method, path in _routes(app):
        if access_of(app, endpoint).kind == "display":
            assert client.open(path, method=method).status_code == 401, endpoint
    assert checked >= 1


def test_bearer_routes_are_off_without_their_token_and_need_it_exactly(settings, database):
    import dataclasses

    from callcenter.app import create_app
    from callcenter.web.access import bearer

    token = "a-metrics-token-of-the-test"
    for configured in (None, token):
        app = create_app(dataclasses.replace(settings, metrics_token=configured), database)
        # A probe route of this kind, beside /metrics: every bearer route is walked.
        app.add_url_rule("/probe", "bearer_probe", bearer("metrics_token")(lambda: "ok"))
        client = app.test_client()
        checked = 0
        for endpoint, method, path in _routes(app):
            if access_of(app, endpoint).kind != "bearer":
                continue
            assert method == "GET", f"{endpoint}: a bearer route only reads"
            answers = [client.open(path, method=method, headers=headers).status_code
                       for headers in ({}, {"Authorization": f"Bearer {token}x"},
                                       {"Authorization": f"Bearer {token[:-1]}"},
                                       {"Authorization": f"Basic {token}"},
                                       {"Authorization": f"Bearer {token}"})]
            if configured is None:
                assert answers == [404] * 5, endpoint
            else:
                assert answers == [401, 401, 401, 401, 200], endpoint
                assert client.open(path, method=method).headers["WWW-Authenticate"].startswith(
                    "Bearer")
            checked += 1
        assert checked >= 2


def test_widget_routes_refuse_other_origins_and_unknown_widgets(app, client, admin, database):
    """Every widget route: an unknown widget is 404 and another site's page 403, JSON with the
    error's code, no CORS header; the widget's own origin gets its CORS header."""
    from tests.test_widget_api import SITE, make_widget

    wid = make_widget(database)
    checked = 0
    for rule in app.url_map.iter_rules():
        if access_of(app, rule.endpoint).kind != "widget":
            continue
        for method in sorted(rule.methods - {"HEAD"}):
            unknown = client.open(rule.rule.replace("<wid>", "nosuchwidget").replace(
                "<token>", "x" * 24), method=method, json={}, headers={"Origin": SITE})
            assert unknown.status_code == 404 and unknown.json["error"] == "unknown_widget"
            path = rule.rule.replace("<wid>", wid).replace("<token>", "x" * 24)
            other = client.open(path, method=method, json={},
                                headers={"Origin": "https://elsewhere.example"})
            assert other.status_code == 403 and other.json["error"] == "origin_refused", path
            assert "Access-Control-Allow-Origin" not in other.headers
            own = client.open(path, method=method, json={}, headers={"Origin": SITE})
            assert own.headers["Access-Control-Allow-Origin"] == SITE, (path, method)
            assert own.status_code < 300 or own.status_code < 500 and "error" in own.json
            checked += 1
    assert checked >= 6
