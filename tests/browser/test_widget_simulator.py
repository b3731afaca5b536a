"""A website visitor calls through the whole product with the built-in simulator: the widget on
a page of another origin, the controller's widget API and directory, the simulator's guest
SIP-over-WebSocket listener (as FreeSWITCH's WSS binding), the queue, and an agent's page.
The call waits in the queue, the agent takes it, the widget shows Connected, and a hang-up on
either side ends both; a site not allowed gets no button; calls beyond the limit get 429."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from callcenter import db as dbmod
from callcenter.audit import CLI
from callcenter.widgets import settings as rules
from tests.browser.test_agent_page import log_in
from tests.browser.test_incoming_call import staff_queue
from tests.browser.widget_site import WIDGET_JS, HostPage
from tests.process import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not WIDGET_JS.exists(), reason="the widget bundle is not built (make install)")]


@pytest.fixture
def host():
    page = HostPage()
    yield page
    page.stop()


@pytest.fixture
def rig(env, settings, database, admin, make_user, host):
    """`callcenter serve` (built-in simulator), queue `sales` with alice (1000) as its agent,
    and a widget for `sales` allowing the host page's origin; (base URL, widget id)."""
    dbmod.upgrade(settings.database_url)
    staff_queue(database, make_user("alice", extension="1000"), auto_answer=True)
    # A SIP domain with a name: the guest realm (guests.<domain>) must be a SIP host name.
    process = ServerProcess(["serve"], {**env, "CALLCENTER_HTTP_BIND": "127.0.0.1:0",
                                        "CALLCENTER_SIP_DOMAIN": "pbx.example.test"})
    try:
        base = process.wait_for(r"serving on (http://127\.0\.0\.1:\d+)").group(1)
        process.wait_for(r"switch link up")
        yield base, lambda **limits: add_widget(database, host, base, **limits)
    finally:
        process.stop()


def add_widget(database, host: HostPage, base: str, origin: str | None = None,
               **limits: str) -> str:
    with database.session() as session:
        widget = rules.add_widget(session, {
            "name": "Acme support", "queue": "sales",
            "allowed_origins": origin or host.origin, "field_name": "on",
            "calls_per_address_hour": "10", "concurrent_calls": "5", "max_call_seconds": "600",
            "active": "on", **limits}, who=CLI)
        session.commit()
        host.controller, host.widget = base, widget.public_id
        return widget.public_id


def visitor_calls(chromium, host: HostPage):
    page = chromium.new_page()
    page.goto(host.url)
    page.get_by_role("button", name="Call us").click()
    page.get_by_label("Your name").fill("Ada Visitor")
    page.get_by_role("button", name="Start the call").click()
    return page


def available(chromium, base: str):
    page = chromium.new_page()
    log_in(page, base, "alice")
    page.wait_for_selector("#live-status:text('live')")
    page.select_option("#status-select", "available")
    page.wait_for_selector("#status:text('Available')")
    return page


@pytest.fixture
def chromium(launch_chromium):
    return launch_chromium(media=True)


def test_the_call_waits_an_agent_takes_it_and_the_agent_hangs_up(rig, chromium, host):
    base, widget = rig
    widget()
    visitor = visitor_calls(chromium, host)
    status = visitor.get_by_role("status")
    # Nobody Available yet: the visitor is first in line.
    expect(status).to_have_text("Waiting for the next agent (position 1)", timeout=15000)
    agent = available(chromium, base)
    expect(status).to_have_text("Connected", timeout=15000)
    expect(visitor.get_by_role("timer")).to_be_visible()
    agent.wait_for_selector("#hangup-button:not([hidden])", timeout=10000)
    agent.click("#hangup-button")
    expect(status).to_have_text("Call ended", timeout=10000)
    expect(visitor.get_by_role("alert")).to_have_text("")   # an ordinary end: no problem shown


def test_the_visitor_hangs_up_and_the_agents_call_ends(rig, chromium, host):
    base, widget = rig
    widget()
    agent = available(chromium, base)
    visitor = visitor_calls(chromium, host)
    expect(visitor.get_by_role("status")).to_have_text("Connected", timeout=15000)
    agent.wait_for_selector("#hangup-button:not([hidden])", timeout=10000)
    visitor.get_by_role("button", name="Hang up").click()
    expect(visitor.get_by_role("status")).to_have_text("Call ended")
    agent.wait_for_selector("#hangup-button", state="hidden", timeout=10000)


def test_a_site_not_allowed_gets_no_button(rig, chromium, host):
    base, widget = rig
    wid = widget(origin="https://www.example.com")
    page = chromium.new_page()
    with page.expect_console_message(lambda m: "no call button" in m.text):
        page.goto(host.url)
    expect(page.get_by_role("button", name="Call us")).to_have_count(0)
    # What the browser could not read (no CORS headers for this origin): the refusal.
    request = urllib.request.Request(f"{base}/widget/{wid}/settings",  # noqa: S310 - ours
                                     headers={"Origin": host.origin})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310
    assert refused.value.code == 403
    assert json.loads(refused.value.read())["error"] == "origin_refused"


def test_calls_beyond_the_limit_get_429_shown_to_the_visitor(rig, chromium, host):
    base, widget = rig
    widget(calls_per_address_hour="1")
    first = visitor_calls(chromium, host)
    expect(first.get_by_role("status")).to_contain_text("Waiting", timeout=15000)
    first.get_by_role("button", name="Hang up").click()
    expect(first.get_by_role("status")).to_have_text("Call ended")
    with first.expect_response(lambda r: r.url.endswith("/call")) as answered:
        first.get_by_role("button", name="Start the call").click()
    assert answered.value.status == 429
    expect(first.get_by_role("alert")).to_contain_text(answered.value.json()["message"])
