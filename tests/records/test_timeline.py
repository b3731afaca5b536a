"""A call's timeline from hand-made histories: the order of its moments and their words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace as Row

from callcenter.models import AgentLeft, Direction, EventKind, HangupBy, OfferOutcome
from callcenter.records.timeline import History, timeline

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def call(**values) -> Row:
    row = dict(direction=Direction.INBOUND, customer_number="15551234567", agent_id=2,
               queue_id=7, created_at=at(0), entered_at=at(1), answered_at=at(1),
               ended_at=None, hangup_by=None, hangup_cause=None)
    return Row(**(row | values))


def event(kind: EventKind, seconds: float, agent_id: int | None = 2, detail: str = "{}") -> Row:
    return Row(kind=kind, at=at(seconds), agent_id=agent_id, detail=detail)


AGENTS = {1: "Alice", 2: "Bob", 3: "Carol"}


def test_a_queued_call_missed_by_one_agent_answered_by_another_held_and_hung_up():
    history = History(
        call=call(ended_at=at(90), hangup_by=HangupBy.CUSTOMER, hangup_cause="NORMAL_CLEARING"),
        offers=[Row(agent_id=1, offered_at=at(2), outcome=OfferOutcome.MISSED),
                Row(agent_id=2, offered_at=at(22), outcome=OfferOutcome.ANSWERED)],
        handlers=[Row(agent_id=2, joined_at=at(25), left_at=at(90),
                      left_how=AgentLeft.CUSTOMER_HUNG_UP)],
        # Events come in any order; an agent's own state change is not the call's story.
        events=[event(EventKind.UNHOLD, 50), event(EventKind.HOLD, 40),
                event(EventKind.AGENT_STATE, 25, detail='{"state": "in_call"}'),
                event(EventKind.MONITOR, 60, None, '{"mode": "listen", "supervisor": "sue"}')],
        agents=AGENTS, queues={7: "sales"})
    assert [(m.at, m.text) for m in timeline(history)] == [
        (at(0), "Call from 15551234567"),
        (at(1), "Entered the queue sales"),
        (at(2), "Offered to Alice — missed"),
        (at(22), "Offered to Bob — answered"),
        (at(25), "Bob talking with the customer"),
        (at(40), "Bob put the customer on hold"),
        (at(50), "Bob took the customer off hold"),
        (at(60), "Supervisor sue listens"),
        (at(90), "Hung up by the customer (NORMAL_CLEARING)"),
    ]


def test_a_transfer_names_the_agent_it_went_to_and_each_agents_part():
    history = History(
        call=call(direction=Direction.OUTBOUND, queue_id=None, entered_at=None,
                  ended_at=at(60), hangup_by=HangupBy.AGENT, agent_id=1),
        handlers=[Row(agent_id=1, joined_at=at(5), left_at=at(30),
                      left_how=AgentLeft.TRANSFERRED),
                  Row(agent_id=3, joined_at=at(30), left_at=at(60), left_how=AgentLeft.HUNG_UP)],
        events=[event(EventKind.TRANSFER, 28, 1, '{"to": "1002", "to_agent_id": 3, '
                                                 '"result": "started"}'),
                event(EventKind.TRANSFER, 30, 1, '{"to": "1002", "to_agent_id": 3, '
                                                 '"result": "done"}'),
                event(EventKind.RECORDING_STARTED, 10, 1, '{"path": "/r/x.wav"}')],
        agents=AGENTS)
    texts = [m.text for m in timeline(history)]
    assert texts == [
        "Alice dialled 15551234567",
        "The customer answered",
        "Alice talking with the customer",
        "Recording started",
        "Alice: transfer to Carol — started",
        "Alice: transfer to Carol — done",
        "Alice transferred the call",
        "Carol talking with the customer",
        "Hung up by the agent",
    ]


def test_deleted_agents_and_queues_and_bad_details_still_read():
    history = History(
        call=call(), offers=[Row(agent_id=9, offered_at=at(3), outcome=None)],
        events=[event(EventKind.CONSULT, 4, 9, "not json"),
                event(EventKind.TRANSFER, 5, 9, '{"to_queue": "support", "result": "done"}')],
        agents=AGENTS, queues={})
    texts = [m.text for m in timeline(history)]
    assert texts == ["Call from 15551234567", "Entered the queue (deleted queue)",
                     "Offered to agent 9 (deleted) — ringing",
                     "agent 9 (deleted): consult to ? — ?",
                     "agent 9 (deleted): transfer to the queue support — done"]
    assert timeline(history)[0].as_message() == {
        "at": "2026-12-02T09:00:00+00:00", "kind": "call", "text": "Call from 15551234567"}
