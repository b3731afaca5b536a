"""The call records search: filters over the CDR (calls), newest first, a page at a time by
keyset, with a total counted up to a cap.

Pages are keyset-paged on (created_at, id), never by OFFSET: the page after a call holds the
calls that sort after it, so the 100th page costs what the first does, and calls sharing a
timestamp are neither skipped nor repeated (ids break the tie). Which index serves which filter
is in the README ("Call records").

Who sees what: supervisors and admins every call, an agent the calls it handled (`handled_by`:
the call's agent of record, or any agent part in call_agents, kept together in call_handlers).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Literal

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    func,
    literal_column,
    select,
    text,
    tuple_,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..models import Call, CallHandler, Direction, Outcome, Recording

NUMBER_INDEX = "calls_numbers"   # SQLite's FTS5 trigram table over calls.customer_number
COUNT_CAP = 10_000               # counted exactly up to here; beyond, "10,000+"
COUNT_BUDGET_MS = 20             # a count taking longer stops: the total is "many"
LONG_CALL = 600                  # seconds: talk_min from here reads the talk-time index
CONTAINS_MIN = 3                 # a trigram index needs three characters to look anything up
SQLITE_INTERRUPT = 9
NUMBER = re.compile(r"[0-9+*#]{1,32}")
CAUSE = re.compile(r"[A-Z0-9_]{1,64}")


def recorded() -> ColumnElement[bool]:
    """A call with a recording to play: a recordings row (retention removes them; the call's
    recording_path still names its first file once pruned). The one place that says so."""
    return exists().where(Recording.call_id == Call.id)


def handled_by(agent_id: int, call_id=Call.id) -> ColumnElement[bool]:
    """Calls the agent handled: its agent of record, or one of the agents who talked in it
    (call_agents). The database keeps that pair set in call_handlers (migration 0023's
    triggers), which a search by agent walks newest first (`Search`)."""
    return call_id.in_(select(CallHandler.call_id).where(CallHandler.agent_id == agent_id))


@dataclass(frozen=True)
class Filters:
    """What to look for, every field optional. `until` is excluded; `number` is a prefix of
    the customer's number, or any part of it with `number_match="contains"` (3 characters at
    least); talk time is in seconds, both bounds included."""
    since: datetime | None = None
    until: datetime | None = None
    agent_id: int | None = None
    queue_id: int | None = None
    direction: Direction | None = None
    number: str = ""
    number_match: Literal["prefix", "contains"] = "prefix"
    outcome: Outcome | None = None
    cause: str = ""
    disposition: str = ""
    talk_min: int | None = None
    talk_max: int | None = None
    recorded: bool | None = None

    def __post_init__(self) -> None:
        if self.number and not NUMBER.fullmatch(self.number):
            raise InvalidInput("digits, and + * # only (up to 32)", field="number")
        if self.number_match not in ("prefix", "contains"):
            raise InvalidInput("prefix or contains", field="match")
        if self.number_match == "contains" and self.number and len(self.number) < CONTAINS_MIN:
            raise InvalidInput(f"at least {CONTAINS_MIN} digits to search inside numbers (or "
                               "search by the start of the number)", field="number")
        if self.cause and not CAUSE.fullmatch(self.cause):
            raise InvalidInput("a hangup cause such as NORMAL_CLEARING", field="cause")
        for name in ("talk_min", "talk_max"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise InvalidInput("seconds, 0 or more", field=name)
        if None not in (self.talk_min, self.talk_max) and self.talk_min > self.talk_max:
            raise InvalidInput("no more than the longest talk time", field="talk_min")
        if None not in (self.since, self.until) and self.since >= self.until:
            raise InvalidInput("before the end of the time range", field="from")

    def by_time_only(self) -> bool:
        """No filter but the time range and the agent: nothing to read from the calls."""
        return replace(self, since=None, until=None, agent_id=None) == Filters()

    def described(self) -> dict[str, object]:
        """The filters set, as an export's audit row keeps them."""
        values = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if value in (None, "") or (field.name == "number_match" and not self.number):
                continue
            values[field.name] = value.isoformat() if isinstance(value, datetime) else value
        return values

    def conditions(self, dialect: str) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.since is not None:
            where.append(Call.created_at >= self.since)
        if self.until is not None:
            where.append(Call.created_at < self.until)
        if self.queue_id is not None:
            where.append(Call.queue_id == self.queue_id)
        if self.direction is not None:
            where.append(Call.direction == self.direction)
        if self.number:
            where.append(_number_contains(self.number, dialect) if
                         self.number_match == "contains" else
                         _number_starts(self.number, dialect))
        if self.outcome is not None:
            where.append(Call.outcome == self.outcome)
        if self.cause:
            where.append(Call.hangup_cause == self.cause)
        if self.disposition:
            where.append(Call.disposition == self.disposition)
        if self.talk_min is not None:
            talked = Call.talk_seconds >= self.talk_min
            if dialect == "sqlite" and self.talk_min >= LONG_CALL:
                # SQLite keeps no statistics of its own: told that long calls are few, it
                # reads them from ix_calls_talk and sorts them, rather than walking every call
                # newest first to find fifty (PostgreSQL's statistics know it: migration
                # 0025 samples talk time finely enough to see the thin tail).
                talked = func.unlikely(talked)
            where.append(talked)
        if self.talk_max is not None:
            where.append(Call.talk_seconds <= self.talk_max)
        if self.recorded is not None:
            where.append(recorded() if self.recorded else ~recorded())
        return where


