"""The admin's page of one user: role, active, extension and an agent's settings, validated on
the server with each problem next to its field; a stale form refused with the current values;
queue memberships from the agent's side; a generated password shown once; audit rows."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from callcenter import queue_config
from callcenter.app import create_app
from callcenter.audit import CLI
from callcenter.models import Agent, AgentStatus, AuditEntry, LoginSession, QueueAgent, Role, User
from callcenter.passwords import verify_password
from tests.conftest import PASSWORD, AuthActions


class Board:
    """What the pages ask of a running switchboard: reloads, counted; agents' live statuses;
    the rest does nothing."""

    def __init__(self) -> None:
        self.agent_reloads: list[int] = []
        self.queue_reloads = 0
        self.statuses: dict[int, AgentStatus] = {}     # the live ones; others: the row's

    def health(self) -> dict:
        return {"database": "ok", "spool_state": "ok", "backlog": 0}

    def reload_agent(self, agent_id: int) -> None:
        self.agent_reloads.append(agent_id)

    def reload_queues(self) -> None:
        self.queue_reloads += 1

    def agent(self, agent_id: int):
        from callcenter.switchboard import AgentError

        if agent_id not in self.statuses:
            raise AgentError("not known here")
        return type("View", (), {"status": self.statuses[agent_id]})()

    def own_phone_given(self, *args) -> None: ...
    def set_active(self, *args) -> None: ...
    def agent_logged_in(self, *args) -> None: ...
    def set_status(self, *args) -> None: ...
    def flush_registration(self, *args, **kwargs) -> None: ...


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
    token = auth.csrf("/admin/users")

    def post(path: str, **form):
        return client.post(path, data={**form, "csrf_token": token})
    return post


@pytest.fixture
def alice(make_user, database) -> int:
    return make_user("alice", extension="1000")


def shown_form(client, user_id: int) -> dict[str, str]:
    """The edit form as the browser would send it unchanged: every input with its value, checked
    boxes only."""
    page = client.get(f"/admin/users/{user_id}").get_data(as_text=True)
    form_html = re.search(r'<form[^>]*id="user-form".*?</form>', page, re.S).group(0)
    form = {}
    for tag in re.findall(r"<input[^>]*>", form_html):
        name = re.search(r'name="([^"]+)"', tag)
        if name is None or name.group(1) == "csrf_token":
            continue
        if 'type="checkbox"' in tag:
            if " checked" in tag:
                form[name.group(1)] = "on"
            continue
        form[name.group(1)] = re.search(r'value="([^"]*)"', tag).group(1)
    form["role"] = re.search(r'<option value="(\w+)" selected', form_html).group(1)
    return form


def agent_row(database, username: str = "alice") -> Agent:
    with database.session() as s:
        agent = s.scalar(select(Agent).join(User).where(User.username == username))
        s.expunge_all()
        return agent


def audit_rows(database, action: str) -> list[tuple[str, dict | None, dict | None]]:
    with database.session() as s:
        return [(row.target, json.loads(row.before) if row.before else None,
                 json.loads(row.after) if row.after else None)
                for row in s.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                     .order_by(AuditEntry.id))]


def test_every_agent_setting_is_saved_audited_and_reloaded(client, post, board, database, alice):
    form = shown_form(client, alice)
    assert form["wrapup_seconds"] == "10" and form["auto_answer"] == "on"
    del form["auto_answer"]         # unticked
    reply = post(f"/admin/users/{alice}", **{
        **form, "wrapup_seconds": "25", "max_no_answer": "0", "reject_delay_seconds": "5",
        "busy_delay_seconds": "60", "no_answer_delay_seconds": "15", "always_record": "on",
        "extension": "1010"})
    assert reply.status_code == 302, reply.get_data(as_text=True)
    agent = agent_row(database)
    assert (agent.extension, agent.wrapup_seconds, agent.max_no_answer,
            agent.reject_delay_seconds, agent.busy_delay_seconds, agent.no_answer_delay_seconds,
            agent.auto_answer, agent.always_record) == ("1010", 25, 0, 5, 60, 15, False, True)
    assert board.agent_reloads == [agent.id]
    [(target, before, after)] = audit_rows(database, "user.change")
    assert target == "user alice"
    assert before == {"extension": "1000", "wrapup_seconds": 10, "max_no_answer": 3,
                      "reject_delay_seconds": 10, "busy_delay_seconds": 30,
                      "no_answer_delay_seconds": 10, "auto_answer": True,
                      "always_record": False}
    assert after["wrapup_seconds"] == 25 and after["auto_answer"] is False


def test_refused_fields_come_back_with_each_problem_next_to_it(client, post, board, database,
                                                               alice, make_user):
    make_user("bob", extension="1001")
    form = shown_form(client, alice)
    reply = post(f"/admin/users/{alice}", **{**form, "wrapup_seconds": "-1",
                                             "busy_delay_seconds": "soon", "extension": "1001",
                                             "role": "supervisor"})
    page = reply.get_data(as_text=True)
    assert reply.status_code == 422
    assert "4 fields to fix" in page
    assert re.search(r'id="user-wrapup_seconds-error">must be 0 to 3600 seconds', page)
    assert re.search(r'id="user-busy_delay_seconds-error">a whole number', page)
    assert re.search(r'id="user-extension-error">extension 1001 already belongs', page)
    assert re.search(r'id="user-role-error">an agent stays an agent', page)
    assert 'value="soon"' in page            # as it was typed
    assert agent_row(database).wrapup_seconds == 10 and board.agent_reloads == []
    assert audit_rows(database, "user.change") == []


def test_a_stale_form_is_refused_with_the_current_version(client, post, database, alice):
    first, second = shown_form(client, alice), shown_form(client, alice)   # two tabs
    assert post(f"/admin/users/{alice}", **{**first, "wrapup_seconds": "30"}).status_code == 302
    reply = post(f"/admin/users/{alice}", **{**second, "wrapup_seconds": "45"})
    page = reply.get_data(as_text=True)
    assert reply.status_code == 409
    assert "changed by someone else meanwhile, so nothing was saved: here is how it is now" in page
    assert 'name="wrapup_seconds" value="30"' in page
    assert agent_row(database).wrapup_seconds == 30
    # The page it answered carries the new version: saving from it works.
    again = shown_form(client, alice)
    assert post(f"/admin/users/{alice}", **{**again, "wrapup_seconds": "45"}).status_code == 302
    assert agent_row(database).wrapup_seconds == 45


def test_the_switchboards_own_writes_leave_the_version_alone(client, post, database, alice):
    """An agent taking calls has its status and state written all the time: an admin's form
    shown before them still saves."""
    from sqlalchemy import update

    form = shown_form(client, alice)
    with database.session() as s:
        s.execute(update(Agent).where(Agent.user_id == alice).values(
            status=AgentStatus.AVAILABLE, registered=True))
    assert post(f"/admin/users/{alice}", **{**form, "wrapup_seconds": "12"}).status_code == 302


def test_a_form_without_its_version_is_refused(post, database, alice):
    reply = post(f"/admin/users/{alice}", role="agent", extension="1000", wrapup_seconds="5")
    assert reply.status_code == 422
    assert "the form carries no version" in reply.get_data(as_text=True)
    assert agent_row(database).wrapup_seconds == 10


def test_the_extension_of_an_agent_not_logged_out_stays(client, post, board, database, alice):
    agent_id = agent_row(database).id
    board.statuses[agent_id] = AgentStatus.AVAILABLE
    form = shown_form(client, alice)
    reply = post(f"/admin/users/{alice}", **{**form, "extension": "1010", "wrapup_seconds": "5"})
    assert reply.status_code == 422
    assert "must be Logged Out for its extension to change" in reply.get_data(as_text=True)
    assert (agent_row(database).extension, agent_row(database).wrapup_seconds) == ("1000", 10)
    # Its other settings change while it takes calls.
    form = shown_form(client, alice)
    assert post(f"/admin/users/{alice}", **{**form, "wrapup_seconds": "5"}).status_code == 302
    assert agent_row(database).wrapup_seconds == 5


def test_role_active_and_own_extension_of_a_supervisor(client, post, database, admin, make_user):
    sam = make_user("sam", Role.SUPERVISOR)
    form = shown_form(client, sam)
    assert form["extension"] == "" and "agent_version" not in form
    del form["active"]
    reply = post(f"/admin/users/{sam}", **{**form, "role": "admin", "extension": "2001"})
    assert reply.status_code == 302, reply.get_data(as_text=True)
    with database.session() as s:
        user = s.get(User, sam)
        assert (user.role, user.active, user.extension) == (Role.ADMIN, False, "2001")
    [(_, before, after)] = audit_rows(database, "user.change")
    assert before == {"role": "supervisor", "active": True, "extension": ""}
    assert after == {"role": "admin", "active": False, "extension": "2001"}


def test_an_admin_cannot_demote_or_deactivate_itself(client, post, database, admin):
    with database.session() as s:
        me = s.scalar(select(User.id).where(User.username == admin))
    form = shown_form(client, me)
    del form["active"]
    reply = post(f"/admin/users/{me}", **{**form, "role": "supervisor"})
    page = reply.get_data(as_text=True)
    assert reply.status_code == 422
    assert "you cannot change your own role" in page and "you cannot deactivate yourself" in page


def test_a_reset_password_is_generated_shown_once_and_signs_the_user_out(
        app, client, post, database, alice):
    other = app.test_client()
    AuthActions(other).login("alice")
    with database.session() as s:
        assert s.scalar(select(LoginSession).where(LoginSession.user_id == alice)) is not None
    reply = post(f"/admin/users/{alice}/password")
    page = reply.get_data(as_text=True)
    assert reply.status_code == 200 and reply.headers["Cache-Control"] == "no-store"
    password = re.search(r'<code id="new-password">([^<]+)</code>', page).group(1)
    assert re.fullmatch(r"[a-z2-9]{4}(-[a-z2-9]{4}){3}", password)
    assert "1 login ended" in page
    with database.session() as s:
        user = s.get(User, alice)
        assert verify_password(user.password_hash, password)
        assert not verify_password(user.password_hash, PASSWORD)
        assert s.scalar(select(LoginSession).where(LoginSession.user_id == alice)) is None
    assert other.get("/agent").status_code == 302        # its login ended
    [(target, before, after)] = audit_rows(database, "user.password")
    assert target == "user alice" and before is None and password not in json.dumps(after)
    assert password not in client.get(f"/admin/users/{alice}").get_data(as_text=True)


def test_queue_memberships_from_the_agents_page(client, post, board, database, alice):
    with database.session() as s:
        queue_config.create_queue(s, "sales", who=CLI)
        queue_config.create_queue(s, "support", who=CLI)
    page = client.get(f"/admin/users/{alice}").get_data(as_text=True)
    assert "In no queue" in page
    assert post(f"/admin/users/{alice}/queues", queue="sales", level="2", position="",
                was="").status_code == 302
    assert post(f"/admin/users/{alice}/queues", queue="support", level="1", position="3",
                was="").status_code == 302
    assert post(f"/admin/users/{alice}/queues", queue="sales", level="1", position="1",
                was="2/1").status_code == 302
    assert post(f"/admin/users/{alice}/queues/remove", queue="support",
                was="1/3").status_code == 302
    with database.session() as s:
        tiers = [(t.queue.name, t.level, t.position) for t in s.scalars(select(QueueAgent))]
    assert tiers == [("sales", 1, 1)]
    assert board.queue_reloads == 4
    assert [after for _, _, after in audit_rows(database, "queue.tier")] == [
        {"level": 2, "position": 1}, {"level": 1, "position": 3}, {"level": 1, "position": 1},
        None]


def test_a_stale_or_refused_membership_changes_nothing(post, board, database, alice):
    with database.session() as s:
        queue_config.create_queue(s, "sales", who=CLI)
        queue_config.set_tier(s, "sales", "1000", level=1, position=1, who=CLI)
    # Shown at 1/1, moved meanwhile on the queue's page to 2/1.
    with database.session() as s:
        queue_config.set_tier(s, "sales", "1000", level=2, who=CLI)
    for path, form in ((f"/admin/users/{alice}/queues", {"level": "3", "position": "1"}),
                       (f"/admin/users/{alice}/queues/remove", {})):
        reply = post(path, queue="sales", was="1/1", **form)
        assert reply.status_code == 409
        assert "changed by someone else meanwhile" in reply.get_data(as_text=True)
    reply = post(f"/admin/users/{alice}/queues", queue="nowhere", level="1", position="",
                 was="")
    assert reply.status_code == 404 and "there is no queue" in reply.get_data(as_text=True)
    reply = post(f"/admin/users/{alice}/queues", queue="sales", level="0", position="", was="2/1")
    assert reply.status_code == 422
    assert re.search(r'id="tier-level-error">must be 1 to 1000', reply.get_data(as_text=True))
    with database.session() as s:
        assert [(t.level, t.position) for t in s.scalars(select(QueueAgent))] == [(2, 1)]
    assert board.queue_reloads == 0


def test_a_queue_settings_form_shown_before_another_save_is_refused(client, post, database):
    with database.session() as s:
        queue_config.create_queue(s, "sales", who=CLI)
    page = client.get("/admin/queues/sales").get_data(as_text=True)
    shown = re.search(r'name="version" value="(\d+)"', page).group(1)
    form = {"strategy": "ring_all", "max_wait": "300", "max_wait_no_agent": "0",
            "timeout_action": "hang_up", "closed_action": "hang_up", "service_level": "20",
            "priority": "0",
            "agent_ring": "20", "tier_wait": "0", "callback_retries": "2",
            "callback_retry_delay": "300", "announce_every": "0", "position_every": "60",
            "version": shown}
    saved = post("/admin/queues/sales", **form)
    assert saved.status_code == 302, saved.get_data(as_text=True)
    reply = post("/admin/queues/sales", **{**form, "strategy": "top_down"})
    assert reply.status_code == 409
    assert "changed by someone else meanwhile" in reply.get_data(as_text=True)
    with database.session() as s:
        assert queue_config.queue_named(s, "sales").strategy.value == "ring_all"


def test_signing_out_everywhere_is_audited(post, database, alice):
    post(f"/admin/users/{alice}/signout")
    assert audit_rows(database, "user.signout") == [("user alice", None, {"logins_ended": 0})]


def test_the_users_pages_are_for_admins_only(client, auth, admin, alice, make_user):
    make_user("sam", Role.SUPERVISOR)
    auth.login("sam")
    token = auth.csrf("/supervisor")
    assert client.get(f"/admin/users/{alice}").status_code == 403
    for path in (f"/admin/users/{alice}", f"/admin/users/{alice}/password",
                 f"/admin/users/{alice}/queues", f"/admin/users/{alice}/queues/remove",
                 "/admin/users/import"):
        assert client.post(path, data={"csrf_token": token}).status_code == 403, path


def test_the_users_page_shows_the_import_form_once_and_a_plain_title(client, auth, admin):
    auth.login(admin)
    page = client.get("/admin/users").get_data(as_text=True)
    assert re.search(r"<title>(.*?)</title>", page, re.S).group(1) == "Users · Call center"
    assert page.count('id="import"') == 1
