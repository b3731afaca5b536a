"""Web logins kept on the server: a copied cookie is worthless after logout, logins idle out and
run out, the sweep keeps open pages alive and closes the ones whose login is gone, and logout,
sign-out everywhere and deactivation end logins and the agent's softphone. The switchboard is a
recording stand-in on a ManualClock (tests/switchboard/ and tests/test_live_socket.py use the
real one)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import delete, event, func, select

from callcenter.app import create_app
from callcenter.clock import ManualClock
from callcenter.config import ConfigError, Settings
from callcenter.models import Agent, AgentStatus, LoginSession, Role, SipCredential
from callcenter.sessions import login_key
from tests.conftest import AuthActions
from tests.test_credentials import RecordingBoard

pytestmark = pytest.mark.both_databases  # the tests that use the database run on both

FLUSH_1001 = "sofia profile internal flush_inbound_reg 1001@127.0.0.1"


class Board(RecordingBoard):
    """What the web layer asks of the switchboard about accounts (status and active), and the
    health the pages show."""

    def __init__(self, clock) -> None:
        super().__init__(clock)
        self.active: dict[int, bool] = {}
        self.logins: list[int] = []
        self.reloaded: list[int] = []

    def health(self) -> dict:
        return {"switch_connected": True, "database": "ok"}

    def reload_agent(self, agent_id):
        self.reloaded.append(agent_id)

    def queue_names(self) -> list[str]:
        return []       # the agent page's transfer-to-queue picker: no queues here

    def set_active(self, agent_id, active):
        self.active[agent_id] = active

    def agent_logged_in(self, agent_id):
        self.logins.append(agent_id)


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def board(clock):
    return Board(clock)


@pytest.fixture
def app(settings, database, board):
    app = create_app(settings, database, switchboard=board)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def alice(make_user, admin):
    return make_user("alice", Role.AGENT, "1001")


def browser(app, username: str | None = None):
    """A client of its own (its own cookie jar), logged in as username."""
    client = app.test_client()
    if username is not None:
        assert AuthActions(client).login(username).status_code == 302
    return client


def cookie_of(client) -> str:
    return client.get_cookie("callcenter_session").value


def token_of(app, client) -> str:
    return app.session_interface.get_signing_serializer(app).loads(cookie_of(client))["login"]


def signed_in(client) -> bool:
    status = client.get("/api/softphone").status_code
    assert status in (200, 401), status
    return status == 200


def test_a_cookie_copied_before_logout_is_worth_nothing_after(app, database, alice):
    page = browser(app, "alice")
    thief = app.test_client()
    thief.set_cookie("callcenter_session", cookie_of(page))
    assert signed_in(thief)                                  # the copy works while logged in
    assert AuthActions(page).logout().status_code == 302
    assert thief.get("/api/softphone").status_code == 401    # no SIP password for it
    refused = thief.get("/agent")
    assert refused.status_code == 302 and "/login" in refused.headers["Location"]
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(SipCredential)
                        .where(SipCredential.live_agent_id.is_not(None))) == 0
        assert s.scalar(select(func.count()).select_from(LoginSession)) == 0


def test_the_cookie_holds_a_token_and_the_server_the_login(app, database, clock, alice):
    client = browser(app, "alice")
    token = token_of(app, client)
    with database.session() as s:
        row = s.scalar(select(LoginSession))
        assert row.id == hashlib.sha256(token.encode()).hexdigest() != token
        assert row.user_id == alice and row.address == "127.0.0.1"
        assert row.user_agent.startswith("Werkzeug/")
        assert row.created_at.timestamp() == row.last_seen_at.timestamp() == clock.now()
        assert row.expires_at - row.created_at == timedelta(hours=12)
    assert "user_id" not in app.session_interface.get_signing_serializer(app).loads(
        cookie_of(client))


def test_a_login_idles_out_unless_used(app, clock, alice):
    client = browser(app, "alice")
    clock.advance(119 * 60)
    assert signed_in(client)                                 # seen: two more hours from now
    clock.advance(119 * 60)
    assert signed_in(client)
    clock.advance(121 * 60)
    assert not signed_in(client)
    assert client.get_cookie("callcenter_session") is None or "login" not in (
        app.session_interface.get_signing_serializer(app).loads(cookie_of(client)))


def test_a_login_used_all_along_still_ends_after_its_lifetime(app, clock, alice):
    client = browser(app, "alice")
    for _ in range(11):
        clock.advance(3600)
        assert signed_in(client)
    clock.advance(3599)
    assert signed_in(client)
    clock.advance(1)
    assert not signed_in(client)


def test_the_lifetimes_come_from_the_settings(env, database, make_user, admin):
    settings = Settings.from_env({**env, "CALLCENTER_SESSION_HOURS": "1",
                                  "CALLCENTER_SESSION_IDLE_MINUTES": "5"})
    clock = ManualClock()
    app = create_app(settings, database, switchboard=Board(clock))
    make_user("alice", Role.AGENT, "1001")
    client = browser(app, "alice")
    clock.advance(4 * 60)
    assert signed_in(client)
    clock.advance(5 * 60)
    assert not signed_in(client)


@pytest.mark.parametrize("name, value", [
    ("CALLCENTER_SESSION_HOURS", "0"), ("CALLCENTER_SESSION_HOURS", "169"),
    ("CALLCENTER_SESSION_HOURS", "twelve"), ("CALLCENTER_SESSION_IDLE_MINUTES", "4"),
    ("CALLCENTER_SESSION_IDLE_MINUTES", "1.5"),
])
def test_bad_lifetimes_are_refused_with_the_setting_named(env, name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({**env, name: value})


def test_defaults_are_twelve_hours_and_two_idle(settings):
    assert (settings.session_hours, settings.session_idle_minutes) == (12, 120)


def test_a_request_costs_one_select_and_a_write_at_most_each_minute(app, database, clock, alice):
    client = browser(app, "alice")
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement.split()[0])

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        assert client.get("/healthz").status_code == 200
        assert statements == ["SELECT"]
        clock.advance(61)
        statements.clear()
        assert client.get("/healthz").status_code == 200
        assert statements == ["SELECT", "UPDATE"]              # last seen, once a minute
        statements.clear()
        assert client.get("/healthz").status_code == 200
        assert statements == ["SELECT"]
    finally:
        event.remove(database.engine, "before_cursor_execute", count)


def test_logout_ends_that_login_only_and_the_softphone_with_the_last(app, board, alice):
    first, second = browser(app, "alice"), browser(app, "alice")
    AuthActions(first).logout()
    assert not signed_in(first) and signed_in(second)
    assert board.flushes == []                        # its other login still has it
    AuthActions(second).logout()
    assert not signed_in(second)
    assert board.flushes == [FLUSH_1001]
    assert board.statuses[-1][1] is AgentStatus.LOGGED_OUT


def admin_posts(app, path: str, data: dict | None = None):
    client = browser(app, "root")
    token = AuthActions(client).csrf("/admin/users")
    return client.post(path, data={"csrf_token": token, **(data or {})}, follow_redirects=True)


def test_an_admin_signs_a_user_out_everywhere(app, board, alice, make_user):
    make_user("bob", Role.AGENT, "1002")
    first, second, bob = browser(app, "alice"), browser(app, "alice"), browser(app, "bob")
    users = browser(app, "root").get("/admin/users").get_data(as_text=True)
    assert f'action="/admin/users/{alice}/signout"' in users
    done = admin_posts(app, f"/admin/users/{alice}/signout")
    assert done.status_code == 200
    assert "alice signed out everywhere (2 logins ended)" in done.get_data(as_text=True)
    assert not signed_in(first) and not signed_in(second) and signed_in(bob)
    assert board.flushes == [FLUSH_1001]
    assert admin_posts(app, "/admin/users/999/signout").status_code == 404


def test_deactivation_ends_logins_and_activation_lets_the_user_back(app, board, database,
                                                                     alice):
    client = browser(app, "alice")
    with database.session() as s:
        agent_id = s.scalar(select(Agent.id).where(Agent.user_id == alice))
    admin_posts(app, f"/admin/users/{alice}/active", {"active": "0"})
    assert not signed_in(client)
    assert board.active == {agent_id: False}
    assert board.flushes == [FLUSH_1001]
    assert (agent_id, AgentStatus.LOGGED_OUT) in board.statuses
    assert AuthActions(app.test_client()).login("alice").status_code == 401
    admin_posts(app, f"/admin/users/{alice}/active", {"active": "1"})
    assert board.active == {agent_id: True}
    assert signed_in(browser(app, "alice"))


def test_the_sweep_keeps_open_pages_alive_and_closes_those_whose_login_ended(
        app, board, database, clock, alice, make_user):
    make_user("bob", Role.AGENT, "1002")
    sessions = app.extensions["callcenter"].sessions
    open_page, idle = browser(app, "alice"), browser(app, "alice")
    bob = browser(app, "bob")
    closed: list[str] = []
    open_key = login_key(token_of(app, open_page))
    forget = sessions.sockets.add(open_key, alice, lambda: closed.append("alice"))
    sweeper = sessions.start_sweeper(seconds=30)
    try:
        clock.advance(121 * 60)
        with database.session() as s:
            assert s.scalars(select(LoginSession.id)).all() == [open_key]
        assert signed_in(open_page) and not signed_in(idle) and not signed_in(bob)
        assert closed == []
        assert board.flushes == ["sofia profile internal flush_inbound_reg "
                                         "1002@127.0.0.1"]        # bob's last login is gone
        with database.session() as s:                             # as `user signout` does
            s.execute(delete(LoginSession).where(LoginSession.user_id == alice))
        clock.advance(30)
        assert closed == ["alice"]
        assert board.flushes[-1] == FLUSH_1001
        assert sessions.sockets.keys() == set()
    finally:
        sweeper.stop()
        forget()


def test_a_login_waiting_on_the_writer_holds_no_pooled_connection(settings, database,
                                                                   make_user):
    """The request's own reads end before it waits on the database writer: a burst of logins
    must not empty the hub's connection pool while they wait."""
    from callcenter.models import User
    from callcenter.sessions import Lifetimes, Sessions

    user_id = make_user("ann")
    held: list[bool] = []

    class Writer:            # the switchboard's façade, as far as logins use it
        def run_write(self, work):
            held.append(request_session.in_transaction())
            with database.session() as writing:
                done = work(writing)
                writing.commit()
            return done

    sessions = Sessions(database, Lifetimes.of(settings), switchboard=Writer())
    with database.session() as request_session:
        user = request_session.get(User, user_id)       # the request's read opens a transaction
        token = sessions.start(request_session, user)
    assert held == [False]
    with database.session() as session:
        assert sessions.signed_in(session, token).user.id == user_id


