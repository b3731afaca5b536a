"""The website-call widget on a business's page of another origin, against a stand-in for the
controller's widget API (tests/browser/widget_site.py, answering as the contract says) and the
SIP-over-WebSocket test endpoint (tests/sipws.py) as the guest's phone server: what the visitor
sees in each state, what the INVITE carries, and the plain messages for each refusal."""

from __future__ import annotations

import hashlib
import re
import socket

import pytest
from playwright.sync_api import expect

from callcenter.sim.sip import sdp_answer
from tests.browser.widget_site import WIDGET_JS, ContractController, HostPage
from tests.sipws import SipWsEndpoint, digest_fields, digest_response

pytestmark = pytest.mark.skipif(not WIDGET_JS.exists(),
                                reason="the widget bundle is not built (make install)")

WIDGET = "Wpub-3xAmple_id"
REALM = "guests.pbx.example.test"


def md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


@pytest.fixture
def site():
    """(controller, endpoint, host page): the host page's origin is allowed."""
    passwords = {}
    endpoint = SipWsEndpoint(REALM, a1_of=lambda user, realm: md5(
        f"{user}:{realm}:{passwords[user]}") if user in passwords else None)
    endpoint.start()
    controller = ContractController(WIDGET, endpoint.url, REALM, allowed=set())
    passwords[controller.guest] = controller.password
    page = HostPage(controller.base, WIDGET)
    controller.allowed.add(page.origin)
    yield controller, endpoint, page
    page.stop()
    controller.stop()
    endpoint.stop()


def open_widget(browser, page_url: str):
    context = browser.new_context()
    page = context.new_page()
    warnings = []
    page.on("console", lambda message: warnings.append(message.text)
            if message.type == "warning" else None)
    page.goto(page_url)
    page.warnings = warnings
    return page


