"""A past call as its page shows it: the call row, its timeline, its recordings, and who
handled it (what decides whether an agent may open it). Read from the database in a few
indexed queries (each by the call's id)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Agent, Call, CallAgent, Event, Offer, Queue, Recording, User
from .timeline import History, Moment, detail_of, timeline


@dataclass
class CallStory:
    call: Call
    moments: list[Moment]
    recordings: list[Recording]
    agents: dict[int, str]          # agent id -> name, for everyone the story names
    queue: str | None
    handlers: set[int]              # agents who talked to the customer (call_agents, or the
                                    # call's own agent)

    def agent_name(self, agent_id: int | None) -> str | None:
        return self.agents.get(agent_id) if agent_id is not None else None


def load(session: Session, call_id: str) -> CallStory | None:
    call = session.get(Call, call_id)
    if call is None:
        return None
    offers = session.scalars(select(Offer).where(Offer.call_id == call_id)
                             .order_by(Offer.offered_at)).all()
    handlers = session.scalars(select(CallAgent).where(CallAgent.call_id == call_id)
                               .order_by(CallAgent.joined_at)).all()
    events = session.scalars(select(Event).where(Event.call_id == call_id)
                             .order_by(Event.id)).all()
    recordings = session.scalars(select(Recording).where(Recording.call_id == call_id)
                                 .order_by(Recording.started_at, Recording.id)).all()
    named = ({call.agent_id} | {o.agent_id for o in offers} | {h.agent_id for h in handlers}
             | {e.agent_id for e in events} | {_target(e) for e in events}) - {None}
    agents = dict(session.execute(select(Agent.id, User.username).join(User).where(
        Agent.id.in_(named))).all()) if named else {}
    queue = session.scalar(select(Queue.name).where(Queue.id == call.queue_id)) \
        if call.queue_id is not None else None
    history = History(call=call, offers=offers, handlers=handlers, events=events,
                      agents=agents, queues={call.queue_id: queue} if queue else {})
    return CallStory(call=call, moments=timeline(history), recordings=list(recordings),
                     agents=agents, queue=queue,
                     handlers=({h.agent_id for h in handlers} | {call.agent_id}) - {None})


def handlers_of(session: Session, call_id: str) -> set[int]:
    """The agents who talked on the call (what lets an agent open it and its recordings)."""
    ids = set(session.scalars(select(CallAgent.agent_id).where(CallAgent.call_id == call_id)))
    ids.add(session.scalar(select(Call.agent_id).where(Call.id == call_id)))
    return ids - {None}


def _target(event: Event) -> int | None:
    """The agent a transfer or consult went to (named in its detail)."""
    if '"to_agent_id"' not in (event.detail or ""):
        return None
    value = detail_of(event.detail).get("to_agent_id")
    return value if isinstance(value, int) else None
