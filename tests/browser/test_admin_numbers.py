"""The admin issue's end-to-end, in the browser alone: from an empty database, the first admin,
an agent user, a queue, the agent's tier in it and an inbound number to it; the agent's page goes
available and a simulated inbound call to that number reaches it; the number is deleted in the
browser and the next call to it is refused; the audit log has each change of the number.

The switch is the simulator (tests/browser/offer_switch.py) asking the controller for the public
dialplan as FreeSWITCH's mod_xml_curl does; the agent's softphone registers at tests/sipws.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter import db as dbmod
from callcenter.models import AuditEntry
from tests.browser.test_softphone_sip import DOMAIN, Directory
from tests.conftest import PASSWORD
from tests.process import ServerProcess

pytestmark = pytest.mark.slow

SHOTS = Path(__file__).parents[2] / "build" / "test-artifacts" / "admin-numbers"
ESL_PASSWORD = "numbers-test-password"
DID = "5550123"


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def rig(env, settings, endpoint):
    """An empty database, the switch (extension 1000's phone registered) and `callcenter serve`
    on it; the switch asks the server for the public dialplan."""
    dbmod.upgrade(settings.database_url)
    processes = []
    try:
        switch = ServerProcess([ESL_PASSWORD, "1000"], env, module="tests.browser.offer_switch")
        processes.append(switch)
        port = switch.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1)
        server = ServerProcess(["serve"], {
            **env, "CALLCENTER_HTTP_BIND": "127.0.0.1:0", "CALLCENTER_ESL_HOST": "127.0.0.1",
            "CALLCENTER_ESL_PORT": port, "CALLCENTER_ESL_PASSWORD": ESL_PASSWORD,
            "CALLCENTER_SIP_DOMAIN": DOMAIN, "CALLCENTER_SOFTPHONE_WSS_URL": endpoint.url})
        processes.append(server)
        base = server.wait_for(r"serving on (http://127\.0\.0\.1:\d+)").group(1)
        server.wait_for(r"switch link up")
        user, password = settings.freeswitch_http_user, settings.freeswitch_http_password
        endpoint.a1_of = Directory(base, user, password).a1_of
        switch.send(f"controller {base}/freeswitch/dialplan {user} {password}")
        switch.wait_for(r"^controller set")
        yield base, switch
    finally:
        for process in reversed(processes):
            process.stop()


def submit(page, button: str) -> None:
    with page.expect_navigation():
        page.click(button)


def first_admin(page, base: str) -> None:
    page.goto(base + "/")
    page.wait_for_url(re.compile(r"/setup$"))
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=confirm]", PASSWORD)
    submit(page, "button[type=submit]")
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", PASSWORD)
    submit(page, "button[type=submit]")


def set_up_the_call_center(page, base: str) -> None:
    """The agent user, the queue, the agent's tier and the number: the admin's pages only."""
    page.click("nav >> text=Users")
    page.fill("form[action$='/admin/users'] input[name=username]", "alice")
    page.fill("form[action$='/admin/users'] input[name=password]", PASSWORD)
    page.select_option("form[action$='/admin/users'] select[name=role]", "agent")
    page.fill("form[action$='/admin/users'] input[name=extension]", "1000")
    submit(page, "text=Add user")
    assert "User alice added." in page.text_content("main")

    page.click("nav >> text=Queues")
    page.fill("#queue-name", "sales")
    submit(page, "text=Add queue")
    page.select_option("#tier-agent", "1000")
    submit(page, "text=Add to sales")
    assert "Queue sales: 1000 at level 1" in page.text_content("main")

    page.click("nav >> text=Numbers")
    page.fill("#new-number", "+" + DID)
    page.select_option("#new-queue", "sales")
    page.fill("#new-label", "Spring campaign")
    submit(page, "text=Add number")
    row = page.locator(f"tr[data-number='{DID}']")
    assert row.locator("select").input_value() == "sales"
    # The same number without its '+': refused next to its field, nothing added.
    page.fill("#new-number", DID)
    submit(page, "text=Add number")
    assert "already one of our numbers" in page.text_content("#new-number-error")
    assert page.get_attribute("#new-number", "aria-invalid") == "true"
    assert page.locator("#numbers tbody tr").count() == 1
    shot(page, "1-number-added")


def available(chromium, base: str):
    page = chromium.new_page()
    page.goto(base + "/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/agent")
    page.wait_for_selector("#softphone-status[data-state=registered]", timeout=15000)
    page.select_option("#status-select", "available")
    page.wait_for_selector("#status:text('Available')")
    return page


def test_a_number_set_up_in_the_browser_reaches_the_agent_until_deleted(
        rig, launch_chromium, database):
    base, switch = rig
    chromium = launch_chromium(media=True)
    admin = chromium.new_page()
    first_admin(admin, base)
    set_up_the_call_center(admin, base)

    agent = available(chromium, base)
    switch.send("register 1000")            # what FreeSWITCH tells the controller as it does
    switch.wait_for(r"^registered 1000")
    switch.send(f"dial {DID} 15551234567")
    caller = switch.wait_for(r"^dialled (\S+) parked sales$").group(1)
    leg = switch.wait_for(r"agent leg (\S+) 1000 \w+").group(1)
    agent.wait_for_selector("#incoming[data-state=ringing]", timeout=10000)
    assert agent.get_attribute("#incoming", "data-leg") == leg
    assert agent.text_content("#incoming-queue") == "sales"
    shot(agent, "2-the-call-reaches-the-agent")
    switch.send(f"hangup {caller}")
    switch.wait_for(rf"^hung up {caller}")

    admin.click("nav >> text=Numbers")
    submit(admin, f"button[aria-label='Delete {DID}']")
    assert "No inbound number yet" in admin.text_content("#numbers")
    switch.send(f"dial {DID} 15551234568")
    switch.wait_for(r"^dialled \S+ refused UNALLOCATED_NUMBER$")

    with database.session() as s:
        audited = [(a.actor, a.action, a.target, a.after and json.loads(a.after))
                   for a in s.scalars(select(AuditEntry).where(AuditEntry.action.like("number.%"))
                                      .order_by(AuditEntry.id))]
    assert audited == [("root", "number.create", f"number {DID}",
                        {"queue": "sales", "label": "Spring campaign"}),
                       ("root", "number.delete", f"number {DID}", None)]