def test_the_login_names_the_person_as_the_database_has_them_now(settings, database, make_user):
    """A request's user is read afresh with its login: role, own extension and agent, and a
    change made meanwhile (an admin's edit) is what the next request sees."""
    from callcenter.models import Role, User
    from callcenter.sessions import AgentRef, Lifetimes, Sessions

    agent_id, boss_id = make_user("ann"), make_user("bob", Role.SUPERVISOR, "2001")
    sessions = Sessions(database, Lifetimes.of(settings))
    with database.session() as session:
        ann, bob = (sessions.start(session, session.get(User, i)) for i in (agent_id, boss_id))
        extension = session.get(User, agent_id).agent.extension
    with database.session() as session:
        person = sessions.signed_in(session, ann).user
        assert (person.username, person.role) == ("ann", Role.AGENT)
        assert person.agent == AgentRef(session.get(User, agent_id).agent.id, extension)
        boss = sessions.signed_in(session, bob).user
        assert (boss.role, boss.extension, boss.agent) == (Role.SUPERVISOR, "2001", None)
    with database.session() as session:
        session.get(User, agent_id).role = Role.SUPERVISOR
        session.delete(session.get(User, agent_id).agent)
    with database.session() as session:
        person = sessions.signed_in(session, ann).user
        assert (person.role, person.agent) == (Role.SUPERVISOR, None)
