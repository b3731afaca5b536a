"""Move / Offer a waiting caller from the supervisor's page: a small modal dialog with a labelled
select (the other queues; the agents Available and free), driven by the keyboard, Escape
cancelling, and a refusal said inside it. The socket is played by the test (hand-made live data,
as in test_supervisor_page.py) and the two actions' requests are answered by it too, so each
request the page sends is checked as it is."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from callcenter.models import Role
from tests.browser.test_supervising import log_in
from tests.browser.test_supervisor_page import agent, hand_made

pytestmark = pytest.mark.slow

SHOTS = Path(__file__).parents[2] / "build" / "test-artifacts" / "caller-picker"


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def two_queues(now: float) -> dict:
    snapshot = hand_made(now)
    support = {**snapshot["queues"][0], "id": 2, "name": "support", "waiting": 0,
               "oldest_entered": None, "callers": [], "agent_ids": []}
    snapshot["queues"].append(support)
    snapshot["agents"][3] = agent(4, "dan", "available", "in_call", now - 30)   # busy
    snapshot["agents"].append(agent(6, "fay", "available", "idle", now - 30))
    return snapshot


def test_move_and_offer_pick_in_a_dialog(server, browser, make_user):
    make_user("sam", Role.SUPERVISOR)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    log_in(page, server, "sam")
    page.route_web_socket("**/live", lambda ws: ws.send(json.dumps(two_queues(time.time()))))
    sent: list[tuple[str, dict]] = []
    answers = [(409, {"error": "this caller is no longer waiting"}), (200, {"call": {}})]

    def answer(route):
        sent.append((route.request.url.rsplit("/", 1)[1], route.request.post_data_json))
        status, body = answers.pop(0)
        route.fulfill(status=status, content_type="application/json", body=json.dumps(body))

    page.route("**/api/supervisor/calls/c2/*", answer)
    page.goto(server + "/supervisor")
    move = "#queues tr[data-queue=sales] button[data-act=move]"
    page.wait_for_selector(move)

    # Move: the other queue only; Escape closes the dialog and nothing is sent.
    page.focus(move)
    page.keyboard.press("Enter")
    dialog = page.wait_for_selector("dialog#caller-picker[open]")
    assert page.text_content("#caller-picker-title") == "Move the waiting caller"
    assert page.eval_on_selector_all("#caller-picker-choice option",
                                     "(os) => os.map((o) => o.textContent)") == ["support"]
    assert page.evaluate("document.activeElement.id") == "caller-picker-choice"
    assert page.evaluate("document.querySelector('#caller-picker-choice').labels[0]"
                         ".textContent") == "To the line of queue"
    shot(page, "move-open")
    page.keyboard.press("Escape")
    dialog.wait_for_element_state("hidden")
    assert sent == []
    assert page.evaluate("document.activeElement.dataset.act") == "move", "focus is back"

    # A refusal is said in the dialog, which stays open; the second try goes through.
    page.keyboard.press("Enter")
    page.wait_for_selector("dialog#caller-picker[open]")
    page.click("#caller-picker-go")
    page.wait_for_selector("#caller-picker-error:visible")
    assert page.text_content("#caller-picker-error") == \
        "Could not move: this caller is no longer waiting"
    assert page.get_attribute("#caller-picker-error", "role") == "alert"
    assert page.get_attribute("#caller-picker-choice", "aria-invalid") == "true"
    shot(page, "move-refused")
    page.click("#caller-picker-go")
    dialog.wait_for_element_state("hidden")
    assert sent == [("move", {"queue": "support"}), ("move", {"queue": "support"})]
    assert "support's line" in page.text_content("#supervise-status")

    # Offer: only the agents Available, free and registered (eve and fay; not cat, whose phone
    # is not registered); chosen with the keyboard.
    answers.append((200, {"call": {}}))
    page.click("#queues tr[data-queue=sales] button[data-act=offer]")
    page.wait_for_selector("dialog#caller-picker[open]")
    assert page.text_content("#caller-picker-title") == "Offer the waiting caller now"
    names = page.eval_on_selector_all("#caller-picker-choice option",
                                      "(os) => os.map((o) => o.textContent)")
    assert names == ["eve", "fay"]
    page.keyboard.press("ArrowDown")
    shot(page, "offer-open")
    page.keyboard.press("Enter")
    dialog.wait_for_element_state("hidden")
    fay = 6
    assert sent[-1] == ("offer", {"agent_id": fay})


def test_offer_with_no_free_agent_says_so(server, browser, make_user):
    make_user("sam", Role.SUPERVISOR)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    log_in(page, server, "sam")
    snapshot = two_queues(time.time())
    snapshot["agents"] = [a for a in snapshot["agents"] if a["status"] != "available"
                          or a["state"] != "idle"]
    page.route_web_socket("**/live", lambda ws: ws.send(json.dumps(snapshot)))
    page.goto(server + "/supervisor")
    page.click("#queues tr[data-queue=sales] button[data-act=offer]")
    page.wait_for_selector("dialog#caller-picker[open]")
    assert page.is_visible("#caller-picker-none")
    assert page.text_content("#caller-picker-none") == "No agent is Available and free now."
    assert page.is_disabled("#caller-picker-go") and not page.is_visible("#caller-picker-choice")
    assert page.evaluate("document.activeElement.id") == "caller-picker-cancel"
    page.keyboard.press("Enter")
    page.wait_for_selector("dialog#caller-picker", state="hidden")


def test_a_dialog_closed_and_opened_again_at_once_keeps_its_new_choice(server, browser,
                                                                        make_user):
    """A dialog's close event is a queued task: closed and reopened in one go (a quick Escape,
    then Enter), the late event must not clear the new choice, or Move sends nothing."""
    make_user("sam", Role.SUPERVISOR)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    log_in(page, server, "sam")
    page.route_web_socket("**/live", lambda ws: ws.send(json.dumps(two_queues(time.time()))))
    sent = []

    def answer(route):
        sent.append(route.request.post_data_json)
        route.fulfill(status=200, content_type="application/json", body='{"call": {}}')

    page.route("**/api/supervisor/calls/c2/move", answer)
    page.goto(server + "/supervisor")
    move = "#queues tr[data-queue=sales] button[data-act=move]"
    page.click(move)
    page.wait_for_selector("dialog#caller-picker[open]")
    page.evaluate("""(move) => {
        document.querySelector('#caller-picker').close();
        document.querySelector(move).click(); }""", move)
    page.click("#caller-picker-go")
    page.wait_for_selector("dialog#caller-picker", state="hidden")
    assert sent == [{"queue": "support"}]
