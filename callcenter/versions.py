"""Versions of users, agents and queues (models: User.version): an admin's edit of something
changed since its form showed it is refused, never silently overwriting the other change."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from .errors import Conflict, InvalidInput
from .typed import text

STALE = "changed by someone else meanwhile: here is the current version"


class Stale(Conflict):
    """An edit of something changed since the form showed it: refused (409), never silently
    overwriting the other change."""

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


@contextmanager
def saved(database, what: str) -> Iterator[Session]:
    """`database.session()`, whose commit is refused as Stale when another save of the same row
    won the race after check_version (the UPDATE matched no row at the version read)."""
    try:
        with database.session() as session:
            yield session
    except StaleDataError:
        raise Stale(what) from None
