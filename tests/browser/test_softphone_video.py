"""A website visitor's video call reaching the agent's page: the softphone answers an INVITE whose
offer carries video with video of its own (sendrecv with the agent's camera, recvonly without
one or when the agent said no), shows the caller's video, and never asks for the camera on an
audio call.

The far end is a second Chromium page with a real RTCPeerConnection (fake camera and
microphone), so the answer is proven by media, not only by its SDP: video frames are decoded on
both sides. The INVITEs come from the SIP-over-WebSocket test endpoint; the controller runs
against `callcenter simulate` as in test_softphone_sip."""

from __future__ import annotations

import re

import pytest

from tests.browser.test_agent_page import log_in
from tests.browser.test_softphone_sip import (  # noqa: F401  (fixtures)
    CONNECT,
    chromium,
    controller,
    shot,
)
from tests.browser.test_softphone_sip import OFFER as AUDIO_OFFER
from tests.browser.video import AGENT_PEER, video_grows

pytestmark = pytest.mark.slow

# Every getUserMedia the agent's page makes, kept for the test; `window.noCamera` makes any
# request for video fail as it does on a computer without a camera.
WATCH_MEDIA = """(() => {
  const devices = navigator.mediaDevices;
  const original = devices.getUserMedia.bind(devices);
  window.askedFor = [];
  window.noCamera = false;
  devices.getUserMedia = (constraints) => {
    window.askedFor.push({ audio: Boolean(constraints.audio), video: Boolean(constraints.video) });
    if (constraints.video && window.noCamera) {
      return Promise.reject(new DOMException("Requested device not found", "NotFoundError"));
    }
    return original(constraints);
  };
})()"""

# The visitor's side: a peer connection offering audio and (with a camera) video.
OFFER = """async (video) => {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video });
  const pc = new RTCPeerConnection();
  window.farEnd = pc;
  stream.getTracks().forEach((track) => pc.addTrack(track, stream));
  if (!video) pc.addTransceiver("video", { direction: "recvonly" });
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((done) => {
    if (pc.iceGatheringState === "complete") return done();
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") done();
    });
  });
  return pc.localDescription.sdp;
}"""

# Video frames a peer connection decoded so far.


def video_direction(sdp: str) -> str | None:
    """The direction of the SDP's video m-section, or None without one (or declined: port 0)."""
    section = re.search(r"^m=video (\d+).*?(?=^m=|\Z)", sdp, re.M | re.S)
    if section is None or section.group(1) == "0":
        return None
    found = re.search(r"^a=(sendrecv|sendonly|recvonly|inactive)\r?$", section.group(0), re.M)
    return found.group(1) if found else "sendrecv"


def test_video_direction_reads_the_video_section_only():
    sdp = "v=0\r\nm=audio 9 X\r\na=recvonly\r\nm=video 9 X\r\na=sendrecv\r\n"
    assert video_direction(sdp) == "sendrecv"
    assert video_direction(sdp.replace("a=sendrecv", "a=inactive")) == "inactive"
    assert video_direction("v=0\r\nm=audio 9 X\r\na=sendrecv\r\n") is None
    assert video_direction(sdp.replace("m=video 9", "m=video 0")) is None


def agent_page(browser, base: str):
    page = browser.new_page()
    page.add_init_script(WATCH_MEDIA)
    log_in(page, base, "alice")
    page.wait_for_selector("#softphone-status[data-state=registered]", timeout=15000)
    return page


def call_agent(browser, base, endpoint, *, video: bool):
    """The visitor's page offers a call; the endpoint INVITEs the agent with it (auto-answer, as
    the controller's offers are) and ACKs the 200. Returns the visitor's page, the call and
    the softphone's SDP answer."""
    visitor = browser.new_page()
    visitor.goto(base + "/login")
    offer = visitor.evaluate(OFFER, video)
    call = endpoint.invite("1000", offer, auto_answer=True)
    answer = call.final()
    assert answer.status == 200, answer.start
    call.ack()
    return visitor, call, answer.body


def hang_up(page, visitor, call) -> None:
    assert call.bye().status == 200
    page.wait_for_function("window.softphone.session === null")
    visitor.close()


