"""Per-login SIP credentials: issue, share with a second tab, keep alive, expire, revoke; the
password is nowhere in the database. The switchboard is a recording stand-in here, with and
without a database writer (tests/switchboard/test_softphone_credentials.py uses the real one)."""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta

import gevent
import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import OperationalError

from callcenter.clock import ManualClock
from callcenter.credentials import (
    Credentials,
    Why,
    keep_alive_while_open,
    start_sweeper,
)
from callcenter.esl import commands
from callcenter.models import Agent, AgentStatus, Role, SipCredential, User
from tests.conftest import AuthActions

DOMAIN = "cc.example.com"


class RecordingBoard:
    """The two things revocation asks of the switchboard: flush a registration (recorded as the
    command the switchboard sends for it) and set the agent's status."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self.flushes: list[str] = []
        self.statuses: list[tuple[int, AgentStatus]] = []

    def flush_registration(self, extension, domain, profile="internal"):
        self.flushes.append(commands.flush_inbound_reg(profile, extension, domain))

    def set_status(self, agent_id, status):
        self.statuses.append((agent_id, status))


class WritingBoard(RecordingBoard):
    """...that also has the real switchboard's database writer: `run_write(work)` runs `work`
    in another OS thread, in a transaction of its own committed after it."""

    def __init__(self, clock, database) -> None:
        super().__init__(clock)
        self.database = database
        self.writes = 0

    def run_write(self, work):
        self.writes += 1

        def in_the_writer():
            with self.database.session() as session:
                return work(session)
        return gevent.get_hub().threadpool.apply(in_the_writer)


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture(params=["no writer", "writer"])
def board(request, clock, database):
    return RecordingBoard(clock) if request.param == "no writer" else \
        WritingBoard(clock, database)


@pytest.fixture
def credentials(board):
    return Credentials("server-secret", DOMAIN, switchboard=board)


@pytest.fixture
def agent(make_user, database):
    make_user("alice", Role.AGENT, extension="1001")
    with database.session() as s:
        agent = s.scalar(select(Agent).join(User).where(User.username == "alice"))
        s.expunge(agent)
        return agent


def md5(text_: str) -> str:
    return hashlib.md5(text_.encode(), usedforsecurity=False).hexdigest()


def everything_stored(database) -> str:
    """Every value of every row of every table, as one text."""
    with database.engine.connect() as conn:
        tables = [r[0] for r in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type='table'")]
        return "\n".join(repr(row) for table in tables
                         for row in conn.execute(text(f'SELECT * FROM "{table}"')))  # noqa: S608


def test_issue_stores_the_a1_hash_never_the_password(credentials, agent, database, clock):
    with database.session() as s:
        phone = credentials.issue(s, agent)
    assert (phone.extension, phone.domain) == ("1001", DOMAIN)
    assert len(phone.password) >= 20
    assert phone.expires_at.timestamp() == clock.now() + 12 * 3600
    with database.session() as s:
        row = s.scalar(select(SipCredential))
        assert row.a1_hash == md5(f"1001:{DOMAIN}:{phone.password}")
        assert (row.live_agent_id, row.revoked_at) == (agent.id, None)
    assert phone.password not in everything_stored(database)


def test_issue_again_shares_the_live_credential(credentials, agent, database):
    with database.session() as s:
        first = credentials.issue(s, agent)
        second = credentials.issue(s, agent)
        assert credentials.current(s, agent) == first
        assert len(s.scalars(select(SipCredential)).all()) == 1
    assert second == first


def test_another_secret_key_gives_nothing_away_and_replaces_the_credential(
        credentials, board, agent, database, clock):
    with database.session() as s:
        first = credentials.issue(s, agent)
        rotated = Credentials("another-secret", DOMAIN, switchboard=board)
        assert rotated.current(s, agent) is None      # cannot derive a password that works
        second = rotated.issue(s, agent)
        assert second.password != first.password
        old = s.scalar(select(SipCredential).where(SipCredential.live_agent_id.is_(None)))
        assert old.revoked_why == Why.REPLACED
        assert rotated.lookup(s, "1001", DOMAIN).a1_hash == md5(
            f"1001:{DOMAIN}:{second.password}")


def test_keep_alive_pushes_the_expiry_on_but_never_revives(credentials, agent, database, clock):
    with database.session() as s:
        credentials.issue(s, agent)
        clock.advance(11 * 3600)
        extended = credentials.keep_alive(s, agent.id)
        assert extended.timestamp() == clock.now() + 12 * 3600
        clock.advance(12 * 3600)
        assert credentials.keep_alive(s, agent.id) is None
        assert credentials.lookup(s, "1001", DOMAIN) is None


def test_an_open_page_keeps_it_alive_and_a_closed_one_lets_it_expire(
        credentials, board, agent, database, clock):
    with database.session() as s:
        credentials.issue(s, agent)
    keeper = keep_alive_while_open(credentials, database, agent.id, seconds=300)
    clock.advance(30 * 3600)                   # the page stays open for 30 hours
    with database.session() as s:
        assert credentials.lookup(s, "1001", DOMAIN) is not None
    keeper.stop()                              # the page is closed
    clock.advance(12 * 3600 - 1)
    with database.session() as s:
        assert credentials.lookup(s, "1001", DOMAIN) is not None
    clock.advance(1)
    with database.session() as s:
        assert credentials.lookup(s, "1001", DOMAIN) is None
    assert clock.pending == 0


def test_expiry_revokes_flushes_and_logs_the_agent_out(credentials, board, agent, database,
                                                       clock):
    with database.session() as s:
        old = credentials.issue(s, agent)
    sweeper = start_sweeper(credentials, database, seconds=60)
    clock.advance(12 * 3600 - 60)
    assert board.flushes == [] and board.statuses == []
    clock.advance(60)
    assert board.flushes == [f"sofia profile internal flush_inbound_reg 1001@{DOMAIN}"]
    assert board.statuses == [(agent.id, AgentStatus.LOGGED_OUT)]
    with database.session() as s:
        row = s.scalar(select(SipCredential))
        assert (row.live_agent_id, row.revoked_why) == (None, Why.EXPIRED)
        assert credentials.lookup(s, "1001", DOMAIN) is None
        fresh = credentials.issue(s, agent)         # the next login: a new password
    assert fresh.password != old.password
    clock.advance(600)
    assert len(board.flushes) == 1           # revoked once only
    sweeper.stop()


def test_revoke_flushes_and_logs_out_even_without_a_credential(credentials, board, agent,
                                                               database):
    with database.session() as s:
        assert credentials.revoke(s, agent.id) is False
    assert board.flushes == [] and board.statuses == [(agent.id, AgentStatus.LOGGED_OUT)]
    with database.session() as s:
        credentials.issue(s, agent)
        assert credentials.revoke(s, agent.id) is True
        assert credentials.lookup(s, "1001", DOMAIN) is None
    assert board.flushes == [f"sofia profile internal flush_inbound_reg 1001@{DOMAIN}"]


def test_with_a_writer_no_credential_write_runs_on_the_hub(agent, database, clock):
    board = WritingBoard(clock, database)
    credentials = Credentials("server-secret", DOMAIN, switchboard=board)
    hub = threading.get_native_id()
    on_the_hub: list[str] = []

    def seen(conn, cursor, statement, *args):
        if threading.get_native_id() == hub and statement.split()[0] in {
                "INSERT", "UPDATE", "DELETE"}:
            on_the_hub.append(statement)
    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        with database.session() as s:
            credentials.issue(s, agent)                 # one write: the new credential
            credentials.issue(s, agent)                 # shared: no write
            credentials.keep_alive(s, agent.id)
            clock.advance(13 * 3600)
            assert credentials.sweep(s) == [agent.id]   # expired: revoked by the writer
            credentials.issue(s, agent)
            assert credentials.revoke(s, agent.id) is True
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
    assert board.writes == 5
    assert on_the_hub == []
    assert board.statuses == [(agent.id, AgentStatus.LOGGED_OUT)] * 2
    assert len(board.flushes) == 2


def test_revoked_rows_are_forgotten_after_thirty_days(credentials, agent, database, clock):
    with database.session() as s:
        credentials.issue(s, agent)
        credentials.revoke(s, agent.id)
        credentials.issue(s, agent)
        clock.advance(31 * 86400)
        credentials.keep_alive(s, agent.id)
        credentials.sweep(s)
        assert [r.revoked_why for r in s.scalars(select(SipCredential))] == [Why.EXPIRED]


class FlakyDatabase:
    """The database, unreachable for its first `failures` sessions."""

    def __init__(self, database, failures: int) -> None:
        self.database, self.failures = database, failures

    def session(self):
        if self.failures > 0:
            self.failures -= 1
            raise OperationalError("SELECT", {}, Exception("database unreachable"))
        return self.database.session()


def test_the_sweep_goes_on_after_a_database_error(credentials, board, agent, database, clock):
    with database.session() as s:
        credentials.issue(s, agent)
    flaky = FlakyDatabase(database, failures=3)
    sweeper = start_sweeper(credentials, flaky, seconds=60)      # fails at once, then twice
    clock.advance(12 * 3600)
    assert flaky.failures == 0
    assert board.statuses == [(agent.id, AgentStatus.LOGGED_OUT)]
    sweeper.stop()


# -- through the web: login issues, a second tab shares, logout revokes -------------------------


def softphone(client):
    reply = client.get("/api/softphone")
    assert reply.status_code == 200, reply.json
    return reply.json


def test_the_softphone_gets_what_it_registers_with(app, client, auth, admin, make_user,
                                                   settings):
    make_user("alice", Role.AGENT, extension="1001")
    assert client.get("/api/softphone").status_code == 401
    auth.login("alice")
    reply = client.get("/api/softphone")
    assert reply.headers["Cache-Control"] == "no-store"
    phone = reply.json
    assert set(phone) == {"extension", "domain", "wss_url", "password", "expires_at",
                          "ice_servers", "simulated"}
    assert (phone["extension"], phone["domain"], phone["wss_url"], phone["ice_servers"],
            phone["simulated"]) == ("1001", settings.sip_domain, settings.softphone_wss_url,
                                    [], True)


def test_a_user_without_an_extension_has_no_softphone(client, auth, admin, make_user, database):
    make_user("sam", Role.SUPERVISOR)
    auth.login("sam")
    reply = client.get("/api/softphone")
    assert reply.status_code == 403 and "extension" in reply.json["error"]
    with database.session() as s:
        assert s.scalars(select(SipCredential)).all() == []


def test_login_issues_and_a_second_tab_or_login_shares_it(app, admin, make_user, database):
    make_user("alice", Role.AGENT, extension="1001")
    first = app.test_client()
    AuthActions(first).login("alice")
    with database.session() as s:
        assert len(s.scalars(select(SipCredential)).all()) == 1      # issued at login
    phone = softphone(first)
    assert softphone(first) == phone                                 # a second tab
    other = app.test_client()                                        # another login
    AuthActions(other).login("alice")
    assert softphone(other) == phone
    with database.session() as s:
        assert len(s.scalars(select(SipCredential)).all()) == 1
    assert phone["password"] not in everything_stored(database)
    cookie = first.get_cookie("callcenter_session")
    assert phone["password"] not in cookie.value


def test_logout_revokes_and_logs_the_agent_out(app, admin, make_user, database):
    make_user("alice", Role.AGENT, extension="1001")
    client = app.test_client()
    auth = AuthActions(client)
    auth.login("alice")
    with database.session() as s:
        s.execute(text("UPDATE agents SET status = 'available'"))
    auth.logout()
    with database.session() as s:
        row = s.scalar(select(SipCredential))
        assert (row.live_agent_id, row.revoked_why) == (None, Why.LOGOUT)
        assert s.scalar(select(Agent.status)) is AgentStatus.LOGGED_OUT


def test_lifetime_is_twelve_hours_by_default():
    assert Credentials("k", DOMAIN).lifetime == timedelta(hours=12)
    with pytest.raises(ValueError, match="secret key"):
        Credentials("", DOMAIN)


def test_an_admin_changes_a_supervisors_extension_in_the_browser(app, admin, make_user,
                                                                  database):
    """The Users page sets a supervisor's own extension with the same uniqueness check as the
    command line; the credential issued for the old one is revoked, and the next is for the
    new one."""
    make_user("alice", Role.AGENT, extension="1001")
    sue = make_user("sue", Role.SUPERVISOR, extension="2001")
    phone_client = app.test_client()
    AuthActions(phone_client).login("sue")
    assert softphone(phone_client)["extension"] == "2001"

    client = app.test_client()
    auth = AuthActions(client)
    auth.login(admin)
    token = auth.csrf("/admin/users")
    page = client.get("/admin/users").get_data(as_text=True)
    assert f'id="extension-{sue}" name="extension" value="2001"' in page

    taken = client.post(f"/admin/users/{sue}/extension",
                        data={"extension": "1001", "csrf_token": token})
    assert taken.status_code == 400
    page = taken.get_data(as_text=True)
    assert f'id="extension-error-{sue}" class="error" role="alert">extension 1001 already ' \
           "belongs to another user" in page
    bad = client.post(f"/admin/users/{sue}/extension", data={"extension": "2x",
                                                              "csrf_token": token})
    assert bad.status_code == 400
    with database.session() as s:
        assert s.get(User, sue).extension == "2001"     # refused: nothing changed
        assert s.scalar(select(SipCredential.revoked_why)) is None

    moved = client.post(f"/admin/users/{sue}/extension",
                        data={"extension": "2005", "csrf_token": token})
    assert moved.status_code == 302
    with database.session() as s:
        assert s.get(User, sue).extension == "2005"
        assert s.scalar(select(SipCredential.revoked_why)) == Why.REPLACED
    assert softphone(phone_client)["extension"] == "2005"
    assert client.post(f"/admin/users/{sue}/extension",
                       data={"extension": "", "csrf_token": token}).status_code == 302
    with database.session() as s:
        assert s.get(User, sue).extension is None
    alice = database_user_id(database, "alice")
    assert client.post(f"/admin/users/{alice}/extension",
                       data={"extension": "1009", "csrf_token": token}).status_code == 400


def database_user_id(database, username):
    with database.session() as s:
        return s.scalar(select(User.id).where(User.username == username))
