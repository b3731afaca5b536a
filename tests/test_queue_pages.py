"""The admin's Queues pages: list and add, edit every setting, tiers; a refused form comes back
as typed with each problem next to its input, nothing saved; each change reloads the board's
queues (tests/switchboard/test_queue_admin_edits.py shows the running distributor sees it)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from callcenter import queue_config
from callcenter.app import create_app
from callcenter.audit import CLI
from callcenter.models import Queue, QueueStrategy, Role, TimeoutAction


class Board:
    """What the pages may ask of the switchboard here: its health, and reloading queues."""

    def __init__(self) -> None:
        self.reloads = 0

    def health(self) -> dict:
        return {"database": "ok", "spool_state": "ok", "backlog": 0}

    def reload_queues(self) -> None:
        self.reloads += 1


@pytest.fixture
def board():
    return Board()


@pytest.fixture
def app(settings, database, board):
    app = create_app(settings, database, board)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def post(client, auth, admin):
    auth.login(admin)
    token = auth.csrf("/admin/queues")

    def post(path: str, **form):
        """The form as the browser sends it: a queue's settings form carries the version its
        page showed (unless the test gives one)."""
        if re.fullmatch(r"/admin/queues/[^/]+", path) and "version" not in form:
            shown = re.search(r'name="version" value="(\d+)"',
                              client.get(path).get_data(as_text=True))
            if shown:
                form["version"] = shown.group(1)
        return client.post(path, data={**form, "csrf_token": token})
    return post


@pytest.fixture
def sales(database, make_user):
    make_user("alice", extension="1000")
    make_user("bob", extension="1001")
    with database.session() as s:
        queue_config.create_queue(s, "sales", who=CLI)
        queue_config.set_tier(s, "sales", "1000", who=CLI)


def row(database, name="sales") -> Queue | None:
    with database.session() as s:
        found = s.scalar(select(Queue).where(Queue.name == name))
        if found is not None:
            found.tier_list = queue_config.describe_tiers(found)
        s.expunge_all()
        return found


def every_setting(**changes) -> dict[str, str]:
    """The edit form as a browser sends it: checked boxes only."""
    form = {"strategy": "top_down", "max_wait": "120", "max_wait_no_agent": "30",
            "timeout_action": "number", "timeout_target": "5551234", "service_level": "15",
            "priority": "2", "agent_ring": "25", "wrapup": "", "tier_wait": "10",
            "tier_wait_multiply": "on", "answer_on_entry": "on", "hold_music": "local_stream://moh",
            "description": "Sales <line>", "open_hours": "", "holidays": "",
            "closed_action": "hang_up", "closed_target": "", "closed_message": "",
            "callback_key": "", "callback_retries": "2", "callback_retry_delay": "300",
            "callback_confirm_message": "", "callback_unavailable_message": "",
            "greeting": "", "announcement": "", "announce_every": "0", "position_every": "60"}
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def test_admins_only(client, auth, admin, make_user, sales):
    make_user("sam", Role.SUPERVISOR)
    auth.login("sam")
    assert client.get("/admin/queues").status_code == 403
    assert client.get("/admin/queues/sales").status_code == 403


def test_the_list_shows_each_queue_and_links_from_home(client, post, sales):
    home = client.get("/").get_data(as_text=True)
    assert 'href="/admin/queues"' in home
    page = client.get("/admin/queues").get_data(as_text=True)
    assert re.search(r'<a href="/admin/queues/sales">sales</a></td>\s*<td>Longest idle agent</td>'
                     r'\s*<td>300 s</td>\s*<td>Hang up</td>\s*<td>0</td>\s*<td>1</td>'
                     r'\s*<td>Always open</td>', page), page


def test_adding_a_queue_goes_to_its_page_and_reloads(client, post, board, database):
    reply = post("/admin/queues", name="support", strategy="ring_all")
    assert reply.status_code == 302 and reply.headers["Location"].endswith("/admin/queues/support")
    assert row(database, "support").strategy is QueueStrategy.RING_ALL
    assert board.reloads == 1
    page = client.get(reply.headers["Location"]).get_data(as_text=True)
    assert "Queue support added" in page


@pytest.mark.parametrize("name, status, fragment", [
    ("sales", 409, "a queue named &#39;sales&#39; exists already"),
    ("bad name", 422, "letters, digits"),
])
def test_a_refused_queue_keeps_what_was_typed(post, board, database, sales, name, status,
                                              fragment):
    reply = post("/admin/queues", name=name, strategy="random")
    page = reply.get_data(as_text=True)
    assert reply.status_code == status
    assert re.search(r'<p class="error" id="queue-name-error">[^<]*' + fragment, page), page
    assert f'value="{name}"' in page and '<option value="random" selected>' in page
    assert 'aria-invalid="true" aria-describedby="queue-name-error"' in page
    assert board.reloads == 0
    with database.session() as s:
        assert s.scalars(select(Queue.name)).all() == ["sales"]


def test_the_edit_page_labels_every_input_and_shows_the_settings(client, post, sales):
    page = client.get("/admin/queues/sales").get_data(as_text=True)
    ids = re.findall(r'<(?:input|select)[^>]*\bid="([^"]+)"', page)
    labelled = set(re.findall(r'<label for="([^"]+)"', page))
    assert ids and set(ids) <= labelled, set(ids) - labelled
    assert '<select id="setting-strategy" name="strategy">' in page
    assert '<option value="longest_idle_agent" selected>Longest idle agent</option>' in page
    assert '<option value="agent_with_fewest_calls" >Fewest calls today</option>' in page
    assert re.search(r'id="setting-agent_ring" name="agent_ring" value="20"\s+min="5" max="120"',
                     page)
    assert re.search(r'type="checkbox" id="setting-answer_on_entry" name="answer_on_entry" '
                     r'checked', page)
    assert '<option value="1001" >1001 (bob)</option>' in page     # only bob is left to add
    assert '<option value="1000"' not in page


def test_saving_every_setting(client, post, board, database, sales):
    reply = post("/admin/queues/sales", **every_setting())
    assert reply.status_code == 302, reply.get_data(as_text=True)
    saved = row(database)
    assert (saved.strategy, saved.max_wait_seconds, saved.max_wait_no_agent_seconds,
            saved.timeout_action, saved.timeout_target, saved.service_level_seconds,
            saved.priority, saved.agent_ring_seconds, saved.wrapup_seconds,
            saved.tier_wait_seconds, saved.tier_wait_multiply, saved.tier_wait_empty,
            saved.answer_on_entry, saved.hold_music, saved.description) == (
        QueueStrategy.TOP_DOWN, 120, 30, TimeoutAction.NUMBER, "5551234", 15, 2, 25, None, 10,
        True, False, True, "local_stream://moh", "Sales <line>")
    assert board.reloads == 1
    # An unchecked box is sent as nothing: it turns the setting off.
    post("/admin/queues/sales", **every_setting(answer_on_entry=None, wrapup="5"))
    assert (row(database).answer_on_entry, row(database).wrapup_seconds) == (False, 5)
    assert "Sales &lt;line&gt;" in client.get("/admin/queues/sales").get_data(as_text=True)
    # Callbacks, and a closed queue that takes callback requests.
    post("/admin/queues/sales", **every_setting(
        callback_key="#", callback_retries="1", callback_retry_delay="90",
        callback_confirm_message="/usr/share/sounds/thanks.wav", closed_action="callback"))
    saved = row(database)
    assert (saved.callback_key, saved.callback_retries, saved.callback_retry_delay_seconds,
            saved.callback_confirm_message, saved.closed_action) == (
        "#", 1, 90, "/usr/share/sounds/thanks.wav", TimeoutAction.CALLBACK)
    page = client.get("/admin/queues/sales").get_data(as_text=True)
    assert 'name="callback_key" value="#"' in page
    assert '<option value="callback" selected>A callback request (when closed)</option>' in page


def test_saving_open_hours_and_what_a_closed_queue_does(client, post, board, database, sales):
    reply = post("/admin/queues/sales", **every_setting(
        open_hours="Mon-Fri 09:00-17:00 ; sat 10:00-13:00", holidays="2026-12-25 Christmas",
        closed_action="number", closed_target="5550199"))
    assert reply.status_code == 302, reply.get_data(as_text=True)
    saved = row(database)
    assert (saved.open_hours, saved.holidays, saved.closed_action, saved.closed_target,
            saved.closed_message) == ("mon-fri 09:00-17:00; sat 10:00-13:00",
                                      "2026-12-25 Christmas", TimeoutAction.NUMBER, "5550199",
                                      "")
    page = client.get("/admin/queues/sales").get_data(as_text=True)
    assert 'name="open_hours" value="mon-fri 09:00-17:00; sat 10:00-13:00"' in page
    reply = post("/admin/queues/sales", **every_setting(
        open_hours="mon-fri 17:00-09:00", holidays="christmas", closed_action="hang_up",
        closed_message="local_stream://moh"))
    page = reply.get_data(as_text=True)
    assert reply.status_code == 422
    for field, fragment in (("open_hours", "by midnight"), ("holidays", "YYYY-MM-DD"),
                            ("closed_message", "end by itself")):
        assert re.search(rf'<p class="error" id="setting-{field}-error">[^<]*{fragment}', page)
    assert row(database).closed_action is TimeoutAction.NUMBER


def test_a_refused_edit_shows_each_problem_and_keeps_the_form(post, board, database, sales):
    reply = post("/admin/queues/sales", **every_setting(
        max_wait="-4", agent_ring="500", timeout_action="queue", timeout_target="nowhere",
        tier_wait_empty="on"))
    page = reply.get_data(as_text=True)
    assert reply.status_code == 422
    assert "3 settings to fix" in page
    for field, fragment in (("max_wait", "must be 0 to 86400"), ("agent_ring", "5 to 120"),
                            ("timeout_target", "there is no queue &#39;nowhere&#39;")):
        assert re.search(rf'<p class="error" id="setting-{field}-error">[^<]*{fragment}', page)
        assert f'aria-describedby="setting-{field}-error"' in page
    # What was typed is still there, the checkbox as ticked.
    assert 'name="max_wait" value="-4"' in page and 'name="priority" value="2"' in page
    assert '<option value="queue" selected>' in page
    assert re.search(r'name="tier_wait_empty" checked', page)
    saved = row(database)
    assert (saved.max_wait_seconds, saved.priority, saved.tier_wait_empty) == (300, 0, False)
    assert board.reloads == 0


def test_an_unknown_queue_is_404(client, post):
    assert client.get("/admin/queues/nowhere").status_code == 404
    assert post("/admin/queues/nowhere", **every_setting()).status_code == 404


def test_tiers_added_moved_and_removed(client, post, board, database, sales):
    assert post("/admin/queues/sales/tiers", agent="1001", level="2", position="").status_code \
        == 302
    assert row(database).tier_list == "1000 (1/1), 1001 (2/1)"
    post("/admin/queues/sales/tiers", agent="1000", level="3", position="4")
    assert row(database).tier_list == "1001 (2/1), 1000 (3/4)"
    page = client.get("/admin/queues/sales").get_data(as_text=True)
    assert "1000 at level 3, position 4" in page and "Every agent is in this queue" in page
    post("/admin/queues/sales/tiers/remove", agent="1001")
    assert row(database).tier_list == "1000 (3/4)"
    assert board.reloads == 3


def test_a_refused_tier_keeps_what_was_typed(post, board, database, sales):
    reply = post("/admin/queues/sales/tiers", agent="1001", level="0", position="x")
    page = reply.get_data(as_text=True)
    assert reply.status_code == 422
    assert re.search(r'id="tier-level-error">must be 1 to 1000', page)
    assert re.search(r'id="tier-position-error">a whole number', page)
    assert 'name="level" value="0"' in page and '<option value="1001" selected>' in page
    reply = post("/admin/queues/sales/tiers", agent="9999")
    assert re.search(r'id="tier-agent-error">no agent has the extension or username',
                     reply.get_data(as_text=True))
    assert row(database).tier_list == "1000 (1/1)" and board.reloads == 0
