"""The agent's SIP.js softphone for real, in headless Debian Chromium: it registers over a
WebSocket with this login's SIP credential against a SIP-over-WebSocket endpoint (tests/sipws.py)
that checks the digest against the controller's own mod_xml_curl directory, as FreeSWITCH does;
it answers the controller's auto-answer INVITE with an SDP answer Chromium accepts, rings for
any other INVITE, and after logout its old credential no longer registers.

The controller runs against `callcenter simulate` over ESL (not the built-in simulator), so the
page takes the real-phone path while calls still go through the simulator."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from callcenter import db as dbmod
from tests.browser.conftest import DOMAIN
from tests.browser.test_agent_page import log_in
from tests.process import ServerProcess
from tests.sipws import a1_hash, register

SHOTS = Path(__file__).parents[2] / "build" / "test-artifacts" / "softphone-sip"
ESL_PASSWORD = "sipws-test-password"


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


# -- the endpoint on its own ---------------------------------------------------------------------




def test_the_endpoint_accepts_only_the_right_digest(endpoint):
    directory = {("1000", DOMAIN): a1_hash("1000", DOMAIN, "right")}
    endpoint.a1_of = lambda user, realm: directory.get((user, realm))
    assert register(endpoint.url, "1000", DOMAIN, "right").status == 200
    assert endpoint.registrations[-1].contact.endswith(".invalid;transport=ws")
    assert register(endpoint.url, "1000", DOMAIN, "wrong").status == 403
    assert register(endpoint.url, "1001", DOMAIN, "right").status == 403
    assert [(r.user, r.status, r.why) for r in endpoint.registrations] == [
        ("1000", 401, "challenged"), ("1000", 200, "accepted"),
        ("1000", 401, "challenged"), ("1000", 403, "wrong digest"),
        ("1001", 401, "challenged"), ("1001", 403, "not in the directory")]


# -- the softphone in the browser ----------------------------------------------------------------

class Directory:
    """The controller's directory, asked as FreeSWITCH's mod_xml_curl asks it on a REGISTER."""

    def __init__(self, base: str, user: str, password: str) -> None:
        self.url = base + "/freeswitch/directory"
        manager = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        manager.add_password(None, self.url, user, password)
        self.opener = urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(manager))
        self.answers: list[str] = []

    def document(self, user: str, realm: str) -> str:
        form = urllib.parse.urlencode({
            "section": "directory", "tag_name": "domain", "key_name": "name", "key_value": realm,
            "domain": realm, "user": user, "action": "sip_auth", "sip_auth_method": "REGISTER",
            "sip_auth_username": user}).encode()
        with self.opener.open(self.url, data=form, timeout=10) as reply:
            return reply.read().decode()

    def a1_of(self, user: str, realm: str) -> str | None:
        from xml.etree import ElementTree

        text = self.document(user, realm)
        self.answers.append(text)
        found = ElementTree.fromstring(text).find(".//user/params/param[@name='a1-hash']")  # noqa: S314
        return None if found is None else found.get("value")


@pytest.fixture
def controller(env, settings, database, admin, make_user, endpoint):
    """`callcenter simulate` as the switch, `callcenter serve` pointing softphones at the
    endpoint; the endpoint checks digests against the controller's directory."""
    dbmod.upgrade(settings.database_url)
    make_user("alice", extension="1000")
    processes = []
    try:
        sim = ServerProcess(["simulate", "--password", ESL_PASSWORD, "--register", "1000"], env)
        processes.append(sim)
        port = sim.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1)
        server = ServerProcess(["serve"], {
            **env, "CALLCENTER_HTTP_BIND": "127.0.0.1:0", "CALLCENTER_ESL_HOST": "127.0.0.1",
            "CALLCENTER_ESL_PORT": port, "CALLCENTER_ESL_PASSWORD": ESL_PASSWORD,
            "CALLCENTER_SIP_DOMAIN": DOMAIN, "CALLCENTER_SOFTPHONE_WSS_URL": endpoint.url})
        processes.append(server)
        base = server.wait_for(r"serving on (http://127\.0\.0\.1:\d+)").group(1)
        server.wait_for(r"switch link up")
        directory = Directory(base, settings.freeswitch_http_user,
                              settings.freeswitch_http_password)
        endpoint.a1_of = directory.a1_of
        yield base, directory
    finally:
        for process in reversed(processes):
            process.stop()


