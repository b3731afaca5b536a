"""The admin's Dispositions page: the lists grouped global / per queue, add, edit, reorder,
deactivate; each problem next to its field; an edit of something changed meanwhile refused; an
audit row (before → after) for each change and none for a refusal; admins only."""

from __future__ import annotations

import html
import json
import re

import pytest
from sqlalchemy import select

from callcenter import queue_config
from callcenter.audit import CLI
from callcenter.models import AuditEntry, Disposition, Role

pytestmark = pytest.mark.both_databases


@pytest.fixture
def post(client, auth, admin, database):
    with database.session() as s:
        queue_config.create_queue(s, "sales", who=CLI)
    auth.login(admin)
    token = auth.csrf("/admin/dispositions")

    def post(path: str, **form):
        return client.post(path, data={**form, "csrf_token": token})
    return post


def rows(database) -> list[tuple]:
    with database.session() as s:
        return [(d.code, d.label, d.queue.name if d.queue else None, d.requires_notes,
                 d.active, d.position)
                for d in s.scalars(select(Disposition).order_by(Disposition.queue_id.is_not(None),
                                                                Disposition.position))]


def one(database, code: str) -> tuple[int, int]:
    with database.session() as s:
        row = s.scalars(select(Disposition).where(Disposition.code == code)).one()
        return row.id, row.version


def audited(database, prefix: str = "disposition.") -> list[tuple]:
    with database.session() as s:
        return [(e.action, e.target, json.loads(e.before or "null"), json.loads(e.after or "null"))
                for e in s.scalars(select(AuditEntry).where(AuditEntry.action.startswith(prefix))
                                   .order_by(AuditEntry.id))]


def error_of(page: str, field: str) -> str:
    match = re.search(rf'<p class="error" id="disposition-{field}-error">([^<]*)</p>', page)
    assert match, f"no error next to {field}"
    return html.unescape(match.group(1))


def test_added_dispositions_are_listed_per_queue_in_order(post, client, database):
    assert post("/admin/dispositions", code="sale", label="Sale").status_code == 302
    assert post("/admin/dispositions", code="refund", label="", requires_notes="1"
                ).status_code == 302
    assert post("/admin/dispositions", code="upgrade", label="Upgrade", queue="sales"
                ).status_code == 302
    assert rows(database) == [("sale", "Sale", None, False, True, 1),
                              ("refund", "refund", None, True, True, 2),   # label: the code
                              ("upgrade", "Upgrade", "sales", False, True, 1)]
    page = client.get("/admin/dispositions").get_data(as_text=True)
    assert page.index("Global (every call)") < page.index('data-code="sale"') \
        < page.index('data-code="refund"') < page.index("Queue sales") \
        < page.index('data-code="upgrade"')
    assert audited(database)[1] == ("disposition.create", "disposition refund", None, {
        "code": "refund", "label": "refund", "queue": None, "requires_notes": True,
        "active": True, "position": 2})


def test_bad_input_comes_back_with_each_problem_next_to_its_field(post, database):
    reply = post("/admin/dispositions", code="", label="x" * 129, queue="nope")
    assert reply.status_code == 422
    page = reply.get_data(as_text=True)
    assert "give the call" in error_of(page, "code")
    assert error_of(page, "label") == "at most 128 characters (got 129)"
    assert error_of(page, "queue") == "there is no queue named 'nope'"
    assert 'value="' + "x" * 129 + '"' in page          # as it was typed
    post("/admin/dispositions", code="sale")
    for queue in ("", "sales"):     # once in the global list, and a queue's never repeats it
        reply = post("/admin/dispositions", code="SALE", queue=queue)
        assert reply.status_code == 422
        assert error_of(reply.get_data(as_text=True), "code") == \
            "'sale' is in the global list already"
    assert [r[0] for r in rows(database)] == ["sale"]
    assert [a[0] for a in audited(database)] == ["disposition.create"]


def test_an_edit_saves_and_a_stale_one_is_refused(post, client, database):
    post("/admin/dispositions", code="sale", label="Sale")
    row_id, version = one(database, "sale")
    form = {"code": "sale", "label": "Sold", "queue": "sales", "requires_notes": "1"}
    assert post(f"/admin/dispositions/{row_id}", **form, version=str(version)
                ).status_code == 302
    assert rows(database) == [("sale", "Sold", "sales", True, True, 1)]
    # A second admin's form from before that save: refused, the row shown as it is now.
    reply = post(f"/admin/dispositions/{row_id}", **{**form, "label": "Sale!"},
                 version=str(version))
    assert reply.status_code == 409
    page = reply.get_data(as_text=True)
    assert "was changed by someone else meanwhile" in html.unescape(page)
    assert 'value="Sold"' in page
    assert rows(database)[0][1] == "Sold"
    assert audited(database)[1:] == [("disposition.change", "disposition sale (queue sales)",
                                      {"label": "Sale", "queue": None, "requires_notes": False},
                                      {"label": "Sold", "queue": "sales", "requires_notes": True})]
    reply = post(f"/admin/dispositions/{row_id}", code="", version=str(version + 1))
    assert reply.status_code == 422 and error_of(reply.get_data(as_text=True), "code")
    assert client.get("/admin/dispositions/999").status_code == 404


def test_reorder_and_deactivate(post, client, database):
    for code in ("a", "b", "c"):
        post("/admin/dispositions", code=code)
    row_id, version = one(database, "c")
    assert post(f"/admin/dispositions/{row_id}/move", step="up", version=str(version)
                ).status_code == 302
    assert [r[0] for r in rows(database)] == ["a", "c", "b"]
    # The page the admin moved from is stale now: refused on the list, with why.
    reply = post(f"/admin/dispositions/{row_id}/move", step="up", version=str(version))
    assert reply.status_code == 409 and "changed by someone else" in html.unescape(
        reply.get_data(as_text=True))
    row_id, version = one(database, "a")
    post(f"/admin/dispositions/{row_id}/move", step="up", version=str(version))   # first
    assert [r[0] for r in rows(database)] == ["a", "c", "b"]
    post(f"/admin/dispositions/{row_id}/active", active="0", version=str(version))
    assert rows(database)[0][4] is False
    page = client.get("/admin/dispositions").get_data(as_text=True)
    assert "inactive" in page and "Reactivate" in page
    assert [a[:2] for a in audited(database)[3:]] == [
        ("disposition.move", "disposition c"), ("disposition.change", "disposition a")]
    assert audited(database)[3][2:] == ({"position": 3}, {"position": 2})
    assert audited(database)[4][2:] == ({"active": True}, {"active": False})


def test_admins_only(client, auth, admin, make_user):
    make_user("sue", Role.SUPERVISOR)
    auth.login("sue")
    assert client.get("/admin/dispositions").status_code == 403
    assert client.post("/admin/dispositions", data={"code": "x", "csrf_token": auth.csrf("/")}
                       ).status_code == 403
    auth.logout()
    auth.login(admin)
    page = client.get("/admin/dispositions")
    assert page.status_code == 200
    assert 'href="/admin/dispositions"' in client.get("/admin/users").get_data(as_text=True)
