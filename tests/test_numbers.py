"""Inbound numbers: the rules (callcenter/numbers.py), the admin's page (each problem next to its
field, stale edits refused, an audit row for each change), and loading the static dids.xml."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from callcenter import numbers, queue_config
from callcenter.audit import CLI
from callcenter.errors import InvalidInput
from callcenter.models import AuditEntry, InboundNumber, Queue, Role

DIDS_XML = Path(__file__).parents[1] / "freeswitch-conf" / "dids.xml"


@pytest.fixture
def queues(database):
    with database.session() as s:
        for name in ("sales", "support"):
            queue_config.create_queue(s, name, who=CLI)
        s.commit()


@pytest.fixture
def post(client, auth, admin):
    auth.login(admin)
    token = auth.csrf("/admin/numbers")

    def post(path: str, **form):
        return client.post(path, data={**form, "csrf_token": token})
    return post


def rows(database) -> dict[str, tuple[str, str, int]]:
    with database.session() as s:
        return {n.number: (n.queue.name, n.label, n.version) for n in numbers.all_numbers(s)}


def audit_rows(database) -> list[tuple[str, str, dict | None, dict | None]]:
    with database.session() as s:
        return [(a.action, a.target, a.before and json.loads(a.before),
                 a.after and json.loads(a.after))
                for a in s.scalars(select(AuditEntry).where(AuditEntry.action.like("number.%"))
                                   .order_by(AuditEntry.id))]


@pytest.mark.parametrize("typed, stored", [("5550100", "5550100"), ("+5550100", "5550100"),
                                           (" +123 ", "123"), ("1" * 20, "1" * 20)])
def test_a_number_is_kept_as_digits(typed, stored):
    assert numbers.parse_number(typed) == stored


@pytest.mark.parametrize("typed, reason", [("", "digits"), ("12", "3 to 20"), ("1" * 21, "3 to 20"),
                                           ("555-0100", "digits"), ("++555", "digits"),
                                           ("555 0100", "digits"), ("5550100+", "digits")])
def test_a_malformed_number_is_refused(typed, reason):
    with pytest.raises(InvalidInput, match=reason) as refused:
        numbers.parse_number(typed)
    assert refused.value.field == "number"


def test_queue_of_matches_with_or_without_plus(database, queues):
    with database.session() as s:
        numbers.add_number(s, "+5550100", "sales", who=CLI)
        s.commit()
        assert numbers.queue_of(s, "5550100") == numbers.queue_of(s, "+5550100") == "sales"
        assert numbers.queue_of(s, "55501000") is None and numbers.queue_of(s, "x") is None


def test_a_queue_with_numbers_cannot_be_deleted(database, queues):
    with database.session() as s:
        numbers.add_number(s, "5550100", "sales", who=CLI)
        s.commit()
    with database.session() as s:
        with pytest.raises(IntegrityError):
            s.delete(s.scalar(select(Queue).where(Queue.name == "sales")))
            s.flush()
        s.rollback()
    assert rows(database) == {"5550100": ("sales", "", 1)}


def test_the_page_adds_changes_and_deletes_with_audit_rows(client, post, database, queues):
    page = client.get("/admin/numbers")
    assert page.status_code == 200 and b"No inbound number yet" in page.data
    reply = post("/admin/numbers", number="+5550100", queue="sales", label="Main line")
    assert reply.status_code == 302
    assert rows(database) == {"5550100": ("sales", "Main line", 1)}
    assert post("/admin/numbers/5550100", queue="support", label="Help", version="1")\
        .status_code == 302
    assert rows(database) == {"5550100": ("support", "Help", 2)}
    assert b"Help" in client.get("/admin/numbers").data
    assert post("/admin/numbers/5550100/delete", version="2").status_code == 302
    assert rows(database) == {}
    assert audit_rows(database) == [
        ("number.create", "number 5550100", None, {"queue": "sales", "label": "Main line"}),
        ("number.change", "number 5550100", {"queue": "sales", "label": "Main line"},
         {"queue": "support", "label": "Help"}),
        ("number.delete", "number 5550100", {"queue": "support", "label": "Help"}, None),
    ]


@pytest.mark.parametrize("form, field, reason", [
    ({"number": "555-0100"}, "number", "only digits"),
    ({"number": "12"}, "number", "3 to 20 digits"),
    ({"queue": "nowhere"}, "queue", "there is no queue"),
    ({"queue": ""}, "queue", "choose the queue"),
    ({"label": "x" * 65}, "label", "at most 64"),
    ({"number": "+5550111"}, "number", "already one of our numbers"),
])
def test_a_refused_add_says_why_next_to_the_field(client, post, database, queues, form, field,
                                                   reason):
    with database.session() as s:
        numbers.add_number(s, "5550111", "support", who=CLI)
        s.commit()
    before = rows(database), audit_rows(database)
    reply = post("/admin/numbers", **{"number": "5550100", "queue": "sales", "label": "",
                                      **form})
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    assert re.search(rf'id="new-{field}"[^>]*aria-invalid="true"', html)
    assert re.search(rf'<p class="error" id="new-{field}-error">[^<]*{reason}', html)
    assert (rows(database), audit_rows(database)) == before      # nothing written
    if "number" in form:
        assert f'value="{form["number"]}"' in html                  # as typed


def test_a_stale_edit_is_refused_not_applied(client, post, database, queues):
    with database.session() as s:
        numbers.add_number(s, "5550100", "sales", who=CLI)
        s.commit()
    # Another admin saves first (version 1 → 2); this page still shows version 1.
    assert post("/admin/numbers/5550100", queue="support", label="theirs", version="1")\
        .status_code == 302
    reply = post("/admin/numbers/5550100", queue="sales", label="mine", version="1")
    assert reply.status_code == 409
    assert "changed by someone else meanwhile" in reply.get_data(as_text=True)
    assert rows(database) == {"5550100": ("support", "theirs", 2)}
    reply = post("/admin/numbers/5550100/delete", version="1")
    assert reply.status_code == 409 and rows(database)
    assert [a[0] for a in audit_rows(database)] == ["number.create", "number.change"]


def test_an_edit_of_a_deleted_number_says_so(client, post, database, queues):
    reply = post("/admin/numbers/5550100", queue="sales", label="", version="1")
    assert reply.status_code == 404 and "someone deleted it" in reply.get_data(as_text=True)


def test_a_concurrent_change_is_caught_by_the_version_column(database, queues):
    with database.session() as s:
        numbers.add_number(s, "5550100", "sales", who=CLI)
        s.commit()
    with database.session() as first, database.session() as second:
        mine = first.scalar(select(InboundNumber))
        numbers.change_number(second, "5550100", 1, "support", "", who=CLI)
        second.commit()
        mine.label = "lost?"
        with pytest.raises(StaleDataError):
            first.flush()
        first.rollback()
    assert rows(database) == {"5550100": ("support", "", 2)}


def test_only_admins_reach_the_page(client, auth, admin, make_user, queues):
    make_user("sue", Role.SUPERVISOR)
    auth.login("sue")
    assert client.get("/admin/numbers").status_code == 403
    token = auth.csrf("/supervisor")
    reply = client.post("/admin/numbers", data={"number": "5550100", "queue": "sales",
                                                "csrf_token": token})
    assert reply.status_code == 403


def test_the_admin_navigation_links_the_page(client, auth, admin):
    auth.login(admin)
    assert b'href="/admin/numbers"' in client.get("/admin/users").data


def test_the_shipped_dids_xml_is_imported_once(database, queues):
    with database.session() as s:
        added, kept = numbers.import_dids(s, DIDS_XML, who=CLI)
        s.commit()
    assert (added, kept) == (["5550100"], [])
    assert rows(database)["5550100"][0] == "sales"
    with database.session() as s:
        assert numbers.import_dids(s, DIDS_XML, who=CLI) == ([], ["5550100"])


def test_an_import_with_a_problem_writes_nothing(database, queues, tmp_path):
    dids = tmp_path / "dids.xml"
    dids.write_text("""<include>
      <extension name="a"><condition field="destination_number" expression="^\\+?5550101$">
        <action application="set" data="cc_queue=sales"/><action application="park"/>
      </condition></extension>
      <extension name="b"><condition field="destination_number" expression="^\\+?5550102$">
        <action application="set" data="cc_queue=nowhere"/><action application="park"/>
      </condition></extension>
      <extension name="c"><condition field="destination_number" expression="^555.*$">
        <action application="set" data="cc_queue=sales"/>
      </condition></extension>
    </include>""")
    with database.session() as s:
        with pytest.raises(InvalidInput) as refused:
            numbers.import_dids(s, dids, who=CLI)
    message = str(refused.value)
    assert "nothing was imported" in message and "there is no queue 'nowhere'" in message
    assert "extension c" in message
    assert rows(database) == {} and audit_rows(database) == []
