"""Today's figures on the live socket: `{"type": "figures", "figures": ...}` to "all" and
"figures" every `EVERY_S` and soon after a call ends (debounced: calls ending together cost one
computation), while anyone listens. The figures come from the callable wired in at start,
`today_figures(now) -> dict` (see README "Supervising" for its shape); pages never compute them.

`SwitchboardCounts` is the stand-in wired until the figures module is: the same shape, with what
the switchboard itself counted since it started today (offered, answered, abandoned, timed out,
overflowed per queue; handled calls and talk time per agent). Rates and times it cannot know are
None, which the pages show as "—".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import gevent

from ..clock import Clock, Timer
from ..models import Outcome
from .legs import Call
from .queues.waiting import waiting_of

log = logging.getLogger(__name__)

EVERY_S = 5.0
AFTER_CALL_S = 1.0
TOPIC = "figures"
TodayFigures = Callable[[float], dict]


class FiguresFeed:
    def __init__(self, today_figures: TodayFigures, *, clock: Clock,
                 publish: Callable[[dict, tuple[str, ...]], None],
                 listening: Callable[[], bool], every: float = EVERY_S,
                 after_call: float = AFTER_CALL_S,
                 spawn: Callable[[Callable[[], None]], object] = gevent.spawn) -> None:
        self.today_figures = today_figures
        self.clock = clock
        self._publish, self._listening = publish, listening
        self.every, self.after_call = every, after_call
        self._spawn = spawn
        self.latest: dict | None = None
        self._tick: Timer | None = None
        self._soon: Timer | None = None
        self._computing = False
        self._again = False

    def start(self) -> None:
        if self._tick is None:
            self._tick = self.clock.call_later(self.every, self._ticked)

    def stop(self) -> None:
        for timer in (self._tick, self._soon):
            if timer is not None:
                timer.cancel()
        self._tick = self._soon = None

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
        """Compute and publish, off the caller's greenlet (the real figures read the database);
        one computation at a time, and one more if asked meanwhile."""
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
            figures = self.compute()
            if figures is not None:
                self._publish({"type": "figures", "figures": figures}, (TOPIC,))
        finally:
            self._computing = False
            if self._again:
                self._again = False
                self.push()

    def compute(self) -> dict | None:
        try:
            self.latest = self.today_figures(self.clock.now())
        except Exception:
            log.exception("today's figures could not be computed")
            return None
        return self.latest

    def snapshot_section(self, audience) -> dict | None:
        if not (audience.everything or TOPIC in audience.topics):
            return None
        return self.latest if self.latest is not None else self.compute()


_RATES = {"abandon_rate": None, "service_level": None, "asa_s": None, "aht_s": None}
_COUNTED = {Outcome.ANSWERED: "answered", Outcome.ABANDONED: "abandoned",
            Outcome.TIMED_OUT: "timed_out", Outcome.OVERFLOWED: "overflowed"}


class SwitchboardCounts:
    """The switchboard's own counts of today, in the figures' shape (see the module's doc)."""

    def __init__(self, board, timezone: str = "UTC") -> None:
        self.board = board
        self.timezone = ZoneInfo(timezone)
        self.day = ""
        self.queues: dict[str, dict[str, int]] = {}
        self._counted: set[str] = set()      # today's calls counted (an end is announced once
                                             # more by a late disposition or CDR)

    def call_ended(self, call: Call) -> None:
        waiting = waiting_of(call)
        if waiting is None or not waiting.queue:
            return
        self._roll(self.board.clock.now())
        if call.id in self._counted:
            return
        self._counted.add(call.id)
        counts = self.queues.setdefault(waiting.queue, _zero())
        counts["offered"] += 1
        counted = _COUNTED.get(call.outcome)
        if counted:
            counts[counted] += 1

    def __call__(self, now: float) -> dict:
        self._roll(now)
        distributor = self.board.distributor
        names = sorted(set(distributor.queues) | set(self.queues))
        queues = []
        for name in names:
            queue = distributor.queues.get(name)
            queues.append({"queue": name, **self.queues.get(name, _zero()), **_RATES,
                           "service_level_seconds": queue.service_level if queue else None})
        totals = _zero()
        for counts in self.queues.values():
            for key, value in counts.items():
                totals[key] += value
        ledger_day = distributor.ledger.day_of(now)
        agents = []
        for agent in self.board.roster.agents.values():
            today = distributor.ledger.today(agent.id, ledger_day)
            agents.append({"agent_id": agent.id, "handled": today.calls,
                           "aht_s": round(today.talk_seconds / today.calls, 1)
                           if today.calls else None,
                           "missed_offers": None, "occupancy": None, "seconds": {}})
        return {"day": self.day, "timezone": str(self.timezone),
                "computed_at": datetime.fromtimestamp(now, UTC).isoformat(),
                "queues": queues, "totals": {**totals, **_RATES, "service_level_seconds": None},
                "agents": agents, "intervals": []}

    def _roll(self, now: float) -> None:
        day = datetime.fromtimestamp(now, self.timezone).date().isoformat()
        if day != self.day:
            self.day, self.queues, self._counted = day, {}, set()


def _zero() -> dict[str, int]:
    return {"offered": 0, "answered": 0, "abandoned": 0, "short_abandoned": 0, "timed_out": 0,
            "overflowed": 0, "callbacks_requested": 0}
