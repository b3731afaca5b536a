"""Users from a CSV file on the Users page: the dry run lists each row's problem and writes
nothing; the import writes every user or none, one audit row each, generated passwords shown
once; too big, empty or not-CSV files are refused with the reason."""

from __future__ import annotations

import html
import io
import json
import re

import pytest
from sqlalchemy import func, select

from callcenter import queue_config, user_import
from callcenter.audit import CLI
from callcenter.models import Agent, AuditEntry, QueueAgent, Role, User
from callcenter.passwords import verify_password


class Board:
    """A running switchboard as the import sees it: what it was asked to reload, and the
    supervisors' own phones it was told of."""

    def __init__(self) -> None:
        self.reloads: list[str] = []
        self.own_phones: list[str] = []

    def health(self) -> dict:
        return {"database": "ok", "spool_state": "ok", "backlog": 0}

    def reload_agents(self) -> None:
        self.reloads.append("agents")

    def reload_queues(self) -> None:
        self.reloads.append("queues")

    def own_phone_given(self, extension) -> None:
        self.own_phones.append(extension)


@pytest.fixture
def board():
    return Board()


@pytest.fixture
def app(settings, database, board):
    from callcenter.app import create_app

    app = create_app(settings, database, board)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def upload(client, auth, admin, database):
    auth.login(admin)
    token = auth.csrf("/admin/users")
    with database.session() as s:
        queue_config.create_queue(s, "sales", who=CLI)

    def upload(content: str | bytes, action: str = "check", name: str = "users.csv"):
        data = content.encode() if isinstance(content, str) else content
        return client.post("/admin/users/import", data={
            "csrf_token": token, "action": action, "file": (io.BytesIO(data), name)},
            content_type="multipart/form-data")
    return upload


def users(database) -> list[str]:
    with database.session() as s:
        return list(s.scalars(select(User.username).order_by(User.username)))


def problems(page: str) -> dict[int, str]:
    """The problem cell of each row of the plan, by the file's line."""
    return {int(line): problem for line, problem in re.findall(
        r'<tr data-line="(\d+)"[^>]*>.*?<td class="problem">([^<]*)</td>', page, re.S)}


GOOD = """username,role,password,extension,queues,wrapup_seconds,auto_answer
carol,agent,,1001,sales:2:1,20,no
dave,Agent,Long-Pass-7x!,1002,sales,,
sam,supervisor,,2001,,,
"""


def test_a_good_file_is_checked_then_imported_in_one_go(upload, client, database, admin, board):
    reply = upload(GOOD)
    page = reply.get_data(as_text=True)
    assert reply.status_code == 200
    assert "Dry run: all 3 rows can be imported; nothing is written yet." in page
    assert problems(page) == {2: "ok", 3: "ok", 4: "ok"}
    assert users(database) == [admin] and board.reloads == []
    carried = re.search(r'name="csv" value="([^"]*)"', page).group(1)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    reply = client.post("/admin/users/import", data={
        "csrf_token": token, "action": "import", "csv": html.unescape(carried)})
    page = reply.get_data(as_text=True)
    assert reply.status_code == 200 and reply.headers["Cache-Control"] == "no-store"
    assert "3 users imported." in page
    generated = dict(re.findall(r"<tr><td>(\w+)</td><td><code>([^<]+)</code>", page))
    assert sorted(generated) == ["carol", "sam"]
    assert users(database) == sorted([admin, "carol", "dave", "sam"])
    # The running switchboard knows the new agents and tiers at once, and sam's own phone.
    assert board.reloads == ["agents", "queues"] and board.own_phones == ["2001"]
    with database.session() as s:
        carol = s.scalar(select(User).where(User.username == "carol"))
        assert verify_password(carol.password_hash, generated["carol"])
        assert (carol.agent.extension, carol.agent.wrapup_seconds, carol.agent.auto_answer) == (
            "1001", 20, False)
        dave = s.scalar(select(User).where(User.username == "dave"))
        assert verify_password(dave.password_hash, "Long-Pass-7x!")
        assert s.scalar(select(User.role).where(User.username == "sam")) is Role.SUPERVISOR
        tiers = {(t.agent.extension, t.level, t.position) for t in s.scalars(select(QueueAgent))}
        assert tiers == {("1001", 2, 1), ("1002", 1, 1)}
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == "user.create",
                                                  AuditEntry.target != f"user {admin}")
                         .order_by(AuditEntry.id)).all()
        assert [row.target for row in rows] == ["user carol", "user dave", "user sam"]
        assert json.loads(rows[0].after)["queues"] == ["sales:2:1"]
        assert all(generated["carol"] not in (row.after or "") for row in rows)


