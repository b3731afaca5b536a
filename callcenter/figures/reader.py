"""Loading a day's rows for the figures (definitions.py computes them), in one short session.

A day of 20,000 calls holds about 100,000 agent events: walking them in Python would cost more
than everything else together, so the agents' time is a sum in SQL over the day's events (each
says how long the situation it ended lasted) plus the two edges definitions.edges mends. The
calls are read as plain rows with only the columns the definitions use.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Float, String, cast, extract, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from ..db import Database
from ..models import (
    Agent,
    AgentState,
    AgentStatus,
    Call,
    CallAgent,
    Event,
    EventKind,
    Offer,
    OfferOutcome,
    Outcome,
    Queue,
    event_id,
)
from . import definitions as d
from .day import Day, day_of, local_day

AGENT_KINDS = (EventKind.AGENT_STATUS, EventKind.AGENT_STATE)
MISSED = (OfferOutcome.MISSED, OfferOutcome.DECLINED)
LONGEST_WAIT = 86_400       # a queue's longest wait when it has none (0: no limit)
WRAPUP_AFTER = 7_200        # a wrap-up counts if it ended within this long after its day


def today(database: Database, *, now: float, timezone: ZoneInfo) -> dict:
    """Today's figures in the site's timezone (see `for_day`)."""
    return for_day(database, day_of(now, timezone), now=now, timezone=timezone)


def for_day(database: Database, day: date, *, now: float, timezone: ZoneInfo) -> dict:
    """The figures of one local day, as of `now` (seconds since the epoch): per queue, all
    queues, per agent and per 15-minute interval (the README's "Figures and their
    definitions")."""
    bounds = local_day(day, timezone)
    with database.session() as session:
        rows = _read(session, bounds, now)
    return _figures(bounds, now, *rows)


def _read(session: Session, day: Day, now: float):
    queues = session.execute(select(Queue.id, Queue.name, Queue.service_level_seconds,
                                    Queue.max_wait_seconds).order_by(Queue.name)).all()
    agent_ids = list(session.scalars(select(Agent.id).order_by(Agent.id)))
    wrapups = _wrapups(session, agent_ids, day)
    longest = max((row.max_wait_seconds or LONGEST_WAIT for row in queues), default=0)
    calls = _calls(session, day, longest, wrapups)
    times = [d.AgentTime(*row) for row in session.execute(
        select(Event.agent_id, Event.prior_status, Event.prior_state,
               func.sum(Event.prior_seconds))
        .where(*_agents_events(agent_ids), *_between(day.start, day.end))
        .group_by(Event.agent_id, Event.prior_status, Event.prior_state))]
    times += d.edges(_edge_events(session, agent_ids, day, first=True),
                     _edge_events(session, agent_ids, day, first=False), day, now)
    return queues, calls, agent_ids, times, _handled(session, day), _missed(session, day)


def _agents_events(agent_ids: list[int]) -> tuple:
    """The roster's status and state changes, in the terms of ix_events_agent_time: each agent,
    status and state is one stretch of it, already in the order they are summed in. Every
    agent's events are there: an agent is never deleted (its user is deactivated)."""
    return (Event.agent_id.in_(agent_ids), Event.prior_status.in_(list(AgentStatus)),
            Event.prior_state.in_(list(AgentState)), Event.kind.in_(AGENT_KINDS))


def _calls(session: Session, day: Day, longest: int, wrapups: dict[str, float]
           ) -> list[d.CallRow]:
    """Queued calls that entered within the day, and those that entered before it and were
    still waiting at its start (the peak of waiting callers counts them). A caller turned away
    by a closed queue never entered it. `longest`: the longest any caller may wait.

    Read from ix_calls_entered alone, as plain tuples (no ORM rows). Times come as seconds
    since the epoch where the database can say so exactly (PostgreSQL: the same float
    datetime.timestamp() gives, without making 40,000 datetimes); SQLite's text is read by
    fromisoformat (the column type's own reading cost more than all the definitions together).
    """
    start, end = _utc(day.start), _utc(day.end)
    earliest = _utc(day.start - longest)
    text = session.get_bind().dialect.name == "sqlite"

    def moment(column):
        return type_coerce(column, String) if text else cast(extract("epoch", column), Float)

    rows = session.connection().execute(
        select(Call.id, Call.queue_id, moment(Call.entered_at),
               moment(func.coalesce(Call.connected_at, Call.left_at, Call.ended_at)),
               Call.connected_at.is_not(None), Call.ended_at.is_not(None),
               type_coerce(Call.outcome, String), Call.talk_seconds)
        .where(Call.entered_at >= earliest, Call.entered_at < end, Call.queue_id.is_not(None),
               or_(Call.outcome.is_(None), Call.outcome != Outcome.CLOSED),
               or_(Call.entered_at >= start, Call.left_at.is_(None), Call.left_at >= start))
        ).all()
    no_wrapup = 0.0
    if not text:
        return [d.CallRow(queue_id, entered, out, answered, ended, outcome, talk or 0,
                          wrapups.get(call_id, no_wrapup))
                for call_id, queue_id, entered, out, answered, ended, outcome, talk in rows]
    return [d.CallRow(queue_id, _text_epoch(entered),
                      _text_epoch(out) if out is not None else None, answered, ended, outcome,
                      talk or 0, wrapups.get(call_id, no_wrapup))
            for call_id, queue_id, entered, out, answered, ended, outcome, talk in rows]


def _wrapups(session: Session, agent_ids: list[int], day: Day) -> dict[str, float]:
    """Seconds of wrap-up after each call, from the events that ended a wrap-up (each names the
    call it followed); summed here, as SQL would first sort them all by call."""
    wrapups: dict[str, float] = {}
    for call_id, seconds in session.connection().execute(
            select(Event.call_id, Event.prior_seconds)
            .where(*_agents_events(agent_ids), Event.prior_state == AgentState.WRAP_UP,
                   *_between(day.start, day.end + WRAPUP_AFTER), Event.call_id.is_not(None))
            ).all():
        wrapups[call_id] = wrapups.get(call_id, 0) + (seconds or 0)
    return wrapups


def _edge_events(session: Session, agent_ids: list[int], day: Day, *, first: bool
                 ) -> list[d.AgentEvent]:
    """Each agent's first event of the day, or its last one before the day's end (which may be
    from an earlier day), found through the (agent_id, at) index one agent at a time."""
    if not agent_ids:
        return []
    within = [Event.agent_id == Agent.id, Event.kind.in_(AGENT_KINDS), Event.at < _utc(day.end)]
    if first:
        within.append(Event.at >= _utc(day.start))
    order = (Event.at.asc(), Event.id.asc()) if first else (Event.at.desc(), Event.id.desc())
    inner = (select(Event.id).where(*within).order_by(*order).limit(1)
             .correlate(Agent).scalar_subquery())
    ids = [event_id for event_id in session.scalars(select(inner).select_from(Agent))
           if event_id is not None]
    if not ids:
        return []
    rows = session.execute(select(Event.agent_id, Event.at, Event.kind, Event.detail,
                                  Event.prior_status, Event.prior_state, Event.prior_seconds)
                           .where(Event.id.in_(ids)))
    return [d.AgentEvent(row.agent_id, row.at.timestamp(), row.kind.value, row.detail,
                         _value(row.prior_status), _value(row.prior_state),
                         row.prior_seconds or 0.0) for row in rows]


def _handled(session: Session, day: Day) -> dict[int, d.Handled]:
    """Each agent's parts in calls that began within the day, summed in SQL
    (definitions.handled_by_agent is the same over rows: a part still with the customer has no
    talk and adds no hold or wrap-up)."""
    return {agent_id: d.Handled(parts, ended, talk or 0.0, hold or 0.0, wrapup or 0.0)
            for agent_id, parts, ended, talk, hold, wrapup in session.connection().execute(
                select(CallAgent.agent_id, func.count(), func.count(CallAgent.talk_seconds),
                       func.sum(CallAgent.talk_seconds), func.sum(CallAgent.hold_seconds),
                       func.sum(CallAgent.wrapup_seconds))
                .where(CallAgent.joined_at >= _utc(day.start),
                       CallAgent.joined_at < _utc(day.end), CallAgent.agent_id.is_not(None))
                .group_by(CallAgent.agent_id))}


def _missed(session: Session, day: Day) -> dict[int, int]:
    """Per agent: the offers it let ring out or declined."""
    return {agent_id: count for agent_id, count in session.execute(
        select(Offer.agent_id, func.count())
        .where(Offer.offered_at >= _utc(day.start), Offer.offered_at < _utc(day.end),
               Offer.agent_id.is_not(None), Offer.outcome.in_(MISSED))
        .group_by(Offer.agent_id))}


def _figures(day: Day, now: float, queues, calls: list[d.CallRow], agent_ids: list[int],
             times: Iterable[d.AgentTime], handled: dict[int, d.Handled],
             missed: dict[int, int]
             ) -> dict:
    thresholds = {row.id: row.service_level_seconds for row in queues}
    names = {row.id: row.name for row in queues}

    def threshold(queue_id: int) -> float:
        return thresholds.get(queue_id, 0)

    cells = d.cells(calls, day, threshold, now)
    by_queue = d.by_queue(cells)
    return {
        "day": day.date.isoformat(),
        "timezone": day.timezone.key,
        "computed_at": datetime.fromtimestamp(now, UTC).isoformat(),
        "queues": [{"queue": row.name, **by_queue.get(row.id, d.Tally()).figures(),
                    "service_level_seconds": row.service_level_seconds} for row in queues],
        "totals": d.total(by_queue.values()).figures(),
        "agents": d.agent_rows(agent_ids, times, handled, missed),
        "intervals": d.intervals(calls, day, threshold, now, names, cells),
    }


def _between(start: float, end: float) -> tuple:
    """Events from `start` to before `end`, as a range of ids (they follow time, and on SQLite
    the rows of a range lie together)."""
    return Event.id >= event_id(start), Event.id < event_id(end)


def _utc(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


def _text_epoch(at: str) -> float:
    """SQLite's text, always UTC (models.UtcDateTime)."""
    return (datetime.fromisoformat(at) - _EPOCH).total_seconds()


_EPOCH = datetime(1970, 1, 1)       # naive, as SQLite's text is


def _value(member) -> str:
    return member.value if member is not None else ""


__all__ = ["for_day", "today"]
