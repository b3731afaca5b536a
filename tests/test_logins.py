"""Logging in under attack: hashing off the hub, growing delays with 429, the client's address
through trusted proxies, a log line per failure, and `next` that never leaves the site."""

from __future__ import annotations

import logging
import threading

import gevent
import pytest

from callcenter import login_limits as limits
from callcenter import passwords
from callcenter.app import create_app
from callcenter.clock import ManualClock
from callcenter.config import Settings
from callcenter.login_limits import LoginLimiter
from callcenter.models import Role
from tests.conftest import PASSWORD, AuthActions

ATTACKER = "203.0.113.66"
DESK = "198.51.100.7"


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """The test client's peer (127.0.0.1) is a trusted reverse proxy here."""
    return {"CALLCENTER_INSTANCE_DIR": str(tmp_path / "instance"),
            "CALLCENTER_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"}


@pytest.fixture
def clock(app):
    clock = ManualClock()
    app.extensions["callcenter"].login_limiter = LoginLimiter(clock)
    return clock


def log_in(client, username: str, password: str = PASSWORD, address: str | None = None,
           next_: str | None = None):
    token = AuthActions(client).csrf("/login")
    headers = {"X-Forwarded-For": address} if address else {}
    path = "/login" if next_ is None else "/login?next=" + next_
    return client.post(path, data={"username": username, "password": password,
                                   "csrf_token": token}, headers=headers)


# -- hashing never runs on the hub ------------------------------------------------------------


def test_a_login_lets_the_hub_serve_while_its_password_is_checked(client, admin, make_user,
                                                                  database):
    """A greenlet standing for everything else the hub serves (calls, pages, the switch link)
    keeps running while a wrong password is being checked; before, it stood still."""
    from werkzeug.security import generate_password_hash

    from callcenter.models import User

    user_id = make_user("alice")
    with database.session() as session:  # the product's own hash cost, not the tests' quick one
        session.get(User, user_id).password_hash = generate_password_hash(PASSWORD)
    AuthActions(client).csrf("/login")       # imports and first requests: not measured
    ticks = []

    def others():
        while True:
            ticks.append(1)
            gevent.sleep(0.002)

    ticker = gevent.spawn(others)
    gevent.sleep(0)
    try:
        ticks.clear()
        response = log_in(client, "alice", "wrong-password")
    finally:
        ticker.kill()
    assert response.status_code == 401
    # scrypt takes tens of milliseconds: a ticker every 2 ms ran several times meanwhile.
    assert len(ticks) >= 5, ticks


def test_hashes_are_made_and_checked_in_another_os_thread(monkeypatch):
    seen = []
    real = passwords.check_password_hash

    def spy(stored, password):
        seen.append(threading.get_native_id())
        return real(stored, password)

    monkeypatch.setattr(passwords, "check_password_hash", spy)
    stored = passwords.hash_password("Tr1cky-Horse-42")
    assert passwords.verify_password(stored, "Tr1cky-Horse-42")
    assert not passwords.verify_password(stored, "wrong")
    assert not passwords.verify_password(None, "Tr1cky-Horse-42")   # unknown user: hashed too
    assert len(seen) == 3 and threading.get_native_id() not in seen


def test_a_login_holds_no_database_connection_while_its_password_is_checked(
        client, admin, make_user, database, monkeypatch):
    """Queued logins must not starve the requests behind them of database connections."""
    make_user("alice")
    held = []
    real = passwords.check_password_hash

    def spy(stored, password):
        held.append(database.engine.pool.checkedout())
        return real(stored, password)

    monkeypatch.setattr(passwords, "check_password_hash", spy)
    assert log_in(client, "alice").status_code == 302
    assert held == [0]


# -- growing delays -----------------------------------------------------------------------------


def test_repeated_failures_get_429_with_retry_after_and_a_clear_message(
        client, admin, make_user, clock):
    make_user("alice")
    for _ in range(limits.PAIR_FREE):
        assert log_in(client, "alice", "wrong-password", ATTACKER).status_code == 401
    refused = log_in(client, "alice", PASSWORD, ATTACKER)   # even the right one, for now
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "2"
    assert "Too many failed logins from your address. Wait 2 s" in refused.get_data(as_text=True)
    assert client.get("/agent").status_code == 302              # not logged in
    clock.advance(2)
    assert log_in(client, "alice", "wrong-password", ATTACKER).status_code == 401
    assert log_in(client, "alice", PASSWORD, ATTACKER).headers["Retry-After"] == "4"


