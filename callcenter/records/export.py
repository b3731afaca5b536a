"""The call records search as CSV: the columns (documented in the README, "Call records") and
the lines, streamed chunk by chunk (search.Search.chunks): constant memory, any size."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Agent, Call, Queue, User
from .search import Search

CHUNK = 1000
COLUMNS = ("call_id", "started", "direction", "agent", "queue", "number", "caller_id",
           "outcome", "hangup_cause", "hangup_by", "answered", "ended", "wait_seconds",
           "ring_seconds", "talk_seconds", "hold_seconds", "disposition", "notes", "recorded")


def names(session: Session) -> tuple[dict[int, str], dict[int, str]]:
    """Agents' user names and queues' names by id (a few hundred rows, read once)."""
    agents = dict(session.execute(select(Agent.id, User.username).join(User)).all())
    queues = dict(session.execute(select(Queue.id, Queue.name)).all())
    return agents, queues


def lines(search: Search, sessions: Callable[[], AbstractContextManager[Session]],
          size: int = CHUNK) -> Iterator[str]:
    """The header line, then one text per chunk of calls (newest first)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    with sessions() as session:
        agents, queues = names(session)
    writer.writerow(COLUMNS)
    yield buffer.getvalue()
    for chunk in search.chunks(sessions, size):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(row(call, agents, queues) for call in chunk)
        yield buffer.getvalue()


def row(call: Call, agents: dict[int, str], queues: dict[int, str]) -> list:
    def when(value: datetime | None) -> str:
        return value.isoformat() if value is not None else ""

    return [call.id, when(call.created_at), call.direction.value,
            agents.get(call.agent_id, ""), queues.get(call.queue_id, ""),
            text_cell(call.customer_number), text_cell(call.caller_id),
            call.outcome.value if call.outcome else "", call.hangup_cause or "",
            call.hangup_by.value if call.hangup_by else "", when(call.answered_at),
            when(call.ended_at), "" if call.wait_seconds is None else call.wait_seconds,
            call.ring_seconds, call.talk_seconds, call.hold_seconds,
            text_cell(call.disposition or ""), text_cell(call.notes or ""),
            "yes" if call.recording_path else "no"]


def text_cell(value: str) -> str:
    """A cell a spreadsheet shows as text: a leading = + - @ (a formula) gets a quote. A
    caller's number may start with +, and notes are whatever an agent typed."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