def test_the_dry_run_lists_each_rows_problem_and_writes_nothing(upload, database, admin,
                                                                make_user):
    make_user("taken", extension="1500")
    content = """username,role,password,extension,queues
ok,agent,,1001,
taken,agent,,1002,
dup,agent,,1003,
dup,agent,,1004,
eve,agnet,,1005,
fay,agent,,12x,
gus,agent,,1006,nowhere
hal,agent,short,1007,
ian,supervisor,,,sales
"""
    reply = upload(content)
    page = reply.get_data(as_text=True)
    assert reply.status_code == 422
    assert "Nothing was written: 8 of 9 rows to fix." in page
    found = problems(page)
    assert found[2] == "ok"
    assert "username &#39;taken&#39; is taken" in found[3]
    assert "username dup is on line 5 too" in found[4] and "line 4 too" in found[5]
    assert "unknown role &#39;agnet&#39;" in found[6]
    assert "extension" in found[7]
    assert "there is no queue &#39;nowhere&#39;" in found[8]
    assert "password is too short" in found[9]
    assert "for agents only" in found[10]
    assert 'id="import-now"' not in page         # nothing to import from here
    assert users(database) == sorted([admin, "taken"])


def test_an_import_with_one_bad_row_writes_none(upload, database, admin, board):
    reply = upload(GOOD + "zed,agent,,1001,\n", action="import")
    page = reply.get_data(as_text=True)
    assert reply.status_code == 422
    assert "Nothing was imported" in page and "extension 1001 is on line 2 too" in page
    assert users(database) == [admin] and board.reloads == []
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(Agent)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEntry)
                        .where(AuditEntry.action == "user.create")) == 1     # the admin's


@pytest.mark.parametrize(("content", "why"), [
    (b"\x89PNG\r\n\x1a\n\0\0\0", "not a CSV file (it holds binary data)"),
    ("username;role\n".encode("utf-16"), "not a CSV file"),
    (b"", "the file is empty"),
    (b"name,kind\nx,y\n", "unknown column &#39;name&#39;"),
    (b"username,role\n", "no user in the file"),
])
def test_files_that_are_not_a_users_csv_are_refused(upload, database, admin, content, why):
    reply = upload(content)
    assert reply.status_code == 422
    assert why in reply.get_data(as_text=True)
    assert users(database) == [admin]


@pytest.mark.parametrize(("over", "status"), [(100, 422), (64 * 1024, 413)])
def test_an_oversized_file_is_refused(upload, database, admin, over, status):
    """Just over the limit: read up to it and refused; far over: refused before it is read."""
    line = "someone,agent,,1001,\n"
    reply = upload("username,role,password,extension,queues\n"
                   + line * ((user_import.MAX_BYTES + over) // len(line)), action="import")
    assert reply.status_code == status
    assert "the file is too big" in reply.get_data(as_text=True)
    assert users(database) == [admin]


def test_too_many_rows_are_refused(upload, database, admin):
    rows = "".join(f"user{n},agent,,{2000 + n},\n" for n in range(user_import.MAX_ROWS + 1))
    reply = upload("username,role,password,extension,queues\n" + rows)
    assert reply.status_code == 422
    assert f"at most {user_import.MAX_ROWS} a file" in reply.get_data(as_text=True)
