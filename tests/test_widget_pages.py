"""The admin's Widgets page: add (each problem next to its field, nothing saved), edit with the
version (a stale edit refused), the snippet to copy, an audit row for each change; and the
rules' checks of origins and visitor fields."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from callcenter import queue_config
from callcenter.audit import CLI
from callcenter.errors import InvalidInput
from callcenter.models import AuditEntry, Role, Widget
from callcenter.widgets import settings as rules

FORM = {"name": "Shop", "queue": "sales", "allowed_origins": "https://Shop.example.com/\n"
        "http://localhost:8000", "field_name": "on", "required_name": "on",
        "field_topic": "on", "label_topic": "Your question", "video": "on",
        "calls_per_address_hour": "5", "concurrent_calls": "3", "max_call_seconds": "900",
        "active": "on"}


@pytest.fixture
def post(client, auth, admin, database):
    with database.session() as s:
        queue_config.create_queue(s, "sales", who=CLI)
        s.commit()
    auth.login(admin)
    token = auth.csrf("/admin/widgets")

    def post(path: str, **form):
        return client.post(path, data={**form, "csrf_token": token})
    return post


def widget_row(database) -> Widget:
    with database.session() as s:
        row = s.scalar(select(Widget))
        s.expunge_all()
        return row


def test_add_then_edit_a_widget_with_its_snippet_and_audit(client, post, database, settings):
    added = post("/admin/widgets", **FORM)
    assert added.status_code == 302
    row = widget_row(database)
    assert row.allowed_origins == "https://shop.example.com\nhttp://localhost:8000"
    assert json.loads(row.fields) == [
        {"name": "name", "label": "Your name", "required": True},
        {"name": "topic", "label": "Your question", "required": False}]
    assert (row.video, row.calls_per_address_hour, row.concurrent_calls,
            row.max_call_seconds) == (True, 5, 3, 900)
    assert added.headers["Location"].endswith(f"/admin/widgets/{row.public_id}")
    page = client.get(f"/admin/widgets/{row.public_id}").get_data(as_text=True)
    snippet = (f'&lt;script src=&#34;{settings.public_url}/widget.js&#34; '
               f'data-widget=&#34;{row.public_id}&#34; async&gt;&lt;/script&gt;')
    assert snippet in page
    assert "Shop" in client.get("/admin/widgets").get_data(as_text=True)

    saved = post(f"/admin/widgets/{row.public_id}", **{**FORM, "max_call_seconds": "120",
                                                        "version": str(row.version)})
    assert saved.status_code == 302
    assert widget_row(database).max_call_seconds == 120
    stale = post(f"/admin/widgets/{row.public_id}", **{**FORM, "name": "Other",
                                                        "version": str(row.version)})
    assert stale.status_code == 409 and "changed by someone else" in stale.get_data(as_text=True)
    assert widget_row(database).name == "Shop"
    with database.session() as s:
        actions = [(a.action, json.loads(a.after or "{}")) for a in s.scalars(
            select(AuditEntry).where(AuditEntry.action.like("widget.%")).order_by(AuditEntry.id))]
    assert [a for a, _ in actions] == ["widget.create", "widget.change"]
    assert actions[1][1] == {"max_call_seconds": 120}


def test_a_refused_form_names_each_problem_and_saves_nothing(post, database):
    refused = post("/admin/widgets", **{**FORM, "name": "", "queue": "nosuch",
                                         "allowed_origins": "shop.example.com/page",
                                         "concurrent_calls": "0", "max_call_seconds": "x"})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    for field in ("name", "queue", "allowed_origins", "concurrent_calls", "max_call_seconds"):
        assert f'id="new-{field}-error"' in page, field
    assert 'value="5"' in page        # what was typed comes back
    assert widget_row(database) is None


def test_only_admins_open_the_widgets_page(client, auth, admin, make_user):
    make_user("sam", Role.SUPERVISOR)
    auth.login("sam")
    assert client.get("/admin/widgets").status_code == 403


@pytest.mark.parametrize("given, origin", [
    ("https://Shop.Example.com", "https://shop.example.com"),
    ("https://shop.example.com:443/", "https://shop.example.com"),
    ("http://localhost:8000", "http://localhost:8000"),
    ("https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443"),
])
def test_origins_are_kept_as_browsers_send_them(given, origin):
    assert rules.parse_origin(given) == origin


@pytest.mark.parametrize("given", ["shop.example.com", "ftp://shop.example.com",
                                   "https://shop.example.com/page", "https://u:p@shop.example",
                                   "https://shop.example.com?x=1", "https://shop.example.com:99999"])
def test_what_is_no_origin_is_refused(given):
    with pytest.raises(InvalidInput):
        rules.parse_origin(given)


def test_an_origin_is_allowed_only_exactly():
    widget = Widget(allowed_origins="https://shop.example.com")
    assert rules.origin_allowed(widget, "https://shop.example.com")
    for other in ("https://shop.example.com.evil.net", "http://shop.example.com",
                  "https://evil.net", "null", "", None):
        assert not rules.origin_allowed(widget, other), other


def test_visitor_fields_keep_what_is_asked_and_check_it():
    widget = Widget(fields=json.dumps([{"name": "name", "label": "Name", "required": True},
                                       {"name": "email", "label": "Email", "required": False}]))
    assert rules.visitor_fields(widget, {"name": " Ann ", "topic": "dropped",
                                         "email": ""}) == {"name": "Ann"}
    with pytest.raises(rules.WidgetInputError) as refused:
        rules.visitor_fields(widget, {"name": "x" * 201, "email": "nope"})
    assert set(refused.value.problems) == {"name", "email"}
    with pytest.raises(rules.WidgetInputError):
        rules.visitor_fields(widget, {"name": "a\nb"})
    assert rules.page_of({"url": "javascript:alert(1)", "title": "T\n"}) == ("", "T")
