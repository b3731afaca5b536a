"""The switchboard's one database writer, in an OS thread of its own.

Event handlers never write to the database themselves: they submit records (records.py) here,
and the writer runs them in batches, one transaction per batch. It runs in a real thread (a
gevent ThreadPool of one), not on the hub: SQLite's and libpq's C code release the GIL, so a
commit, an fsync or a lock wait never stalls the events, commands and requests on the hub.
Records cross to the thread through a thread-safe queue, as copies (`Record.detached`): nothing
the writer reads can change under it. What the thread has to say back (batches committed, a
request's result, that it is idle) goes through the hub's async watcher, and is acted on by the
hub: gevent's events and results are not to be touched from another thread.

SQLite allows one writer at a time; batching also turns hundreds of small commits a second into
a few. A batch is sized to a time budget (a few milliseconds, from what records have been
costing), so a web request's write (`run`) never waits long behind a burst.

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
from typing import Any

import gevent
import gevent.event
import gevent.threadpool
from gevent.monkey import get_original
from sqlalchemy.orm import Session

from ..db import is_data_fault
from ..errors import Unavailable
from .records import Record, apply, check, dumps, grouped
from .spool import Spool

log = logging.getLogger(__name__)

# The thread's end of the queue blocks the thread, never the hub: the C SimpleQueue, even where
# gevent has patched `queue`.
_ThreadQueue = get_original("queue", "SimpleQueue")
_Empty = get_original("queue", "Empty")
_STOP = object()   # put on the queue by stop()


class Store:
    def __init__(self, sessions: Callable[[], Session], *,
                 reopen: Callable[[], None] = lambda: None, spool: Spool | None = None,
                 batch: int = 500, budget: float = 0.004, retry_initial: float = 0.2,
                 retry_max: float = 5.0,
                 committed: Callable[[list[Record]], None] = lambda records: None) -> None:
        self._sessions = sessions
        self._reopen = reopen          # a fresh engine after a database fault
        self._spool = spool
        self._committed = committed    # told on the hub of each committed batch
        self._batch = batch
        self._budget = budget          # seconds of writes per transaction before it commits
        self._retry_initial, self._retry_max = retry_initial, retry_max
        self._inbox = _ThreadQueue()   # hub -> writer: records, jobs, _STOP
        self._outbox: deque = deque()  # writer -> hub: committed batches, finished jobs
        self._report: Any = None       # the hub's async watcher the writer wakes
        self._pool: gevent.threadpool.ThreadPool | None = None
        self._thread: Any = None       # the writer's ThreadResult
        # The hub's side.
        self._submitted = 0            # records handed to the writer
        self._sources: list[Callable[[], list[Record]]] = []   # see collect()
        self._dirty = False            # a source holds records
        self._collecting = False       # a collection is scheduled on the hub
        self._idle = gevent.event.Event()
        self._idle.set()
        # The writer thread's own (the hub only reads the counters).
        self._busy = False             # between taking work and waiting for more
        self._stopping = False
        self._pending: deque[Record] = deque()
        self._jobs: deque[_Job] = deque()
        self._landed = 0               # records committed or set aside
        self._tried = 0                # records the last transaction ran (the failing one too)
        self._costs: dict[str, float] = {}   # seconds a record takes to run, by operation
        self._spooled = 0              # how many of the oldest pending records the spool holds
        self._spool_used = False       # the spool file holds records (landed ones too)
        self.written = 0
        self.failed = 0                # set aside for their own data (the dead letters)
        self.batches_refused = 0       # batches the database refused whole (then one by one)
        self.retries = 0
        self.database_error: str | None = None  # the last fault while writes are failing
        self.spool_error: str | None = None     # the spool cannot be written

    # -- the hub's side --------------------------------------------------------------------------

    def start(self) -> None:
        """Replay what the spool kept from the last run (before anything new), then write."""
        if self._pool is not None:
            return
        if self._spool is not None:
            kept = _blocking(self._spool.load)
            if kept:
                log.warning("store: %d writes kept in %s from the last run are replayed",
                            len(kept), self._spool.path)
                self._pending.extend(kept)
                self._spooled = len(kept)
                self._spool_used = True
                self._submitted += len(kept)
                self._idle.clear()
        hub = gevent.get_hub()
        self._report = hub.loop.async_()
        self._report.ref = False       # a waiting writer keeps nobody's loop alive
        self._report.start(self._on_report)
        self._pool = gevent.threadpool.ThreadPool(1)
        self._stopping = False
        self._thread = self._pool.spawn(self._run)

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is pending (up to `timeout`), spool what could not be, then stop."""
        self.flush(timeout)
        if self._pool is None:
            self._take(block=False)    # never started: what was submitted waits in the spool
            if self._pending:
                _blocking(self._save_to_spool)
            return
        pool, thread, self._pool = self._pool, self._thread, None
        self._inbox.put(_STOP)
        try:
            thread.get(timeout=timeout + 5)   # it ends its transaction, then spools the rest
        except gevent.Timeout:
            log.error("the database writer did not stop within %.0f s; %d writes wait",
                      timeout + 5, self.depth)
        except Exception:
            log.exception("the database writer failed")
        pool.kill()
        self._on_report()              # what the writer said last
        report, self._report = self._report, None
        report.stop()
        report.close()

    def submit(self, record: Record) -> None:
        """Queue a write; never blocks or yields (callers are event handlers). The record is
        copied: its submitter may go on changing the rows it was made from."""
        self._submitted += 1
        self._idle.clear()
        self._inbox.put(record.detached())

    def run(self, work: Callable[[Session], Any], timeout: float = 15.0) -> Any:
        """A web request's write: `work(session)` runs in the writer's thread, in a transaction
        of its own committed after it, ahead of the switchboard's queued records (a person
        waits on it); the calling greenlet waits for what it returns (plain values: the
        session is closed by then) or raises what it raised. While the database is refusing
        writes it fails at once with Unavailable rather than waiting behind the retries. A
        request that stopped waiting (the timeout) may still see its write land."""
        if self._pool is None:
            raise Unavailable("the database writer is not running")
        job = _Job(work)
        self._inbox.put(job)
        try:
            ok, value = job.done.get(timeout=timeout)
        except gevent.Timeout:
            raise Unavailable(f"the database did not answer within {timeout:g} s") from None
        if not ok:
            raise value
        return value

    def collect(self, source: Callable[[], list[Record]]) -> None:
        """A writer that coalesces its changes (an agent moves through several states in a
        moment; one row update stores them all): `source()` hands over its records when the
        writer is ready for more (after each batch, or at once when it is idle), and
        `changed()` says it has some. Sources run on the hub."""
        self._sources.append(source)

    def changed(self) -> None:
        """A source of collect() holds records: flush() waits for them, and an idle writer
        gets them at the hub's next turn (a busy one when its batch is done)."""
        self._dirty = True             # before reading _busy: see _on_report
        self._idle.clear()
        if not self._busy and not self._collecting:
            self._collecting = True
            gevent.get_hub().loop.run_callback(self._on_report)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far is committed (or set aside)."""
        return self._idle.wait(timeout)

    @property
    def depth(self) -> int:
        """Records submitted and not yet committed or set aside."""
        return self._submitted - self._landed

    @property
    def failing(self) -> bool:
        return self.database_error is not None

    def health(self) -> dict:
        return {"database": "failing" if self.failing else "ok",
                "backlog": self.depth, "spool": self._spooled,
                "spool_state": "failing" if self.spool_error else "ok",
                "dead_letters": self.failed,
                **({"database_error": self.database_error} if self.failing else {}),
                **({"spool_error": self.spool_error} if self.spool_error else {})}

    def _on_report(self) -> None:
        """On the hub, when the writer has something to say (or a source changed): committed
        batches to their hook, results to the requests waiting on them, sources collected."""
        self._collecting = False
        while self._outbox:
            done = self._outbox.popleft()
            if isinstance(done, _Job):
                done.done.set(done.outcome)
                continue
            try:
                self._committed(done)
            except Exception:
                log.exception("the store's committed hook failed")
        # The writer reports every time it finishes a batch or goes idle, after setting
        # _busy; changed() sets _dirty before reading _busy: no change is left uncollected.
        if self._dirty:
            self._dirty = False
            for source in self._sources:
                for record in source():
                    self.submit(record)
        if self._submitted == self._landed and not self._dirty:
            self._idle.set()

    # -- the writer thread -----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._write_until_stopped()
        except BaseException:
            log.exception("the database writer stopped on an error; what waits is spooled")
            raise
        finally:
            self._take(block=False)
            self._fail_jobs("the database writer stopped")
            if self._pending:
                self._save_to_spool()
            self._tell_hub()

    def _write_until_stopped(self) -> None:
        delay = self._retry_initial
        while not self._stopping:
            self._take(block=not self._pending and not self._jobs)
            if self._stopping:
                return
            self._run_jobs()
            if not self._pending:
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
            if not self._pending and (self._spool_used or self.spool_error):
                self._empty_spool()    # before the hub hears that everything landed
            self._tell_hub()

    def _take(self, block: bool) -> None:
        """Move what the hub sent into the writer's queues; with `block`, wait for some first
        (telling the hub it is idle)."""
        if block:
            self._busy = False
            self._tell_hub()
            self._accept(self._inbox.get())
            self._busy = True
        while True:
            try:
                item = self._inbox.get_nowait()
            except _Empty:
                return
            self._accept(item)

    def _accept(self, item) -> None:
        if item is _STOP:
            self._stopping = True
        elif isinstance(item, _Job):
            self._jobs.append(item)
            if self.database_error is not None:   # no request waits behind the retries
                self._fail_jobs(self.database_error)
        else:
            self._pending.append(item)

    def _tell_hub(self) -> None:
        report = self._report
        if report is not None:
            report.send()

    def _pause(self, seconds: float) -> None:
        """Wait before the next attempt, taking in what arrives meanwhile (a stop ends it)."""
        deadline = time.monotonic() + seconds
        while not self._stopping and (left := deadline - time.monotonic()) > 0:
            try:
                item = self._inbox.get(timeout=left)
            except _Empty:
                return
            self._accept(item)

    def _run_jobs(self) -> None:
        while self._jobs:
            job = self._jobs.popleft()
            try:
                with self._sessions() as session:
                    try:
                        value = job.work(session)
                        session.commit()
                    except BaseException:
                        session.rollback()
                        raise
            except Exception as exc:  # noqa: BLE001 - the request gets it
                job.outcome = (False, exc)
                if not is_data_fault(exc):
                    self._reopen_engine()
            else:
                job.outcome = (True, value)
            self._outbox.append(job)
            self._tell_hub()

    def _fail_jobs(self, reason: str) -> None:
        while self._jobs:
            job = self._jobs.popleft()
            job.outcome = (False, Unavailable(f"the database refuses writes: {reason}"))
            self._outbox.append(job)
        self._tell_hub()

    def _done(self, count: int) -> None:
        for _ in range(count):
            self._pending.popleft()
        self._spooled = max(0, self._spooled - count)
        self._landed += count

    def _database_failed(self, exc: BaseException, delay: float) -> None:
        first = self.database_error is None
        self.database_error = _first_line(exc)
        self.retries += 1
        (log.error if first else log.warning)(
            "database write failed (%s); %d writes wait, retrying in %.1fs",
            self.database_error, len(self._pending), delay)
        self._fail_jobs(self.database_error)
        self._save_to_spool()
        self._reopen_engine()  # a read-only or broken connection must not be reused
        self._tell_hub()
        self._pause(delay)

    def _reopen_engine(self) -> None:
        try:
            self._reopen()
        except Exception as error:  # noqa: BLE001
            log.warning("could not reopen the database engine: %s", _first_line(error))

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
        self._outbox.append(batch)
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
                self._spool.dead_letter(record, reason)
            except OSError as error:
                log.error("could not write the dead-letter file: %s", error)

    # -- the spool (written by the writer thread; by the hub only before start) -----------------

    def _save_to_spool(self) -> None:
        """Append the pending records the spool does not hold yet."""
        if self._spool is None or self._spooled >= len(self._pending):
            return
        records = list(islice(self._pending, self._spooled, None))
        self._spool_used = True
        try:
            self._spool.append(records)
        except OSError as exc:
            if self.spool_error is None:
                log.critical("CANNOT WRITE THE STORE SPOOL %s (%s): %d writes are kept in "
                             "memory only and are lost if the controller stops",
                             self._spool.path, exc, len(self._pending))
            self.spool_error = str(exc)
            return
        self._spooled = len(self._pending)
        if self.spool_error is not None:
            log.warning("the store spool can be written again")
            self.spool_error = None

    def _empty_spool(self) -> None:
        if self._spool is None:
            return
        try:
            self._spool.clear()
        except OSError as exc:
            self.spool_error = str(exc)
            return
        self._spool_used = False
        self.spool_error = None


class _Job:
    """A web request's write on its way through the writer: `outcome` is set in the writer's
    thread, `done` on the hub (gevent's AsyncResult belongs to the hub's thread)."""

    def __init__(self, work: Callable[[Session], Any]) -> None:
        self.work = work
        self.outcome: tuple[bool, Any] = (False, None)
        self.done = gevent.event.AsyncResult()


class _DatabaseFault(Exception):
    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _blocking(function, *args):
    """File I/O in gevent's threadpool, so the hub keeps serving while the disk works."""
    return gevent.get_hub().threadpool.apply(function, args)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
