"""The live message shapes, built in one place, checked without sockets."""

from __future__ import annotations

from callcenter.models import AgentState, AgentStatus, Direction, HangupBy, OfferOutcome, Outcome
from callcenter.switchboard import messages
from callcenter.switchboard.agents import AgentView
from callcenter.switchboard.legs import Call, Progress
from callcenter.switchboard.transfer import Transfer

CALL_KEYS = {"id", "version", "kind", "direction", "agent_id", "number", "caller_id",
             "progress", "outcome", "cause", "sip_status", "sip_reason", "hangup_by",
             "created", "answered_at", "bridged_at", "ended_at", "recording", "held",
             "transfer", "queue", "entered", "consult", "channel", "visitor"}


def test_a_call_message_holds_plain_values_only():
    call = Call(id="c1", direction=Direction.OUTBOUND, agent_id=3, number="15551234567",
                progress=Progress.ENDED, outcome=Outcome.FAILED, cause="NORMAL_TEMPORARY_FAILURE",
                sip_status=503, sip_reason="Service Unavailable", hangup_by=HangupBy.CUSTOMER,
                version=4)
    call.transfer = Transfer(leg="l2", to="1001", agent_id=7, from_leg="l1", from_agent_id=3,
                             state="failed", cause="NO_ANSWER")
    message = messages.call_changed(call)
    assert message["type"] == "call" and set(message["call"]) == CALL_KEYS
    body = message["call"]
    assert (body["version"], body["kind"], body["progress"], body["outcome"]) == (
        4, "dial_out", "ended", "failed")
    assert (body["sip_status"], body["sip_reason"], body["hangup_by"]) == (
        503, "Service Unavailable", "customer")
    assert body["transfer"] == {"to": "1001", "agent_id": 7, "state": "failed",
                                "cause": "NO_ANSWER"}
    assert call.as_message() == body, "the call's own view is the same shape"


def test_agent_switch_and_snapshot_messages():
    view = AgentView(id=3, extension="1003", name="alice", status=AgentStatus.ON_BREAK,
                     state=AgentState.RESERVED, wrapup_seconds=10, always_record=False,
                     contacts={"reg"}, call_id="c1", break_reason="missed calls")
    assert messages.agent_changed(view) == {"type": "agent", "agent": {
        "id": 3, "extension": "1003", "name": "alice", "status": "on_break",
        "break_reason": "missed calls", "state": "reserved", "registered": True,
        "call_id": "c1", "since": None}}
    assert messages.switch_changed(False) == {"type": "switch", "switch": {"connected": False}}
    call = Call(id="c1", direction=Direction.OUTBOUND, agent_id=3, number="15551234567")
    snapshot = messages.snapshot([view], [call], True)
    assert snapshot["schema"] == messages.SCHEMA
    assert [a["id"] for a in snapshot["agents"]] == [3]
    assert [c["id"] for c in snapshot["calls"]] == ["c1"]
    assert snapshot["switch"] == {"connected": True}


def test_an_offer_message_names_the_queue_the_caller_and_the_wait():
    call = Call(id="c9", direction=Direction.INBOUND, agent_id=None, number="<b>anonymous</b>")
    ringing = messages.offer(call, leg="leg-1", queue="sales", waited=12.5, auto_answer=False,
                             state=messages.OFFER_RINGING)
    assert ringing == {"type": "offer", "offer": {
        "call_id": "c9", "leg": "leg-1", "queue": "sales", "number": "<b>anonymous</b>",
        "waited": 12.5, "auto_answer": False, "callback": False, "channel": "phone",
        "visitor": None, "state": "ringing"}}
    # How it ended is an OfferOutcome's value, plain text on the wire.
    ended = messages.offer(call, leg="leg-1", queue="sales", waited=None, auto_answer=False,
                           state=OfferOutcome.LOST_RACE)
    assert ended["offer"]["state"] == "lost_race" and type(ended["offer"]["state"]) is str
    assert ended["offer"]["waited"] is None
