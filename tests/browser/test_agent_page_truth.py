"""The agent's page never lies, in headless Chromium against real server processes: a call that
ended while the page's live socket was away leaves the screen; a control that finds the call over
removes it; a banner says when the phone system is unreachable; calls end in the words people
use; an agent who just logged in is On break."""

from __future__ import annotations

import json
import time

import pytest

from callcenter import db as dbmod
from tests.browser.test_agent_page import log_in
from tests.browser.test_softphone import shot
from tests.process import ServerProcess

pytestmark = pytest.mark.slow

NUMBER = "15551234567"          # the built-in simulator's customers answer after 1.5 s
ANSWERS = "15550000001"         # on the separate switch: answers at once
RINGS = "15550000002"           # on the separate switch: rings for ten minutes
ESL_PASSWORD = "agent-page-test-password"


class LiveGate:
    """The page's live socket, through Playwright: let through to the server, or cut (the open
    socket closed, new ones refused) as a network or a proxy would."""

    def __init__(self, page) -> None:
        self.cut_off = False
        self.routes: list = []
        page.route_web_socket("**/live", self._route)

    def _route(self, ws) -> None:
        if self.cut_off:
            ws.close(code=1012, reason="the test cut the live socket")
            return
        self.routes.append((ws, ws.connect_to_server()))

    def cut(self) -> None:
        self.cut_off = True
        for page_side, server_side in self.routes:
            server_side.close()
            page_side.close(code=1012, reason="the test cut the live socket")
        self.routes.clear()

    def let_through(self) -> None:
        self.cut_off = False


def csrf(page) -> str:
    return page.get_attribute('meta[name="csrf-token"]', "content")


def hang_up_elsewhere(page, base: str, call_id: str) -> None:
    """Hang the call up from another place (the agent's other tab, a supervisor): the page
    itself sends nothing."""
    reply = page.request.post(f"{base}/api/calls/{call_id}/hangup", data="{}", headers={
        "Content-Type": "application/json", "X-CSRF-Token": csrf(page)})
    assert reply.ok, reply.text()


def talking(page, number: str = NUMBER) -> str:
    """Dial from the page and wait until the customer answered; the call's id."""
    page.fill("#number", number)
    page.click("#dial-button")
    page.wait_for_selector("#call-progress[data-progress=answered]", timeout=15000)
    return page.get_attribute("#call-progress", "data-call")


# -- a call that ended while the page was not told ---------------------------------------------


def test_a_call_that_ended_while_the_live_socket_was_away_leaves_the_screen(
        serving, browser, make_user):
    make_user("alice", extension="1000")
    page = browser.new_page()
    gate = LiveGate(page)
    log_in(page, serving.base, "alice")
    page.wait_for_selector("#live-status:text('live')")
    call_id = talking(page)

    gate.cut()
    page.wait_for_selector("#live-status:text('reconnecting')")
    seen = len(serving.output)
    hang_up_elsewhere(page, serving.base, call_id)
    serving.wait_for(r"call ended: answered", after=seen)
    assert page.get_attribute("#call-progress", "data-progress") == "answered"  # not told yet

    gate.let_through()
    page.evaluate("window.dispatchEvent(new Event('online'))")   # retries at once
    page.wait_for_selector("#call-progress[data-progress=ended]", timeout=10000)
    assert page.text_content("#live-status") == "live"
    assert page.is_enabled("#dial-button") and page.is_hidden("#hangup-button")
    assert page.is_hidden("#in-call")
    assert "ended while the page was not connected" in page.text_content("#call-note")
    # Then the call's record says how it ended.
    page.wait_for_selector("#call-progress:text('Call ended: Answered')")


def test_hanging_up_a_call_that_already_ended_removes_it_with_a_note(serving, browser,
                                                                     make_user):
    make_user("alice", extension="1000")
    page = browser.new_page()
    gate = LiveGate(page)
    log_in(page, serving.base, "alice")
    page.wait_for_selector("#live-status:text('live')")
    call_id = talking(page)
    gate.cut()
    seen = len(serving.output)
    hang_up_elsewhere(page, serving.base, call_id)
    serving.wait_for(r"call ended: answered", after=seen)

    page.click("#hangup-button")          # the page still shows the call: the server says 409
    page.wait_for_selector("#call-progress[data-progress=ended]", timeout=10000)
    assert page.text_content("#call-note") == "This call had already ended."
    assert page.is_hidden("#dial-error")
    assert page.is_enabled("#dial-button") and page.is_hidden("#hangup-button")
    page.wait_for_selector("#call-progress:text('Call ended: Answered')")


# -- a call's updates in the order of its version ----------------------------------------------

