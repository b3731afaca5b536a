"""A queued caller offered to an agent whose phone does not answer by itself: the agent's page
shows the incoming-call card (queue, caller as given, time waited, ticking) with Answer and
Decline, and those act on the real SIP.js softphone's ringing INVITE.

The switch is the simulator (tests/browser/offer_switch.py) over ESL; the agent's phone is the
browser's SIP.js softphone registered at tests/sipws.py's endpoint. The test relays between the
two what a real FreeSWITCH would: the leg it rings to the agent becomes an INVITE to the browser,
and the browser's 200 OK or 603 Decline becomes the leg's answer or CALL_REJECTED."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from sqlalchemy import select, update

from callcenter import db as dbmod
from callcenter.models import Agent, Offer, OfferOutcome, Queue, QueueAgent, QueueStrategy
from tests.browser.test_agent_page import log_in
from tests.browser.test_softphone_sip import DOMAIN, Directory, far_end_offer
from tests.process import ServerProcess

pytestmark = pytest.mark.slow

SHOTS = Path(__file__).parents[2] / "build" / "test-artifacts" / "incoming-call"
ESL_PASSWORD = "offer-test-password"
CALLER = "<b>Bob</b>"      # carrier caller IDs are untrusted text: shown as given, never as HTML


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)





def staff_queue(database, agent_user: int, queue: dict | None = None, **settings) -> int:
    """Queue `sales` (with `queue`'s settings) with the agent as its only tier; the agent's own
    offer settings."""
    with database.session() as session:
        agent_id = session.scalar(select(Agent.id).where(Agent.user_id == agent_user))
        session.execute(update(Agent).where(Agent.id == agent_id).values(
            **settings))
        queue = Queue(name="sales", strategy=QueueStrategy.LONGEST_IDLE_AGENT, **(queue or {}))
        session.add(queue)
        session.flush()
        session.add(QueueAgent(queue_id=queue.id, agent_id=agent_id, level=1, position=1))
        session.commit()
        return agent_id


@pytest.fixture
def rig(env, settings, database, admin, make_user, endpoint):
    """start(auto_answer, **agent settings): the switch, and `callcenter serve` pointing
    softphones at the endpoint, with alice (1000) in queue `sales`; its base URL and the
    switch."""
    dbmod.upgrade(settings.database_url)
    processes = []

    def start(auto_answer: bool = False, queue: dict | None = None, **agent):
        staff_queue(database, make_user("alice", extension="1000"), queue,
                    auto_answer=auto_answer, **agent)
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
        endpoint.a1_of = Directory(base, settings.freeswitch_http_user,
                                   settings.freeswitch_http_password).a1_of
        return base, switch

    try:
        yield start
    finally:
        for process in reversed(processes):
            process.stop()


@pytest.fixture
def chromium(launch_chromium):
    return launch_chromium(media=True)


def available_agent(chromium, base: str):
    page = chromium.new_page()
    log_in(page, base, "alice")
    page.wait_for_selector("#softphone-status[data-state=registered]", timeout=15000)
    page.select_option("#status-select", "available")
    page.wait_for_selector("#status:text('Available')")
    return page


def offered(page, switch, *, expect: str):
    """A caller enters `sales`; the leg the switch rings to alice, once the card shows it."""
    switch.send(f"caller sales {CALLER}")
    caller = switch.wait_for(r"^caller (\S+)").group(1)
    leg, how = switch.wait_for(r"agent leg (\S+) 1000 (\w+)").groups()
    assert how == expect
    page.wait_for_selector("#incoming[data-state=ringing]", timeout=10000)
    assert page.get_attribute("#incoming", "data-leg") == leg
    assert page.text_content("#incoming-queue") == "sales"
    assert page.text_content("#incoming-from") == CALLER
    assert "&lt;b&gt;Bob" in page.inner_html("#incoming-from")
    assert re.fullmatch(r"\d+:\d\d", page.text_content("#incoming-waited"))
    return caller, leg


def ring_the_browser(page, chromium, base: str, endpoint):
    """The switch's INVITE to the softphone, without the auto-answer header: it rings."""
    _caller, sdp = far_end_offer(chromium, base)
    call = endpoint.invite("1000", sdp, auto_answer=False)
    assert call.wait_provisional(180).status == 180
    page.wait_for_selector("#answer-button:enabled")
    assert call.responses.empty()                     # ringing, not answered
    return call


def until(check, timeout: float = 10.0, what: str = ""):
    """Wait for a condition the page cannot show (a row the writer lands after it publishes)."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return result


def offer_outcome(database, leg: str):
    with database.session() as session:
        return session.scalar(select(Offer.outcome).where(Offer.leg_uuid == leg))


def test_the_agent_answers_a_queued_call_from_the_card(rig, endpoint, chromium, database):
    base, switch = rig()
    page = available_agent(chromium, base)
    _caller, leg = offered(page, switch, expect="ask")
    # The switch announces the offer as it dials the phone: the buttons wait for the INVITE.
    assert page.is_visible("#answer-button") and page.is_disabled("#answer-button")
    call = ring_the_browser(page, chromium, base, endpoint)
    assert page.is_visible("#decline-button")
    # The time waited ticks on.
    before = page.text_content("#incoming-waited")
    page.wait_for_function(f"document.getElementById('incoming-waited').textContent !== '{before}'")
    shot(page, "1-ringing-ask")

    page.click("#answer-button")
    answered = call.final()
    assert answered.status == 200 and "m=audio" in answered.body
    call.ack()
    switch.send(f"answer {leg}")
    page.wait_for_selector("#call-progress[data-progress=answered]", timeout=10000)
    page.wait_for_selector("#incoming", state="hidden")
    assert page.text_content("#state") == "In call"
    assert page.is_hidden("#offer-note")
    shot(page, "2-answered")
    assert until(lambda: offer_outcome(database, leg), what="the offer's row") \
        == OfferOutcome.ANSWERED


def test_a_page_reloaded_while_an_offer_rings_shows_it_again(rig, endpoint, chromium,
                                                            database):
    base, switch = rig(auto_answer=True)
    page = available_agent(chromium, base)
    caller, leg = offered(page, switch, expect="auto")
    page.reload()
    page.wait_for_selector("#incoming[data-state=ringing]", timeout=10000)
    assert page.get_attribute("#incoming", "data-leg") == leg
    assert page.text_content("#incoming-queue") == "sales"
    switch.send(f"hangup {caller}")
    page.wait_for_selector("#incoming", state="hidden", timeout=10000)


def test_decline_ends_the_offer_as_declined(rig, endpoint, chromium, database):
    base, switch = rig()
    page = available_agent(chromium, base)
    _caller, leg = offered(page, switch, expect="ask")
    call = ring_the_browser(page, chromium, base, endpoint)
    page.click("#decline-button")
    declined = call.final()
    assert declined.status == 603, declined.start
    switch.send(f"refuse {leg} CALL_REJECTED")
    page.wait_for_selector("#incoming", state="hidden", timeout=10000)
    page.wait_for_selector("#offer-note:text('You declined the call')")
    # The caller keeps its place; alice is not offered it again within her reject delay.
    assert page.is_hidden("#incoming")
    shot(page, "3-declined")
    assert until(lambda: offer_outcome(database, leg), what="the offer's row") \
        == OfferOutcome.DECLINED


def test_an_auto_answered_offer_shows_no_buttons_and_goes_when_the_caller_leaves(
        rig, endpoint, chromium, database):
    base, switch = rig(auto_answer=True)
    page = available_agent(chromium, base)
    caller, leg = offered(page, switch, expect="auto")
    assert page.is_hidden("#incoming-buttons")
    assert page.text_content("#incoming-auto") == "Your phone answers by itself."
    shot(page, "4-ringing-auto")
    # The caller hangs up while the phone rings: the card goes, saying so.
    switch.send(f"hangup {caller}")
    page.wait_for_selector("#incoming", state="hidden", timeout=10000)
    page.wait_for_selector("#offer-note:text('The caller hung up')")
    shot(page, "5-caller-left")
    assert until(lambda: offer_outcome(database, leg), what="the offer's row") \
        == OfferOutcome.CANCELLED


def test_missed_offers_put_the_agent_on_break_and_the_page_says_why(rig, chromium, database):
    base, switch = rig(max_no_answer=1)
    page = available_agent(chromium, base)
    _caller, leg = offered(page, switch, expect="ask")
    switch.send(f"refuse {leg} NO_ANSWER")        # rang out: the phone never picked up
    page.wait_for_selector("#offer-note:text('Missed: you did not answer in time')",
                           timeout=10000)
    page.wait_for_selector("#status:text('On break — missed calls')")
    assert page.input_value("#status-select") == "on_break"
    shot(page, "6-missed-calls-break")
    # Choosing Available again clears the reason (the server does).
    page.select_option("#status-select", "available")
    page.wait_for_selector("#status:text-is('Available')")
    with database.session() as session:
        assert session.scalar(select(Agent.break_reason)) is None


def test_a_callback_request_shows_as_a_callback_with_the_callers_wait(rig, chromium, database):
    """The caller pressed the queue's key before alice was Available: the request keeps its
    place, and her card says it is a callback, with the wait since the caller's place."""
    base, switch = rig(auto_answer=True, queue={"callback_key": "9"})
    switch.send("caller sales 15557654321")
    caller = switch.wait_for(r"^caller (\S+)").group(1)
    switch.send(f"press {caller} 9")
    assert switch.wait_for(r"^pressed \S+ (\w+)").group(1) == "True"
    page = available_agent(chromium, base)
    leg, how = switch.wait_for(r"agent leg (\S+) 1000 (\w+)").groups()
    page.wait_for_selector("#incoming[data-state=ringing]", timeout=10000)
    assert re.fullmatch(r"Callback for sales, waited \d+ (s|min)",
                        page.text_content("#incoming-title")), page.text_content("#incoming-title")
    assert page.text_content("#incoming-from") == "15557654321"
    assert page.text_content("#incoming-auto") == \
        "Your phone answers by itself. Then the customer is dialled."
    shot(page, "6-callback")


def test_a_website_call_shows_the_visitor_s_fields_and_page(rig, chromium, database):
    """The card of a visitor's call: what the visitor typed (as text, never HTML) and the page
    it called from."""
    from callcenter.audit import CLI
    from callcenter.clock import RealClock
    from callcenter.widgets import credentials
    from callcenter.widgets import settings as rules

    base, switch = rig(auto_answer=True)
    with database.session() as s:
        widget = rules.add_widget(s, {
            "name": "Shop", "queue": "sales", "allowed_origins": "https://shop.example.com",
            "field_name": "on", "field_topic": "on", "calls_per_address_hour": "10",
            "concurrent_calls": "5", "max_call_seconds": "600", "active": "on"}, who=CLI)
        s.flush()
        minted = credentials.mint(s, widget, "guests.example", RealClock(), address="192.0.2.1",
                                  video=False, fields={"name": CALLER, "topic": "Returns"},
                                  page_url="https://shop.example.com/shoes",
                                  page_title="Shoes")
        s.commit()
        public_id = widget.public_id
    page = available_agent(chromium, base)
    switch.send(f"guest sales {public_id} {minted.token}")
    switch.wait_for(r"^caller (\S+)")
    page.wait_for_selector("#incoming[data-state=ringing]", timeout=10000)
    assert page.text_content("#incoming-title") == "Incoming website call"
    assert page.text_content("#incoming-from") == "Website visitor"
    lines = page.locator("#incoming-visitor li").all_text_contents()
    assert lines == [f"Name: {CALLER}", "Topic: Returns", "Page: Shoes",
                     "Address: https://shop.example.com/shoes"]
    assert "&lt;b&gt;Bob" in page.inner_html("#incoming-visitor")
    shot(page, "5-website-call")