def test_a_video_call_sends_the_guest_digest_a_video_line_and_the_page(
        site, launch_chromium):
    controller, endpoint, host = site
    page = open_widget(launch_chromium(media=True), host.url)
    widget = page.locator("[data-callcenter-widget]")
    page.get_by_role("button", name="Call us").click()
    expect(page.get_by_role("dialog", name="Acme support")).to_be_visible()
    # A required field is asked for before anything is sent.
    page.get_by_role("button", name="Start the call").click()
    expect(page.get_by_text("Please fill this in")).to_be_visible()
    assert controller.posts == []
    page.get_by_label("Your name *").fill("Ada Visitor")
    page.get_by_label("Topic").fill("Returns")
    page.get_by_label("With video").check()
    page.get_by_role("button", name="Start the call").click()

    guest = endpoint.wait_guest()
    [posted] = controller.posts
    assert posted == {"video": True, "fields": {"name": "Ada Visitor", "topic": "Returns"},
                      "page": {"url": host.url, "title": "Acme shoes"}}
    invite = guest.invite
    assert invite.start.startswith(f"INVITE sip:call@{REALM} ")
    fields = digest_fields(invite.header("proxy-authorization"))
    assert fields["username"] == controller.guest and fields["realm"] == REALM
    a1 = md5(f"{controller.guest}:{REALM}:{controller.password}")
    assert guest.digest_ok and fields["response"] == digest_response(a1, "INVITE", fields)
    media = [line.split()[0] for line in invite.body.splitlines() if line.startswith("m=")]
    assert media == ["m=audio", "m=video"]
    assert not [r for r in endpoint.requests if r.method == "REGISTER"]   # never registers
    # The answer's video track carries no frames (the endpoint has no media): no black box.
    page.wait_for_function("""() => document.querySelector('[data-callcenter-widget]')
        .shadowRoot.querySelector('video.remote').srcObject?.getVideoTracks().length === 1""")
    expect(widget.get_by_label("The agent's video")).to_be_hidden()
    # The visitor's camera is on the page, and its button turns it off.
    expect(widget.get_by_label("Your camera")).to_be_visible()
    camera = page.get_by_role("button", name="Camera off")
    camera.click()
    expect(page.get_by_role("button", name="Camera on")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("""() => document.querySelector('[data-callcenter-widget]').shadowRoot
        .querySelector('video.local').srcObject.getVideoTracks()[0].enabled""") is False


def test_the_visitor_follows_the_call_from_waiting_to_connected_and_hangs_up(
        site, launch_chromium):
    controller, endpoint, host = site
    page = open_widget(launch_chromium(media=True), host.url)
    page.get_by_role("button", name="Call us").click()
    page.get_by_label("Your name *").fill("Ada")
    page.get_by_role("button", name="Start the call").click()
    status = page.get_by_role("status")
    expect(status).to_have_text("Connecting…")
    controller.status = {"state": "waiting", "position": 3, "waited_seconds": 4}
    expect(status).to_have_text("Waiting for the next agent (position 3)")
    controller.status = {"state": "connected", "position": None, "waited_seconds": 9}
    expect(status).to_have_text("Connected")
    expect(page.get_by_role("timer")).to_have_text(re.compile(r"^00:0[1-9]$"))   # counting
    # No camera asked for an audio call: no camera button.
    expect(page.get_by_role("button", name="Camera off")).to_be_hidden()
    mute = page.get_by_role("button", name="Mute")
    mute.click()
    expect(page.get_by_role("button", name="Unmute")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="Hang up").click()
    guest = endpoint.wait_guest()
    assert guest.ended_by_browser.wait(10), "no BYE from the widget"
    expect(status).to_have_text("Call ended")
    expect(page.get_by_role("button", name="Start the call")).to_be_visible()


def test_the_far_end_hanging_up_ends_the_call_on_the_page(site, launch_chromium):
    controller, endpoint, host = site
    controller.settings["fields"] = []
    page = open_widget(launch_chromium(media=True), host.url)
    page.get_by_role("button", name="Call us").click()
    page.get_by_role("button", name="Start the call").click()
    controller.status = {"state": "connected", "position": None, "waited_seconds": 1}
    expect(page.get_by_role("status")).to_have_text("Connected")
    guest = endpoint.wait_guest()
    # The session is up once the answer is applied (the remote media is on the page).
    page.wait_for_function("""() => document.querySelector('[data-callcenter-widget]')
        .shadowRoot.querySelector('video.remote').srcObject !== null""")
    guest.bye()
    expect(page.get_by_role("status")).to_have_text("Call ended")


@pytest.mark.parametrize(("status", "body", "headers", "shown"), [
    (429, {"error": "too_many", "message": "Too many calls from here right now."},
     {"Retry-After": "30"}, "Too many calls from here right now. (try again in 30 s)"),
    (503, {"error": "nobody_available", "message": ""}, {},
     "Nobody is available to take your call right now. Please try again later."),
    (409, {"error": "closed", "message": "We open at 9:00."}, {}, "We open at 9:00."),
])
def test_a_refused_call_is_told_plainly(site, launch_chromium, status, body, headers, shown):
    controller, endpoint, host = site
    controller.settings["fields"] = []
    controller.call_answer = (status, body, headers)
    page = open_widget(launch_chromium(media=True), host.url)
    page.get_by_role("button", name="Call us").click()
    page.get_by_role("button", name="Start the call").click()
    expect(page.get_by_role("alert")).to_have_text(shown)
    assert endpoint.guests == {}
    # The microphone is let go: the visitor may try again.
    expect(page.get_by_role("button", name="Start the call")).to_be_enabled()


def test_bad_fields_are_marked_next_to_each_field(site, launch_chromium):
    controller, endpoint, host = site
    controller.call_answer = (400, {"error": "bad_fields", "message": "Please check the fields.",
                                    "fields": {"name": "at most 80 characters"}}, {})
    page = open_widget(launch_chromium(media=True), host.url)
    page.get_by_role("button", name="Call us").click()
    page.get_by_label("Your name *").fill("A" * 81)
    page.get_by_role("button", name="Start the call").click()
    expect(page.get_by_text("at most 80 characters")).to_be_visible()
    expect(page.get_by_label("Your name *")).to_have_attribute("aria-invalid", "true")


def test_a_refused_microphone_is_told_and_nothing_is_called(site, launch_chromium):
    controller, endpoint, host = site
    controller.settings["fields"] = []
    page = open_widget(launch_chromium(media=True, grant=False), host.url)
    page.context.grant_permissions([], origin=host.origin)
    page.get_by_role("button", name="Call us").click()
    page.get_by_role("button", name="Start the call").click()
    expect(page.get_by_role("alert")).to_contain_text("could not use your microphone")
    assert controller.posts == []


def test_a_closed_queue_says_so_before_the_visitor_calls(site, launch_chromium):
    controller, endpoint, host = site
    controller.settings.update(open=False, message="Closed now: we open Monday at 9:00.")
    page = open_widget(launch_chromium(media=True), host.url)
    page.get_by_role("button", name="Call us").click()
    expect(page.get_by_role("alert")).to_have_text("Closed now: we open Monday at 9:00.")
    page.get_by_label("Your name *").fill("Ada")
    page.get_by_role("button", name="Start the call").click()
    assert controller.posts == []


def test_a_site_not_allowed_gets_no_button_and_leaks_nothing(site, launch_chromium):
    controller, endpoint, host = site
    browser = launch_chromium()
    plain = browser.new_page()                  # the same page with no widget loaded
    plain.route("**/widget.js", lambda route: route.abort())
    plain.goto(host.url)
    controller.allowed.clear()
    page = open_widget(browser, host.url)
    page.wait_for_function("() => performance.getEntriesByType('resource').some("
                           "(e) => e.name.endsWith('/settings'))")
    assert controller.refused == [f"/widget/{WIDGET}/settings"]
    expect(page.get_by_role("button", name="Call us")).to_have_count(0)
    assert any("no call button" in text for text in page.warnings)
    # And where it is allowed, the widget adds nothing to the page's globals.
    controller.allowed.add(host.origin)
    page.reload()
    expect(page.get_by_role("button", name="Call us")).to_be_visible()
    globals_of = "() => Object.keys(window).sort()"
    without = plain.evaluate(globals_of)
    assert page.evaluate(globals_of) == without


def unreachable_media(offer: str) -> str:
    """An answer whose only ICE candidate is a UDP port nobody listens on, and no more to come:
    what a visitor behind a network that blocks WebRTC's media ends up with."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))            # a free port, closed again: nobody answers
        port = probe.getsockname()[1]
    answer = sdp_answer(offer)
    candidate = (f"a=candidate:1 1 udp 2130706431 127.0.0.1 {port} typ host\r\n"
                 "a=end-of-candidates\r\n")
    return answer.replace("a=rtcp-mux\r\n", "a=rtcp-mux\r\n" + candidate)


def test_a_network_that_blocks_webrtc_is_told(site, launch_chromium):
    controller, endpoint, host = site
    controller.settings["fields"] = []
    endpoint.guest_answer = unreachable_media
    page = open_widget(launch_chromium(media=True), host.url)
    page.get_by_role("button", name="Call us").click()
    page.get_by_role("button", name="Start the call").click()
    expect(page.get_by_role("alert")).to_contain_text("blocks the call's audio (WebRTC)",
                                                      timeout=60000)
    assert endpoint.wait_guest().ended_by_browser.wait(10), "the widget did not hang up"
