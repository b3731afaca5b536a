"""The audit log: a row for each forced change (an admin creating or changing a user, a queue or
its tiers, on the pages or the command line), in the change's own transaction; a refused change
writes none; and nothing in the application can change or delete a row."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter import audit, queue_config
from callcenter.errors import InvalidInput
from callcenter.models import AuditEntry, Role, User
from tests.test_cli import run

pytestmark = pytest.mark.both_databases
PACKAGE = Path(__file__).resolve().parent.parent / "callcenter"


def entries(database) -> list[tuple]:
    with database.session() as s:
        return [(e.actor, e.action, e.target, json.loads(e.before or "null"),
                 json.loads(e.after or "null"))
                for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]


@pytest.fixture
def post(client, auth, admin):
    auth.login(admin)
    token = auth.csrf("/admin/users")

    def post(path: str, **form):
        return client.post(path, data={**form, "csrf_token": token})
    return post


def test_an_admin_creating_and_changing_a_user_is_audited(post, database, admin):
    before = entries(database)
    assert post("/admin/users", username="dave", password="Long-Enough-42", role="agent",
                extension="1004").status_code == 302
    assert post("/admin/users", username="x", password="short", role="agent",
                extension="1005").status_code == 400
    with database.session() as s:
        dave = s.scalar(select(User.id).where(User.username == "dave"))
    post(f"/admin/users/{dave}/active", active="0")
    post(f"/admin/users/{dave}/active", active="0")     # no change: no row
    assert entries(database)[len(before):] == [
        (admin, "user.create", "user dave", None,
         {"role": "agent", "extension": "1004", "active": True}),
        (admin, "user.change", "user dave", {"active": True}, {"active": False})]
    with database.session() as s:
        row = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert row.user_id == s.scalar(select(User.id).where(User.username == admin))
        assert row.at is not None


def test_queue_changes_on_the_pages_are_audited_and_refusals_are_not(post, database, admin,
                                                                     make_user):
    make_user("alice", extension="1000")
    assert post("/admin/queues", name="sales", strategy="ring_all").status_code == 302
    def shown() -> dict:
        """The settings form as the page shows it now, its version included."""
        with database.session() as s:
            queue = queue_config.queue_named(s, "sales")
            return {**{k: v for k, v in queue_config.setting_values(queue).items()
                       if v is not False}, "version": str(queue.version)}

    assert post("/admin/queues/sales", **{**shown(), "max_wait": "90"}).status_code == 302
    assert post("/admin/queues/sales", **{**shown(), "max_wait": "ten"}).status_code == 422
    post("/admin/queues/sales/tiers", agent="1000", level="2", position="")
    post("/admin/queues/sales/tiers/remove", agent="1000")
    rows = [row for row in entries(database) if row[1].startswith("queue.")]
    assert [row[:3] for row in rows] == [
        (admin, "queue.create", "queue sales"), (admin, "queue.change", "queue sales"),
        (admin, "queue.tier", "queue sales agent 1000"),
        (admin, "queue.tier", "queue sales agent 1000")]
    assert rows[0][4]["strategy"] == "ring_all" and rows[0][3] is None
    assert rows[1][3:] == ({"max_wait": "300"}, {"max_wait": "90"})
    assert rows[2][3:] == (None, {"level": 2, "position": 1})
    assert rows[3][3:] == ({"level": 2, "position": 1}, None)


def test_a_refused_change_writes_no_row(database):
    with database.session() as s:
        queue_config.create_queue(s, "sales", who=audit.CLI)
    count = len(entries(database))
    with pytest.raises(InvalidInput), database.session() as s:
        queue_config.change_queue(s, "sales", {"max_wait": "-1"}, who=audit.CLI)
    with database.session() as s:       # nothing actually changes: no row either
        queue_config.change_queue(s, "sales", {"max_wait": "300"}, who=audit.CLI)
    assert len(entries(database)) == count


@pytest.mark.slow
@pytest.mark.sqlite_only("the command line runs in its own process on the test's SQLite file")
def test_the_command_line_is_who_cli(env, database, make_user):
    make_user("alice", extension="1000")
    assert run(["queue", "add", "sales"], env).returncode == 0
    assert run(["queue", "set", "sales", "--priority", "3"], env).returncode == 0
    assert run(["queue", "tier", "sales", "alice"], env).returncode == 0
    assert run(["user", "add", "erin", "--role", "supervisor"], env,
               stdin="Long-Enough-42\n").returncode == 0
    assert [row[:3] for row in entries(database)][-4:] == [
        ("cli", "queue.create", "queue sales"), ("cli", "queue.change", "queue sales"),
        ("cli", "queue.tier", "queue sales agent 1000"), ("cli", "user.create", "user erin")]
    with database.session() as s:
        assert {e.user_id for e in s.scalars(select(AuditEntry))} == {None}


def test_an_audit_row_cannot_be_changed_or_deleted_through_the_application(database, make_user):
    make_user("root", Role.ADMIN)
    with database.session() as s:
        audit.record(s, audit.CLI, "queue.create", "queue sales", None, {"priority": 0})
    with pytest.raises(RuntimeError, match="append-only"), database.session() as s:
        s.scalars(select(AuditEntry)).first().action = "nothing"
    with pytest.raises(RuntimeError, match="append-only"), database.session() as s:
        s.delete(s.scalars(select(AuditEntry)).first())
    assert [row[1] for row in entries(database)][-1] == "queue.create"


def test_no_code_in_the_application_updates_or_deletes_audit_rows():
    """The audit module only adds rows, and no other module names the table or its model (so
    no UPDATE, DELETE or store record can reach it)."""
    naming = {}
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        if "AuditEntry" in text or "audit_log" in text:
            naming[path.relative_to(PACKAGE).as_posix()] = text
    assert set(naming) == {"models.py", "audit.py"}
    tree = ast.parse(naming["audit.py"])
    called = {node.func.attr for node in ast.walk(tree)
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}
    assert "add" in called
    assert not called & {"delete", "update", "execute", "merge", "query", "bulk_save_objects"}
    models = ast.parse(naming["models.py"])
    assert not [node for node in ast.walk(models)
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("delete", "update", "execute")]
