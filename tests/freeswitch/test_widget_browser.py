"""The website-call widget in Chromium through a real FreeSWITCH 1.10 (skipped unless
CALLCENTER_TEST_FREESWITCH names its binary), with the shipped tree: a business's page on
another origin embeds the widget; the visitor's SIP.js connects to FreeSWITCH's WSS binding,
answers its digest challenge with the one-call guest credential (checked by the controller's
directory), lands in the guests context and in the widget's queue; the widget shows its place in
line over real media (ICE connected to FreeSWITCH), and its Hang up ends the call there.

Video between the visitor and the agent's page: test_video_calls.py."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect, sync_playwright

from callcenter.accounts import create_user
from callcenter.audit import CLI
from callcenter.models import Queue, Role
from callcenter.widgets import settings as rules
from tests.browser.conftest import BASE_ARGS, CHROMIUM, FAKE_MICROPHONE, GRANT_MICROPHONE
from tests.browser.widget_site import WIDGET_JS, HostPage
from tests.conftest import PASSWORD
from tests.freeswitch.controller import running
from tests.freeswitch.switch import freeswitch_binary

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not WIDGET_JS.exists(), reason="the widget bundle is not built (make install)")]
# The guest realm must be a SIP host name for SIP.js (guests.127.0.0.1 is not one).
REALM = "guests.pbx.example.test"
# Every RTCPeerConnection the page makes, kept where the test can read its state.
WATCH_PEERS = """(() => { const Original = RTCPeerConnection; window.__peers = [];
  window.RTCPeerConnection = function (...args) {
    const peer = new Original(...args); window.__peers.push(peer); return peer; };
  window.RTCPeerConnection.prototype = Original.prototype; })()"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    binary = freeswitch_binary()
    host = HostPage()

    def seed(s) -> None:
        create_user(s, "root", PASSWORD, Role.ADMIN, who=CLI)
        s.add(Queue(name="web"))
        s.flush()
        rules.add_widget(s, {"name": "Shop", "queue": "web", "allowed_origins": host.origin,
                             "calls_per_address_hour": "100", "concurrent_calls": "10",
                             "max_call_seconds": "600", "active": "on", "video": "on"},
                         who=CLI)

    root = tmp_path_factory.mktemp("widget-browser")
    try:
        with running(root, binary, carrier_port=5098, seed=seed,
                     CALLCENTER_GUEST_REALM=REALM) as run:
            with run.database.session() as s:
                host.controller, host.widget = run.live.base, rules.all_widgets(s)[0].public_id
            yield run, host
    finally:
        host.stop()


@pytest.fixture
def page():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            # FreeSWITCH's WSS certificate is this test's own, self-signed.
            args=[*BASE_ARGS, FAKE_MICROPHONE, GRANT_MICROPHONE, "--ignore-certificate-errors"])
        try:
            visitor = chromium.new_page()
            visitor.add_init_script(WATCH_PEERS)
            yield visitor
        finally:
            chromium.close()


def test_a_visitor_waits_in_the_widgets_queue_through_freeswitch_and_hangs_up(lab, page):
    run, host = lab
    page.goto(host.url)
    page.get_by_role("button", name="Call us").click()
    page.get_by_role("button", name="Start the call").click()
    caller = run.server.wait_for(r"caller (\S+) entered queue web", 30).group(1)
    assert caller.startswith("g")
    status = page.get_by_role("status")
    expect(status).to_have_text("Waiting for the next agent (position 1)", timeout=20000)
    # FreeSWITCH answered the guest's leg in the queue: media is up between it and the browser.
    page.wait_for_function("() => window.__peers.some((p) => p.connectionState === 'connected')",
                           timeout=20000)
    expect(page.get_by_role("alert")).to_have_text("")
    lines = len(run.server.lines)
    page.get_by_role("button", name="Hang up").click()
    expect(status).to_have_text("Call ended")
    run.server.wait_for(r"call ended", 20, after=lines)
