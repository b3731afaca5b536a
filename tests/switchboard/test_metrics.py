"""GET /metrics against a real switchboard and simulator: the numbers move with what happens."""

from __future__ import annotations

import dataclasses
from collections import Counter

import gevent.event
import pytest

from callcenter.app import create_app
from callcenter.live import Hub
from callcenter.sim import Behaviour
from tests.metrics import TOKEN, scrape, value
from tests.switchboard.conftest import NUMBER
from tests.switchboard.test_queues import (  # noqa: F401 - fixtures
    agents,
    available,
    caller_enters,
    queued,
)


@pytest.fixture
def metrics(rig, settings, database):
    """scrape() of an app wired to the rig's switchboard, with a live hub of its own."""
    hub = Hub()
    app = create_app(dataclasses.replace(settings, metrics_token=TOKEN), database, rig.board, hub)
    client = app.test_client()

    def read() -> dict:
        return scrape(client)

    read.hub = hub
    return read


def test_a_call_placed_and_ended_moves_the_counters(rig, metrics, agent_id):
    before = metrics()
    rig.sim.script(NUMBER, Behaviour.answer(500))
    call = rig.board.dial(agent_id, NUMBER)
    rig.settle()
    rig.advance(1)
    during = metrics()
    assert value(during, "callcenter_live_calls") == 1
    assert value(during, "callcenter_live_legs") == 2
    assert value(during, "callcenter_calls_placed_total") == \
        value(before, "callcenter_calls_placed_total") + 1
    assert value(during, "callcenter_media_to_bridge_seconds_count") == 1
    rig.advance(3)
    rig.sim.far_end_hangs_up(rig.board.call(call.id).customer_leg)
    rig.settle()
    after = metrics()
    answered = {"direction": "outbound", "outcome": "answered"}
    assert value(before, "callcenter_calls_total", **answered) == 0
    assert value(after, "callcenter_calls_total", **answered) == 1
    assert value(after, "callcenter_calls_total", direction="inbound", outcome="answered") == 0
    assert value(after, "callcenter_live_calls") == 0
    assert value(after, "callcenter_esl_events_received_total") > \
        value(before, "callcenter_esl_events_received_total")
    assert value(after, "callcenter_store_written_total") > \
        value(before, "callcenter_store_written_total")


def test_agents_by_status_and_state_match_the_board(rig, metrics, agent_id, make_user):
    make_user("bob", extension="1001")
    rig.board.reload_agent(agent_id)
    rig.sim.script(NUMBER, Behaviour.answer(0))
    rig.board.dial(agent_id, NUMBER)
    rig.settle()
    found = metrics()
    board = Counter((a["status"], a["state"]) for a in rig.board.snapshot(None)["agents"])
    assert board[("on_break", "in_call")] == 1 and board[("logged_out", "idle")] == 1
    shown = {pair: value(found, "callcenter_agents", status=pair[0], state=pair[1])
             for pair in board}
    assert shown == dict(board)
    assert sum(v for (name, _), v in found.items() if name == "callcenter_agents") == 2
    assert value(found, "callcenter_softphones_registered") == 1


def test_a_softphone_that_drops_is_counted_and_shown(rig, metrics, agent_id):
    before = metrics()
    assert value(before, "callcenter_agents_logged_in_unregistered") == 0
    rig.sim.unregister("1000")
    rig.settle()
    after = metrics()
    assert value(after, "callcenter_softphone_drops_total") == \
        value(before, "callcenter_softphone_drops_total") + 1
    assert value(after, "callcenter_softphones_registered") == 0
    assert value(after, "callcenter_agents_logged_in_unregistered") == 1


def test_the_link_lost_shows_disconnected_then_one_reconnect_more(rig, metrics):
    before = metrics()
    assert value(before, "callcenter_esl_connected") == 1
    while_lost = {}
    lost, back = gevent.event.Event(), gevent.event.Event()

    def on_lost(_error):
        while_lost.update(metrics())
        lost.set()

    rig.link.on_disconnect(on_lost)
    rig.link.on_resync(back.set)
    rig.sim.server.disconnect_all("Disconnected, goodbye.\n")
    assert lost.wait(5) and back.wait(10)
    assert value(while_lost, "callcenter_esl_connected") == 0
    after = metrics()
    assert value(after, "callcenter_esl_connected") == 1
    assert value(after, "callcenter_esl_reconnects_total") == \
        value(before, "callcenter_esl_reconnects_total") + 1


def test_a_queued_caller_moves_the_line_the_offers_and_the_service_level(
        queued, agents, metrics):  # noqa: F811
    rig = queued
    before = metrics()
    assert value(before, "callcenter_queue_waiting", queue="sales") == 0
    assert value(before, "callcenter_queue_longest_wait_alert_seconds", queue="sales") == 180
    caller = caller_enters(rig)
    rig.advance(30)
    waiting = metrics()
    assert value(waiting, "callcenter_queue_waiting", queue="sales") == 1
    assert value(waiting, "callcenter_queue_longest_wait_seconds", queue="sales") == 30
    available(rig, agents["bob"])
    rig.advance(5)
    rig.sim.far_end_hangs_up(caller)
    rig.settle()
    rig.advance(2)          # today's figures, recomputed after the call
    after = metrics()
    assert value(after, "callcenter_queue_waiting", queue="sales") == 0
    for name, labels in (("callcenter_queue_callers_total", {"result": "entered"}),
                         ("callcenter_queue_callers_total", {"result": "answered"}),
                         ("callcenter_queue_offers_total", {"outcome": "answered"}),
                         ("callcenter_calls_total", {"direction": "inbound",
                                                     "outcome": "answered"})):
        assert value(after, name, **labels) == value(before, name, **labels) + 1, name
    # Answered after 30 s, beyond the queue's 20 s: none of today's callers in time.
    assert value(after, "callcenter_queue_service_level_ratio", queue="sales") == 0.0


def test_live_sockets_are_counted_while_open(metrics):
    assert value(metrics(), "callcenter_live_sockets") == 0
    supervisor, agent = metrics.hub.subscribe(), metrics.hub.subscribe(7)
    assert value(metrics(), "callcenter_live_sockets") == 2
    supervisor.close()
    agent.close()
    assert value(metrics(), "callcenter_live_sockets") == 0