def _number_starts(prefix: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":     # served by ix_calls_number_prefix (varchar_pattern_ops)
        return Call.customer_number.like(prefix + "%")
    # SQLite's LIKE ignores case, so no index serves it; a range over the binary order does
    # (every character a number may hold sorts below the one after it).
    following = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return and_(Call.customer_number >= prefix, Call.customer_number < following)


def _number_contains(part: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":     # pg_trgm's GIN index (ix_calls_number_trigram)
        return Call.customer_number.like(f"%{part}%")
    # The FTS5 trigram table (migration 0020); a quoted phrase matches the characters in a row.
    matches = (select(literal_column("rowid")).select_from(text(NUMBER_INDEX))
               .where(text(f"{NUMBER_INDEX} MATCH :number_part"))
               .params(number_part=f'"{part}"'))
    return literal_column("calls.rowid").in_(matches)


@dataclass(frozen=True)
class Page:
    calls: list[Call]
    newer: str | None    # the id to ask the page before with (`after`); None: the newest
    older: str | None    # the id to ask the next page with (`before`); None: the last


class Search:
    """One search as a viewer may run it: `viewer_agent` set, only that agent's calls."""

    def __init__(self, filters: Filters, viewer_agent: int | None = None) -> None:
        self.filters = filters
        self.viewer_agent = viewer_agent

    def _agents(self) -> list[int]:
        """The agents whose calls these are (the viewer's own, the agent filter), each once."""
        return list(dict.fromkeys(agent for agent in (self.viewer_agent, self.filters.agent_id)
                                  if agent is not None))

    def _key(self) -> tuple:
        """The (created_at, call id) pair pages are ordered by. By agent, call_handlers' copy:
        its index (agent_id, created_at, call_id) then gives the agent's calls newest first,
        read until a page is full; the calls' own pair would make the database gather every
        call of the agent and sort them."""
        if self._agents():
            return CallHandler.created_at, CallHandler.call_id
        return Call.created_at, Call.id

    def newest_first(self) -> tuple:
        return tuple(column.desc() for column in self._key())

    def statement(self, session: Session, columns=(Call,)) -> Select:
        where = self.filters.conditions(session.get_bind().dialect.name)
        rows = select(*columns)
        agents = self._agents()
        if agents:
            rows = rows.join(CallHandler, CallHandler.call_id == Call.id)
            where += self._handled(agents)
        return rows.where(*where)

    def _handled(self, agents: list[int]) -> list[ColumnElement[bool]]:
        """call_handlers' rows of the first agent (its index walked), within the time range
        (the call's created_at, copied), that the other agent handled too."""
        first, *others = agents
        where = [CallHandler.agent_id == first]
        where += [handled_by(agent, CallHandler.call_id) for agent in others]
        if self.filters.since is not None:
            where.append(CallHandler.created_at >= self.filters.since)
        if self.filters.until is not None:
            where.append(CallHandler.created_at < self.filters.until)
        return where

    def page(self, session: Session, size: int, *, before: str | None = None,
             after: str | None = None) -> Page:
        """Up to `size` calls, newest first: the first page, the page of calls older than the
        call `before`, or the page of calls newer than the call `after`."""
        rows = self.statement(session)
        key = tuple_(*self._key())
        if after is not None:
            rows = rows.where(key > _position(session, after, "after"))
            found = list(session.scalars(rows.order_by(*self._key()).limit(size + 1)))
            more_newer, calls = len(found) > size, found[:size][::-1]
            return Page(calls, calls[0].id if more_newer else None,
                        calls[-1].id if calls else None)
        if before is not None:
            rows = rows.where(key < _position(session, before, "before"))
        found = list(session.scalars(rows.order_by(*self.newest_first()).limit(size + 1)))
        calls = found[:size]
        return Page(calls, calls[0].id if before is not None and calls else None,
                    calls[-1].id if len(found) > size else None)

    def total(self, session: Session) -> tuple[int | None, bool]:
        """How many calls match, counted up to COUNT_CAP (True: there are more). A filter no
        index narrows (a rare hangup cause over all time) may have to read every call to be
        counted: after COUNT_BUDGET_MS the count stops, and the total is (None, True)."""
        agents = self._agents()
        if agents and self.filters.by_time_only():
            # An agent's calls in a time range: counted in call_handlers' index alone.
            counted = select(CallHandler.call_id).where(*self._handled(agents))
        else:
            counted = self.statement(session, (Call.id,))
        capped = counted.limit(COUNT_CAP + 1).subquery()
        count = _within_budget(session, select(func.count()).select_from(capped))
        if count is None:
            return None, True
        return min(count, COUNT_CAP), count > COUNT_CAP

    def chunks(self, sessions: Callable[[], AbstractContextManager[Session]],
               size: int) -> Iterator[list[Call]]:
        """Every call, newest first, `size` at a time, each chunk read in its own short
        transaction (none held open while a slow client downloads)."""
        position = None
        while True:
            with sessions() as session:
                rows = self.statement(session)
                if position is not None:
                    rows = rows.where(tuple_(*self._key()) < position)
                chunk = list(session.scalars(rows.order_by(*self.newest_first()).limit(size)))
                session.expunge_all()
            if chunk:
                yield chunk
            if len(chunk) < size:
                return
            position = tuple_(chunk[-1].created_at, chunk[-1].id)


def _within_budget(session: Session, statement: Select) -> int | None:
    """The statement's one value, or None when it ran past COUNT_BUDGET_MS (stopped by the
    database: SQLite's progress handler, PostgreSQL's statement_timeout in a savepoint)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        try:
            with session.begin_nested():
                connection.exec_driver_sql(f"SET LOCAL statement_timeout = {COUNT_BUDGET_MS}")
                return session.scalar(statement)
        except OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) == "57014":   # query_canceled
                return None
            raise
        finally:
            # Rolling back to the savepoint left the timeout set (seen on PostgreSQL 15):
            # the rest of the transaction must not inherit it.
            connection.exec_driver_sql("SET LOCAL statement_timeout = DEFAULT")
    driver = connection.connection.driver_connection
    deadline = time.monotonic() + COUNT_BUDGET_MS / 1000
    driver.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
    try:
        return session.scalar(statement)
    except OperationalError as exc:
        if getattr(exc.orig, "sqlite_errorcode", None) == SQLITE_INTERRUPT:
            return None
        raise
    finally:
        driver.set_progress_handler(None, 0)


def _position(session: Session, call_id: str, field: str):
    created = session.scalar(select(Call.created_at).where(Call.id == call_id))
    if created is None:
        raise InvalidInput("the id of a call from the previous page", field=field)
    return tuple_(created, call_id)
