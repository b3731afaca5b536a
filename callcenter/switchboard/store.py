"""The switchboard's one database writer.

Event handlers never write to the database themselves: they submit records (records.py) here,
and one writer greenlet runs them in batches, one transaction per batch. SQLite allows one
writer at a time, and a greenlet that yielded inside a write transaction would stall every other
writer; batching also turns hundreds of small commits a second into a few. A batch is sized to
a time budget (a few milliseconds, from what records have been costing) and the writer yields to
the hub before the next one, so a burst of writes is spread out instead of stalling every event
behind it.

Nothing submitted is dropped:
- A write the database refuses (unreachable, read-only, locked, full, I/O error) stays queued,
  in order, and the batch is tried again with capped backoff, on a reopened engine, until it
  lands. Meanwhile the queue is appended to the spool (spool.py) so a restart keeps it.
- A write refused for its own data (a constraint) is logged with its record and set aside in
  the dead-letter file; the others go on.
If the spool itself cannot be written, the store says so (log, `health()`) and keeps the
records in memory.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from itertools import islice

import gevent
import gevent.event
from sqlalchemy.orm import Session

from ..db import is_data_fault
from .records import Record, apply, check, dumps, grouped
from .spool import Spool

log = logging.getLogger(__name__)


class Store:
    def __init__(self, sessions: Callable[[], Session], *,
                 reopen: Callable[[], None] = lambda: None, spool: Spool | None = None,
                 batch: int = 500, budget: float = 0.004, retry_initial: float = 0.2,
                 retry_max: float = 5.0,
                 committed: Callable[[list[Record]], None] = lambda records: None) -> None:
        self._sessions = sessions
        self._reopen = reopen          # a fresh engine after a database fault
        self._spool = spool
        self._committed = committed
        self._batch = batch
        self._budget = budget          # seconds of writes per transaction before it commits
        self._tried = 0                # records the last transaction ran (the failing one too)
        self._costs: dict[str, float] = {}   # seconds a record takes to run, by operation
        self._retry_initial, self._retry_max = retry_initial, retry_max
        self._pending: deque[Record] = deque()
        self._spooled = 0              # how many of the oldest pending records the spool holds
        self._spool_used = False       # the spool file holds records (landed ones too)
        self._wake = gevent.event.Event()
        self._idle = gevent.event.Event()
        self._idle.set()
        self._runner: gevent.Greenlet | None = None
        self._sources: list[Callable[[], list[Record]]] = []   # see collect()
        self.written = 0
        self.failed = 0                # set aside for their own data (the dead letters)
        self.batches_refused = 0       # batches the database refused whole (then one by one)
        self.retries = 0
        self.database_error: str | None = None  # the last fault while writes are failing
        self.spool_error: str | None = None     # the spool cannot be written

    def start(self) -> None:
        """Replay what the spool kept from the last run (before anything new), then write."""
        if self._runner is not None:
            return
        if self._spool is not None:
            kept = _blocking(self._spool.load)
            if kept:
                log.warning("store: %d writes kept in %s from the last run are replayed",
                            len(kept), self._spool.path)
                self._pending.extendleft(reversed(kept))
                self._spooled = len(kept)
                self._spool_used = True
                self._idle.clear()
        self._runner = gevent.spawn(self._run)

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is pending (up to `timeout`), spool what could not be, then stop."""
        self.flush(timeout)
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.kill()
        if self._pending:
            self._save_to_spool()

    def submit(self, record: Record) -> None:
        """Queue a write; never blocks or yields (callers are event handlers)."""
        self._pending.append(record)
        self._idle.clear()
        self._wake.set()

    def collect(self, source: Callable[[], list[Record]]) -> None:
        """A writer that coalesces its changes (an agent moves through several states in a
        moment; one row update stores them all): `source()` hands over its records each time
        the writer is about to take a batch, and `changed()` says it has some."""
        self._sources.append(source)

    def changed(self) -> None:
        """A source of collect() holds records: the writer wakes, flush() waits for them."""
        self._idle.clear()
        self._wake.set()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far is committed (or set aside)."""
        return self._idle.wait(timeout)

    @property
    def depth(self) -> int:
        return len(self._pending)

    @property
    def failing(self) -> bool:
        return self.database_error is not None

    def health(self) -> dict:
        return {"database": "failing" if self.failing else "ok",
                "backlog": len(self._pending), "spool": self._spooled,
                "spool_state": "failing" if self.spool_error else "ok",
                "dead_letters": self.failed,
                **({"database_error": self.database_error} if self.failing else {}),
                **({"spool_error": self.spool_error} if self.spool_error else {})}

    # -- the writer ------------------------------------------------------------------------------

    def _run(self) -> None:
        delay = self._retry_initial
        while True:
            for source in self._sources:
                self._pending.extend(source())
            if not self._pending:
                if self._spool_used or self.spool_error:
                    self._empty_spool()
                self._idle.set()
                self._wake.clear()
                self._wake.wait()
                continue
            # islice walks the deque once; indexing it is a walk per record (a long backlog
            # made every batch cost as much as its length).
            batch = list(islice(self._pending, self._batch))
            try:
                done = self._commit(batch, self._budget)
            except Exception as exc:  # noqa: BLE001 - every fault is classified below
                if not is_data_fault(exc):
                    self._database_failed(exc, delay)
                    delay = min(self._retry_max, delay * 2)
                    continue
                # Said out loud: when every record then lands alone, the batch itself was wrong
                # (an order of statements the database refused), and only this line shows it.
                log.warning("a batch of %d writes was refused (%s): writing them one by one",
                            max(1, self._tried), _first_line(exc))
                self.batches_refused += 1
                try:
                    done = self._one_by_one(batch[:max(1, self._tried)])
                except _DatabaseFault as fault:
                    self._database_failed(fault.error, delay)
                    delay = min(self._retry_max, delay * 2)
                    continue
            if self.database_error is not None:
                log.warning("database writes work again; %d waiting writes follow",
                            len(self._pending) - done)
                self.database_error = None
            delay = self._retry_initial
            self._done(done)
            gevent.sleep(0)  # let events and requests run between two transactions

    def _done(self, count: int) -> None:
        for _ in range(count):
            self._pending.popleft()
        self._spooled = max(0, self._spooled - count)

    def _database_failed(self, exc: BaseException, delay: float) -> None:
        first = self.database_error is None
        self.database_error = _first_line(exc)
        self.retries += 1
        (log.error if first else log.warning)(
            "database write failed (%s); %d writes wait, retrying in %.1fs",
            self.database_error, len(self._pending), delay)
        self._save_to_spool()
        try:
            self._reopen()  # a read-only or broken connection must not be reused
        except Exception as error:  # noqa: BLE001
            log.warning("could not reopen the database engine: %s", _first_line(error))
        gevent.sleep(delay)

    def _commit(self, batch: list[Record], budget: float | None = None) -> int:
        """Run the records of `batch` in one transaction, and commit; returns how many ran.
        With a `budget` (seconds), only the first records that fit in it are taken (at least
        one), by what records of each operation have been costing. Records of one statement go
        in one executemany (`grouped`)."""
        if budget is not None:
            batch = batch[:self._fitting(batch, budget)]
        self._tried = len(batch)
        with self._sessions() as session:
            try:
                for group in grouped(batch):
                    check(group[0])
                    started = time.perf_counter()
                    apply(session, group)
                    # What a record of this operation costs to run, smoothed.
                    cost = (time.perf_counter() - started) / len(group)
                    op = group[0].op
                    self._costs[op] = 0.8 * self._costs.get(op, cost) + 0.2 * cost
                session.commit()
            except BaseException:
                session.rollback()
                raise
        self.written += len(batch)
        self._committed(batch)
        return len(batch)

    def _fitting(self, batch: list[Record], budget: float) -> int:
        spent = 0.0
        for taken, record in enumerate(batch):
            spent += self._costs.get(record.op, 0.0001)
            if spent > budget:
                return max(1, taken)
        return len(batch)

    def _one_by_one(self, batch: list[Record]) -> int:
        """After a batch failed for some record's data: each record alone, so only the bad
        ones are set aside. Raises _DatabaseFault if the database itself fails meanwhile
        (the records not yet done stay queued)."""
        for index, record in enumerate(batch):
            try:
                self._commit([record])
            except Exception as exc:  # noqa: BLE001
                if not is_data_fault(exc):
                    self._done(index)
                    raise _DatabaseFault(exc) from exc
                self._set_aside(record, exc)
        return len(batch)

    def _set_aside(self, record: Record, exc: BaseException) -> None:
        self.failed += 1
        reason = _first_line(exc)
        log.error("database write refused for its own data, set aside: %s; record %s",
                  reason, dumps(record)[:2000])
        if self._spool is not None:
            try:
                _blocking(self._spool.dead_letter, record, reason)
            except OSError as error:
                log.error("could not write the dead-letter file: %s", error)

    # -- the spool -------------------------------------------------------------------------------

    def _save_to_spool(self) -> None:
        """Append the pending records the spool does not hold yet."""
        if self._spool is None or self._spooled >= len(self._pending):
            return
        records = list(islice(self._pending, self._spooled, None))
        # Counted before the thread writes them: a stop that kills the writer while it waits
        # for the append must not append the same records again.
        before, self._spooled = self._spooled, len(self._pending)
        self._spool_used = True
        try:
            _blocking(self._spool.append, records)
        except OSError as exc:
            self._spooled = before
            if self.spool_error is None:
                log.critical("CANNOT WRITE THE STORE SPOOL %s (%s): %d writes are kept in "
                             "memory only and are lost if the controller stops",
                             self._spool.path, exc, len(self._pending))
            self.spool_error = str(exc)
            return
        if self.spool_error is not None:
            log.warning("the store spool can be written again")
            self.spool_error = None

    def _empty_spool(self) -> None:
        if self._spool is None:
            return
        try:
            _blocking(self._spool.clear)
        except OSError as exc:
            self.spool_error = str(exc)
            return
        self._spool_used = False
        self.spool_error = None


class _DatabaseFault(Exception):
    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _blocking(function, *args):
    """File I/O in gevent's threadpool, so the hub keeps serving while the disk works."""
    return gevent.get_hub().threadpool.apply(function, args)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
