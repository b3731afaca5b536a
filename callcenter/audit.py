"""The audit log: one row for each forced change a person makes (an admin creating or changing a
user, a queue or its tiers; the command line counts as "cli"), written in the change's own
transaction so the row exists exactly when the change does. Rows are only ever added: nothing in
the application updates or deletes them (models.AuditEntry refuses it, and a test walks the code).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from .models import AuditEntry, User, utcnow


@dataclass(frozen=True)
class Actor:
    """Who made a change: a signed-in user, or a name for the rest ("cli", "first run")."""
    user_id: int | None
    name: str

    @classmethod
    def user(cls, user: User) -> Actor:
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
