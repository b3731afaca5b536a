"""Shared fixtures in the style of Flask's tutorial: a throwaway database per test, an app, a
client, and `auth` to log in as a user of any role."""

from __future__ import annotations

import functools
import itertools
import re
import sqlite3
from contextlib import closing
from pathlib import Path
from unittest import mock

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from callcenter import db as dbmod
from callcenter import passwords
from callcenter.accounts import create_user
from callcenter.app import create_app
from callcenter.audit import CLI
from callcenter.config import Settings
from callcenter.models import Role
from tests.postgres import DatabaseCopies, database_url, new_database_name, on_both_databases

PASSWORD = "Tr1cky-Horse-42"


def pytest_generate_tests(metafunc):
    if metafunc.definition.get_closest_marker("both_databases"):
        on_both_databases(metafunc)  # tests/switchboard/conftest.py does it for all of its own


@pytest.fixture(autouse=True, scope="session")
def quick_password_hashes():
    """Users the tests make get a one-round hash (checked by the same code at login): scrypt's
    0.1 s of CPU per user made and per login was a large share of the suite's time. `callcenter
    user add` in a subprocess still hashes the product's way."""
    quick = functools.partial(passwords.generate_password_hash, method="pbkdf2:sha256:1")
    with mock.patch.object(passwords, "generate_password_hash", quick):
        yield


def pytest_collection_modifyitems(items):
    """Marks by what a test uses, so `make test-fast` can leave them out: `postgresql` (its
    PostgreSQL runs carry it from tests/postgres.py) and `simulator` (the switchboard's rig)."""
    for item in items:
        uses = getattr(item, "fixturenames", ())
        if "postgres_server" in uses:
            item.add_marker(pytest.mark.postgresql)
        if "rig_factory" in uses:
            item.add_marker(pytest.mark.simulator)


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
    name = new_database_name()
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield database_url(postgres_server, name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_copies(postgres_server):
    """Copies of a database migrated to the newest revision once (far quicker than migrating
    each test's own)."""
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text('CREATE DATABASE "cc_template"'))
    admin.dispose()
    dbmod.upgrade(database_url(postgres_server, "cc_template"))
    copies = DatabaseCopies(postgres_server, "cc_template")
    yield copies
    copies.close()


@pytest.fixture
def postgres_migrated_url(postgres_copies):
    """A database of this test's own at the newest revision."""
    url = postgres_copies.take()
    yield url
    postgres_copies.give_back(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file migrated to the newest revision once: each test's database is a copy."""
    path = tmp_path_factory.mktemp("template") / "callcenter.db"
    dbmod.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def database_kind(request) -> str:
    """sqlite, or each database in turn for the tests that run on both (tests/postgres.py)."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def env(request, tmp_path, database_kind) -> dict[str, str]:
    """Environment for Settings: an instance directory of this test's own, and its SQLite file
    there, or a PostgreSQL database of its own (at the newest revision) for `postgresql`."""
    env = {"CALLCENTER_INSTANCE_DIR": str(tmp_path / "instance")}
    if database_kind == "postgresql":
        env["CALLCENTER_DATABASE_URL"] = request.getfixturevalue("postgres_migrated_url")
    return env


@pytest.fixture
def settings(env) -> Settings:
    return Settings.from_env(env)


@pytest.fixture
def database(request, settings):
    """The test's database at the newest revision (PostgreSQL's comes migrated)."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database)
        path.parent.mkdir(parents=True, exist_ok=True)
        # The backup API copies what the template's WAL still holds too.
        template = request.getfixturevalue("sqlite_template")
        with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(path)) as copy:
            source.backup(copy)
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
            return create_user(s, username, PASSWORD, role, extension, who=CLI).id

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
