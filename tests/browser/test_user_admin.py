"""The admin's Users and Queues pages in a browser against a running controller: a CSV file's
dry run shows a bad row's problem (and a good file then imports, its passwords shown once); a
tier moved on a queue's page routes the next simulated caller to another agent; a stale edit
from a second tab is refused with the current values."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from callcenter import db as dbmod
from callcenter import queue_config
from callcenter.audit import CLI
from callcenter.models import Agent, AgentStatus, QueueStrategy, User
from tests.browser.test_supervising import log_in
from tests.process import ServerProcess

pytestmark = pytest.mark.slow

ESL_PASSWORD = "admin-test-password"


def test_the_csv_dry_run_shows_a_bad_row_then_a_good_file_imports(server, browser, database,
                                                                   tmp_path):
    with database.session() as s:
        queue_config.create_queue(s, "sales", who=CLI)
    bad = tmp_path / "bad.csv"
    bad.write_text("username,role,extension,queues\ncarol,agent,1001,sales:1\n"
                   "dave,agnet,1002,\n")
    page = browser.new_page()
    log_in(page, server, "root")
    page.goto(server + "/admin/users")
    page.set_input_files("#import-file", str(bad))
    page.click("#import-check")
    page.wait_for_selector("#import-rows")
    assert page.text_content("#import-summary") == "Nothing was written: 1 of 2 rows to fix."
    assert page.text_content("tr[data-line='2'] .problem") == "ok"
    assert "unknown role 'agnet'" in page.text_content("tr[data-line='3'] .problem")
    assert page.locator("#import-now").count() == 0
    with database.session() as s:
        assert s.scalar(select(User).where(User.username == "carol")) is None

    good = tmp_path / "good.csv"
    good.write_text("username,role,extension,queues\ncarol,agent,1001,sales:1\n"
                    "dave,agent,1002,\n")
    page.set_input_files("#import-file", str(good))
    page.click("#import-check")
    page.wait_for_selector("#import-now")
    assert "all 2 rows can be imported" in page.text_content("#import-summary")
    page.click("#import-now")
    page.wait_for_selector("#generated-passwords")
    assert page.locator("#generated-passwords tbody tr").count() == 2
    assert page.locator("tbody td a", has_text="carol").count() == 1     # in the users' list
    with database.session() as s:
        carol = s.scalar(select(User).where(User.username == "carol"))
        assert carol.agent.extension == "1001" and [t.queue.name for t in carol.agent.tiers] \
            == ["sales"]


def test_a_stale_edit_from_a_second_tab_is_refused(server, browser, database, make_user):
    alice = make_user("alice", extension="1000")
    context = browser.new_context()
    first = context.new_page()
    log_in(first, server, "root")
    second = context.new_page()
    for tab in (first, second):
        tab.goto(f"{server}/admin/users/{alice}")
    first.fill("#user-wrapup_seconds", "30")
    first.click("#user-form button[type=submit]")
    first.wait_for_selector("text=User alice saved.")
    second.fill("#user-wrapup_seconds", "45")
    second.click("#user-form button[type=submit]")
    stale = second.wait_for_selector("#stale")
    assert "changed by someone else meanwhile, so nothing was saved: here is how it is now" in \
        stale.text_content()
    assert second.input_value("#user-wrapup_seconds") == "30"      # the current value
    with database.session() as s:
        assert s.scalar(select(Agent.wrapup_seconds).where(Agent.user_id == alice)) == 30
    # From the page it answered (the current version), the save goes through.
    second.fill("#user-wrapup_seconds", "45")
    second.click("#user-form button[type=submit]")
    second.wait_for_selector("text=User alice saved.")
    with database.session() as s:
        assert s.scalar(select(Agent.wrapup_seconds).where(Agent.user_id == alice)) == 45


@pytest.fixture
def switchboard(env, settings, database, admin, make_user):
    """`callcenter serve` linked to the simulator (tests/browser/offer_switch.py, whose agents'
    phones ring until told): alice (1000) and bob (1001) registered, Available, in queue `sales`
    (top down: alice first). Its base URL and the switch."""
    dbmod.upgrade(settings.database_url)
    ids = [make_user("alice", extension="1000"), make_user("bob", extension="1001")]
    with database.session() as s:
        queue_config.create_queue(s, "sales", {"strategy": QueueStrategy.TOP_DOWN.value},
                                  who=CLI)
        for position, extension in enumerate(("1000", "1001"), start=1):
            queue_config.set_tier(s, "sales", extension, 1, position, who=CLI)
        s.execute(update(Agent).where(Agent.user_id.in_(ids))
                  .values(status=AgentStatus.AVAILABLE))
    switch = ServerProcess([ESL_PASSWORD, "1000", "1001"], env,
                           module="tests.browser.offer_switch")
    processes = [switch]
    try:
        port = switch.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1)
        server = ServerProcess(["serve"], {
            **env, "CALLCENTER_HTTP_BIND": "127.0.0.1:0", "CALLCENTER_ESL_HOST": "127.0.0.1",
            "CALLCENTER_ESL_PORT": port, "CALLCENTER_ESL_PASSWORD": ESL_PASSWORD})
        processes.append(server)
        base = server.wait_for(r"serving on (http://127\.0\.0\.1:\d+)").group(1)
        server.wait_for(r"switch link up")
        yield base, switch
    finally:
        for process in reversed(processes):
            process.stop()


def test_a_tier_moved_in_the_browser_routes_the_next_caller(switchboard, browser):
    base, switch = switchboard
    switch.send("caller sales 15550001")
    first = switch.wait_for(r"^caller (\S+)").group(1)
    assert switch.wait_for(r"agent leg \S+ (\d+)").group(1) == "1000"     # top down: alice
    switch.send(f"hangup {first}")
    seen = len(switch.output)
    switch.wait_for(rf"hung up {first}")

    page = browser.new_page()
    log_in(page, base, "root")
    page.goto(base + "/admin/queues/sales")
    assert page.locator("#level-1 ol li").evaluate_all(
        "(items) => items.map((li) => li.dataset.agent)") == ["1000", "1001"]
    page.fill("#level-1000", "2")
    page.click("button[aria-label='Save the tier of 1000']")
    page.wait_for_selector("text=Queue sales: 1000 at level 2, position 1.")
    assert page.locator("#level-1 ol li").evaluate_all(
        "(items) => items.map((li) => li.dataset.agent)") == ["1001"]
    assert page.locator("#level-2 ol li").count() == 1

    switch.send("caller sales 15550002")
    switch.wait_for(r"^caller (\S+)", after=seen)
    assert switch.wait_for(r"agent leg \S+ (\d+)", after=seen).group(1) == "1001"     # bob now
