"""A child process whose output a thread keeps reading (so a chatty FreeSWITCH or controller never
blocks on a full pipe), with waits on printed lines. Threads, not greenlets: the pytest process
is not patched by gevent, and a greenlet would only read while the test happened to yield."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time


class Drained:
    def __init__(self, name: str, argv: list[str], env: dict[str, str],
                 cwd: str | None = None) -> None:
        self.name = name
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=env, cwd=cwd)
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._eof = False
        self._reader = threading.Thread(target=self._read, name=f"drain-{name}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for raw in self.proc.stdout:
            with self._changed:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._eof = True
            self._changed.notify_all()

    def wait_for(self, pattern: str, timeout: float = 20.0, after: int = 0) -> re.Match:
        """The first line (past the first `after`) matching pattern, waiting for it if need be."""
        regex = re.compile(pattern)
        seen = after
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    if match := regex.search(line):
                        return match
                seen = len(self.lines)
                if self._eof:
                    raise AssertionError(f"{self.name} exited before printing {pattern!r}:\n"
                                         + self.tail())
                if not self._changed.wait(max(0.0, deadline - time.monotonic())):
                    raise AssertionError(f"{self.name} printed no line matching {pattern!r} "
                                         f"within {timeout}s:\n" + self.tail())

    def tail(self, count: int = 80) -> str:
        return "\n".join(self.lines[-count:])

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._reader.join(5)
        return self.proc.returncode
