"""The audit log: one row for each forced change a person makes (an admin creating or changing a
user, a queue or its tiers; the command line counts as "cli"), and for each login, failed login,
logout and export of the log, written in the change's own transaction so the row exists exactly
when the change does. Rows are only ever added: nothing in the application updates or deletes
them (models.AuditEntry refuses it, and a test walks the code). The Audit log page reads them
through `Search` here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from .errors import InvalidInput
from .models import AuditEntry, User, utcnow

if TYPE_CHECKING:
    from .sessions import Person


@dataclass(frozen=True)
class Actor:
    """Who made a change: a signed-in user, or a name for the rest ("cli", "first run")."""
    user_id: int | None
    name: str

    @classmethod
    def user(cls, user: User | Person) -> Actor:
        return cls(user.id, user.username)


CLI = Actor(None, "cli")
FIRST_RUN = Actor(None, "first run")     # the first administrator, creating itself
DEMO = Actor(None, "demo")               # the built-in demo's queue (CALLCENTER_SIM_CALLERS)


def record(session: Session, who: Actor, action: str, target: str,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> None:
    """Add the change's row to `session` (the caller's transaction commits it with the change).
    `action` says what was done (user.create, queue.change ...), `target` to what ("queue
    sales"), `before` and `after` the values that changed."""
    session.add(AuditEntry(at=utcnow(), user_id=who.user_id, actor=who.name[:64],
                           action=action, target=target[:128], before=_json(before),
                           after=_json(after)))


def changed(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict, dict]:
    """Only the values that differ, each side."""
    keys = [key for key in after if before.get(key) != after[key]]
    return {key: before.get(key) for key in keys}, {key: after[key] for key in keys}


def _json(values: dict[str, Any] | None) -> str | None:
    if values is None:
        return None
    return json.dumps(values, sort_keys=True, default=str, separators=(",", ":"))


# -- reading the log ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Search:
    """What the Audit log page asks for, every field optional: `who` a user name (any case),
    `action` an action or its start ("queue" finds queue.create and queue.change), `target` any
    part of the target; `since` and `until` bound the time (until excluded). Rows come newest
    first, in (time, id) order, so rows sharing a timestamp keep one order across pages."""
    who: str = ""
    action: str = ""
    target: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def statement(self, after: AuditEntry | None = None) -> Select:
        """The rows, newest first; `after`: only those that follow that row (keyset paging:
        the same cost however deep, nothing skipped or repeated)."""
        rows = select(AuditEntry)
        if self.who:
            rows = rows.where(func.lower(AuditEntry.actor) == self.who.lower())
        if self.action:
            rows = rows.where(or_(AuditEntry.action == self.action,
                                  AuditEntry.action.startswith(self.action.rstrip(".") + ".",
                                                               autoescape=True)))
        if self.target:
            rows = rows.where(AuditEntry.target.contains(self.target, autoescape=True))
        if self.since is not None:
            rows = rows.where(AuditEntry.at >= self.since)
        if self.until is not None:
            rows = rows.where(AuditEntry.at < self.until)
        if after is not None:
            # `at <= ...` on its own, so the index on `at` starts the scan there (an OR alone
            # reads the log from its newest row on).
            rows = rows.where(AuditEntry.at <= after.at,
                              or_(AuditEntry.at < after.at, AuditEntry.id < after.id))
        return rows.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())

    def page(self, session: Session, size: int, after_id: int | None = None,
             ) -> tuple[list[AuditEntry], int | None]:
        """Up to `size` rows after the row `after_id` (None: the newest), and the id to ask
        the next page after (None: this is the last)."""
        after = None
        if after_id is not None:
            after = session.get(AuditEntry, after_id)
            if after is None:
                raise InvalidInput("no such row: start the search again", field="before")
        rows = list(session.scalars(self.statement(after).limit(size + 1)))
        return rows[:size], (rows[size - 1].id if len(rows) > size else None)

    def chunks(self, sessions: Callable[[], AbstractContextManager[Session]],
               size: int) -> Iterator[list[AuditEntry]]:
        """Every row, `size` at a time, each chunk read in its own short transaction (nothing
        held open between chunks, however slowly they are consumed)."""
        after = None
        while True:
            with sessions() as session:
                chunk = list(session.scalars(self.statement(after).limit(size)))
            if chunk:
                yield chunk
            if len(chunk) < size:
                return
            after = chunk[-1]

    def described(self) -> dict[str, str]:
        """The search as the export's own audit row keeps it."""
        return {key: value.isoformat() if isinstance(value, datetime) else value
                for key, value in vars(self).items() if value}
