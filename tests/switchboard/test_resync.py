"""The switchboard after its link drops, after the controller restarts, and after the switch
restarts: calls are kept, rebuilt or closed, and their CDRs complete."""

from __future__ import annotations

import socket

import gevent.event

from callcenter.models import AgentState, HangupBy, Outcome
from callcenter.sim import Behaviour, Simulator
from tests.switchboard.conftest import NUMBER, SIM_PASSWORD, Rig, connect_board


def talking(rig, agent_id, seconds=5):
    rig.sim.script(NUMBER, Behaviour.answer(0))
    call = rig.board.dial(agent_id, NUMBER)
    rig.settle()
    rig.advance(seconds)
    assert rig.board.call(call.id).progress.value == "answered"
    return call


def new_board(rig: Rig, sim: Simulator) -> Rig:
    """The controller again, on the same switch and database."""
    fresh = connect_board(sim, rig.clock, rig.database)
    fresh.settle()
    return fresh


def test_link_drops_mid_call_and_the_call_is_still_tracked(rig, agent_id):
    call = talking(rig, agent_id)
    reconnected = gevent.event.Event()
    rig.link.on_resync(reconnected.set)
    # The TCP connection to FreeSWITCH is lost under the link's feet.
    rig.link._link._connection.sock.shutdown(socket.SHUT_RDWR)
    assert reconnected.wait(5)
    rig.settle()
    assert rig.board.call(call.id) is not None, "still tracked after the resync"
    rig.advance(3)
    rig.board.hang_up(call.id)
    rig.settle()
    assert dict(rig.sim.channels) == {}
    row, = rig.rows()[0]
    assert row.talk_seconds == 8 and row.hangup_by is HangupBy.AGENT


def test_controller_restarts_mid_call_and_rebuilds_it(rig, agent_id):
    call = talking(rig, agent_id, seconds=4)
    rig.link.stop()
    rig.board.stop()  # the controller is gone; FreeSWITCH keeps the call up
    assert len(rig.sim.channels) == 2
    fresh = new_board(rig, rig.sim)
    rebuilt = fresh.board.call(call.id)
    assert rebuilt is not None and rebuilt.progress.value == "answered"
    assert (rebuilt.agent_leg, rebuilt.customer_leg) == (call.agent_leg, call.customer_leg)
    assert fresh.board.agent(agent_id).state is AgentState.IN_CALL
    fresh.advance(6)
    fresh.sim.far_end_hangs_up(call.customer_leg)
    fresh.settle()
    assert dict(fresh.sim.channels) == {} and fresh.board.legs.calls == {}
    (row,), legs = fresh.rows()
    assert row.talk_seconds == 10 and row.hangup_by is HangupBy.CUSTOMER
    assert all(leg.ended_at is not None for leg in legs)
    assert fresh.board.agent(agent_id).state is AgentState.WRAP_UP
    fresh.link.stop()
    fresh.board.stop()


def test_controller_restart_releases_half_a_call(rig, agent_id):
    """The customer left while the controller was down and the agent leg is parked alone."""
    rig.sim.script(NUMBER, Behaviour.ringing())
    call = rig.board.dial(agent_id, NUMBER)
    rig.settle()
    rig.link.stop()
    rig.board.stop()
    rig.sim.far_end_hangs_up(call.customer_leg, "CALL_REJECTED")
    fresh = new_board(rig, rig.sim)
    assert dict(fresh.sim.channels) == {}, "the lone agent leg was hung up"
    assert fresh.board.legs.calls == {}
    assert fresh.board.agent(agent_id).state in (AgentState.WRAP_UP, AgentState.IDLE)
    (row,), _ = fresh.rows()
    assert row.ended_at is not None and row.hangup_by is not None
    fresh.link.stop()
    fresh.board.stop()


def test_switch_restarts_and_the_calls_it_lost_are_cut_off_keeping_what_was_seen(
        rig, agent_id, tmp_path):
    call = talking(rig, agent_id, seconds=5)
    port = rig.sim.port
    lost = gevent.event.Event()
    rig.link.on_disconnect(lambda error: lost.set())
    rig.sim.stop()  # FreeSWITCH dies (kill -9): every call with it, no events, no CDR
    assert lost.wait(5)
    rig.clock.advance(4)  # the switch comes back later
    reconnected = gevent.event.Event()
    rig.link.on_resync(reconnected.set)
    restarted = Simulator(SIM_PASSWORD, port=port, clock=rig.clock,
                          recordings_dir=str(tmp_path))
    restarted.start()
    try:
        assert reconnected.wait(10)
        rig.sim = restarted
        rig.settle()
        assert rig.board.call(call.id) is None
        ended = [m["call"] for m, _ in rig.hub.messages
                 if m["type"] == "call" and m["call"]["id"] == call.id][-1]
        assert (ended["progress"], ended["outcome"], ended["cause"]) == (
            "ended", "cut_off", None)
        assert rig.board.agent(agent_id).state is AgentState.WRAP_UP
        (row,), legs = rig.rows()
        assert (row.outcome, row.hangup_cause, row.hangup_by) == (
            Outcome.CUT_OFF, None, HangupBy.SYSTEM)
        assert row.answered_at is not None and row.bridged_at is not None
        assert row.talk_seconds == 5, "talk runs to the moment the link was lost"
        assert all(leg.ended_at is not None for leg in legs)
    finally:
        restarted.stop()