@pytest.fixture
def chromium(launch_chromium):
    return launch_chromium(media=True)


OFFER = """async () => {
  // The far end of the call: a peer connection with the fake microphone, like a customer leg.
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const pc = new RTCPeerConnection();
  window.farEnd = pc;
  stream.getTracks().forEach((track) => pc.addTrack(track, stream));
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((done) => {
    if (pc.iceGatheringState === "complete") return done();
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") done();
    });
  });
  return pc.localDescription.sdp;
}"""

CONNECT = """async (sdp) => {
  const pc = window.farEnd;
  await pc.setRemoteDescription({ type: "answer", sdp });
  await new Promise((done, fail) => {
    const check = () => {
      if (pc.connectionState === "connected") done();
      if (pc.connectionState === "failed") fail(new Error("ICE/DTLS failed"));
    };
    pc.addEventListener("connectionstatechange", check);
    check();
  });
  // Audio from the softphone reaches the far end.
  for (;;) {
    let received = 0;
    (await pc.getStats()).forEach((r) => {
      if (r.type === "inbound-rtp" && r.kind === "audio") received += r.packetsReceived;
    });
    if (received > 0) return received;
    await new Promise((tick) => setTimeout(tick, 100));
  }
}"""


def far_end_offer(chromium, base: str):
    """A second page as the caller: a real SDP offer from Chromium's RTCPeerConnection."""
    page = chromium.new_page()
    page.goto(base + "/login")        # loopback http is a secure context: the microphone works
    return page, page.evaluate(OFFER)


