"""The supervisor's page on hand-made live data: the socket is played by the test (Playwright
routes /live), so every figure on the screen can be checked against what was sent — None shown
as "—", rates as percentages, attention rows, filters, sorting, deltas and the charts."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from callcenter.models import Callback, CallbackState, Role
from tests.browser.test_supervising import log_in

pytestmark = pytest.mark.slow


def agent(agent_id, name, status, state, since, registered=True, call_id=None, reason=None):
    return {"id": agent_id, "extension": str(1000 + agent_id), "name": name, "status": status,
            "break_reason": reason, "state": state, "registered": registered,
            "call_id": call_id, "since": since}


def hand_made(now: float) -> dict:
    call = {"id": "c1", "version": 3, "kind": "queued", "direction": "inbound", "agent_id": 1,
            "number": "15551230001", "caller_id": "5550100", "progress": "answered",
            "created": now - 720, "answered_at": now - 710, "bridged_at": now - 700,
            "ended_at": None, "recording": True, "held": False, "transfer": None,
            "queue": "sales", "entered": now - 720, "outcome": None}
    waiting = {**call, "id": "c2", "agent_id": None, "number": "15551230002",
               "progress": "waiting", "bridged_at": None, "answered_at": None,
               "recording": False, "created": now - 40, "entered": now - 40}
    queue = {"id": 1, "name": "sales", "waiting": 1, "oldest_entered": now - 40,
             "callers": [{"call_id": "c2", "entered": now - 40, "offered": False}],
             "agents": {"available": 3, "on_call": 1, "wrap_up": 0, "on_break": 1},
             "agent_ids": [1, 2, 3, 4, 5], "service_level_seconds": 20,
             "thresholds": {"waiting": [5, 10], "longest_wait_s": [60, 180],
                            "service_level": [0.8, 0.6]}}
    sales = {"queue": "sales", "offered": 12, "answered": 10, "abandoned": 2,
             "short_abandoned": 1, "timed_out": 0, "overflowed": 0, "callbacks_requested": 0,
             "abandon_rate": None, "service_level": 0.834, "service_level_seconds": 20,
             "asa_s": 12.4, "aht_s": 185}
    start = time.strftime("%Y-%m-%dT%H:", time.localtime(now))
    intervals = [{"start": f"{start}{m:02d}:00", "queue": q, "offered": o, "answered": o - 1,
                  "abandoned": 1, "service_level": 0.75, "peak_waiting": 3}
                 for m, o in ((0, 4), (15, 8)) for q in (None, "sales")]
    figures = {"day": "today", "timezone": "UTC", "computed_at": "2026-12-02T09:00:00+00:00",
               "queues": [sales], "totals": {k: v for k, v in sales.items() if k != "queue"},
               "agents": [{"agent_id": 1, "handled": 5, "aht_s": 200, "missed_offers": 0},
                          {"agent_id": 4, "handled": 1, "aht_s": None, "missed_offers": 3},
                          {"agent_id": 5, "handled": 4, "aht_s": 90, "missed_offers": 1}],
               "intervals": intervals, "repairs": {"stuck_agents": 2, "vanished_callers": 1}}
    return {"type": "snapshot", "seq": 10, "schema": 1, "now": now, "switch": {"connected": True},
            "offers": [], "calls": [call, waiting], "queues": [queue], "figures": figures,
            "agents": [agent(1, "ann", "available", "in_call", now - 700, call_id="c1"),
                       agent(2, "ben", "on_break", "idle", now - 1000, reason="lunch"),
                       agent(3, "cat", "available", "idle", now - 30, registered=False),
                       agent(4, "dan", "available", "idle", now - 30),
                       agent(5, "eve", "available", "idle", now - 30)]}


def seconds(text: str) -> int:
    """ "1:02:03" or "11:40" as seconds."""
    total = 0
    for part in text.split(":"):
        total = total * 60 + int(part)
    return total


def cells(page, selector):
    return page.eval_on_selector_all(selector, "(tds) => tds.map((td) => td.textContent)")


def test_the_page_shows_what_it_is_sent(server, browser, make_user, tmp_path):
    make_user("sam", Role.SUPERVISOR)
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    log_in(page, server, "sam")
    sockets = []
    now = time.time()

    def play(ws):
        sockets.append(ws)
        ws.send(json.dumps(hand_made(now)))

    page.route_web_socket("**/live", play)
    page.goto(server + "/supervisor")
    page.wait_for_selector("#live-status:text('live')")
    page.wait_for_selector("#queues tr[data-queue=sales]")
    row = cells(page, "#queues tr[data-queue=sales] td")
    assert row[:2] == ["sales", "1"] and 40 <= seconds(row[2]) < 100
    assert row[3:7] == ["3", "1", "0", "1"]
    assert row[7:14] == ["12", "10", "2", "—", "83 %", "0:12", "3:05"]
    waited = page.text_content("#queues tr[data-queue=sales] td:nth-child(15) [data-since]")
    assert row[14].startswith("15551230002 · ") and 40 <= seconds(waited) < 100
    assert cells(page, "#queues tr[data-queue=sales] td:nth-child(15) button") == [
        "Move", "Offer"], "a waiting caller can be moved or offered"
    assert page.text_content("#repairs") == "3"

    # Attention: a long call, a long break, missed offers, a phone gone while Available.
    titles = dict(page.eval_on_selector_all(
        "#agents tbody tr", "(trs) => trs.map((tr) => [tr.cells[0].textContent, tr.title])"))
    assert titles == {"ann": "Needs attention: long call", "ben": "Needs attention: long break",
                      "cat": "Needs attention: phone not registered",
                      "dan": "Needs attention: missed offers", "eve": ""}
    ann = cells(page, "#agents tr[data-agent='1'] td")
    assert ann[2:4] == ["Available", "In call"] and ann[7:10] == ["5", "3:20", "0"]
    assert ann[5].startswith("15551230001 · sales · in · recording · ")
    assert 700 <= seconds(ann[5].rsplit(" · ", 1)[1]) < 760
    assert cells(page, "#agents tr[data-agent='2'] td")[2] == "On break: lunch"
    assert cells(page, "#agents tr[data-agent='3'] td")[6] == "Not registered"
    assert cells(page, "#agents tr[data-agent='2'] td")[7:10] == ["—", "—", "—"]
    page.select_option("#filter-state", "attention")
    page.wait_for_function("document.querySelectorAll('#agents tbody tr').length === 4")
    page.select_option("#filter-state", "")

    # Sorting: the most handled first, on a second click.
    page.click("#agents th button[data-sort=handled]")
    page.click("#agents th button[data-sort=handled]")
    # The rows move at the next frame.
    page.wait_for_function("document.querySelector('#agents tbody td').textContent === 'ann'")
    order = cells(page, "#agents tbody tr td:first-child")
    assert order[:3] == ["ann", "eve", "dan"]
    assert page.get_attribute("#agents th:has(button[data-sort=handled])",
                              "aria-sort") == "descending"

    # Calls: talking and waiting, with agent and queue.
    calls = page.eval_on_selector_all("#calls tbody tr", "(trs) => trs.map((tr) => "
                                      "[...tr.cells].slice(0, 5).map((td) => td.textContent))")
    assert calls == [["15551230001", "Talking", "ann", "sales", "Inbound"],
                     ["15551230002", "Waiting in the queue", "", "sales", "Inbound"]]

    # Charts: uPlot drew each, and a screen reader hears the busiest interval.
    page.wait_for_function("document.querySelectorAll('#charts canvas').length === 3")
    assert "highest 8" in page.get_attribute("#chart-calls", "aria-label")

    # Deltas: eve goes on break; the waiting caller is answered (the queue row empties).
    ws = sockets[0]
    ws.send(json.dumps({"type": "agent", "seq": 11, "agent": agent(
        5, "eve", "on_break", "idle", now)}))
    ws.send(json.dumps({"type": "queue", "seq": 12, "queue": {
        **hand_made(now)["queues"][0], "waiting": 0, "oldest_entered": None, "callers": []}}))
    page.wait_for_selector("#agents tr[data-agent='5'][data-status=on_break]")
    page.wait_for_selector("#queues tr[data-queue=sales] td:nth-child(2):text-is('0')")
    assert cells(page, "#queues tr[data-queue=sales] td")[2] == "—"
    page.wait_for_function("document.body.dataset.renderedSeq === '12'")
    page.screenshot(path=str(tmp_path / "supervisor-hand-made.png"), full_page=True)


def callback(request_id, state, entered, *, number, name="", attempts=0, last_result=None,
             next_attempt=None, done=None, waited=None):
    return {"id": request_id, "queue": "sales", "number": number, "caller_name": name,
            "state": state, "entered_at": entered, "requested_at": entered + 20,
            "next_attempt_at": next_attempt, "done_at": done, "waited": waited,
            "attempts": attempts, "last_result": last_result, "agent_id": None,
            "call_id": None, "callback_call_id": None}


def test_callback_requests_follow_the_socket_and_a_refusal_says_why(server, browser, make_user,
                                                                    database, tmp_path):
    make_user("sam", Role.SUPERVISOR)
    now = time.time()
    # The server finished this one already (its row says cancelled) while the page still shows
    # it waiting: cancelling it is refused with a 409.
    with database.session() as session:
        at = datetime.fromtimestamp(now - 900, UTC)
        session.add(Callback(id="cb-over", number="15551230011", caller_name="", entered_at=at,
                             requested_at=at, state=CallbackState.CANCELLED, done_at=at))
        session.commit()
    snapshot = hand_made(now)
    snapshot["queues"][0]["callers"].append(
        {"call_id": "cb-call", "entered": now - 900, "offered": False, "callback": True})
    snapshot["callbacks"] = [
        callback("cb-over", "waiting", now - 900, number="15551230011", attempts=1,
                 last_result="busy", next_attempt=now + 240),
        callback("cb-new", "waiting", now - 300, number="15551230012", name="Ann <b>Example</b>"),
        callback("cb-dial", "dialing", now - 600, number="15551230013", attempts=2),
        callback("cb-done", "done", now - 700, number="15551230014", attempts=1,
                 done=now - 60, waited=640),
        callback("cb-old", "failed", now - 3 * 86400, number="15551230015", attempts=3,
                 done=now - 2 * 86400, waited=900)]
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    log_in(page, server, "sam")
    sockets = []

    def play(ws):
        sockets.append(ws)
        ws.send(json.dumps(snapshot))

    page.route_web_socket("**/live", play)
    page.goto(server + "/supervisor")
    page.wait_for_selector("#callbacks tbody tr")
    # In line order, each with its state and next attempt; the one being dialled cannot be
    # cancelled (the agent is on it). A caller's name is shown as given, never as HTML.
    listed = page.eval_on_selector_all("#callbacks tbody tr", "(trs) => trs.map((tr) => "
                                       "[...tr.cells].map((td) => td.textContent))")
    assert [r[:3] for r in listed] == [["sales", "15551230011", "—"],
                                       ["sales", "15551230013", "—"],
                                       ["sales", "15551230012", "Ann <b>Example</b>"]]
    assert 900 <= seconds(listed[0][3]) < 960 and 300 <= seconds(listed[2][3]) < 360
    assert [r[4:6] for r in listed] == [["1", "Waiting (last try: Busy)"],
                                        ["2", "Agent calling back"], ["0", "Waiting"]]
    # The next attempt as a time of day, in the browser's own way of writing one.
    assert listed[0][6] == page.evaluate("(t) => new Date(t * 1000).toLocaleTimeString()",
                                         now + 240)
    assert listed[1][6] == listed[2][6] == "—"
    assert [r[7] for r in listed] == ["Cancel", "", "Cancel"]
    queue = cells(page, "#queues tr[data-queue=sales] td")
    assert queue[15] == "3" and cells(page, "#queues tfoot td")[15] == "3"
    assert "Callback request · " in queue[14]
    # Finished today, collapsed; yesterday's is not listed.
    assert page.text_content("#finished-count") == "(1)"
    assert not page.is_visible("#callbacks-done")
    page.focus("#callbacks-finished summary")
    page.keyboard.press("Enter")
    page.wait_for_selector("#callbacks-done tbody tr[data-callback=cb-done]")
    assert cells(page, "#callbacks-done tbody td")[3:6] == ["10:40", "1", "Done: reached"]

    # Refusals in the server's words: over already (409), unknown to it (404).
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#callbacks tr[data-callback=cb-over] button")
    page.wait_for_selector("#action-status.error")
    assert page.text_content("#action-status") == \
        "Could not cancel the callback to 15551230011: this callback is cancelled already"
    assert page.get_attribute("#action-status", "role") == "status"
    assert page.is_enabled("#callbacks tr[data-callback=cb-over] button")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#callbacks tr[data-callback=cb-new] button")
    page.wait_for_selector("#action-status:text('15551230012: no such callback request waiting')")

    # Live: one rings an agent, then is cancelled elsewhere; the list and the count follow.
    ws = sockets[0]
    ringing = callback("cb-new", "offered", now - 300, number="15551230012")
    ws.send(json.dumps({"type": "callback", "seq": 11, "callback": ringing}))
    page.wait_for_selector("#callbacks tr[data-callback=cb-new][data-state=offered] "
                           "td:nth-child(6):text-is('Ringing an agent')")
    ws.send(json.dumps({"type": "callback", "seq": 12, "callback": {
        **ringing, "state": "cancelled", "done_at": time.time(), "waited": 301}}))
    page.wait_for_selector("#callbacks tr[data-callback=cb-new]", state="detached")
    page.wait_for_selector("#queues tr[data-queue=sales] td:nth-child(16):text-is('2')")
    assert page.text_content("#finished-count") == "(2)"
    assert cells(page, "#callbacks-done tbody tr:first-child td")[1] == "15551230012"
    assert page.text_content("#callbacks-count") == "(2 waiting)"
    page.screenshot(path=str(tmp_path / "supervisor-callbacks-hand-made.png"), full_page=True)
