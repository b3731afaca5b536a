"""Wall displays: a TV in the room opens /wallboard with a long-lived, read-only token instead of
a login. An admin creates one (admin page /admin/displays, or `callcenter display-token add`),
types its address into the TV once, and revokes it when the TV goes.

A token is `dsp_` and 32 random URL-safe characters; only its SHA-256 is stored (as login
sessions' ids are), so the table alone opens nothing. It shows queues' live rows and today's
figures, never a caller's number, and can change nothing.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit
from .audit import Actor
from .errors import InvalidInput, NotFound
from .models import DisplayToken

PREFIX = "dsp_"
COOKIE = "callcenter_display"
_NAME = re.compile(r"[\w .,'()#/-]{1,64}")
_TOKEN = re.compile(PREFIX + r"[A-Za-z0-9_-]{32}")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(session: Session, name: str, *, who: Actor) -> tuple[DisplayToken, str]:
    """A new display token named `name` (where the TV is); returns the row and the token, which
    is never shown again. Audited in the caller's transaction."""
    name = (name or "").strip()
    if not _NAME.fullmatch(name):
        raise InvalidInput("a display's name says where it hangs: 1-64 letters, digits, spaces "
                           "and . , ' ( ) # / -", field="name")
    token = PREFIX + secrets.token_urlsafe(24)
    row = DisplayToken(name=name, token_hash=token_hash(token), created_by=who.name,
                       created_at=datetime.now(UTC))
    session.add(row)
    session.flush()
    audit.record(session, who, "display_token.create", _target(row), None, {"state": "active"})
    return row, token


def revoke(session: Session, display_id: int, *, who: Actor) -> DisplayToken:
    """Revoke a token: the TV's page is refused from its next reconnect on (and its open socket
    is closed by the caller, when it runs in the server). Revoking it again changes nothing."""
    row = session.get(DisplayToken, display_id)
    if row is None:
        raise NotFound(f"there is no display token {display_id}")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        audit.record(session, who, "display_token.revoke", _target(row), {"state": "active"},
                     {"state": "revoked"})
    return row


def _target(row: DisplayToken) -> str:
    return f"display {row.id} ({row.name})"


def all_tokens(session: Session) -> list[DisplayToken]:
    return list(session.scalars(select(DisplayToken).order_by(DisplayToken.id)))


def valid(session: Session, token: str | None) -> DisplayToken | None:
    """The active display this token opens, or None (unknown, revoked or malformed)."""
    if not token or not _TOKEN.fullmatch(token):
        return None
    row = session.scalar(select(DisplayToken).where(DisplayToken.token_hash == token_hash(token)))
    return row if row is not None and row.revoked_at is None else None
