"""A consult started from the agent's page shows on the supervisor's dashboard, in the Calls
table and in the agent's row, with who is consulted and who is on hold; back to "Talking" once it
is cancelled. A real `callcenter serve` (built-in simulator) and headless Chromium."""

from __future__ import annotations

import pytest

from callcenter.models import Role
from tests.browser.test_agent_page import log_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.slow

TARGET = "15557654321"


def supervisor_page(browser, server):
    page = browser.new_page()
    page.goto(server + "/login")
    page.fill("input[name=username]", "sam")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: not url.endswith("/login"))
    page.goto(server + "/supervisor")
    page.wait_for_selector("#live-status:text('live')")
    return page


def test_a_consult_shows_on_the_supervisor_page(server, browser, make_user):
    make_user("alice", extension="1000")
    make_user("sam", Role.SUPERVISOR)
    agent = browser.new_page()
    log_in(agent, server, "alice")
    agent.wait_for_selector("#live-status:text('live')")
    boss = supervisor_page(browser, server)

    agent.fill("#number", "15551234567")
    agent.click("#dial-button")
    agent.wait_for_selector("#call-progress[data-progress=answered]", timeout=10000)
    boss.wait_for_selector("#calls tbody tr td:text-is('Talking')", timeout=10000)

    agent.fill("#consult-to", TARGET)
    agent.click("#consult-number-button")
    agent.wait_for_selector("#consult-status[data-state=consulting]", timeout=15000)
    where = f"Consulting {TARGET} (customer on hold)"
    boss.wait_for_selector(f"#calls tbody tr td:text-is('{where}')", timeout=10000)
    row = boss.text_content("#agents tbody tr[data-agent]:has(td:text-is('alice'))")
    assert f"consulting {TARGET} (customer on hold)" in row, row

    agent.click("#consult-swap")
    agent.wait_for_selector("#consult-status[data-state=swapped]", timeout=10000)
    boss.wait_for_selector(
        f"#calls tbody tr td:text-is('Back with the customer, consulting {TARGET} "
        f"({TARGET} on hold)')", timeout=10000)

    agent.click("#consult-cancel")
    agent.wait_for_selector("#consult-status[data-state=cancelled]", timeout=10000)
    boss.wait_for_selector("#calls tbody tr td:text-is('Talking')", timeout=10000)
    agent.click("#hangup-button")
    boss.wait_for_selector("#calls-count:text('(0)')", timeout=10000)
