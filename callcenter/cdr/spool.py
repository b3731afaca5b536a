"""The CDR spool directory (CALLCENTER_CDR_SPOOL_DIR): the controller loads what mod_json_cdr
could not post, with nobody running `callcenter cdr import`.

While the controller is down FreeSWITCH leaves `<uuid>.cdr.json` in its err-log-dir; pointed at
the same directory, the controller imports it at start, after each (re)connection to FreeSWITCH
(calls that ended meanwhile are closed by then) and every minute, removing what it loaded. The
rules are `callcenter cdr import`'s (cdr_files.import_directory) with a settle time for files
still being written and rejected/ for files that can never load.

It runs in a greenlet of its own, never in the link's dispatcher: file system calls go to
gevent's threadpool, and each file's database write is one short transaction like a post's.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import gevent
import gevent.event

from ..clock import Clock, RealClock
from ..db import DatabaseError
from .files import import_directory
from .posts import Unwritten

if TYPE_CHECKING:
    from ..db import Database

log = logging.getLogger(__name__)

INTERVAL = 60.0   # seconds between passes
SETTLE = 60.0     # a file that does not read waits this long for mod_json_cdr to finish it


class CdrSpool:
    """Inert when `directory` is None."""

    def __init__(self, directory: str | Path | None, database: Database, link,
                 unwritten: Unwritten | None = None, clock: Clock | None = None, *,
                 interval: float = INTERVAL, settle: float = SETTLE) -> None:
        self.directory = Path(directory) if directory else None
        self._database, self._unwritten = database, unwritten
        self._clock = clock or RealClock()
        self._interval, self._settle = interval, settle
        self._wake = gevent.event.Event()
        self._runner: gevent.Greenlet | None = None
        self._timer = None
        self.passes = 0           # passes finished
        self.imported = 0         # files loaded and removed
        self.rejected = 0         # files moved to rejected/
        self.waiting = 0          # files left for the next pass by the last one
        self.idle = gevent.event.Event()  # no pass running or due (tests wait on it)
        self.idle.set()
        if self.directory is not None:
            link.on_resync(self.wake)

    def start(self) -> None:
        if self.directory is not None and self._runner is None:
            self._runner = gevent.spawn(self._run)
            self.wake()

    def stop(self) -> None:
        runner, self._runner = self._runner, None
        if self._timer is not None:
            self._timer.cancel()
        if runner is not None:
            runner.kill()

    def wake(self) -> None:
        """A pass soon (never here: this may run in the link's dispatcher)."""
        if self.directory is not None:
            self.idle.clear()
            self._wake.set()

    def as_dict(self) -> dict | None:
        if self.directory is None:
            return None
        return {"directory": str(self.directory), "passes": self.passes,
                "imported": self.imported, "rejected": self.rejected, "waiting": self.waiting}

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._timer is not None:
                self._timer.cancel()
            try:
                self.run_pass()
            except Exception:  # a bug must not end the spool for good
                log.exception("CDR spool pass over %s failed", self.directory)
            self._timer = self._clock.call_later(self._interval, self.wake)
            if not self._wake.is_set():
                self.idle.set()

    def run_pass(self) -> None:
        threadpool = gevent.get_hub().threadpool

        def blocking(fn, *args):  # file system calls, in a thread of the pool
            return threadpool.apply(fn, args)

        try:
            if not blocking(self.directory.is_dir):
                log.warning("CDR spool directory %s does not exist (yet)", self.directory)
                return
            report = import_directory(
                self._database, self.directory, remove=True, reject=True, settle=self._settle,
                unwritten=self._unwritten, clock=self._clock.now, source="spool",
                blocking=blocking)
        except (DatabaseError, OSError) as exc:
            log.warning("CDR spool %s: %s; trying again at the next pass", self.directory, exc)
            return
        finally:
            self.passes += 1
        self.imported += len(report.imported) + len(report.already_present) + len(
            report.unmatched)
        self.rejected += len(report.rejected)
        self.waiting = len(report.waiting)
        for file, reason in report.failed:
            log.warning("CDR spool: %s left in place: %s", file, reason)
        if report.anything:
            log.info("CDR spool %s: %s", self.directory, report.summary())
