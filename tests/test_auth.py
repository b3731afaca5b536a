"""First run, login, logout, CSRF and session cookie flags."""

from __future__ import annotations

from sqlalchemy import func, select

from callcenter.models import Role, User
from tests.conftest import PASSWORD


def test_first_visit_goes_to_setup_until_an_admin_exists(client, auth, database):
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/setup")
    assert client.get("/login").status_code == 302          # every page leads to setup
    token = auth.csrf("/setup")
    response = client.post("/setup", data={"username": "boss", "password": PASSWORD,
                                           "confirm": PASSWORD, "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    with database.session() as s:
        assert s.scalar(select(User.role).where(User.username == "boss")) is Role.ADMIN
    assert client.get("/setup").status_code == 404           # gone for good
    assert auth.login("boss").status_code == 302
    assert "boss (admin)" in client.get("/").get_data(as_text=True)


def test_setup_refuses_weak_password_and_writes_nothing(client, auth, database):
    token = auth.csrf("/setup")
    for password, confirm, expected in (("", "", "password is empty"),
                                        ("abc", "abc", "too short"),
                                        ("password123", "password123", "too easy"),
                                        (PASSWORD, PASSWORD + "x", "differ")):
        response = client.post("/setup", data={"username": "boss", "password": password,
                                               "confirm": confirm, "csrf_token": token})
        assert response.status_code == 400
        assert expected in response.get_data(as_text=True)
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 0


def test_setup_without_csrf_token_is_refused(client, database):
    client.get("/setup")
    response = client.post("/setup", data={"username": "boss", "password": PASSWORD,
                                           "confirm": PASSWORD})
    assert response.status_code == 400
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 0


def test_login_logout(client, auth, admin, make_user):
    make_user("alice", Role.AGENT, "1001")
    assert auth.login("alice", "wrong-password").status_code == 401
    response = auth.login("alice")
    assert response.status_code == 302
    page = client.get("/agent").get_data(as_text=True)
    assert 'id="extension">1001<' in page
    assert auth.logout().status_code == 302
    assert client.get("/agent").status_code == 302          # back to login


def test_inactive_user_cannot_log_in_and_is_logged_out(client, auth, admin, make_user, database):
    user_id = make_user("alice")
    auth.login("alice")
    assert client.get("/agent").status_code == 200
    with database.session() as s:
        s.get(User, user_id).active = False
    assert client.get("/agent").status_code == 302
    assert auth.login("alice").status_code == 401


def test_login_redirect_never_leaves_the_site(client, auth, admin, make_user):
    make_user("alice")
    token = auth.csrf("/login")
    response = client.post("/login?next=//evil.example/x",
                           data={"username": "alice", "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/"


def test_session_cookie_flags(tmp_path, database):
    from callcenter.app import create_app
    from callcenter.config import Settings

    plain = create_app(Settings.from_env({"CALLCENTER_INSTANCE_DIR": str(tmp_path)}), database)
    assert plain.config["SESSION_COOKIE_HTTPONLY"] is True
    assert plain.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert plain.config["SESSION_COOKIE_SECURE"] is False
    secure = create_app(Settings.from_env({"CALLCENTER_INSTANCE_DIR": str(tmp_path),
                                           "CALLCENTER_PUBLIC_URL": "https://cc.example.com"}),
                        database)
    assert secure.config["SESSION_COOKIE_SECURE"] is True
    client = secure.test_client()
    cookie = client.get("/setup").headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie


def test_admin_adds_agent_and_errors_are_clear(client, auth, admin, database):
    auth.login(admin)
    token = auth.csrf("/admin/users")
    ok = client.post("/admin/users", data={"username": "Carol", "password": PASSWORD,
                                           "role": "agent", "extension": "1005",
                                           "csrf_token": token})
    assert ok.status_code == 302
    for data, message in (
        ({"username": "carol", "role": "agent", "extension": "1006"}, "is taken"),
        ({"username": "dave", "role": "agent", "extension": "1005"}, "already belongs"),
        ({"username": "dave", "role": "boss", "extension": "1007"}, "unknown role"),
        ({"username": "dave", "role": "agent", "extension": "10a"}, "extension: only digits, 2-10"),
        ({"username": "dave", "role": "agent"}, "needs a SIP extension"),
        ({"username": "d ave", "role": "agent", "extension": "1008"}, "username must be"),
    ):
        response = client.post("/admin/users", data={"password": PASSWORD, "csrf_token": token,
                                                     **data})
        assert response.status_code == 400
        assert message in response.get_data(as_text=True)
    with database.session() as s:
        assert s.scalars(select(User.username).order_by(User.username)).all() == ["carol", "root"]


def test_database_error_is_a_clear_503(client, auth, admin, database, monkeypatch):
    from sqlalchemy.exc import OperationalError

    auth.login(admin)
    token = auth.csrf("/admin/users")

    def broken(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr("callcenter.accounts.add_user", broken)
    response = client.post("/admin/users", data={"username": "eve", "password": PASSWORD,
                                                 "role": "supervisor", "csrf_token": token})
    assert response.status_code == 503
    assert "nothing was saved" in response.get_data(as_text=True)
