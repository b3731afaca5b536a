"""Which controller drives the calls: one active, and on PostgreSQL any number of standbys.

Only the active controller connects to FreeSWITCH's event socket and acts on calls. Every
controller answers FreeSWITCH's HTTP requests (directory, dialplan, CDR posts) all the time,
because those are served from the database.

- **PostgreSQL:** the active controller is the one that holds a session advisory lock, on a
  connection used for nothing else. That connection has short TCP keepalives on both ends and a
  heartbeat query every second. With `CALLCENTER_STANDBY=on`, a controller that loses the
  connection stops acting at once: it drops the event socket, and `serve` exits with EX_TEMPFAIL
  so its service manager restarts it as a standby. A standby polls for the lock. When it gets
  the lock, it first waits out DETECTION_BOUND, the longest time a cut-off active needs to
  notice the loss. Only then does it connect to FreeSWITCH. So two controllers never act at once.
- **SQLite** lives on one machine and has no standby. A file lock beside the database file
  makes a second `serve` on that file refuse to start, with a clear error.

Without `CALLCENTER_STANDBY`, a PostgreSQL controller still takes the lock, so a second
controller started by mistake is refused. If it then loses the lock connection, it keeps acting
(PostgreSQL may simply have restarted) and takes the lock again when it can.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path

import gevent
import gevent.event
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

# The advisory lock's key: the bytes "callcntr". Advisory locks are per database, so controllers
# of different databases on one PostgreSQL server never meet.
LOCK_KEY = int.from_bytes(b"callcntr", "big")
HEARTBEAT_SECONDS = 1.0      # how often the active controller checks its lock connection
HEARTBEAT_TIMEOUT = 2.0      # a check that takes longer than this counts as a lost connection
# An active controller cut off from PostgreSQL knows within this long, and stops acting.
DETECTION_BOUND = HEARTBEAT_SECONDS + HEARTBEAT_TIMEOUT
TRY_SECONDS = 0.5            # how often a standby asks for the lock
RECONNECT_MAX_SECONDS = 5.0
# Keepalives on the lock connection, on both ends. PostgreSQL ends a dead client's session, and
# so frees the lock, within seconds rather than the kernel's default two hours.
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 1, "keepalives_interval": 1,
             "keepalives_count": 2, "tcp_user_timeout": 3000, "connect_timeout": 3}
SERVER_KEEPALIVE = ("SET tcp_keepalives_idle = 1", "SET tcp_keepalives_interval = 1",
                    "SET tcp_keepalives_count = 2", "SET tcp_user_timeout = 3000")
APPLICATION_NAME = "callcenter controller lock"
STOOD_DOWN_EXIT = 75         # EX_TEMPFAIL: the service manager starts us again, as a standby


class AlreadyActive(Exception):
    """Another controller drives this database's calls; the message says which and what to do."""


class Standing:
    """The active role, as `serve` uses it: claim() blocks until this controller is active (or
    refuses with AlreadyActive), watch() reports the loss, release() lets go."""

    active = False

    def claim(self, stopping: gevent.event.Event) -> bool:
        """True once active; False if `stopping` was set first."""
        raise NotImplementedError

    def watch(self, lost: Callable[[], None]) -> None:
        """Call `lost` (once) if this controller must stop acting."""

    def release(self) -> None:
        self.active = False


def standing_for(database_url: str, *, standby: bool) -> Standing:
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        return AdvisoryLock(database_url, standby=standby)
    if url.database and url.database != ":memory:":
        return FileLock(Path(url.database).with_name(Path(url.database).name + ".active"))
    return Standing()       # an in-memory database: no other process can share it


