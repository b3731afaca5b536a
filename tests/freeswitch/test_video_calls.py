"""A website visitor's video call reaching an agent's page through a real FreeSWITCH 1.10 (skipped
unless CALLCENTER_TEST_FREESWITCH names its binary), with the shipped tree: the visitor (the
widget on a business's page, "With video" ticked) and the agent (the agent's page, its SIP.js
softphone registered over FreeSWITCH's WSS) are two Chromium pages with fake cameras. The call
enters the widget's queue, is offered to the agent, whose page answers it; FreeSWITCH bridges the
two legs, VP8 on both, and each side's RTCPeerConnection decodes the other's video frames, more
and more of them."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect, sync_playwright

from callcenter.accounts import create_user
from callcenter.audit import CLI
from callcenter.models import Queue, QueueAgent, Role
from callcenter.widgets import settings as rules
from tests.browser.conftest import BASE_ARGS, CHROMIUM, FAKE_MICROPHONE, GRANT_MICROPHONE
from tests.browser.test_agent_page import log_in
from tests.browser.video import AGENT_PEER, video_grows
from tests.browser.widget_site import WIDGET_JS, HostPage
from tests.conftest import PASSWORD
from tests.freeswitch.controller import running
from tests.freeswitch.switch import freeswitch_binary
from tests.freeswitch.test_widget_browser import WATCH_PEERS

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not WIDGET_JS.exists(), reason="the widget bundle is not built (make install)")]
REALM = "guests.pbx.example.test"
EXTENSION = "1077"

# Video frames decoded so far by a peer connection, and the codec they came in.
VISITOR_PEER = "window.__peers.find((p) => p.connectionState === 'connected')"
VP8_LOADED = re.compile(r"Adding Codec VP8\b")   # FreeSWITCH's start-up, when built with libvpx


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    binary = freeswitch_binary()
    host = HostPage()

    def seed(s) -> None:
        create_user(s, "root", PASSWORD, Role.ADMIN, who=CLI)
        agent = create_user(s, "alice", PASSWORD, Role.AGENT, EXTENSION, who=CLI)
        queue = Queue(name="web", wrapup_seconds=0, agent_ring_seconds=30)
        s.add(queue)
        s.flush()
        agent.agent.wrapup_seconds = 0
        s.add(QueueAgent(queue_id=queue.id, agent_id=agent.agent.id, level=1, position=1))
        rules.add_widget(s, {"name": "Shop", "queue": "web", "allowed_origins": host.origin,
                             "calls_per_address_hour": "100", "concurrent_calls": "10",
                             "max_call_seconds": "600", "active": "on", "video": "on"},
                         who=CLI)

    root = tmp_path_factory.mktemp("video-calls")
    try:
        with running(root, binary, carrier_port=5093, seed=seed,
                     CALLCENTER_GUEST_REALM=REALM) as run:
            with run.database.session() as s:
                host.controller, host.widget = run.live.base, rules.all_widgets(s)[0].public_id
            yield run, host
    finally:
        host.stop()


@pytest.fixture
def chromium():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            # FreeSWITCH's WSS certificate is this test's own, self-signed.
            args=[*BASE_ARGS, FAKE_MICROPHONE, GRANT_MICROPHONE, "--ignore-certificate-errors"])
        try:
            yield browser
        finally:
            browser.close()


def test_the_visitor_and_the_agent_see_each_other_through_freeswitch(lab, chromium):
    run, host = lab
    if not any(VP8_LOADED.search(line) for line in run.switch.lines):
        pytest.skip("this FreeSWITCH has no VP8 codec (built with --disable-libvpx): it declines "
                    "every video offer")
    agent = chromium.new_context().new_page()
    log_in(agent, run.live.base, "alice")
    agent.wait_for_selector("#softphone-status[data-state=registered]", timeout=20000)
    agent.select_option("#status-select", "available")
    expect(agent.locator("#status")).to_have_attribute("data-status", "available")

    visitor = chromium.new_context().new_page()
    visitor.add_init_script(WATCH_PEERS)
    visitor.goto(host.url)
    visitor.get_by_role("button", name="Call us").click()
    visitor.get_by_label("With video").check()
    visitor.get_by_role("button", name="Start the call").click()
    caller = run.server.wait_for(r"caller (\S+) entered queue web", 30).group(1)

    # The agent's page answers the offer by itself (the controller's auto-answer): FreeSWITCH
    # offered it video, and it shows the visitor's.
    agent.wait_for_function("window.softphone.session?.state === 'Established'", timeout=30000)
    offered = agent.evaluate(f"{AGENT_PEER}.remoteDescription.sdp")
    assert re.search(r"^m=video [1-9]", offered, re.M), offered
    agent.wait_for_selector("#remote-video:not([hidden])")
    expect(visitor.get_by_role("status")).to_have_text("Connected", timeout=20000)
    visitor.wait_for_function(f"() => Boolean({VISITOR_PEER})", timeout=20000)

    # Both legs carry VP8 (FreeSWITCH passes it through), and frames keep coming both ways.
    seen_by_agent = video_grows(agent, AGENT_PEER, 20000)
    seen_by_visitor = video_grows(visitor, VISITOR_PEER, 20000)
    assert seen_by_agent["codec"] == seen_by_visitor["codec"] == "video/VP8"
    agent_sdp = agent.evaluate(f"{AGENT_PEER}.localDescription.sdp")
    assert re.search(r"^m=video [1-9]", agent_sdp, re.M)
    print(f"caller {caller}: the agent decoded {seen_by_agent}, "
          f"the visitor {seen_by_visitor}")

    lines = len(run.server.lines)
    visitor.get_by_role("button", name="Hang up").click()
    expect(visitor.get_by_role("status")).to_have_text("Call ended")
    agent.wait_for_selector("#remote-video", state="hidden", timeout=20000)
    run.server.wait_for(r"call ended", 20, after=lines)
