"""Wall display tokens: stored hashed, shown once, revocable; /wallboard and /live take them
(read-only), the admin page and the command line make and revoke them."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from callcenter import displays
from callcenter.audit import CLI
from callcenter.errors import InvalidInput, NotFound
from callcenter.models import AuditEntry, DisplayToken, Role, User
from callcenter.web.live import display_topics
from tests.test_cli import run

pytestmark = pytest.mark.both_databases


def audit_rows(database) -> list[tuple]:
    """The audit log's rows about display tokens."""
    with database.session() as session:
        return [(e.user_id, e.actor, e.action, e.target, json.loads(e.before or "null"),
                 json.loads(e.after or "null"))
                for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
                if e.action.startswith("display_token.")]


def test_a_token_is_stored_hashed_valid_until_revoked(database):
    with database.session() as session:
        row, token = displays.create(session, "  Sales floor TV ", who=CLI)
        session.commit()
        assert re.fullmatch(r"dsp_[A-Za-z0-9_-]{32}", token)
        assert row.name == "Sales floor TV" and row.token_hash == displays.token_hash(token)
        stored = session.scalar(select(DisplayToken))
        assert token not in (stored.token_hash, stored.name), "only its hash is kept"
        assert displays.valid(session, token).id == row.id
        for wrong in (None, "", token[:-1], token + "x", "dsp_" + "A" * 32, "<script>"):
            assert displays.valid(session, wrong) is None, wrong
        assert row.created_by == "cli"
        displays.revoke(session, row.id, who=CLI)
        displays.revoke(session, row.id, who=CLI)         # again: nothing more happens
        session.commit()
        assert displays.valid(session, token) is None
        assert displays.all_tokens(session)[0].revoked_at is not None
    target = f"display {row.id} (Sales floor TV)"
    assert audit_rows(database) == [
        (None, "cli", "display_token.create", target, None, {"state": "active"}),
        (None, "cli", "display_token.revoke", target, {"state": "active"}, {"state": "revoked"})]


def test_bad_names_and_unknown_ids_are_refused(database):
    with database.session() as session:
        for name in ("", "   ", "x" * 65, "<b>tv</b>", "tv\nnext"):
            with pytest.raises(InvalidInput, match="where it hangs"):
                displays.create(session, name, who=CLI)
        with pytest.raises(NotFound, match="no display token 9"):
            displays.revoke(session, 9, who=CLI)
        assert displays.all_tokens(session) == []
    assert audit_rows(database) == [], "a refused change writes no audit row"


def make_display(database, name="Wall") -> tuple[int, str]:
    with database.session() as session:
        row, token = displays.create(session, name, who=CLI)
        session.commit()
        return row.id, token


def test_the_wallboard_opens_with_a_token_and_not_without(client, database, auth, admin,
                                                          make_user):
    refused = client.get("/wallboard")
    assert refused.status_code == 401 and b"address an admin gives it" in refused.data
    display_id, token = make_display(database)
    opened = client.get(f"/wallboard?token={token}")
    # The token leaves the address for an HttpOnly cookie.
    assert opened.status_code == 302 and opened.headers["Location"].endswith("/wallboard")
    cookie = opened.headers["Set-Cookie"]
    assert cookie.startswith(f"{displays.COOKIE}={token}") and "HttpOnly" in cookie
    page = client.get("/wallboard")
    assert page.status_code == 200 and b'id="wall"' in page.data
    with database.session() as session:
        displays.revoke(session, display_id, who=CLI)
        session.commit()
    gone = client.get("/wallboard")
    assert gone.status_code == 401 and b"revoked or is unknown" in gone.data
    # A supervisor previews it with a login; an agent may not.
    client.delete_cookie(displays.COOKIE)
    make_user("sam", Role.SUPERVISOR)
    auth.login("sam")
    assert client.get("/wallboard").status_code == 200
    auth.logout()
    make_user("alice", Role.AGENT, extension="1000")
    auth.login("alice")
    assert client.get("/wallboard").status_code == 403


def test_a_display_token_opens_the_live_socket_but_no_other_route(app, client, database, admin):
    from callcenter.web.access import access_of
    from tests.test_routes import _routes

    _, token = make_display(database)
    client.set_cookie(displays.COOKIE, token)
    live = client.get("/live", headers={"Origin": "http://localhost"})
    assert live.status_code == 426          # let in: only the upgrade is missing
    assert client.get("/live", headers={"Origin": "https://evil.example"}).status_code == 403
    for endpoint, method, path in _routes(app):
        access = access_of(app, endpoint)
        if access.kind == "session" and not access.displays:
            response = client.open(path, method=method)
            assert response.status_code in (302, 400, 401), (endpoint, method)


def test_a_display_hears_every_queue_and_the_figures(database):
    from callcenter.models import Queue

    with database.session() as session:
        session.add_all([Queue(name="sales"), Queue(name="support")])
        session.commit()
        ids = session.scalars(select(Queue.id)).all()
        assert display_topics(session) == {"figures", *(f"queue:{i}" for i in ids)}


def test_the_admin_page_creates_shows_once_and_revokes(client, auth, admin, database):
    auth.login(admin)
    token = auth.csrf("/admin/displays")
    made = client.post("/admin/displays", data={"name": "Lobby", "csrf_token": token})
    assert made.status_code == 200
    url = re.search(rb'value="(http://[^"]+/wallboard\?token=(dsp_[\w-]+))"', made.data)
    assert url is not None
    listed = client.get("/admin/displays")
    assert b"Lobby" in listed.data and url.group(2) not in listed.data, "shown once"
    bad = client.post("/admin/displays", data={"name": "<x>", "csrf_token": token})
    assert bad.status_code == 422 and b"where it hangs" in bad.data
    with database.session() as session:
        display_id = session.scalar(select(DisplayToken.id))
    revoked = client.post(f"/admin/displays/{display_id}/revoke", data={"csrf_token": token},
                          follow_redirects=True)
    assert b"Display Lobby revoked." in revoked.data
    with database.session() as session:
        assert displays.valid(session, url.group(2).decode()) is None
        admin_id = session.scalar(select(User.id).where(User.username == admin))
        assert session.get(DisplayToken, display_id).created_by == admin
    target = f"display {display_id} (Lobby)"
    assert audit_rows(database) == [
        (admin_id, admin, "display_token.create", target, None, {"state": "active"}),
        (admin_id, admin, "display_token.revoke", target, {"state": "active"},
         {"state": "revoked"})]


@pytest.mark.slow
@pytest.mark.sqlite_only("the command line runs in its own process on the test's SQLite file")
def test_the_command_line_adds_and_revokes_as_cli(env, database):
    added = run(["display-token", "add", "Lobby"], env)
    assert added.returncode == 0, added.stderr
    with database.session() as session:
        row = session.scalar(select(DisplayToken))
        assert row.created_by == "cli"
    assert run(["display-token", "revoke", str(row.id)], env).returncode == 0
    assert [entry[:3] for entry in audit_rows(database)] == [
        (None, "cli", "display_token.create"), (None, "cli", "display_token.revoke")]
