"""A throwaway PostgreSQL server for tests: Debian's binaries, a temporary data directory, a
free loopback port. Tests that use it skip where PostgreSQL is not installed (.ci/run installs
it).

Which tests run on both databases: every test under tests/switchboard/ and every test marked
`both_databases` that uses the `database` fixture runs once on SQLite and once on PostgreSQL
(ids `[sqlite]`, `[postgresql]`; `-m "not postgresql"` leaves the second out). A test marked
`sqlite_only("why")` runs on SQLite alone, and says why.
"""

from __future__ import annotations

import glob
import os
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


def on_both_databases(metafunc: pytest.Metafunc) -> None:
    """Run the test once per database, if it uses the `database` fixture (a test that only
    takes `env` or `settings` stays on SQLite)."""
    if "database" not in metafunc.fixturenames:
        return
    only = metafunc.definition.get_closest_marker("sqlite_only")
    if only is not None:
        if not only.args:
            raise pytest.UsageError(f"{metafunc.definition.nodeid}: sqlite_only needs a reason")
        return
    metafunc.parametrize("database_kind", DATABASES, indirect=True)


def _bin_dir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.port = _free_port()
        # The server refuses to run as root: run it as the package's postgres user then.
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.dir = tempfile.mkdtemp(prefix="cc-pg-") if self.available else ""

    @property
    def available(self) -> bool:
        return self.bin is not None and (not self.prefix or shutil.which("runuser") is not None)

    def _run(self, *args: str) -> None:
        subprocess.run([*self.prefix, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> str:
        if self.prefix:
            shutil.chown(self.dir, "postgres")
        data = os.path.join(self.dir, "data")
        self._run(f"{self.bin}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self._run(f"{self.bin}/pg_ctl", "-D", data, "-w", "-l", os.path.join(self.dir, "log"),
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -F",
                  "start")
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def halt(self) -> None:
        """Stop the server, keeping its data (as an outage would)."""
        self._run(f"{self.bin}/pg_ctl", "-D", os.path.join(self.dir, "data"), "-m", "fast",
                  "-w", "stop")

    def resume(self) -> None:
        self._run(f"{self.bin}/pg_ctl", "-D", os.path.join(self.dir, "data"), "-w", "-l",
                  os.path.join(self.dir, "log"), "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -F", "start")

    def stop(self) -> None:
        subprocess.run([*self.prefix, f"{self.bin}/pg_ctl", "-D",
                        os.path.join(self.dir, "data"), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


def database_url(server_url: str, name: str) -> str:
    return server_url.rsplit("/", 1)[0] + "/" + name


def new_database_name() -> str:
    return f"cc_{uuid.uuid4().hex[:12]}"


class DatabaseCopies:
    """Databases copied from a template, made ahead of need and dropped after use by a thread
    of their own: CREATE DATABASE ... TEMPLATE costs the server about 0.2 s, which then runs
    beside the tests instead of before each one. (This pytest process is not patched by
    gevent: the thread is a real one, and the server does the copying.)"""

    def __init__(self, server_url: str, template: str, ahead: int = 2) -> None:
        self.server_url, self.template = server_url, template
        self._admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()   # a name to drop, "make", or None
        self._ready: queue.SimpleQueue = queue.SimpleQueue()  # a name, or the error making it
        for _ in range(ahead):
            self._jobs.put("make")
        self._thread = threading.Thread(target=self._work, name="postgres-copies", daemon=True)
        self._thread.start()

    def take(self) -> str:
        """The URL of a fresh copy, the test's own."""
        made = self._ready.get(timeout=120)
        if isinstance(made, BaseException):
            raise made
        self._jobs.put("make")
        return database_url(self.server_url, made)

    def give_back(self, url: str) -> None:
        self._jobs.put(url.rsplit("/", 1)[1])

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(60)
        self._admin.dispose()

    def _work(self) -> None:
        with self._admin.connect() as conn:
            while (job := self._jobs.get()) is not None:
                if job != "make":
                    conn.execute(text(f'DROP DATABASE "{job}" WITH (FORCE)'))
                    continue
                name = new_database_name()
                try:
                    conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
                except Exception as exc:  # the test that takes it fails with this
                    self._ready.put(exc)
                else:
                    self._ready.put(name)
