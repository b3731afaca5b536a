"""Agent registration (sofia events and `show registrations` resync), status and state."""

from __future__ import annotations

import socket

import gevent.event
from sqlalchemy import event, select

from callcenter.models import Agent, AgentState, AgentStatus


def registered_in_db(rig, agent_id) -> bool:
    rig.settle()
    with rig.database.session() as session:
        return session.scalar(select(Agent.registered).where(Agent.id == agent_id))


def test_register_and_unregister_follow_sofia_events(rig, agent_id):
    assert rig.board.agent(agent_id).registered and registered_in_db(rig, agent_id)
    rig.sim.unregister("1000")
    rig.settle()
    assert not rig.board.agent(agent_id).registered and not registered_in_db(rig, agent_id)
    pushed = [m["agent"]["registered"] for m, to in rig.hub.messages
              if m["type"] == "agent" and to == agent_id]
    assert pushed[-2:] == [True, False]
    rig.sim.register("1000")
    rig.settle()
    assert rig.board.agent(agent_id).registered and registered_in_db(rig, agent_id)


def test_a_second_softphone_keeps_the_agent_registered(rig, agent_id):
    rig.board.roster.note_registration("1000", "another-tab@example")
    rig.sim.unregister("1000")
    rig.settle()
    assert rig.board.agent(agent_id).registered


def test_resync_rebuilds_registrations_from_show_registrations(rig, agent_id):
    rig.board.roster.note_registration("1000", "stale-token")
    rig.sim.unregister("1000")
    rig.settle()
    assert rig.board.agent(agent_id).registered  # only the stale token is left
    reconnected = gevent.event.Event()
    rig.link.on_resync(reconnected.set)
    rig.link._link._connection.sock.shutdown(socket.SHUT_RDWR)
    assert reconnected.wait(5)
    rig.settle()
    assert not rig.board.agent(agent_id).registered and not registered_in_db(rig, agent_id)


def test_registrations_of_unknown_extensions_are_kept_for_later_agents(rig, make_user,
                                                                       database):
    rig.sim.register("1077")
    rig.settle()
    user_id = make_user("zoe", extension="1077")
    with database.session() as session:
        zoe = session.scalar(select(Agent.id).where(Agent.user_id == user_id))
    assert rig.board.agent(zoe).registered


def test_status_is_the_agents_own_choice(rig, agent_id):
    view = rig.board.set_status(agent_id, AgentStatus.ON_BREAK)
    assert view.status is AgentStatus.ON_BREAK
    rig.settle()
    with rig.database.session() as session:
        assert session.get(Agent, agent_id).status is AgentStatus.ON_BREAK
    messages = [m for m, _ in rig.hub.messages if m["type"] == "agent"]
    assert messages[-1]["agent"]["status"] == "on_break"
    before = len(rig.hub.messages)
    rig.board.set_status(agent_id, AgentStatus.ON_BREAK)
    assert len(rig.hub.messages) == before, "no change, no push"


def test_changes_waiting_for_the_writer_are_written_once_the_last_value_winning(
        rig, agent_id, make_user, database):
    bob_user = make_user("bob", extension="1001")
    with database.session() as session:
        bob = session.scalar(select(Agent).where(Agent.user_id == bob_user))
        bob_id = bob.id
    roster = rig.board.roster
    alice, bob_view = roster.get(agent_id), roster.get(bob_id)
    rig.settle()
    with database.session() as session:  # bob's row goes away behind the roster's back
        session.delete(session.get(Agent, bob_id))
    roster.set_state(alice, AgentState.RESERVED, "call-1")
    roster.set_state(bob_view, AgentState.RESERVED, "call-2")
    roster.set_state(alice, AgentState.IN_CALL, "call-1")
    roster.set_status(agent_id, AgentStatus.AVAILABLE)   # alice is On break (logged in)
    roster.note_call_ended(alice)
    failed = rig.board.store.failed
    updates = []

    def count_updates(_conn, _cursor, statement, params, _context, executemany):
        if statement.startswith("UPDATE agents"):
            updates.append(len(params) if executemany else 1)

    event.listen(database.writer.engine, "before_cursor_execute", count_updates)
    try:
        rig.settle()
    finally:
        event.remove(database.writer.engine, "before_cursor_execute", count_updates)
    assert updates == [1, 1], "five changes of two agents: one row update each"
    with database.session() as session:
        row = session.get(Agent, agent_id)
        assert (row.state, row.status) == (AgentState.IN_CALL, AgentStatus.AVAILABLE)
        assert row.last_call_ended_at is not None
    assert rig.board.store.failed == failed, "a deleted agent's change fails nobody's write"
    roster.set_state(alice, AgentState.IDLE, None)  # after the write ran: a new one
    with database.session() as session:
        assert session.get(Agent, agent_id).state is AgentState.IN_CALL, "waits for the writer"
    rig.settle()
    with database.session() as session:
        assert session.get(Agent, agent_id).state is AgentState.IDLE
