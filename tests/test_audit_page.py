"""The Audit log page: search by who, what and when, newest first, keyset-paged (rows sharing a
timestamp neither skipped nor repeated); the CSV export of a search, streamed, which is itself
audited; logins, failed logins and logouts write rows; admins only."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from callcenter import audit
from callcenter.models import AuditEntry, Role

pytestmark = pytest.mark.both_databases

NOON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def add(database, rows: list[tuple]) -> None:
    """(at, actor, action, target, before, after) each, written as audit.record would."""
    with database.session() as s:
        for at, actor, action, target, before, after in rows:
            s.add(AuditEntry(at=at, actor=actor, action=action, target=target,
                             before=json.dumps(before) if before else None,
                             after=json.dumps(after) if after else None))


@pytest.fixture
def admin_client(client, auth, admin):
    auth.login(admin)
    return client


def shown(client, query: str = "") -> list[tuple[str, str, str]]:
    """(who, action, target) of each row the page shows, top to bottom."""
    page = client.get("/admin/audit" + query).get_data(as_text=True)
    return re.findall(r'<tr data-action="[^"]*">\s*<td>[^<]*</td>\s*<td>([^<]*)</td>\s*'
                      r'<td>([^<]*)</td>\s*<td>([^<]*)</td>', page)


def test_search_by_who_what_and_when(admin_client, database):
    add(database, [
        (NOON, "root", "queue.create", "queue sales", None, {"priority": 0}),
        (NOON + timedelta(hours=1), "ann", "queue.change", "queue support",
         {"priority": 0}, {"priority": 5}),
        (NOON + timedelta(days=1), "root", "user.create", "user dave", None, {"role": "agent"}),
        (NOON + timedelta(days=1, hours=1), "Ann", "queue_x.odd", "queue salesforce", None, None),
    ])
    client = admin_client
    assert shown(client, "?who=ann") == [("Ann", "queue_x.odd", "queue salesforce"),
                                         ("ann", "queue.change", "queue support")]
    assert shown(client, "?action=queue") == [("ann", "queue.change", "queue support"),
                                              ("root", "queue.create", "queue sales")]
    assert shown(client, "?action=user.create&who=ROOT") == [("root", "user.create", "user dave")]
    assert shown(client, "?target=sales&who=root") == [("root", "queue.create", "queue sales")]
    assert shown(client, "?from=2026-12-01T12:30&to=2026-12-01") == [
        ("ann", "queue.change", "queue support")]
    assert shown(client, "?from=2026-12-02&action=queue") == []
    refused = client.get("/admin/audit?from=yesterday")
    assert refused.status_code == 422
    assert 'id="audit-from-error">a date (2026-12-02)' in refused.get_data(as_text=True)
    # Before → after, readably.
    page = client.get("/admin/audit?who=ann&action=queue").get_data(as_text=True)
    assert "<b>priority</b>: 0 → 5" in page


def test_keyset_pages_walk_rows_sharing_a_timestamp_once_each(admin_client, database):
    # 130 rows over three instants: pages of 50 cut through the equal timestamps.
    add(database, [(NOON + timedelta(seconds=n % 3), "root", "queue.change", f"queue q{n}",
                    None, None) for n in range(130)])
    with database.session() as s:
        expected = [e.target for e in s.scalars(
            select(AuditEntry).where(AuditEntry.action == "queue.change")
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()))]
    seen, query, pages = [], "?action=queue", 0
    while True:
        page = admin_client.get("/admin/audit" + query).get_data(as_text=True)
        seen += [target for _who, _action, target in shown(admin_client, query)]
        pages += 1
        older = re.search(r'id="audit-older" href="([^"]+)"', page)
        if older is None:
            break
        query = older.group(1).replace("&amp;", "&").removeprefix("/admin/audit")
        assert "action=queue" in query       # the search goes with it
    assert pages == 3 and seen == expected and len(set(seen)) == 130


def test_the_keyset_is_time_then_id_not_id_alone(database):
    """A row written late with an earlier time (another controller's clock) is paged by its
    time."""
    add(database, [(NOON + timedelta(seconds=n), "root", "a.b", f"t{n}", None, None)
                   for n in range(3)])
    add(database, [(NOON - timedelta(seconds=1), "root", "a.b", "late", None, None)])
    with database.session() as s:
        first, after = audit.Search().page(s, 2)
        rest, more = audit.Search().page(s, 2, after)
    assert [e.target for e in first + rest] == ["t2", "t1", "t0", "late"] and more is None


def test_the_csv_export_is_the_search_and_is_audited(admin_client, database, admin):
    add(database, [
        (NOON, "root", "queue.create", "queue sales", None, {"priority": 0}),
        (NOON + timedelta(seconds=1), "=cmd|' /C calc'!A0", "login.failed",
         "user =cmd|' /C calc'!A0", None, {"address": "203.0.113.9"}),
        (NOON + timedelta(seconds=2), "root", "user.create", "user dave", None, None),
    ])
    reply = admin_client.get("/admin/audit/export.csv?action=login&to=2026-12-01")
    assert reply.status_code == 200 and reply.mimetype == "text/csv"
    assert reply.is_streamed
    assert re.match(r'attachment; filename="audit-\d{8}-\d{4}\.csv"',
                    reply.headers["Content-Disposition"])
    lines = list(csv.reader(io.StringIO(reply.get_data(as_text=True))))
    assert lines == [
        ["at", "who", "action", "target", "before", "after"],
        [(NOON + timedelta(seconds=1)).isoformat(), "'=cmd|' /C calc'!A0", "login.failed",
         "user =cmd|' /C calc'!A0", "", '{"address": "203.0.113.9"}'],
    ]
    with database.session() as s:
        export = s.scalars(select(AuditEntry).where(AuditEntry.action == "audit.export")).one()
        assert (export.actor, export.target) == (admin, "audit log")
        assert json.loads(export.after) == {"action": "login",
                                            "until": "2026-12-02T00:00:00+00:00"}
    assert admin_client.get("/admin/audit/export.csv?to=soon").status_code == 422


def test_an_export_larger_than_a_chunk_streams_every_row_once(admin_client, database,
                                                              monkeypatch):
    from callcenter.web import audit_trail

    monkeypatch.setattr(audit_trail, "EXPORT_CHUNK", 7)
    add(database, [(NOON + timedelta(seconds=n % 4), "root", "queue.change", f"queue q{n}",
                    None, None) for n in range(30)])
    lines = list(csv.reader(io.StringIO(
        admin_client.get("/admin/audit/export.csv?action=queue").get_data(as_text=True))))
    assert sorted(line[3] for line in lines[1:]) == sorted(f"queue q{n}" for n in range(30))
    assert [line[0] for line in lines[1:]] == sorted((line[0] for line in lines[1:]),
                                                     reverse=True)


def test_logins_failed_logins_and_logouts_are_audited(client, auth, admin, database):
    auth.login(admin, "wrong-password")
    auth.login("nobody", "whatever")
    auth.login(admin)
    auth.logout()
    with database.session() as s:
        got = [(e.actor, e.action, e.target, e.user_id is not None, json.loads(e.after))
               for e in s.scalars(select(AuditEntry).where(AuditEntry.action.in_(
                   ["login", "login.failed", "logout"])).order_by(AuditEntry.id))]
    address = {"address": "127.0.0.1"}
    assert got == [(admin, "login.failed", f"user {admin}", False, address),
                   ("nobody", "login.failed", "user nobody", False, address),
                   (admin, "login", f"user {admin}", True, address),
                   (admin, "logout", f"user {admin}", True, address)]


def test_admins_only(client, auth, admin, make_user):
    make_user("sue", Role.SUPERVISOR)
    auth.login("sue")
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/admin/audit/export.csv").status_code == 403
    auth.logout()
    auth.login(admin)
    assert client.get("/admin/audit").status_code == 200
