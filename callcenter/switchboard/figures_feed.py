"""Today's figures on the live socket: `{"type": "figures", "figures": ...}` to "all" and
"figures" every `EVERY_S` and soon after a call ends (debounced: calls ending together cost one
computation), while anyone listens. The figures come from `today_figures(now) -> dict`
(callcenter/figures: the one definition, the README's "Figures and their definitions"), with
what `beside()` adds (the auditor's repairs); pages never compute them.

`today_figures` reads the database and computes for up to ~0.4 s of CPU on a day of 20,000
calls, one computation at a time: in a process of its own (callcenter/figures/worker.py), so
the hub keeps serving calls and pages meanwhile and its GIL is never held for it (in a thread,
the hub paused ~90 ms each time); only with an in-memory SQLite database, which no other process
can open, in gevent's threadpool. A failing one is logged and the last figures stay.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from zoneinfo import ZoneInfo

import gevent
from gevent.lock import Semaphore
from sqlalchemy.engine import make_url

from .. import figures
from ..clock import Clock, Timer
from ..figures.worker import FiguresProcess

log = logging.getLogger(__name__)

EVERY_S = 5.0
AFTER_CALL_S = 1.0
TOPIC = "figures"
TodayFigures = Callable[[float], dict]


def site_figures(database, timezone: str) -> tuple[TodayFigures, Callable]:
    """Today's figures over `database`, in the site's timezone (CALLCENTER_TIMEZONE), and how to
    call them off the hub: in a process of their own, or (an in-memory database) the threadpool."""
    url = make_url(database.url)
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        zone = ZoneInfo(timezone)
        return (lambda now: figures.today(database, now=now, timezone=zone)), in_threadpool
    return FiguresProcess(database.url, timezone), directly


def in_threadpool(fn: Callable, *args):
    """`fn(*args)` in a thread of gevent's pool; the calling greenlet waits, the hub does not."""
    return gevent.get_hub().threadpool.apply(fn, args)


def directly(fn: Callable, *args):
    """`fn(*args)` in the calling greenlet: for a `fn` that waits on another process through
    gevent's cooperative pipes, the hub does not wait."""
    return fn(*args)


class FiguresFeed:
    def __init__(self, today_figures: TodayFigures, *, clock: Clock,
                 publish: Callable[[dict, tuple[str, ...]], None],
                 listening: Callable[[], bool], every: float = EVERY_S,
                 after_call: float = AFTER_CALL_S,
                 beside: Callable[[], dict] = dict,
                 spawn: Callable[[Callable[[], None]], object] = gevent.spawn,
                 off_hub: Callable = in_threadpool) -> None:
        self.today_figures = today_figures
        self.clock = clock
        self._publish, self._listening = publish, listening
        self.every, self.after_call = every, after_call
        self._beside = beside
        self._spawn, self._off_hub = spawn, off_hub
        self.latest: dict | None = None
        self._tick: Timer | None = None
        self._soon: Timer | None = None
        self._computing = False
        self._again = False
        self._one_at_a_time = Semaphore()   # a snapshot's computation waits for a push's

    def start(self) -> None:
        if self._tick is None:
            self._tick = self.clock.call_later(self.every, self._ticked)

    def stop(self) -> None:
        for timer in (self._tick, self._soon):
            if timer is not None:
                timer.cancel()
        self._tick = self._soon = None
        close = getattr(self.today_figures, "close", None)
        if close is not None:
            close()                         # the figures' own process ends

    def call_ended(self) -> None:
        """A call ended: fresh figures shortly, once for all the calls ending meanwhile."""
        if self._soon is None:
            self._soon = self.clock.call_later(self.after_call, self._after_call)

    def _ticked(self) -> None:
        self._tick = None
        self.push()
        self.start()

    def _after_call(self) -> None:
        self._soon = None
        self.push()

    def push(self) -> None:
        """Compute and publish, off the caller's greenlet; one computation at a time, and one
        more if asked meanwhile."""
        if not self._listening():
            self.latest = None            # stale by the time someone listens again
            return
        if self._computing:
            self._again = True
            return
        self._computing = True
        self._spawn(self._compute_and_publish)

    def _compute_and_publish(self) -> None:
        try:
            today = self.compute()
            if today is not None:
                self._publish({"type": "figures", "figures": today}, (TOPIC,))
        finally:
            self._computing = False
            if self._again:
                self._again = False
                self.push()

    def compute(self) -> dict | None:
        """Today's figures now, computed in the threadpool (None if they could not be: the
        last ones stay)."""
        with self._one_at_a_time:
            try:
                today = self._off_hub(self.today_figures, self.clock.now())
            except Exception:
                log.exception("today's figures could not be computed")
                return None
            self.latest = {**today, **self._beside()}
        return self.latest

    def snapshot_section(self, audience) -> dict | None:
        if not (audience.everything or TOPIC in audience.topics):
            return None
        return self.latest if self.latest is not None else self.compute()
