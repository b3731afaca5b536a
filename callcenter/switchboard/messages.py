"""Every live message the switchboard sends to the pages, in one place.

The live hub adds `seq`; a snapshot (the first message on a socket) carries `schema`, the
version of these shapes, so a page built for another version can tell. Change a shape here,
and raise SCHEMA when a page reading the old one would misread the new.

    {"type": "snapshot", "schema": 1, "agents": [agent...], "calls": [call...], "switch": switch,
     "offers": [offer...], "callbacks": [callback...]}    the offers still ringing; callback
                                          requests (supervisors' snapshots only)
    {"type": "call", "call": call}        a call changed (its `version` grew)
    {"type": "agent", "agent": agent}     an agent's status, state or registration changed
    {"type": "queue", "queue": row}       a queue's live row changed (queue_rows.py)
    {"type": "figures", "figures": ...}   today's figures, every few seconds and after a call
    {"type": "switch", "switch": switch}  the link to FreeSWITCH went down or came back
    {"type": "offer", "offer": offer}     to one agent: a queued caller rings its phone, or
                                          that offer ended
    {"type": "callback", "callback": callback}   to supervisors: a callback request changed

An offer is {"call_id", "leg" (the agent leg's uuid), "queue" (its name), "number" (the
caller's ID as the carrier gave it: untrusted text, maybe empty), "waited" (seconds the caller
had waited when this was sent), "auto_answer" (whether the phone answers by itself), "callback"
(true: a callback request, the agent dials the number on answering; "waited" counts from the
caller's place in line), "channel" ("phone" or "web"), "visitor" (a web call's: {"widget",
"fields", "page_url", "page_title", "video"}, else null), "state"}:
OFFER_RINGING while the phone rings, then how it ended, an OfferOutcome value (answered,
missed, declined, cancelled: the caller left, lost_race: another agent answered first).

A callback is {"id", "queue", "number", "caller_name", "state" (a CallbackState value),
"entered_at", "requested_at", "next_attempt_at", "done_at" (seconds since the epoch or null),
"waited" (seconds since the caller's place in line), "attempts", "last_result", "agent_id",
"call_id" (the caller's call), "callback_call_id" (the last attempt's call)}.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .agents import AgentView
    from .legs import Call

SCHEMA = 1
OFFER_RINGING = "ringing"


def call(c: Call) -> dict[str, Any]:
    from .consult import consult_now  # the feature's own state (it imports this module)
    from .queues.waiting import waiting_of
    from .recording import recording_now  # the feature's own state (it imports this module)

    transfer = c.transfer
    waiting = waiting_of(c)
    return {
        "id": c.id, "version": c.version, "kind": c.kind.value, "direction": c.direction.value,
        "agent_id": c.agent_id, "number": c.number, "caller_id": c.caller_id,
        "progress": c.progress.value,
        "outcome": c.outcome.value if c.outcome else None, "cause": c.cause,
        "sip_status": c.sip_status, "sip_reason": c.sip_reason,
        "hangup_by": c.hangup_by.value if c.hangup_by else None,
        "created": c.created, "answered_at": c.answered_at, "bridged_at": c.bridged_at,
        "ended_at": c.ended_at, "recording": recording_now(c), "held": c.held,
        "queue": waiting.queue if waiting is not None and waiting.queue else None,
        "entered": waiting.entered if waiting is not None else None,
        "transfer": None if transfer is None else {
            "to": transfer.to, "agent_id": transfer.agent_id, "state": transfer.state,
            "cause": transfer.cause},
        "consult": consult_now(c),
        "channel": c.channel, "visitor": visitor_now(c),
    }


def visitor_now(c: Call) -> dict[str, Any] | None:
    """A website call's visitor: its pre-call fields, page URL and title (untrusted text)."""
    from .web_calls import visitor_of
    visitor = visitor_of(c)
    return visitor.as_dict() if visitor is not None else None


def agent(view: AgentView) -> dict[str, Any]:
    return {"id": view.id, "extension": view.extension, "name": view.name,
            "status": view.status.value, "break_reason": view.break_reason,
            "state": view.state.value, "registered": view.registered, "call_id": view.call_id,
            "since": view.since}


def switch(connected: bool) -> dict[str, Any]:
    return {"connected": connected}


def call_changed(c: Call) -> dict[str, Any]:
    return {"type": "call", "call": call(c)}


def agent_changed(view: AgentView) -> dict[str, Any]:
    return {"type": "agent", "agent": agent(view)}


def switch_changed(connected: bool) -> dict[str, Any]:
    return {"type": "switch", "switch": switch(connected)}


def offer(c: Call, *, leg: str, queue: str, waited: float | None, auto_answer: bool,
          state: str) -> dict[str, Any]:
    """A queued call offered to one agent: `state` is OFFER_RINGING or an OfferOutcome."""
    return {"type": "offer", "offer": {
        "call_id": c.id, "leg": leg, "queue": queue, "number": c.number, "waited": waited,
        "auto_answer": auto_answer, "callback": c.kind.value == "callback",
        "channel": c.channel, "visitor": visitor_now(c), "state": str(state)}}


def callback(request: Any, now: float) -> dict[str, Any]:
    """A callback request (queues/callbacks.py Request) as supervisors see it."""
    return {"id": request.id, "queue": request.queue, "number": request.number,
            "caller_name": request.caller_name, "state": request.state.value,
            "entered_at": request.entered, "requested_at": request.requested,
            "next_attempt_at": request.next_attempt, "done_at": request.done,
            "waited": round((request.done or now) - request.entered, 1),
            "attempts": request.attempts, "last_result": request.last_result,
            "agent_id": request.agent_id, "call_id": request.call_id,
            "callback_call_id": request.callback_call_id}


def callback_changed(request: Any, now: float) -> dict[str, Any]:
    return {"type": "callback", "callback": callback(request, now)}


def snapshot(agents: list[AgentView], calls: list[Call], connected: bool,
             offers: list[dict[str, Any]] | None = None,
             callbacks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The view a socket starts from (the hub adds "type" and "seq"); `offers`: the offers
    still ringing (the `offer` of an offer message each), so a page opened meanwhile shows them;
    `callbacks`: callback requests (`callback` shapes), for supervisors."""
    return {"schema": SCHEMA, "agents": [agent(view) for view in agents],
            "calls": [call(c) for c in calls], "switch": switch(connected),
            "offers": offers or [], "callbacks": callbacks or []}
