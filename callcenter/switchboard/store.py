"""The switchboard's one database writer.

Event handlers never write to the database themselves: they submit small write functions here,
and one writer greenlet runs them in batches, one transaction per batch. SQLite allows one
writer at a time, and a greenlet that yielded inside a write transaction would stall every other
writer; batching also turns hundreds of small commits a second into a few.

SQLite is synchronous: while a batch runs, the whole process (events, HTTP, pushes) waits. So a
batch also stops at a time budget (a few milliseconds), commits what it has, and the writer
yields to the hub before the next one; a burst of writes is spread out instead of stalling
every event behind it.

A batch that fails is retried one write at a time, so one bad write loses only itself; a
database that is down is retried with backoff and loses nothing that was submitted.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

import gevent
import gevent.event
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

Write = Callable[[Session], object]


class Store:
    def __init__(self, sessions: Callable[[], Session], *, batch: int = 500,
                 budget: float = 0.004, retry_initial: float = 0.2,
                 retry_max: float = 5.0) -> None:
        self._sessions = sessions
        self._batch = batch
        self._budget = budget  # seconds of writes per transaction before it commits
        self._tried = 0        # writes the last transaction ran (the failing one included)
        self._retry_initial, self._retry_max = retry_initial, retry_max
        self._pending: deque[Write] = deque()
        self._wake = gevent.event.Event()
        self._idle = gevent.event.Event()
        self._idle.set()
        self._runner: gevent.Greenlet | None = None
        self.written = 0
        self.failed = 0
        self.retries = 0

    def start(self) -> None:
        if self._runner is None:
            self._runner = gevent.spawn(self._run)

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is pending (up to `timeout`), then stop."""
        self.flush(timeout)
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.kill()

    def submit(self, write: Write) -> None:
        """Queue a write; never blocks or yields (callers are event handlers)."""
        self._pending.append(write)
        self._idle.clear()
        self._wake.set()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far is committed (or given up on)."""
        return self._idle.wait(timeout)

    @property
    def depth(self) -> int:
        return len(self._pending)

    def _run(self) -> None:
        delay = self._retry_initial
        while True:
            if not self._pending:
                self._idle.set()
                self._wake.clear()
                self._wake.wait()
                continue
            batch = [self._pending[i] for i in range(min(self._batch, len(self._pending)))]
            try:
                batch = batch[:self._commit(batch, self._budget)]
            except DBAPIError as exc:
                batch = batch[:max(1, self._tried)]
                if exc.connection_invalidated or _unreachable(exc):
                    # The database is away: keep the batch and try again later.
                    self.retries += 1
                    log.warning("database unavailable (%s); %d writes wait, retrying in %.1fs",
                                _first_line(exc), len(self._pending), delay)
                    gevent.sleep(delay)
                    delay = min(self._retry_max, delay * 2)
                    continue
                done = self._one_by_one(batch)
            except SQLAlchemyError:
                batch = batch[:max(1, self._tried)]
                done = self._one_by_one(batch)
            else:
                done = len(batch)
            delay = self._retry_initial
            for _ in batch:
                self._pending.popleft()
            self.written += done
            gevent.sleep(0)  # let events and requests run between two transactions

    def _commit(self, batch: list[Write], budget: float | None = None) -> int:
        """Run writes of `batch` in one transaction, stopping once `budget` seconds are spent
        (at least one runs), and commit; returns how many ran."""
        self._tried = 0
        deadline = None if budget is None else time.perf_counter() + budget
        with self._sessions() as session:
            try:
                for write in batch:
                    self._tried += 1
                    write(session)
                    if deadline is not None and time.perf_counter() > deadline:
                        break
                session.commit()
            except BaseException:
                session.rollback()
                raise
        return self._tried

    def _one_by_one(self, batch: list[Write]) -> int:
        done = 0
        for write in batch:
            try:
                self._commit([write])
                done += 1
            except Exception as exc:
                self.failed += 1
                log.error("database write %s failed and was dropped: %s",
                          getattr(write, "__qualname__", write), _first_line(exc))
        return done


def _unreachable(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return any(word in text for word in ("could not connect", "connection refused",
                                          "server closed", "database is locked",
                                          "terminating connection", "connection is closed"))


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]
