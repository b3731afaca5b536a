"""A write a web request (or a timer on the hub) makes: through the switchboard's database
writer when this process drives calls, so nothing on the hub waits inside SQLite's busy timeout
(15 s, every call frozen meanwhile) or holds a pooled connection while the writer is busy.

`work(session)` runs in the writer's thread, in a transaction of its own committed after it
returns; it must read only its arguments and the database (never the switchboard's live state,
never an ORM object of the caller's session: that session is committed first, which expires
them) and return plain values. Without a writer (a web-only app, a standby, the tests'
stand-ins) it runs in `session`, committed the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")


def write(switchboard: Any, session: Session, work: Callable[[Session], T]) -> T:
    run_write = getattr(switchboard, "run_write", None)
    if run_write is not None:
        # The caller's own transaction (its reads) ends first: a request waiting on the writer
        # must not hold one of the pool's connections, or a burst empties the pool.
        session.commit()
        return run_write(work)
    done = work(session)
    session.commit()
    return done
