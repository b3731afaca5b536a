"""An admin adds a disposition that requires notes on the Dispositions page; an agent, after a
call, picks it from the wrap-up's select, is refused without notes (said next to the notes) and
saves it with them; the Audit log shows those rows and its CSV downloads."""

from __future__ import annotations

import csv
import io

import pytest

from tests.browser.test_agent_page import log_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.slow


def log_in_admin(page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


def test_a_disposition_added_in_the_browser_is_the_agents_to_pick(server, browser, admin,
                                                                  make_user):
    make_user("alice", extension="1000")
    admin_page = browser.new_context().new_page()
    log_in_admin(admin_page, server, admin)
    admin_page.click("nav >> text=Dispositions")
    admin_page.fill("#disposition-code", "refund")
    admin_page.fill("#disposition-label", "Refund given")
    admin_page.check("#disposition-requires-notes")
    admin_page.click("#disposition-add button[type=submit]")
    admin_page.wait_for_selector("tr[data-code=refund]")
    assert "required" in admin_page.text_content("tr[data-code=refund]")

    agent = browser.new_context().new_page()
    log_in(agent, server, "alice")
    agent.wait_for_selector("#live-status:text('live')")
    agent.fill("#number", "15551234567")
    agent.click("#dial-button")
    agent.wait_for_selector("#call-progress[data-progress=answered]", timeout=10000)
    agent.click("#hangup-button")
    agent.wait_for_selector("#wrapup:not([hidden])", timeout=10000)
    agent.wait_for_selector("#disposition-choice:not([hidden])")
    assert agent.is_hidden("#disposition")           # the list, not free text
    agent.select_option("#disposition-choice", "refund")
    assert agent.is_visible("#notes-required")
    agent.click("#disposition-save")
    agent.wait_for_selector("#notes-error:not([hidden])")
    assert "requires notes" in agent.text_content("#notes-error")
    assert agent.is_hidden("#disposition-error") and agent.is_visible("#wrapup")
    agent.fill("#notes", "charged twice")
    agent.click("#disposition-save")
    agent.wait_for_selector("#wrapup-saved:text('Saved: refund')")
    assert agent.is_hidden("#wrapup")

    admin_page.click("nav >> text=Audit log")
    admin_page.wait_for_selector("#audit-rows")
    actions = admin_page.eval_on_selector_all("#audit-rows tr[data-action]",
                                              "rows => rows.map(r => r.dataset.action)")
    assert actions[:2] == ["login", "disposition.create"]    # alice's login, then the add
    admin_page.fill("#audit-action", "disposition")
    admin_page.click("#audit-search button[type=submit]")
    admin_page.wait_for_url("**/admin/audit?*action=disposition*")
    assert "Refund given" in admin_page.text_content("#audit-rows")
    with admin_page.expect_download() as downloading:
        admin_page.click("#audit-export")
    download = downloading.value
    assert download.suggested_filename.startswith("audit-")
    with open(download.path(), encoding="utf-8") as exported:
        lines = list(csv.reader(io.StringIO(exported.read())))
    assert [line[2] for line in lines] == ["action", "disposition.create"]
    assert '"requires_notes":true' in lines[1][5]
