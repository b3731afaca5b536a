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
import shutil
import socket
import subprocess
import tempfile

import pytest

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
        self.dir = tempfile.mkdtemp(prefix="cc-pg-")
        self.port = _free_port()
        # The server refuses to run as root: run it as the package's postgres user then.
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

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
