"""Shared fixtures in the style of Flask's tutorial: a throwaway database per test, an app, a
client, and `auth` to log in as a user of any role."""

from __future__ import annotations

import itertools
import re
import uuid

import pytest

from callcenter import db as dbmod
from callcenter.accounts import create_user
from callcenter.app import create_app
from callcenter.config import Settings
from callcenter.models import Role

PASSWORD = "Tr1cky-Horse-42"


@pytest.fixture(scope="session")
def postgres_server():
    from tests.postgres import PostgresServer

    server = PostgresServer()
    if not server.available:
        pytest.skip("PostgreSQL is not installed (.ci/run installs Debian's postgresql)")
    url = server.start()
    yield url
    server.stop()


@pytest.fixture
def postgres_url(postgres_server):
    """An empty database of this test's own on the session's PostgreSQL server."""
    from sqlalchemy import create_engine, text

    name = f"cc_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield postgres_server.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """Environment for Settings: an instance directory and SQLite file of this test's own."""
    return {"CALLCENTER_INSTANCE_DIR": str(tmp_path / "instance")}


@pytest.fixture
def settings(env) -> Settings:
    return Settings.from_env(env)


@pytest.fixture
def database(settings):
    dbmod.upgrade(settings.database_url)
    database = dbmod.Database(settings.database_url)
    yield database
    database.dispose()


@pytest.fixture
def app(settings, database):
    app = create_app(settings, database)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_user(database):
    extensions = itertools.count(1000)

    def make(username: str, role: Role = Role.AGENT, extension: str | None = None):
        if role is Role.AGENT and extension is None:
            extension = str(next(extensions))
        with database.session() as s:
            return create_user(s, username, PASSWORD, role, extension).id

    return make


class AuthActions:
    def __init__(self, client):
        self.client = client

    def csrf(self, path: str = "/login") -> str:
        page = self.client.get(path, follow_redirects=True).get_data(as_text=True)
        match = re.search(r'name="csrf-token" content="([^"]+)"', page)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def login(self, username: str, password: str = PASSWORD):
        token = self.csrf("/login")
        return self.client.post("/login", data={"username": username, "password": password,
                                                "csrf_token": token})

    def logout(self):
        return self.client.post("/logout", data={"csrf_token": self.csrf("/")})


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def admin(make_user):
    """An admin exists, so the first-run page is gone."""
    make_user("root", Role.ADMIN)
    return "root"
