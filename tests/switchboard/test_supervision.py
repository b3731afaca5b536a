"""Supervisors listen in, whisper, barge and leave (switchboard/supervision.py), end to end over
real ESL to the simulator on a ManualClock: the commands sent, who hears the supervisor (the
simulator mixes audio as a real FreeSWITCH does), the events rows, and that the supervisor's leg
leaves the call's summary as it was."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from callcenter.errors import CallEnded
from callcenter.models import Event as EventRow
from callcenter.models import EventKind, HangupBy, LegRole, Role
from callcenter.sim import Behaviour
from callcenter.switchboard.supervision import Mode, SupervisionError, Supervisor
from tests.switchboard.conftest import NUMBER
from tests.switchboard.test_api_controls import login  # noqa: F401 - fixture

SUE = "2001"


@pytest.fixture
def sue(rig, make_user):
    """A supervisor with her own softphone (extension 2001), registered; she is no agent."""
    user_id = make_user("sue", Role.SUPERVISOR, extension=SUE)
    rig.sim.register(SUE)
    rig.settle()
    return Supervisor(user_id, "sue", SUE)


def talking(rig, agent_id):
    rig.sim.script(NUMBER, Behaviour.answer(0))
    call = rig.board.dial(agent_id, NUMBER)
    rig.settle()
    assert call.progress.value == "answered"
    rig.link.commands.clear()
    return call


def monitor_events(rig, call_id):
    rig.board.store.flush(5)
    with rig.database.session() as s:
        rows = s.scalars(select(EventRow).where(EventRow.kind == EventKind.MONITOR,
                                                EventRow.call_id == call_id)
                         .order_by(EventRow.id)).all()
        return [json.loads(row.detail)["mode"] for row in rows]


def test_listen_whisper_barge_leave_keeps_the_call(rig, agent_id, sue):
    call = talking(rig, agent_id)
    shown = rig.board.monitor(call.id, sue, Mode.LISTEN)
    assert [m["mode"] for m in shown] == ["listen"]
    rig.settle()
    originate = rig.link.commands[0]
    assert originate.startswith("originate {origination_uuid=")
    assert f"user/{SUE}@127.0.0.1 &eavesdrop({call.agent_leg})" in originate
    assert "cc_role=supervisor" in originate and "eavesdrop_enable_dtmf=true" in originate
    assert f"cc_call_id={call.id}" in originate
    leg = next(uuid for uuid, monitor in call.features["supervision"].items())
    listener = rig.sim.switch.channels[leg]
    assert listener.eavesdropping.uuid == call.agent_leg
    assert rig.sim.switch.heard_by(listener) == set()

    rig.board.set_monitor_mode(call.id, sue.user_id, Mode.WHISPER)
    assert rig.link.commands[-1] == f"uuid_recv_dtmf {leg} 2"
    assert rig.sim.switch.heard_by(listener) == {call.agent_leg}     # the agent alone
    rig.board.set_monitor_mode(call.id, sue.user_id, Mode.BARGE)
    assert rig.sim.switch.heard_by(listener) == {call.agent_leg, call.customer_leg}
    rig.board.set_monitor_mode(call.id, sue.user_id, Mode.LISTEN)
    assert rig.sim.switch.heard_by(listener) == set()

    rig.board.stop_monitoring(call.id, sue.user_id)
    rig.settle()
    assert f"uuid_kill {leg} NORMAL_CLEARING" in rig.link.commands
    assert leg not in rig.sim.switch.channels or not rig.sim.switch.channels[leg].alive
    assert not call.ended and rig.board.supervision.monitors(call) == []
    assert rig.board.legs.legs[call.agent_leg].bridged_to == call.customer_leg
    published = [m for m, _ in rig.hub.messages if m["type"] == "monitors"]
    assert published[-1] == {"type": "monitors", "call_id": call.id, "monitors": []}
    assert all(to is None for m, to in rig.hub.messages if m["type"] == "monitors")

    rig.sim.far_end_hangs_up(call.customer_leg)
    rig.settle()
    assert monitor_events(rig, call.id) == ["listen", "whisper", "barge", "listen", "left"]
    calls, legs = rig.rows()
    row = next(c for c in calls if c.id == call.id)
    assert row.hangup_by is HangupBy.CUSTOMER and row.outcome.value == "answered"
    roles = sorted(leg.role.value for leg in legs if leg.call_id == call.id)
    assert roles == ["agent", "customer", "supervisor"]


def test_whisper_asked_before_the_phone_answers_is_sent_once_it_does(rig, agent_id, sue):
    call = talking(rig, agent_id)
    rig.board.monitor(call.id, sue, Mode.WHISPER)
    rig.settle()
    leg = next(iter(call.features["supervision"]))
    assert f"uuid_recv_dtmf {leg} 2" in rig.link.commands
    assert rig.sim.switch.heard_by(rig.sim.switch.channels[leg]) == {call.agent_leg}


def test_the_call_ending_hangs_up_the_supervisor_and_changes_nothing_of_it(rig, agent_id, sue):
    call = talking(rig, agent_id)
    rig.board.monitor(call.id, sue, Mode.BARGE)
    rig.settle()
    leg = next(iter(call.features["supervision"]))
    rig.advance(30)
    rig.sim.far_end_hangs_up(call.customer_leg)
    rig.settle()
    rig.advance(5)
    rig.settle()
    assert not any(ch.alive for ch in rig.sim.switch.channels.values())
    assert rig.board.legs.calls == {} and leg not in rig.board.legs.legs
    calls, legs = rig.rows()
    row = next(c for c in calls if c.id == call.id)
    assert (row.outcome.value, row.hangup_by, row.talk_seconds) == (
        "answered", HangupBy.CUSTOMER, 30)
    supervisor = [leg_row for leg_row in legs if leg_row.role is LegRole.SUPERVISOR]
    assert [r.uuid for r in supervisor] == [leg] and supervisor[0].ended_at is not None
    assert row.ended_at <= max(r.ended_at for r in legs if r.role is not LegRole.SUPERVISOR)


def test_refused_when_it_no_longer_applies(rig, agent_id, sue, make_user):
    call = talking(rig, agent_id)
    unregistered = Supervisor(make_user("sam", Role.SUPERVISOR, extension="2002"), "sam",
                              "2002")
    with pytest.raises(SupervisionError, match="not registered"):
        rig.board.monitor(call.id, unregistered, Mode.LISTEN)
    with pytest.raises(SupervisionError, match="not listening"):
        rig.board.set_monitor_mode(call.id, sue.user_id, Mode.WHISPER)
    assert rig.link.commands == []
    rig.sim.far_end_hangs_up(call.customer_leg)
    rig.settle()
    with pytest.raises(CallEnded):
        rig.board.monitor(call.id, sue, Mode.LISTEN)


def test_a_supervisor_hangs_up_the_call(rig, agent_id):
    call = talking(rig, agent_id)
    rig.board.hang_up(call.id, HangupBy.SUPERVISOR)
    rig.settle()
    calls, _ = rig.rows()
    row = next(c for c in calls if c.id == call.id)
    assert (row.outcome.value, row.hangup_by) == ("answered", HangupBy.SUPERVISOR)


# -- through the API ---------------------------------------------------------------------------


def audit_rows(database):
    from callcenter.models import AuditEntry

    with database.session() as s:
        return [(row.actor, row.action, row.target, row.after)
                for row in s.scalars(select(AuditEntry).where(   # not the set-up's users
                    AuditEntry.action.not_like("user.%"),           # nor their logins
                    AuditEntry.action.not_in(("login", "logout"))).order_by(AuditEntry.id))]


def test_api_listen_switch_leave_with_audit(rig, agent_id, sue, login, database):  # noqa: F811
    call = talking(rig, agent_id)
    as_sue = login("sue")
    reply = as_sue("POST", f"/api/supervisor/calls/{call.id}/monitor", {"mode": "shout"})
    assert reply.status_code == 422 and reply.get_json()["field"] == "mode"
    reply = as_sue("POST", f"/api/supervisor/calls/{call.id}/monitor", {"mode": "listen"})
    assert reply.status_code == 200, reply.get_json()
    assert [m["supervisor"] for m in reply.get_json()["monitors"]] == ["sue"]
    rig.settle()
    reply = as_sue("PUT", f"/api/supervisor/calls/{call.id}/monitor", {"mode": "whisper"})
    assert reply.get_json()["monitors"][0]["mode"] == "whisper"
    reply = as_sue("DELETE", f"/api/supervisor/calls/{call.id}/monitor")
    assert reply.status_code == 200
    rig.settle()
    reply = as_sue("PUT", f"/api/supervisor/calls/{call.id}/monitor", {"mode": "barge"})
    assert reply.status_code == 409 and "not listening" in reply.get_json()["error"]
    assert [(a, t) for _, a, t, _ in audit_rows(database)] == [
        ("call.monitor", f"call {call.id}")] * 3
    assert [json.loads(after)["mode"] for *_, after in audit_rows(database)] == [
        "listen", "whisper", "left"]


def test_api_who_may_listen(rig, agent_id, login, make_user):  # noqa: F811
    call = talking(rig, agent_id)
    make_user("sam", Role.SUPERVISOR)                  # no softphone extension
    reply = login("sam")("POST", f"/api/supervisor/calls/{call.id}/monitor", {})
    assert reply.status_code == 403 and "extension" in reply.get_json()["error"]
    reply = login("alice")("POST", f"/api/supervisor/calls/{call.id}/monitor", {})
    assert reply.status_code == 403
    assert rig.link.commands == []


def test_api_force_status_and_hang_up(rig, agent_id, sue, login, database):  # noqa: F811
    as_sue = login("sue")
    reply = as_sue("PUT", f"/api/supervisor/agents/{agent_id}/status",
                   {"status": "on_break", "reason": "coaching"})
    assert reply.status_code == 200
    assert (reply.get_json()["agent"]["status"], reply.get_json()["agent"]["break_reason"]) == (
        "on_break", "coaching")
    agent_messages = [m for m, to in rig.hub.messages if m["type"] == "agent"]
    assert agent_messages[-1]["agent"]["break_reason"] == "coaching"
    reply = as_sue("PUT", f"/api/supervisor/agents/{agent_id}/status", {"status": "available"})
    assert reply.get_json()["agent"]["status"] == "available"
    reply = as_sue("PUT", "/api/supervisor/agents/999/status", {"status": "available"})
    assert reply.status_code == 404

    call = talking(rig, agent_id)
    reply = as_sue("POST", f"/api/supervisor/calls/{call.id}/hangup")
    assert reply.status_code == 200
    rig.settle()
    reply = as_sue("POST", f"/api/supervisor/calls/{call.id}/hangup")
    assert reply.status_code == 409
    calls, _ = rig.rows()
    assert next(c for c in calls if c.id == call.id).hangup_by is HangupBy.SUPERVISOR
    assert [a for _, a, _, _ in audit_rows(database)] == [
        "agent.status", "agent.status", "call.hangup"]


def test_api_log_an_agent_out_ends_its_logins_and_softphone(rig, agent_id, sue, login, database):  # noqa: F811
    from callcenter.models import SipCredential

    as_alice = login("alice")
    assert as_alice("GET", "/api/softphone").status_code == 200
    reply = login("sue")("PUT", f"/api/supervisor/agents/{agent_id}/status",
                         {"status": "logged_out"})
    assert reply.status_code == 200 and reply.get_json()["agent"]["status"] == "logged_out"
    rig.settle()
    assert "sofia profile internal flush_inbound_reg 1000@127.0.0.1" in rig.link.commands
    with database.session() as s:
        assert s.scalars(select(SipCredential.live_agent_id)).all() == [None]
    assert as_alice("GET", "/api/softphone").status_code == 401


def test_a_supervisors_own_softphone(rig, sue, login, settings, database):  # noqa: F811
    """Same per-login credential as an agent's, served by the directory, ended by logging out;
    and it never makes the supervisor an agent."""
    from callcenter.credentials import Credentials
    from callcenter.models import Agent

    as_sue = login("sue")
    phone = as_sue("GET", "/api/softphone").get_json()
    assert phone["extension"] == SUE and len(phone["password"]) == 24
    credentials = Credentials.of(settings, rig.board)
    with database.session() as s:
        found = credentials.lookup(s, SUE, settings.sip_domain)
        assert found is not None and found.caller_id_name == "sue"
        assert s.scalars(select(Agent.extension)).all() == ["1000"]
    assert as_sue("POST", "/logout").status_code in (200, 302)
    with database.session() as s:
        assert credentials.lookup(s, SUE, settings.sip_domain) is None


# -- what the agent is told (CALLCENTER_MONITOR_NOTICE) ----------------------------------------


def monitors_section(rig, topic):
    from callcenter.live import Audience

    return rig.hub.sections["monitors"](Audience(frozenset({topic})))


@pytest.mark.parametrize("notice", [False, True])
def test_the_agent_hears_of_monitoring_only_with_the_notice(rig, agent_id, sue, notice):
    rig.board.supervision.notice = notice
    call = talking(rig, agent_id)
    rig.board.monitor(call.id, sue, Mode.WHISPER)
    rig.settle()
    told_agent = [m["monitors"] for m, to in rig.hub.messages
                  if m["type"] == "monitors" and to == agent_id]
    supervisors_heard = [m for m, to in rig.hub.messages if m["type"] == "monitors"]
    assert supervisors_heard, "supervisors always hear who listens"
    shown = {call.id: [{"supervisor": "sue", "user_id": sue.user_id, "mode": "whisper",
                        "answered": True, "since": rig.clock.now()}]}
    assert monitors_section(rig, "all") == shown
    assert monitors_section(rig, "queue:1") is None, "a wall display hears nothing of it"
    if notice:
        assert told_agent[-1] == shown[call.id]
        # After a reload the agent's snapshot carries it; another agent's carries nothing.
        assert monitors_section(rig, f"agent:{agent_id}") == shown
        assert monitors_section(rig, f"agent:{agent_id + 1}") == {}
    else:
        assert told_agent == []
        assert monitors_section(rig, f"agent:{agent_id}") is None

    rig.board.stop_monitoring(call.id, sue.user_id)
    rig.settle()
    assert monitors_section(rig, "all") == {}
    if notice:
        assert [m for m, to in rig.hub.messages if m["type"] == "monitors"
                and to == agent_id][-1]["monitors"] == [], "the indicator goes"
        assert monitors_section(rig, f"agent:{agent_id}") == {}
    else:
        assert not any(to == agent_id for m, to in rig.hub.messages if m["type"] == "monitors")
