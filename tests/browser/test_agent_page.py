"""An agent logs in, dials a (simulated) customer from the page, sees the call's progress pushed
live, and hangs up."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.slow


def log_in(page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/agent")


def test_an_agent_dials_talks_and_hangs_up(server, browser, make_user):
    make_user("alice", extension="1000")
    page = browser.new_page()
    log_in(page, server, "alice")
    page.wait_for_selector("#live-status:text('live')")
    assert page.text_content("#registered") == "Registered"
    page.fill("#number", "15551234567")
    page.click("#dial-button")
    # The built-in customer rings for 1.5 s, then answers; the page hears it over the socket.
    page.wait_for_selector("#call-progress[data-progress=answered]", timeout=10000)
    assert page.text_content("#state") == "In call"
    assert page.is_disabled("#dial-button")
    page.click("#hangup-button")
    page.wait_for_selector("#call-progress[data-progress=ended]", timeout=10000)
    assert page.text_content("#call-progress") == "Call ended: Answered"
    assert page.text_content("#state") in ("Wrap-up", "Idle")
    assert page.is_enabled("#dial-button") and page.is_hidden("#hangup-button")


def test_a_refused_dial_says_why(server, browser, make_user):
    make_user("alice", extension="1000")
    page = browser.new_page()
    log_in(page, server, "alice")
    page.wait_for_selector("#live-status:text('live')")
    page.fill("#number", "15551234567")
    page.click("#dial-button")
    page.wait_for_selector("#hangup-button:not([hidden])", timeout=10000)
    # A second dial while on a call is refused by the server with a reason on the page.
    page.evaluate("document.getElementById('dial-form').requestSubmit()")
    page.wait_for_selector("#dial-error:not([hidden])")
    assert "already on a call" in page.text_content("#dial-error")