@pytest.mark.slow
def test_the_softphone_registers_answers_rings_and_its_credential_dies_with_logout(
        controller, endpoint, chromium):
    base, directory = controller
    page = chromium.new_page()
    log_in(page, base, "alice")
    page.wait_for_selector("#live-status:text('live')")

    # Registered: a REGISTER was challenged, and its digest matched the directory's a1-hash.
    page.wait_for_selector("#softphone-status[data-state=registered]", timeout=15000)
    assert page.text_content("#softphone-status") == f"Registered as 1000@{DOMAIN}"
    binding = endpoint.wait_registered("1000")
    assert binding.contact.endswith(".invalid;transport=ws")     # SIP.js's own Contact
    assert [(r.status, r.why) for r in endpoint.registrations[:2]] == [
        (401, "challenged"), (200, "accepted")]
    issued = page.evaluate("async () => (await fetch('/api/softphone')).json()")
    assert (issued["simulated"], issued["domain"], issued["wss_url"]) == (False, DOMAIN,
                                                                          endpoint.url)
    assert a1_hash("1000", DOMAIN, issued["password"]) in directory.answers[-1]
    assert issued["password"] not in directory.answers[-1]
    shot(page, "1-registered")

    # On the real-phone path the page still dials through the API (the simulator, over ESL,
    # plays the agent's leg and the customer), follows the call, hangs up and wraps up.
    page.fill("#number", "15551234567")
    page.click("#dial-button")
    page.wait_for_selector("#call-progress[data-progress=ringing]", timeout=10000)
    page.wait_for_selector("#call-progress[data-progress=answered]", timeout=10000)
    shot(page, "1b-dialled-answered")
    page.click("#hangup-button")
    page.wait_for_selector("#call-progress[data-progress=ended]", timeout=10000)
    page.fill("#disposition", "sale")
    page.click("#disposition-save")
    page.wait_for_selector("#wrapup-saved:text('Saved: sale')")
    shot(page, "1c-wrapped-up")

    # The controller's call: answered at once with an SDP answer, no ringing on the page.
    caller, offer = far_end_offer(chromium, base)
    assert "m=audio" in offer
    call = endpoint.invite("1000", offer, auto_answer=True)
    answer = call.final()
    assert answer.status == 200, answer.start
    assert answer.header("content-type") == "application/sdp"
    assert "m=audio" in answer.body and "a=fingerprint:" in answer.body
    call.ack()
    assert page.is_hidden("#incoming")
    assert caller.evaluate(CONNECT, answer.body) > 0    # Chromium took the answer; audio flows
    page.wait_for_function("async () => (await window.softphone.packetsSent()) > 0")
    shot(page, "2-auto-answered")
    assert call.bye().status == 200
    page.wait_for_function("window.softphone.session === null")
    caller.close()

    # Any other INVITE rings with Answer/Decline; Decline says 603.
    caller, offer = far_end_offer(chromium, base)
    call = endpoint.invite("1000", offer, auto_answer=False)
    assert call.wait_provisional(180).status == 180
    page.wait_for_selector("#incoming:not([hidden])")
    assert page.text_content("#incoming-from") == "callcenter"
    assert call.responses.empty()                        # ringing, not answered
    shot(page, "3-ringing")
    page.click("#decline-button")
    declined = call.final()
    assert declined.status == 603, declined.start
    page.wait_for_selector("#incoming", state="hidden")
    shot(page, "4-declined")

    # Answer on a ringing call answers it.
    call = endpoint.invite("1000", offer, auto_answer=False)
    page.wait_for_selector("#incoming:not([hidden])")
    page.click("#answer-button")
    answered = call.final()
    assert answered.status == 200 and "m=audio" in answered.body
    call.ack()
    assert call.bye().status == 200
    caller.close()

    # Logging out unregisters the phone first, then the controller revokes the credential: the
    # old password no longer registers, because the directory no longer knows the extension.
    page.click("header button:text('Log out')")
    page.wait_for_url(base + "/login")
    shot(page, "5-logged-out")
    unregistered = endpoint.wait(
        lambda: [r for r in endpoint.registrations if r.why == "unregistered"], what="unREGISTER")
    assert unregistered[0].user == "1000" and "1000" not in endpoint.bindings
    refused = register(endpoint.url, "1000", DOMAIN, issued["password"])
    assert refused.status == 403
    assert endpoint.registrations[-1].why == "not in the directory"
    assert "result" in directory.document("1000", DOMAIN) and \
        "a1-hash" not in directory.document("1000", DOMAIN)


@pytest.mark.slow
def test_a_phone_server_that_never_answers_the_unregister_delays_logout_only_briefly(
        controller, endpoint, chromium):
    base, _directory = controller
    page = chromium.new_page()
    log_in(page, base, "alice")
    page.wait_for_selector("#softphone-status[data-state=registered]", timeout=15000)
    password = page.evaluate("async () => (await fetch('/api/softphone')).json()")["password"]
    endpoint.answer_unregister = False
    page.click("header button:text('Log out')")
    # The page gives up on the unREGISTER after 2 s and logs out all the same.
    page.wait_for_url(base + "/login", timeout=6000)
    assert "You are logged out." in page.text_content("main")
    assert any(r.why == "unREGISTER left unanswered" for r in endpoint.registrations)
    assert register(endpoint.url, "1000", DOMAIN, password).status == 403
    assert endpoint.registrations[-1].why == "not in the directory"


@pytest.mark.slow
def test_a_refused_registration_is_shown_with_its_sip_status(controller, endpoint, chromium):
    """The phone server refuses the credential (e.g. FreeSWITCH's directory does not know it):
    the page says so, with the SIP status, and keeps trying."""
    base, _directory = controller
    endpoint.a1_of = lambda user, realm: None   # nobody is in the directory
    page = chromium.new_page()
    log_in(page, base, "alice")
    page.wait_for_selector("#softphone-status[data-state=refused]", timeout=15000)
    # It keeps trying, so the words come and go with each try: wait until they are shown (a
    # slow machine may be between two tries when the status first reads refused).
    page.wait_for_selector("#softphone-error:has-text('Registration refused: 403')",
                           state="visible", timeout=15000)
    shot(page, "registration-refused")
    assert [r.status for r in endpoint.registrations[:2]] == [401, 403]
