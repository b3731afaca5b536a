"""Versions of users, agents and queues (models: User.version): an admin's edit of something
changed since its form showed it is refused, never silently overwriting the other change."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from .errors import Conflict, InvalidInput
from .typed import text

STALE = "changed by someone else meanwhile, so nothing was saved: here is how it is now"


class Stale(Conflict):
    """An edit of something changed since the form showed it: refused (409), never silently
    overwriting the other change. The one error every admin page says it with."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} was {STALE}")


def check_version(row: object, shown: object, what: str) -> None:
    """Refuse the edit unless `row` is still at the version the form `shown` (its hidden
    `version` field). The UPDATE itself is guarded too (models: version_id_col), for two saves
    racing after this check."""
    try:
        given = int(text(shown))
    except (InvalidInput, ValueError):
        raise InvalidInput("the form carries no version: reload the page", field="") from None
    if given != row.version:
        raise Stale(what)


def flush_unless_stale(session: Session, what: str) -> None:
    """Flush the edit; Stale (rolled back) when its UPDATE or DELETE matched no row at the
    version read: someone else's save won the race after check_version."""
    try:
        session.flush()
    except StaleDataError:
        session.rollback()
        raise Stale(what) from None


T = TypeVar("T")


def saved(write: Callable[[Callable[[Session], T]], T], what: str,
          work: Callable[[Session], T]) -> T:
    """`write(work)` (a request's write: app.Services.write), whose commit is refused as Stale
    when another save of the same row won the race after check_version (the UPDATE matched no
    row at the version read)."""
    try:
        return write(work)
    except StaleDataError:
        raise Stale(what) from None
