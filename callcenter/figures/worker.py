"""Today's figures computed in a process of their own, so their CPU time never holds the
controller's GIL (on a day of 20,000 calls a computation takes ~0.3-0.4 s of CPU, which in a
thread of the controller paused its hub for ~90 ms each time).

`FiguresProcess(url, timezone)` is a `TodayFigures` callable: `figures(now) -> dict`, the same
`callcenter.figures.today` the API computes, read from the same database by
`python -m callcenter.figures.worker`. The two talk over the child's stdin/stdout, one JSON line
each way: first the database URL and timezone (never on the command line, where `ps` would show
a password), then one request `{"now": seconds}` per computation, answered `{"figures": {...}}`
or `{"error": "..."}`. Under gevent the controller's side of the pipes is cooperative: the hub
serves calls and pages while the child computes.

The child is started on the first computation and again after it died; it ends when its stdin
closes (`close()`, or the controller's exit). A computation that fails or takes longer than
`timeout` raises; the feed then keeps the last figures.
"""

from __future__ import annotations

import json
import logging
import sys
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

TIMEOUT_S = 60.0


class FiguresError(Exception):
    """The figures process could not give today's figures."""


class FiguresProcess:
    def __init__(self, url: str, timezone: str, *, timeout: float = TIMEOUT_S) -> None:
        self.url, self.timezone, self.timeout = url, timezone, timeout
        self._child = None

    def __call__(self, now: float) -> dict:
        import gevent

        child = self._started()
        try:
            with gevent.Timeout(self.timeout, FiguresError(
                    f"the figures process took longer than {self.timeout:g} s")):
                child.stdin.write(json.dumps({"now": now}).encode() + b"\n")
                child.stdin.flush()
                line = child.stdout.readline()
        except (OSError, FiguresError):
            self._end(child)
            raise
        if not line:
            self._end(child)
            raise FiguresError(f"the figures process ended (exit code {child.poll()})")
        answer = json.loads(line)
        if "error" in answer:
            raise FiguresError(answer["error"])
        return answer["figures"]

    def _started(self):
        if self._child is not None and self._child.poll() is None:
            return self._child
        from gevent import subprocess

        self._child = subprocess.Popen(
            [sys.executable, "-m", "callcenter.figures.worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._child.stdin.write(json.dumps({"url": self.url,
                                            "timezone": self.timezone}).encode() + b"\n")
        self._child.stdin.flush()
        return self._child

    def _end(self, child) -> None:
        if self._child is child:
            self._child = None
        child.kill()
        child.wait()

    def close(self) -> None:
        """End the child (it exits when its stdin closes). Idempotent."""
        child, self._child = self._child, None
        if child is None:
            return
        child.stdin.close()
        try:
            child.wait(timeout=5)
        except Exception:       # noqa: BLE001 - stuck in a computation: it goes anyway
            child.kill()
            child.wait()


def serve(requests, answers) -> None:
    """The child's loop: the set-up line, then one answer line per request line, until EOF."""
    from .. import figures
    from ..db import Database

    setup = json.loads(requests.readline() or "{}")
    database = Database(setup["url"])
    zone = ZoneInfo(setup["timezone"])
    try:
        for line in requests:
            try:
                answer = {"figures": figures.today(database, now=json.loads(line)["now"],
                                                   timezone=zone)}
            except Exception as error:      # noqa: BLE001 - told to the controller, which logs it
                log.exception("today's figures could not be computed")
                answer = {"error": f"{type(error).__name__}: {error}"}
            answers.write(json.dumps(answer, separators=(",", ":"), default=str) + "\n")
            answers.flush()
    finally:
        database.dispose()


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C stops the controller, which ends us
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="figures process: %(levelname)s %(message)s")
    serve(sys.stdin, sys.stdout)
