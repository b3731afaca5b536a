"""Run `callcenter serve` / `callcenter simulate` as a subprocess and wait on what it prints."""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import sys
import time


class ServerProcess:
    def __init__(self, args: list[str], env: dict[str, str], module: str = "callcenter.cli"):
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
        full_env.update(env)
        full_env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen([sys.executable, "-m", module, *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.PIPE, env=full_env)
        self.output: list[str] = []
        self._buffer = b""
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.proc.stdout, selectors.EVENT_READ)

    def wait_for(self, pattern: str, timeout: float = 20.0, after: int = 0) -> re.Match:
        """Block until a printed line matches (ignoring the first `after` lines); fail with
        everything printed so far."""
        regex = re.compile(pattern)
        for line in self.output[after:]:
            if match := regex.search(line):
                return match
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            if not self._selector.select(remaining):
                break
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                break
            self._buffer += chunk
            *lines, self._buffer = self._buffer.split(b"\n")
            # Keep every line of the chunk (a later wait_for may need one after the match).
            new = [raw.decode(errors="replace") for raw in lines]
            self.output.extend(new)
            for line in new:
                if match := regex.search(line):
                    return match
        raise AssertionError(f"no line matching {pattern!r}; output:\n" + "\n".join(self.output))

    def send(self, line: str) -> None:
        """A line on the process's standard input (a test-side switch takes commands so)."""
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def stop(self) -> int:
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._selector.close()
        self.proc.stdout.close()
        return self.proc.returncode