# Notes each JSON body the page has read, by URL: once a reply's URL is here, the page's code
# awaiting it has run too (it runs in the same task, before the test's next look at the page).
NOTE_READ_REPLIES = """
  window.readReplies = [];
  const json = Response.prototype.json;
  Response.prototype.json = async function () {
    const body = await json.call(this);
    window.readReplies.push(this.url);
    return body;
  };
"""


def test_a_stale_reply_does_not_overwrite_newer_live_news(server, browser, make_user):
    """Recording starts; its HTTP reply is held back while the recording is stopped from
    elsewhere and the live socket says so. The late reply (the call recording, progress still
    "answered") is older news by the call's version, and the page keeps what it was told last."""
    make_user("alice", extension="1000")
    page = browser.new_page()
    page.add_init_script(NOTE_READ_REPLIES)
    log_in(page, server, "alice")
    page.wait_for_selector("#live-status:text('live')")
    call_id = talking(page)
    held = []
    page.route(f"**/api/calls/{call_id}/record",
               lambda route: held.append((route, route.fetch())))   # the server acts; we wait
    page.click("#record-button")
    page.wait_for_selector("#record-button:text('Stop recording')")   # the live socket said it
    # The route's handler runs beside this test (Playwright's dispatcher): the live news can
    # come before its fetch has returned. Each round trip to the page lets it run.
    deadline = time.monotonic() + 10
    while not held and time.monotonic() < deadline:
        page.evaluate("0")
    (route, reply), = held
    started = reply.json()["call"]
    assert started["recording"] and started["progress"] == "answered"

    stopped = page.request.post(f"{server}/api/calls/{call_id}/record",
                                data=json.dumps({"action": "stop"}), headers={
                                    "Content-Type": "application/json",
                                    "X-CSRF-Token": csrf(page)})
    assert stopped.ok, stopped.text()
    assert stopped.json()["call"]["version"] > started["version"]
    page.wait_for_selector("#record-button:text('Record')")           # the live socket again

    route.fulfill(response=reply)                                     # the stale reply lands
    page.wait_for_function("(url) => window.readReplies.includes(url)", arg=reply.url)
    assert page.text_content("#record-button") == "Record"
    assert "recording" not in page.text_content("#call-flags")


# -- the status after login ----------------------------------------------------------------------


def test_an_agent_who_just_logged_in_is_on_break(server, browser, make_user):
    make_user("alice", extension="1000")
    page = browser.new_page()
    log_in(page, server, "alice")
    page.wait_for_selector("#live-status:text('live')")
    assert page.text_content("#status") == "On break"
    assert page.input_value("#status-select") == "on_break"
    # Logged out is no choice on the page: the Log out button does it.
    assert page.is_disabled("#status-select option[value=logged_out]")
    page.select_option("#status-select", "available")
    page.wait_for_selector("#status:text('Available')")


# -- with FreeSWITCH (the simulator) in a process of its own -------------------------------------


