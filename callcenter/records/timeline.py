"""A call's story, in order: built once, on the server, from what the database keeps of it —
the call row, its offers, the agents who handled it and its events (hold, transfer, consult,
monitoring, recording). Pure: it reads attributes of whatever rows it is given, so hand-made
histories test it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..models import AgentLeft, Direction, EventKind, HangupBy, OfferOutcome

_OFFER_ENDS = {OfferOutcome.ANSWERED: "answered", OfferOutcome.MISSED: "missed",
               OfferOutcome.DECLINED: "declined", OfferOutcome.CANCELLED: "cancelled (the "
               "caller left or the call went elsewhere)",
               OfferOutcome.LOST_RACE: "another agent answered first"}
_LEFT = {AgentLeft.HUNG_UP: "hung up", AgentLeft.CUSTOMER_HUNG_UP: "the customer hung up",
         AgentLeft.TRANSFERRED: "transferred the call", AgentLeft.COMPLETED_CONSULT:
         "handed the call over after a consult", AgentLeft.REQUEUED: "sent the caller back to "
         "a queue", AgentLeft.ENDED: "the call was ended for them"}
_HUNG_UP_BY = {HangupBy.CUSTOMER: "the customer", HangupBy.AGENT: "the agent",
               HangupBy.SYSTEM: "the system", HangupBy.SUPERVISOR: "a supervisor"}
_MONITOR = {"listen": "listens", "whisper": "whispers to the agent", "barge": "barges in",
            "left": "stops monitoring"}


# Moments at one instant: the order things happen in a call (unlisted kinds come between
# the agents joining and the end).
_RANK = {"call": 0, "queue": 1, "offer": 2, "transfer": 3, "consult": 3, "left": 4, "agent": 5,
         "ended": 9}


@dataclass(frozen=True)
class Moment:
    at: datetime
    kind: str          # call, queue, offer, agent, left, hold, unhold, transfer, consult,
                       # monitor, recording_started, recording_stopped, ended
    text: str

    def as_message(self) -> dict[str, str]:
        return {"at": self.at.isoformat(), "kind": self.kind, "text": self.text}


@dataclass
class History:
    """What the database keeps of one call (rows, or anything with their attributes)."""
    call: Any
    offers: Iterable[Any] = ()
    handlers: Iterable[Any] = ()          # call_agents rows
    events: Iterable[Any] = ()
    agents: Mapping[int, str] = field(default_factory=dict)    # agent id -> name
    queues: Mapping[int, str] = field(default_factory=dict)    # queue id -> name


def timeline(history: History) -> list[Moment]:
    """Every moment of the call, oldest first (moments at one instant in the order of a call's
    life: it began, was offered, a transfer was done, the old agent left, the new one joined,
    ..., it ended)."""
    moments: list[tuple[datetime, int, int, Moment]] = []

    def add(at: datetime | None, kind: str, text: str) -> None:
        if at is not None:
            moments.append((at, _RANK.get(kind, 5), len(moments), Moment(at, kind, text)))

    call, name = history.call, _names(history.agents)
    queue = history.queues.get(call.queue_id) if call.queue_id is not None else None
    if call.direction is Direction.INBOUND:
        add(call.created_at, "call", f"Call from {call.customer_number or 'an unknown number'}")
    else:
        add(call.created_at, "call", f"{name(call.agent_id)} dialled {call.customer_number}")
    add(call.entered_at, "queue", f"Entered the queue {queue or '(deleted queue)'}")
    for offer in history.offers:
        outcome = _OFFER_ENDS.get(offer.outcome, "no answer recorded") \
            if offer.outcome is not None else "ringing"
        add(offer.offered_at, "offer", f"Offered to {name(offer.agent_id)} — {outcome}")
    if call.direction is Direction.OUTBOUND:
        add(call.answered_at, "call", "The customer answered")
    for part in history.handlers:
        add(part.joined_at, "agent", f"{name(part.agent_id)} talking with the customer")
        if part.left_how is not None and part.left_how not in (
                AgentLeft.HUNG_UP, AgentLeft.CUSTOMER_HUNG_UP):
            add(part.left_at, "left", f"{name(part.agent_id)} {_LEFT[part.left_how]}")
    for event in history.events:
        text = _event_text(event, name)
        if text is not None:
            add(event.at, event.kind.value if hasattr(event.kind, "value") else event.kind,
                text)
    if call.ended_at is not None:
        by = _HUNG_UP_BY.get(call.hangup_by, "unknown") if call.hangup_by else "unknown"
        cause = f" ({call.hangup_cause})" if call.hangup_cause else ""
        add(call.ended_at, "ended", f"Hung up by {by}{cause}")
    moments.sort(key=lambda moment: moment[:3])
    return [moment for *_, moment in moments]


def _names(agents: Mapping[int, str]):
    def name(agent_id: int | None) -> str:
        if agent_id is None:
            return "no agent"
        return agents.get(agent_id, f"agent {agent_id} (deleted)")
    return name


def _event_text(event: Any, name) -> str | None:
    detail = detail_of(event.detail)
    kind = EventKind(event.kind)
    who = name(event.agent_id) if event.agent_id is not None else "The agent"
    if kind is EventKind.HOLD:
        return f"{who} put the customer on hold"
    if kind is EventKind.UNHOLD:
        return f"{who} took the customer off hold"
    if kind in (EventKind.TRANSFER, EventKind.CONSULT):
        target = (name(detail["to_agent_id"]) if "to_agent_id" in detail
                  else f"the queue {detail['to_queue']}" if "to_queue" in detail
                  else detail.get("to", "?"))
        word = "transfer" if kind is EventKind.TRANSFER else "consult"
        cause = f" ({detail['cause']})" if detail.get("cause") else ""
        return f"{who}: {word} to {target} — {detail.get('result', '?')}{cause}"
    if kind is EventKind.MONITOR:
        mode = detail.get("mode", "")
        return f"Supervisor {detail.get('supervisor', '?')} {_MONITOR.get(mode, mode)}"
    if kind is EventKind.RECORDING_STARTED:
        return "Recording started"
    if kind is EventKind.RECORDING_STOPPED:
        return "Recording stopped"
    return None     # an agent's own status and state: the agent's day, not the call's story


def detail_of(text: str | dict | None) -> dict:
    if isinstance(text, dict):
        return text
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