class FileLock(Standing):
    """SQLite: one active `serve` per database file, held by a lock on a file next to it. The
    kernel drops the lock when the process dies, however it dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = None

    def claim(self, stopping: gevent.event.Event) -> bool:
        handle = open(self.path, "a+")     # noqa: SIM115 (held open while active)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise AlreadyActive(
                f"another controller ({holder}) is serving this SQLite database "
                f"({self.path.with_suffix('')}): stop it first. SQLite has no standby; use "
                "PostgreSQL with CALLCENTER_STANDBY=on for one") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        self._file, self.active = handle, True
        return True

    def release(self) -> None:
        super().release()
        if self._file is not None:
            self._file.close()
            self._file = None


class AdvisoryLock(Standing):
    """PostgreSQL: the active controller holds advisory lock LOCK_KEY on a connection of its own."""

    def __init__(self, database_url: str, *, standby: bool) -> None:
        self.conninfo = make_url(database_url).set(drivername="postgresql") \
            .render_as_string(hide_password=False)
        self.standby = standby
        self._conn = None
        self._watcher: gevent.Greenlet | None = None

    def claim(self, stopping: gevent.event.Event) -> bool:
        if not self.standby:
            if not self._try():
                raise AlreadyActive(
                    f"another controller is active on this database ({self._holder()}): stop "
                    "it, or start this one with CALLCENTER_STANDBY=on to take over when it stops")
            self.active = True
            return True
        log.info("standby: waiting for the active controller's lock")
        if not self._wait(stopping):
            return False
        # The last active one may not know yet that it lost the lock (its connection was cut,
        # not closed): give it the time it needs to notice and stop acting.
        log.info("standby: the active controller's lock is ours; waiting %.1f s for the last "
                 "active controller to stop acting", DETECTION_BOUND)
        if stopping.wait(DETECTION_BOUND):
            return False
        self.active = True
        return True

    def watch(self, lost: Callable[[], None]) -> None:
        self._watcher = gevent.spawn(self._heartbeat, lost)

    def release(self) -> None:
        super().release()
        if self._watcher is not None:
            self._watcher.kill()
            self._watcher = None
        self._close()

    # -- the lock connection ----------------------------------------------------------------------

    def _connect(self):
        import psycopg

        conn = psycopg.connect(self.conninfo, autocommit=True,
                               application_name=APPLICATION_NAME, **KEEPALIVE)
        for statement in SERVER_KEEPALIVE:
            conn.execute(statement)
        return conn

    def _try(self) -> bool:
        if self._conn is None:
            self._conn = self._connect()
        return bool(self._conn.execute("SELECT pg_try_advisory_lock(%s)",
                                       (LOCK_KEY,)).fetchone()[0])

    def _wait(self, stopping: gevent.event.Event) -> bool:
        import psycopg

        delay = TRY_SECONDS
        while not stopping.is_set():
            try:
                if self._try():
                    return True
                delay = TRY_SECONDS
            except psycopg.Error as exc:
                log.warning("standby: cannot ask the database for the lock (%s); trying again "
                            "in %.1f s", _first_line(exc), delay)
                self._close()
                delay = min(delay * 2, RECONNECT_MAX_SECONDS)
            stopping.wait(delay)
        return False

    def _holder(self) -> str:
        """Who holds the lock, as pg_stat_activity knows it."""
        row = self._conn.execute(
            "SELECT a.pid, a.client_addr, a.backend_start FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
            "AND l.granted AND l.database = (SELECT oid FROM pg_database "
            "WHERE datname = current_database()) AND l.classid = %s AND l.objid = %s",
            (LOCK_KEY >> 32, LOCK_KEY & 0xFFFFFFFF)).fetchone()
        if row is None:
            return "it has just let go: try again"
        pid, address, since = row
        return f"PostgreSQL backend {pid}, from {address or 'a local socket'}, since {since:%c}"

    def _alive(self) -> bool:
        import psycopg

        def check() -> bool:
            self._conn.execute("SELECT 1")
            return True
        try:
            return bool(gevent.with_timeout(HEARTBEAT_TIMEOUT, check, timeout_value=False))
        except psycopg.Error as exc:
            log.error("the active controller's lock connection failed: %s", _first_line(exc))
            return False

    def _heartbeat(self, lost: Callable[[], None]) -> None:
        while True:
            gevent.sleep(HEARTBEAT_SECONDS)
            if self._alive():
                continue
            self._close()
            if not self.standby and self._retaken():
                continue
            self.active = False
            log.error("lost the active controller's lock: stopping acting now%s",
                      " (a standby may take over)" if self.standby else "")
            lost()
            return

    def _retaken(self) -> bool:
        """Without a standby: act on while the database is away, and take the lock again once
        it answers. False if another controller took it meanwhile (that one is active now)."""
        import psycopg

        log.warning("the controller's lock connection is gone; acting on, taking the lock "
                    "again when the database answers")
        delay = TRY_SECONDS
        while True:
            gevent.sleep(delay)
            try:
                if self._try():
                    log.info("the controller's lock is held again")
                    return True
                log.error("another controller took the lock meanwhile (%s)", self._holder())
                return False
            except psycopg.Error:
                self._close()
                delay = min(delay * 2, RECONNECT_MAX_SECONDS)

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):   # a broken connection may fail to close
                conn.close()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
