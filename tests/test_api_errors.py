"""Every /api answer is JSON, errors included; the rest of the site keeps HTML error pages."""

from __future__ import annotations

import pytest

from callcenter.models import Role


@pytest.fixture
def logged_in(client, auth, admin, make_user):
    make_user("alice", Role.AGENT, "1001")
    auth.login("alice")
    return auth.csrf("/agent")


def _json_error(response, code: int) -> str:
    assert response.status_code == code
    assert response.mimetype == "application/json", response.get_data(as_text=True)[:200]
    return response.get_json()["error"]


def test_unknown_api_paths_answer_json_404(client, logged_in):
    assert _json_error(client.get("/api/no-such-thing"), 404)
    assert _json_error(client.get("/api"), 404)
    assert _json_error(client.get("/api/calls/x/y/z"), 404)


def test_wrong_method_answers_json_405_with_allow(client, logged_in):
    response = client.delete("/api/softphone", headers={"X-CSRF-Token": logged_in})
    assert _json_error(response, 405)
    assert "GET" in response.headers["Allow"]


def test_too_large_answers_json_413(client, logged_in):
    body = b'{"number": "' + b"1" * (5 * 1024 * 1024) + b'"}'
    response = client.post("/api/calls", data=body, content_type="application/json",
                           headers={"X-CSRF-Token": logged_in})
    assert "too large" in _json_error(response, 413)


def test_a_crash_answers_json_500(app, client, logged_in, monkeypatch):
    app.config["PROPAGATE_EXCEPTIONS"] = False     # as when serving: the handler answers

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("callcenter.web.api._board", broken)
    response = client.put("/api/agents/me/status", json={"status": "available"},
                          headers={"X-CSRF-Token": logged_in})
    message = _json_error(response, 500)
    assert "boom" not in message                   # no internals in the answer


def test_pages_keep_html_errors(app, client, logged_in):
    assert client.get("/no-such-page").mimetype == "text/html"
    assert client.get("/no-such-page").status_code == 404
    response = client.post("/login", data={"x": "y" * (5 * 1024 * 1024)})
    assert response.status_code == 413 and response.mimetype == "text/html"