def test_nobody_can_lock_an_agent_out_from_elsewhere(client, admin, make_user, clock):
    make_user("alice")
    for _ in range(limits.PAIR_FREE + limits.ADDRESS_FREE):
        log_in(client, "alice", "wrong-password", ATTACKER)
    assert log_in(client, "alice", "wrong-password", ATTACKER).status_code == 429
    response = log_in(client, "alice", PASSWORD, DESK)
    assert response.status_code == 302 and "Retry-After" not in response.headers


def test_x_forwarded_for_is_ignored_from_an_untrusted_peer(client, admin, make_user, clock):
    """From 192.0.2.9 (not a trusted proxy) the header is the client's own word: every attempt
    counts against the peer, whatever address it claims."""
    make_user("alice")
    peer = {"REMOTE_ADDR": "192.0.2.9"}
    token = AuthActions(client).csrf("/login")
    for n in range(limits.PAIR_FREE):
        client.post("/login", data={"username": "alice", "password": "wrong-password",
                                    "csrf_token": token},
                    headers={"X-Forwarded-For": f"198.51.100.{n}"}, environ_base=peer)
    response = client.post("/login", data={"username": "alice", "password": PASSWORD,
                                           "csrf_token": token},
                           headers={"X-Forwarded-For": "198.51.100.200"}, environ_base=peer)
    assert response.status_code == 429


def test_every_failed_login_is_logged_with_the_address(client, admin, make_user, caplog):
    make_user("alice")
    with caplog.at_level(logging.WARNING, logger="callcenter.web.logins"):
        log_in(client, "alice", "wrong-password", ATTACKER)
        log_in(client, "nobody", "wrong-password", "10.1.2.3, " + DESK)
        log_in(client, "alice", PASSWORD, DESK)
    lines = [r.getMessage() for r in caplog.records if r.name == "callcenter.web.logins"]
    assert lines == [f"failed login for 'alice' from {ATTACKER}",
                     f"failed login for 'nobody' from {DESK}"]


def test_limits_off_never_refuses(tmp_path, database, make_user):
    settings = Settings.from_env({"CALLCENTER_INSTANCE_DIR": str(tmp_path / "instance"),
                                  "CALLCENTER_LOGIN_LIMITS": "off"})
    app = create_app(settings, database)
    client = app.test_client()
    make_user("root", Role.ADMIN)
    make_user("alice")
    codes = {log_in(client, "alice", "wrong-password").status_code
             for _ in range(limits.PAIR_FREE + 2)}
    assert codes == {401}
    assert log_in(client, "alice").status_code == 302


# -- where a login leads ------------------------------------------------------------------------


@pytest.mark.parametrize("hostile", [
    "//evil.example", "//evil.example/x", "/%09/evil.example", "/%0d%0aX:1", "/%0aX:1",
    "/\\evil.example", "/%5Cevil.example", "\\\\evil.example", "https://evil.example",
    "https:evil.example", "javascript:alert(1)", "evil.example", "%2F%2Fevil.example",
    "/%00/evil.example", "/%7F/evil.example", "%20//evil.example", "/%E3%80%80/evil.example",
    "///evil.example", "/ /evil.example", "",
])
def test_next_never_leads_off_the_site(client, admin, make_user, hostile):
    make_user("alice", Role.SUPERVISOR)
    response = log_in(client, "alice", next_=hostile)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/agent", "/records?page=2&q=a%20b", "/admin/users#top"])
def test_next_leads_to_a_page_of_the_site(client, admin, make_user, target):
    from urllib.parse import quote

    make_user("alice", Role.SUPERVISOR)
    response = log_in(client, "alice", next_=quote(target, safe=""))
    assert response.headers["Location"] == target


def test_a_login_records_the_client_address_behind_a_trusted_proxy(client, admin, make_user,
                                                                   database):
    from sqlalchemy import select

    from callcenter.models import LoginSession

    make_user("alice")
    assert log_in(client, "alice", address=f"10.1.2.3, {DESK}").status_code == 302
    with database.session() as s:
        assert s.scalars(select(LoginSession.address)).all() == [DESK]
