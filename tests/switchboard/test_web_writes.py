"""Web requests never write on the hub: with the real switchboard in the process, an admin's
changes (users, queues, tiers, numbers, dispositions, wall displays) go through its database
writer, in the writer's own thread, so none of them waits inside SQLite's busy timeout while
every call waits with it. Each change is still in the database when the page answers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select

from callcenter.app import create_app
from callcenter.models import Agent, AuditEntry, Disposition, InboundNumber, QueueAgent, User
from tests.conftest import PASSWORD, AuthActions

WRITES = {"INSERT", "UPDATE", "DELETE"}


@contextmanager
def writes_on_the_hub(database) -> Iterator[list[str]]:
    """The writing statements run in this (the hub's) thread while the block runs."""
    hub = threading.get_native_id()
    on_the_hub: list[str] = []

    def seen(conn, cursor, statement, *args):
        if threading.get_native_id() == hub and statement.split()[0] in WRITES:
            on_the_hub.append(statement.split("(")[0][:60])

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        yield on_the_hub
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)


@pytest.fixture
def admin_web(rig, settings, database, make_user):
    from callcenter.models import Role

    make_user("root", Role.ADMIN)
    app = create_app(settings, database, rig.board, rig.hub)
    app.config["TESTING"] = True
    client = app.test_client()
    auth = AuthActions(client)
    assert auth.login("root").status_code == 302
    return client, auth


def test_an_admins_changes_are_written_off_the_hub(rig, admin_web, database, agent_id):
    client, auth = admin_web

    def post(path: str, data: dict) -> None:
        reply = client.post(path, data={**data, "csrf_token": auth.csrf("/admin/users")})
        assert reply.status_code == 302, (path, reply.get_data(as_text=True)[:300])

    with writes_on_the_hub(database) as on_the_hub:
        post("/admin/users", {"username": "bob", "password": PASSWORD, "role": "agent",
                              "extension": "1007"})
        post("/admin/queues", {"name": "sales", "strategy": "longest_idle_agent"})
        post("/admin/queues/sales/tiers", {"agent": "1007", "level": "1", "position": ""})
        post("/admin/numbers", {"number": "5550100", "queue": "sales", "label": "main"})
        post("/admin/dispositions", {"code": "sold", "label": "Sold", "queue": ""})
        with database.session() as s:
            bob, bobs_agent = s.execute(select(User.id, Agent.id).join(Agent)
                                        .where(User.username == "bob")).one()
        post(f"/admin/users/{bob}/active", {"active": "0"})
    assert on_the_hub == []
    with database.session() as s:
        assert s.scalar(select(InboundNumber.number)) == "5550100"
        assert s.scalar(select(Disposition.code)) == "sold"
        assert s.scalar(select(QueueAgent.agent_id)) == bobs_agent
        assert s.get(User, bob).active is False
        actions = s.scalars(select(AuditEntry.action)).all()
    assert {"user.create", "queue.create", "queue.tier", "number.create", "disposition.create",
            "user.change"} <= set(actions)


def test_the_first_admin_is_written_off_the_hub(rig, settings, database):
    """The first-run page, before any admin exists, writes its admin through the writer too."""
    app = create_app(settings, database, rig.board, rig.hub)
    app.config["TESTING"] = True
    client = app.test_client()
    csrf = AuthActions(client).csrf("/setup")
    with writes_on_the_hub(database) as on_the_hub:
        reply = client.post("/setup", data={"username": "root", "password": PASSWORD,
                                            "confirm": PASSWORD, "csrf_token": csrf})
    assert reply.status_code == 302
    assert on_the_hub == []
    with database.session() as s:
        assert s.scalar(select(User.username).where(User.role == "admin")) == "root"
    assert client.get("/setup").status_code == 404, "the page is gone once an admin exists"