@pytest.mark.slow
def test_a_video_call_is_answered_with_the_agents_camera_and_an_audio_call_never_asks(
        controller, endpoint, chromium):  # noqa: F811 - the fixtures imported above
    base, _directory = controller
    page = agent_page(chromium, base)
    assert page.is_checked("#use-camera")                 # the default: the camera goes along
    assert page.is_hidden("#remote-video") and page.is_hidden("#camera-button")

    visitor, call, answer = call_agent(chromium, base, endpoint, video=True)
    assert video_direction(answer) == "sendrecv"
    assert visitor.evaluate(CONNECT, answer) > 0          # the visitor took the answer
    page.wait_for_selector("#remote-video:not([hidden])")
    assert page.get_attribute("#remote-video", "aria-label") == "The caller's video"
    assert page.evaluate("document.getElementById('remote-video').muted")   # sound: <audio>
    video_grows(page, AGENT_PEER, 15000)             # the agent sees the visitor ...
    video_grows(visitor, "window.farEnd", 15000)     # ... and the visitor the agent
    assert page.evaluate("window.askedFor.at(-1)") == {"audio": True, "video": True}
    shot(page, "video-1-call")

    # Camera off pauses the agent's picture and leaves the microphone alone; Mute the reverse.
    page.click("#camera-button")
    assert page.get_attribute("#camera-button", "aria-pressed") == "true"
    enabled = f"""() => Object.fromEntries({AGENT_PEER}.getSenders()
        .filter((s) => s.track).map((s) => [s.track.kind, s.track.enabled]))"""
    assert page.evaluate(enabled) == {"audio": True, "video": False}
    page.click("#mute-button")
    page.click("#camera-button")
    assert page.evaluate(enabled) == {"audio": False, "video": True}
    page.click("#mute-button")

    hang_up(page, visitor, call)
    assert page.is_hidden("#remote-video") and page.is_hidden("#camera-button")

    # An audio call: no video in the answer, no video on the page, no camera asked for.
    asked = page.evaluate("window.askedFor.length")
    visitor = chromium.new_page()
    visitor.goto(base + "/login")
    call = endpoint.invite("1000", visitor.evaluate(AUDIO_OFFER), auto_answer=True)
    answered = call.final()
    assert answered.status == 200 and "m=audio" in answered.body
    assert video_direction(answered.body) is None
    call.ack()
    assert visitor.evaluate(CONNECT, answered.body) > 0
    assert page.evaluate(f"window.askedFor.slice({asked})") == [{"audio": True, "video": False}]
    assert page.is_hidden("#remote-video") and page.is_hidden("#camera-button")
    hang_up(page, visitor, call)


@pytest.mark.slow
def test_without_a_camera_or_with_it_declined_the_agent_still_sees_the_visitor(
        controller, endpoint, chromium):  # noqa: F811 - the fixtures imported above
    base, _directory = controller
    page = agent_page(chromium, base)

    # No camera on this computer: the answer receives video only; the microphone still goes.
    page.evaluate("window.noCamera = true")
    visitor, call, answer = call_agent(chromium, base, endpoint, video=True)
    assert video_direction(answer) == "recvonly"
    assert visitor.evaluate(CONNECT, answer) > 0
    page.wait_for_selector("#remote-video:not([hidden])")
    video_grows(page, AGENT_PEER, 15000)
    page.wait_for_function("async () => (await window.softphone.packetsSent()) > 0")
    assert page.is_hidden("#camera-button")               # nothing to turn off
    shot(page, "video-2-no-camera")
    hang_up(page, visitor, call)

    # The agent said no (the choice outlives a reload): the camera is never asked for.
    page.evaluate("window.noCamera = false")
    page.uncheck("#use-camera")
    page.reload()
    page.wait_for_selector("#softphone-status[data-state=registered]", timeout=15000)
    assert not page.is_checked("#use-camera")
    visitor, call, answer = call_agent(chromium, base, endpoint, video=True)
    assert video_direction(answer) == "recvonly"
    assert visitor.evaluate(CONNECT, answer) > 0
    page.wait_for_selector("#remote-video:not([hidden])")
    video_grows(page, AGENT_PEER, 15000)
    assert not any(asked["video"] for asked in page.evaluate("window.askedFor"))
    hang_up(page, visitor, call)
