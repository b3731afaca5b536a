"""The injectable clock behind every timer: the simulator's far ends and the switchboard's
no-answer and wrap-up timers.

`RealClock` runs callbacks in their own greenlets at wall-clock time; `ManualClock` lets a test
move time forward by hand, running what fell due in order, so no test waits real seconds.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from typing import Any, Protocol

import gevent


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> Timer:
        """Run fn(*args) once, `delay` seconds from now."""
        ...


class _GreenletTimer:
    __slots__ = ("_greenlet",)

    def __init__(self, greenlet: gevent.Greenlet) -> None:
        self._greenlet = greenlet

    def cancel(self) -> None:
        # A timer cancelled from inside its own callback must not kill the running greenlet.
        if self._greenlet is not gevent.getcurrent():
            self._greenlet.kill(block=False)


class RealClock:
    """Wall-clock time; each callback runs in a greenlet of its own."""

    def now(self) -> float:
        return time.time()

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> Timer:
        return _GreenletTimer(gevent.spawn_later(max(0.0, delay), fn, *args))


class _ManualTimer:
    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """Time that moves only when a test says so.

    `advance(seconds)` runs every callback that falls due, earliest first (ties in the order they
    were scheduled), synchronously in the caller's greenlet; `now()` reads each callback's own due
    time while it runs, so timestamps come out as they would in real time.
    """

    def __init__(self, start: float = 1_795_000_000.0) -> None:
        self._now = float(start)
        self._queue: list[tuple[float, int, _ManualTimer, Callable[..., Any], tuple]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> Timer:
        timer = _ManualTimer()
        due = self._now + max(0.0, delay)
        heapq.heappush(self._queue, (due, next(self._order), timer, fn, args))
        return timer

    def advance(self, seconds: float = 0.0) -> None:
        """Move time forward, running what falls due on the way (and what those schedule)."""
        if seconds < 0:
            raise ValueError("time does not run backwards")
        target = self._now + seconds
        while self._queue and self._queue[0][0] <= target:
            due, _, timer, fn, args = heapq.heappop(self._queue)
            if timer.cancelled:
                continue
            self._now = max(self._now, due)
            fn(*args)
        self._now = target

    @property
    def pending(self) -> int:
        """How many callbacks are waiting (cancelled ones excluded)."""
        return sum(1 for entry in self._queue if not entry[2].cancelled)
