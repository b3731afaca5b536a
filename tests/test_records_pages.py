"""The call records pages: /records and GET /api/calls (JSON and streamed CSV) for each role,
bad filters named, the export's audit row."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from callcenter.models import Agent, AuditEntry, Call, CallAgent, Direction, Outcome, Role
from callcenter.records import export

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
def calls(database, make_user, admin):
    make_user("alice")
    make_user("bob")
    make_user("sue", Role.SUPERVISOR)
    with database.session() as s:
        alice, bob = s.scalars(select(Agent.id).order_by(Agent.id)).all()
        s.add_all([Call(id=f"call-{n:02d}", direction=Direction.INBOUND,
                        agent_id=alice if n % 2 else bob, customer_number=f"+1212555{n:04d}",
                        outcome=Outcome.ANSWERED, talk_seconds=10 * n,
                        created_at=T0 + timedelta(minutes=n),
                        notes="=HYPERLINK(\"x\")" if n == 3 else None) for n in range(60)])
        s.flush()
        s.add(CallAgent(leg_uuid="leg-a", call_id="call-00", agent_id=alice, joined_at=T0))
    return {"alice": alice, "bob": bob}


def ids(response) -> list[str]:
    return [call["id"] for call in response.json["calls"]]


def test_the_api_pages_by_keyset_with_a_total(client, auth, calls):
    auth.login("sue")
    first = client.get("/api/calls?limit=25&outcome=answered")
    assert first.status_code == 200 and first.json["total"] == 60
    assert first.json["total_capped"] is False and first.json["newer"] is None
    assert ids(first) == [f"call-{n:02d}" for n in range(59, 34, -1)]
    second = client.get(f"/api/calls?limit=25&outcome=answered&before={first.json['next']}")
    assert ids(second) == [f"call-{n:02d}" for n in range(34, 9, -1)]
    back = client.get(f"/api/calls?limit=25&outcome=answered&after={second.json['newer']}")
    assert ids(back) == ids(first)
    contains = client.get("/api/calls?number=5550042&match=contains")
    assert ids(contains) == ["call-42"]


def test_an_agent_gets_only_the_calls_it_handled(client, auth, calls):
    auth.login("alice")
    mine = client.get("/api/calls?limit=100")
    assert sorted(ids(mine)) == sorted([f"call-{n:02d}" for n in range(1, 60, 2)] + ["call-00"])
    page = client.get("/records").get_data(as_text=True)
    assert 'data-call="call-01"' in page and 'data-call="call-02"' not in page
    assert 'id="records-agent"' not in page       # no agent picker for agents


@pytest.mark.parametrize(("query", "field"), [
    ("number=12&match=contains", "number"), ("outcome=great", "outcome"),
    ("agent=abc", "agent"), ("from=yesterday", "from"), ("recorded=maybe", "recorded"),
    ("talk_min=-3", "talk_min"), ("before=no-such-call", "before"), ("format=xml", "format"),
    ("limit=500", "limit"),
])
def test_bad_filters_are_refused_with_the_field_named(client, auth, calls, query, field):
    auth.login("sue")
    refused = client.get(f"/api/calls?{query}")
    assert refused.status_code == 422 and refused.json["field"] == field, refused.json
    page = client.get(f"/records?{query}") if field not in ("format", "limit") else None
    if page is not None:
        assert page.status_code == 422 and 'class="error"' in page.get_data(as_text=True)


def test_the_search_page_shows_the_capped_total_and_pages(client, auth, calls, monkeypatch):
    from callcenter.records import search

    auth.login("sue")
    page = client.get("/records?talk_min=90").get_data(as_text=True)
    assert 'id="records-count">51 calls' in page and 'id="records-older"' in page
    assert 'href="/records/call-59"' in page
    monkeypatch.setattr(search, "COUNT_CAP", 20)
    assert 'id="records-count">20+ calls' in client.get("/records").get_data(as_text=True)


def test_the_csv_export_streams_every_call_and_is_audited(client, auth, calls, database,
                                                         monkeypatch):
    monkeypatch.setattr(export, "CHUNK", 7)       # several chunks, each its own transaction
    auth.login("sue")
    response = client.get("/api/calls?format=csv&talk_min=50")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert tuple(rows[0]) == export.COLUMNS
    assert [row[0] for row in rows[1:]] == [f"call-{n:02d}" for n in range(59, 4, -1)]
    first = dict(zip(rows[0], rows[1], strict=True))
    assert (first["agent"], first["number"], first["talk_seconds"], first["recorded"]) == (
        "alice", "'+12125550059", "590", "no")
    with database.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "calls.export")).one()
        assert entry.actor == "sue" and json.loads(entry.after) == {"talk_min": 50}


def test_a_formula_in_notes_is_exported_as_text(client, auth, calls):
    auth.login("sue")
    rows = list(csv.reader(io.StringIO(client.get("/api/calls?format=csv").get_data(
        as_text=True))))
    notes = {row[0]: row[export.COLUMNS.index("notes")] for row in rows[1:]}
    assert notes["call-03"] == "'=HYPERLINK(\"x\")"


def test_the_nav_links_the_records_for_staff_and_agents(client, auth, calls, make_user):
    for who in ("sue", "alice"):
        auth.login(who)
        assert 'href="/records"' in client.get("/records").get_data(as_text=True)
        auth.logout()


def test_an_account_without_an_extension_asking_for_its_own_calls_is_refused(client, auth,
                                                                            calls):
    auth.login("sue")
    refused = client.get("/api/calls?mine=1")
    assert refused.status_code == 403 and "extension" in refused.json["error"]
    assert client.get("/api/calls").status_code == 200