class Switch:
    """`callcenter simulate` standing in for FreeSWITCH: stopped and started on the same port."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.port = 0
        self.process: ServerProcess | None = None

    def start(self) -> None:
        self.process = ServerProcess([
            "simulate", "--port", str(self.port), "--password", ESL_PASSWORD,
            "--register", "1000", "--script", f"{ANSWERS}=0", "--script", f"{RINGS}=600000",
        ], self.env)
        self.port = int(self.process.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1))

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


@pytest.fixture
def switch_and_controller(env, settings, database, admin, make_user):
    dbmod.upgrade(settings.database_url)
    make_user("alice", extension="1000")
    switch = Switch(env)
    controller = None
    try:
        switch.start()
        controller = ServerProcess(["serve"], {
            **env, "CALLCENTER_HTTP_BIND": "127.0.0.1:0", "CALLCENTER_ESL_HOST": "127.0.0.1",
            "CALLCENTER_ESL_PORT": str(switch.port), "CALLCENTER_ESL_PASSWORD": ESL_PASSWORD})
        controller.base = controller.wait_for(r"serving on (http://127\.0\.0\.1:\d+)").group(1)
        controller.wait_for(r"switch link up")
        yield switch, controller
    finally:
        if controller is not None:
            controller.stop()
        switch.stop()


def agent_page(browser, base: str):
    page = browser.new_page()
    log_in(page, base, "alice")
    page.wait_for_selector("#live-status:text('live')")
    return page


def test_a_banner_says_when_the_phone_system_is_unreachable(switch_and_controller, browser):
    switch, controller = switch_and_controller
    page = agent_page(browser, controller.base)
    assert page.is_hidden("#switch-banner")
    talking(page, ANSWERS)

    switch.stop()                                   # FreeSWITCH goes away, and its calls
    page.wait_for_selector("#switch-banner:not([hidden])", timeout=10000)
    assert page.text_content("#switch-banner").split() == (
        "The phone system is unreachable; calls in progress may have been cut off".split())
    # A page opened meanwhile shows it from its first snapshot.
    late = agent_page(browser, controller.base)
    assert page.is_visible("#switch-banner") and late.is_visible("#switch-banner")
    shot(page, "11-phone-system-unreachable")

    switch.start()                                  # back on the same port
    for each in (page, late):
        each.wait_for_selector("#switch-banner", state="hidden", timeout=30000)
    page.wait_for_selector("#call-progress[data-progress=ended]", timeout=30000)
    assert page.text_content("#call-progress") == "Call ended: Cut off (the phone system restarted)"
    assert page.is_enabled("#dial-button")


def test_calls_end_in_the_words_people_use(switch_and_controller, browser):
    _switch, controller = switch_and_controller
    page = agent_page(browser, controller.base)
    answered = talking(page, ANSWERS)
    page.click("#hangup-button")
    page.wait_for_selector("#call-progress[data-progress=ended]", timeout=10000)
    assert page.text_content("#call-progress") == "Call ended: Answered"
    assert page.get_attribute("#call-progress", "title") == "NORMAL_CLEARING"   # on hover
    assert answered not in page.text_content("#wrapup")
    assert page.text_content("#wrapup-call").startswith(f"Call to {ANSWERS} at ")

    page.fill("#number", RINGS)
    page.click("#dial-button")
    page.wait_for_selector("#call-progress[data-progress=ringing]", timeout=10000)
    page.click("#hangup-button")                    # before the customer answers
    page.wait_for_selector("#call-progress[data-progress=ended]", timeout=10000)
    assert page.text_content("#call-progress") == "Call ended: Cancelled"
    assert page.get_attribute("#call-progress", "title") == "ORIGINATOR_CANCEL"

    # The recent calls (reloaded when a call ends) say it the same way, the cause on hover.
    cell = page.wait_for_selector(f"#recent-calls tr[data-call='{answered}'] td:nth-child(4)")
    assert cell.text_content() == "Answered" and cell.get_attribute("title") == "NORMAL_CLEARING"


# One function turns a call's outcome (and SIP status) into words: live call messages and CDRs
# carry outcome, sip_status and sip_reason; records from before they did carry only the cause.
OUTCOME_WORDS = [
    ({"outcome": "answered", "cause": "NORMAL_CLEARING"}, "Answered"),
    ({"outcome": "busy", "cause": "USER_BUSY", "sip_status": 486, "sip_reason": "Busy Here"},
     "Busy"),
    ({"outcome": "no_answer", "cause": "NO_ANSWER"}, "No answer"),
    ({"outcome": "cancelled", "cause": "ORIGINATOR_CANCEL"}, "Cancelled"),
    ({"outcome": "agent_no_answer", "cause": "NO_ANSWER"}, "Agent did not answer"),
    ({"outcome": "agent_not_registered", "cause": "USER_NOT_REGISTERED"},
     "Your phone is not registered"),
    ({"outcome": "cut_off", "cause": "LOSE_RACE"}, "Cut off (the phone system restarted)"),
    ({"outcome": "failed", "cause": "NORMAL_TEMPORARY_FAILURE", "sip_status": 503,
      "sip_reason": "Service Unavailable"}, "Failed (503 Service Unavailable)"),
    ({"outcome": "failed", "cause": "CALL_REJECTED", "sip_status": 603, "sip_reason": None},
     "Failed (603)"),
    ({"outcome": "failed", "cause": "LOSE_RACE", "sip_status": None},
     "Cut off (the phone system restarted)"),
    # Older records: the cause alone.
    ({"cause": "NORMAL_CLEARING", "answered_at": "2024-05-01T10:00:00+00:00"}, "Answered"),
    ({"cause": "USER_BUSY"}, "Busy"),
    ({"cause": "NO_ANSWER"}, "No answer"),
    ({"cause": "ORIGINATOR_CANCEL"}, "Cancelled"),
    ({"cause": "LOSE_RACE"}, "Cut off (the phone system restarted)"),
    ({"cause": "CALL_REJECTED"}, "Failed"),
    ({"cause": None}, ""),
]


def test_one_function_names_every_outcome(server, browser, make_user):
    make_user("alice", extension="1000")
    page = browser.new_page()
    log_in(page, server, "alice")
    said = page.evaluate("""async (calls) => {
        const { outcomeWords } = await import('/static/words.js');
        return calls.map(outcomeWords);
      }""", [call for call, _ in OUTCOME_WORDS])
    assert said == [words for _, words in OUTCOME_WORDS], json.dumps(said)
