"""The agent's softphone page in headless Debian Chromium: against the built-in simulator every
button works through the API; the auto-answer rule; a real SIP.js registration and INVITEs over a
small SIP-over-WebSocket endpoint (tests/sipws.py)."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest

from tests.browser.test_agent_page import log_in

pytestmark = pytest.mark.slow

SHOTS = Path(__file__).parents[2] / "build" / "test-artifacts" / "softphone"


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def phone_page(server, browser, make_user):
    make_user("alice", extension="1000")
    page = browser.new_page()
    log_in(page, server, "alice")
    page.wait_for_selector("#live-status:text('live')")
    return page


def test_simulated_softphone_every_button_works_through_the_api(phone_page):
    page = phone_page
    page.wait_for_selector("#softphone-status[data-state=simulated]")
    assert "simulator registers your extension" in page.text_content("#softphone-status")
    page.wait_for_selector("#recent-calls td:text('No calls yet.')")
    shot(page, "1-simulated-idle")

    # The dial pad types into the number field while there is no call.
    for key in "15551234567":
        page.click(f"#dialpad button[data-key='{key}']")
    assert page.input_value("#number") == "15551234567"
    page.click("#dial-button")
    page.wait_for_selector("#call-progress[data-progress=ringing]", timeout=10000)
    shot(page, "2-ringing")
    page.wait_for_selector("#call-progress[data-progress=answered]", timeout=10000)
    page.wait_for_selector("#in-call:not([hidden])")
    shot(page, "3-answered")

    page.click("#hold-button")
    page.wait_for_selector("#hold-button:text('Resume')")
    assert "on hold" in page.text_content("#call-flags")
    shot(page, "4-on-hold")
    page.click("#hold-button")
    page.wait_for_selector("#hold-button:text('Hold')")

    page.click("#record-button")
    page.wait_for_selector("#record-button:text('Stop recording')")
    assert "recording" in page.text_content("#call-flags")
    page.click("#record-button")
    page.wait_for_selector("#record-button:text('Record')")

    # While talking the dial pad sends tones through the API, not into the number field.
    page.click("#dialpad button[data-key='5']")
    page.wait_for_selector("#dtmf-sent:text('5')")
    page.click("#dialpad button[data-key='#']")
    page.wait_for_selector("#dtmf-sent:text('5#')")
    assert page.input_value("#number") == "15551234567"

    # A refused control says why and loses nothing: hold twice (the second from the API).
    page.click("#hold-button")
    page.wait_for_selector("#hold-button:text('Resume')")
    call_id = page.get_attribute("#call-progress", "data-call")
    status = page.evaluate("""async (id) => (await fetch(`/api/calls/${id}/hold`, {method: 'POST',
        headers: {'Content-Type': 'application/json', 'X-CSRF-Token':
        document.querySelector('meta[name=csrf-token]').content}})).status""", call_id)
    assert status == 409
    page.click("#hold-button")
    page.wait_for_selector("#hold-button:text('Hold')")

    page.click("#hangup-button")
    page.wait_for_selector("#call-progress[data-progress=ended]", timeout=10000)
    page.wait_for_selector("#wrapup:not([hidden])")
    # The panel names the call as the agent remembers it: the number and the time.
    assert page.get_attribute("#wrapup", "data-call") == call_id
    assert re.fullmatch(r"Call to 15551234567 at \d\d?:\d\d( [AP]M)?",
                        page.text_content("#wrapup-call")), page.text_content("#wrapup-call")
    assert page.is_hidden("#in-call")
    shot(page, "5-wrap-up")

    # An over-long disposition is refused with the server's reason, next to the disposition;
    # the notes stay typed.
    page.fill("#notes", "wants a call back on Monday")
    page.evaluate("document.getElementById('disposition').removeAttribute('maxlength')")
    page.fill("#disposition", "x" * 65)
    page.click("#disposition-save")
    page.wait_for_selector("#disposition-error:not([hidden])")
    assert page.text_content("#disposition-error") == "at most 64 characters (got 65)"
    assert page.is_hidden("#wrapup-error")
    assert page.input_value("#notes") == "wants a call back on Monday"

    page.fill("#disposition", "callback")
    page.click("#disposition-save")
    page.wait_for_selector("#wrapup-saved:text('Saved: callback')")
    assert page.is_hidden("#wrapup")
    row = page.wait_for_selector(f"#recent-calls tr[data-call='{call_id}'] td:text('callback')")
    assert row is not None
    assert "15551234567" in page.text_content(f"#recent-calls tr[data-call='{call_id}']")
    shot(page, "6-saved")
    # The call's time opens its own page: the agent's own call, with the notes just saved.
    page.click(f"#recent-calls tr[data-call='{call_id}'] td:first-child a")
    page.wait_for_url(f"**/records/{call_id}")
    assert page.text_content("#notes") == "wants a call back on Monday"
    assert page.text_content("#disposition") == "callback"


def test_a_transfer_shows_its_progress(phone_page):
    page = phone_page
    page.fill("#number", "15551234567")
    page.click("#dial-button")
    page.wait_for_selector("#call-progress[data-progress=answered]", timeout=10000)
    page.click("#transfer-button")  # no number yet: said on the page, nothing sent
    page.wait_for_selector("#dial-error:text('Type the number to transfer to.')")
    page.fill("#transfer-number", "15557654321")
    page.click("#transfer-button")
    page.wait_for_selector("#transfer-status:text('Transfer to 15557654321')", timeout=10000)
    shot(page, "7-transfer")
    # The customer goes on to the new number and the agent's part ends.
    page.wait_for_selector("#transfer-status[data-state=done]", timeout=15000)
    page.wait_for_selector("#state:text-matches('Wrap-up|Idle')", timeout=15000)
    shot(page, "7b-transferred")


def test_consult_then_complete_from_the_page(phone_page):
    page = phone_page
    page.fill("#number", "15551234567")
    page.click("#dial-button")
    page.wait_for_selector("#call-progress[data-progress=answered]", timeout=10000)
    assert page.is_hidden("#consult-steps")
    page.fill("#consult-to", "15557654321")
    page.click("#consult-number-button")
    page.wait_for_selector("#consult-status[data-state=consulting]", timeout=15000)
    page.wait_for_selector("#consult-status:text('the customer is on hold')")
    assert page.is_disabled("#hold-button") and page.is_disabled("#consult-agent-button")
    page.click("#consult-swap")
    page.wait_for_selector("#consult-status[data-state=swapped]", timeout=10000)
    page.wait_for_selector("#consult-swap:text('Talk to 15557654321')")
    shot(page, "8-consult-swapped")
    page.click("#consult-complete")
    # The customer goes on with the number; the agent's part of the call ends.
    # The call is no longer hers: the in-call card may already be hidden.
    page.wait_for_selector("#consult-status[data-state=completed]", state="attached",
                           timeout=15000)
    page.wait_for_selector("#state:text-matches('Wrap-up|Idle')", timeout=15000)
    shot(page, "8b-consult-completed")


def test_consult_then_three_way_from_the_page(phone_page):
    page = phone_page
    page.fill("#number", "15551234567")
    page.click("#dial-button")
    page.wait_for_selector("#call-progress[data-progress=answered]", timeout=10000)
    page.fill("#consult-to", "15557654321")
    page.click("#consult-number-button")
    page.wait_for_selector("#consult-status[data-state=consulting]", timeout=15000)
    assert page.is_hidden("#consult-leave")
    page.click("#consult-three-way")
    page.wait_for_selector("#consult-status[data-state=three_way]", timeout=10000)
    page.wait_for_selector("#consult-status:text('Three-way call with 15557654321')")
    for step in ("swap", "complete", "three-way", "cancel"):
        assert page.is_hidden(f"#consult-{step}")
    assert page.is_visible("#consult-leave")
    assert page.is_disabled("#hold-button")
    shot(page, "8c-three-way")
    page.click("#consult-leave")
    # The number and the customer stay talking; the agent's part ends.
    page.wait_for_selector("#state:text-matches('Wrap-up|Idle')", timeout=15000)


def test_the_status_selector_sets_the_agents_status(phone_page):
    page = phone_page
    page.select_option("#status-select", "available")
    page.wait_for_selector("#status:text('Available')")
    page.reload()  # the server kept it
    page.wait_for_selector("#live-status:text('live')")
    assert page.input_value("#status-select") == "available"
    page.select_option("#status-select", "on_break")
    page.wait_for_selector("#status:text('On break')")


AUTO_ANSWER_CASES = {
    "<sip:127.0.0.1>;answer-after=0": True,
    "<sip:cc.example.com>; Answer-After = 0": True,
    "<sip:a;b=c>;purpose=info, <sip:127.0.0.1>;answer-after=0": True,
    "<sip:127.0.0.1>;answer-after=5": False,
    "<sip:127.0.0.1;answer-after=0>": False,   # inside the URI: not the header's parameter
    "<sip:127.0.0.1>;purpose=icon": False,
    "answer-after=0": False,
}


def test_only_the_controllers_header_auto_answers(phone_page):
    verdicts = phone_page.evaluate(
        """async (cases) => {
             const { isAutoAnswer } = await import('/static/softphone.js');
             const out = {};
             for (const value of Object.keys(cases)) out[value] = isAutoAnswer([value]);
             out.none = isAutoAnswer([]);
             out.two = isAutoAnswer(['<sip:x>;purpose=info', '<sip:y>;answer-after=0']);
             return out;
           }""", AUTO_ANSWER_CASES)
    assert verdicts == {**AUTO_ANSWER_CASES, "none": False, "two": True}


def test_video_offers_and_the_optional_camera(phone_page):
    """An offer asks for video by an m=video line with a port; a video call's camera is optional
    (no camera: audio alone), its microphone is not."""
    seen = phone_page.evaluate(
        """async () => {
             const { cameraOptionalMedia, offersVideo } = await import('/static/softphone.js');
             const asked = [];
             const devices = (refuse) => ({ getUserMedia: async (constraints) => {
               asked.push(constraints);
               const which = constraints.video ? "camera" : "microphone";
               if (refuse.includes(which)) throw new DOMException(which, "NotFoundError");
               return which;
             } });
             const noCamera = await cameraOptionalMedia(devices(["camera"]))(
               { audio: true, video: true });
             let noMicrophone;
             try {
               await cameraOptionalMedia(devices(["camera", "microphone"]))(
                 { audio: true, video: true });
             } catch (error) { noMicrophone = error.name; }
             const audioCall = await cameraOptionalMedia(devices([]))(
               { audio: true, video: false });
             return {
               offers: [offersVideo("v=0\\r\\nm=audio 9 X\\r\\nm=video 9 X\\r\\n"),
                        offersVideo("v=0\\r\\nm=audio 9 X\\r\\nm=video 0 X\\r\\n"),
                        offersVideo("v=0\\r\\nm=audio 9 X\\r\\n"), offersVideo(undefined)],
               noCamera, noMicrophone, audioCall, asked };
           }""")
    assert seen["offers"] == [True, False, False, False]
    assert (seen["noCamera"], seen["noMicrophone"], seen["audioCall"]) == (
        "microphone", "NotFoundError", "microphone")
    assert [bool(c["video"]) for c in seen["asked"]] == [True, False, True, False, False]


def serve_agent_page_as_if(page, *, simulated: bool) -> None:
    """The page as a controller on a real switch (or the simulator) renders it."""
    def rewrite(route):
        reply = route.fetch()
        body = reply.text().replace('data-simulated="true"',
                                    f'data-simulated="{str(simulated).lower()}"')
        route.fulfill(status=reply.status, content_type="text/html; charset=utf-8", body=body)
    page.route("**/agent", rewrite)


def test_without_a_credential_a_real_switch_says_unavailable(phone_page):
    page = phone_page
    serve_agent_page_as_if(page, simulated=False)
    page.route("**/api/softphone", lambda route: route.fulfill(status=404, json={"error": "x"}))
    page.reload()
    page.wait_for_selector("#softphone-status[data-state=unavailable]")
    assert "issues no SIP credential" in page.text_content("#softphone-error")
    shot(page, "8-unavailable")
    # The rest of the page still works: the recent calls load.
    page.wait_for_selector("#recent-calls td:text('No calls yet.')")


def credential(wss_url: str) -> dict:
    return {"extension": "1000", "domain": "127.0.0.1", "wss_url": wss_url, "password": "pw-1",
            "expires_at": "2099-01-01T00:00:00Z", "ice_servers": [], "simulated": False}


@pytest.fixture
def media_browser(launch_chromium):
    """Chromium as the softphone tests need it: `grant` False refuses the microphone."""
    return functools.partial(launch_chromium, media=True)


def agent_page_on_a_real_switch(server, chromium, make_user, wss_url: str):
    make_user("alice", extension="1000")
    page = chromium.new_page()
    serve_agent_page_as_if(page, simulated=False)
    page.route("**/api/softphone", lambda route: route.fulfill(json=credential(wss_url)))
    log_in(page, server, "alice")
    return page


def test_a_refused_microphone_is_said_plainly(server, media_browser, make_user):
    page = agent_page_on_a_real_switch(server, media_browser(grant=False), make_user,
                                       "ws://127.0.0.1:9/")
    page.wait_for_selector("#softphone-status[data-state=unavailable]", timeout=10000)
    assert page.text_content("#softphone-error").startswith("Microphone refused"), \
        page.text_content("#softphone-error")
    shot(page, "9-microphone-refused")


def test_an_unreachable_phone_server_is_offline_and_retried(server, media_browser, make_user):
    # Port 9 (discard) on loopback: nothing listens, so the WebSocket fails at once.
    page = agent_page_on_a_real_switch(server, media_browser(), make_user, "ws://127.0.0.1:9/")
    page.wait_for_selector("#softphone-status[data-state=offline]", timeout=15000)
    assert "Cannot reach the phone server at ws://127.0.0.1:9/" in page.text_content(
        "#softphone-error")
    assert "retrying in" in page.text_content("#softphone-status")
    shot(page, "10-offline")
    # It tries again by itself, with a fresh credential each time.
    with page.expect_request("**/api/softphone", timeout=15000):
        pass
    page.wait_for_selector("#softphone-status[data-state=offline]", timeout=15000)
