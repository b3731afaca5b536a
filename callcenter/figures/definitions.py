"""What each figure means, over plain rows: the one place the definitions live (the README's
"Figures and their definitions" says the same in words).

Queued calls (a CallRow each, times in seconds since the epoch):
- offered: callers who entered a queue (a caller turned away by a closed queue never entered);
- answered (handled): an agent answered (connected is set);
- abandoned: outcome `abandoned`; a short abandon left within SHORT_ABANDON_SECONDS of entering;
- timed_out / overflowed: outcome `timed_out` (hung up after the longest wait) / `overflowed`
  (sent on to a number);
- callbacks_requested: outcome `callback_requested`: the caller left with a request, which is
  neither an abandon nor part of the service level;
- abandon rate = (abandoned - short abandons) / (offered - short abandons);
- service level = answered within the queue's threshold / (answered + abandoned after the
  threshold + timed out + overflowed); short abandons never count;
- ASA = total wait (connected - entered) of answered calls / answered;
- AHT = (talk, hold included, + wrap-up) / handled calls that have ended (a call's talk is known
  once it ends; its wrap-up counts once the wrap-up has ended).
A ratio whose denominator is 0 is None (shown "—").

Agents (AgentTime rows: seconds an agent spent in a status and state):
- time in each status and each state;
- occupancy = (In call + Wrap-up) / (Available and not busy + In call + Wrap-up), where
  "Available and not busy" is status Available while Idle, Reserved or Ringing;
- handled: its parts in calls (call_agents rows) that began within the day: each time it was
  connected to a customer (a queued call it answered, its dial-out the customer answered, a call
  handed to it by a transfer or a consult); a call passed between two agents counts for both;
- talk (hold included), hold and wrap-up: the sums of its own parts, never another agent's;
- AHT = (talk + wrap-up) / its parts that have ended (a part's wrap-up counts once it ended).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import NamedTuple

from ..models import AgentState, AgentStatus, EventKind
from .day import INTERVAL_SECONDS, Day

SHORT_ABANDON_SECONDS = 5.0

ABANDONED, TIMED_OUT, OVERFLOWED = "abandoned", "timed_out", "overflowed"
CALLBACK_REQUESTED = "callback_requested"
READY_STATES = frozenset({AgentState.IDLE, AgentState.RESERVED, AgentState.RINGING})
BUSY_STATES = (AgentState.IN_CALL, AgentState.WRAP_UP)


class CallRow(NamedTuple):
    """A queued call as the figures need it."""
    queue_id: int
    entered: float
    out: float | None               # when it stopped waiting: an agent answered (connected_at),
    #                                 it left the line (left_at), or the call ended; None: not yet
    answered: bool                  # an agent answered (connected_at is set)
    ended: bool
    outcome: str | None
    talk_seconds: int = 0
    wrapup_seconds: float = 0.0     # its agents' wrap-up after it (events)

    def left_line(self, now: float) -> float:
        """When it stopped waiting (still waiting: now)."""
        if self.out is not None:
            return self.out
        return self.entered if self.outcome is not None else max(now, self.entered)

    def wait(self, now: float) -> float:
        """Entering to answered, or to leaving the line."""
        return max(0.0, self.left_line(now) - self.entered)


def ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


@dataclass
class Tally:
    """Counts and sums over calls; the figures are ratios of them (`figures`)."""
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    timed_out: int = 0
    overflowed: int = 0
    callbacks_requested: int = 0
    answered_in_time: int = 0        # within the service-level threshold
    abandoned_late: int = 0          # abandoned after the threshold (not short)
    waited_answered: float = 0.0     # total wait of answered calls
    handled_ended: int = 0
    handle_seconds: float = 0.0      # talk + wrap-up of handled calls that ended

    def add(self, call: CallRow, threshold: float, now: float) -> None:
        self.offered += 1
        wait = call.wait(now)
        if call.answered:
            self.answered += 1
            self.waited_answered += wait
            self.answered_in_time += wait <= threshold
            if call.ended:
                self.handled_ended += 1
                self.handle_seconds += call.talk_seconds + call.wrapup_seconds
        elif call.outcome == ABANDONED:
            self.abandoned += 1
            if wait <= SHORT_ABANDON_SECONDS:
                self.short_abandoned += 1
            elif wait > threshold:
                self.abandoned_late += 1
        elif call.outcome == TIMED_OUT:
            self.timed_out += 1
        elif call.outcome == OVERFLOWED:
            self.overflowed += 1
        elif call.outcome == CALLBACK_REQUESTED:
            self.callbacks_requested += 1

    def merge(self, other: Tally) -> None:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))

    @property
    def service_level_base(self) -> int:
        return self.answered + self.abandoned_late + self.timed_out + self.overflowed

    @property
    def service_level(self) -> float | None:
        return _rounded(ratio(self.answered_in_time, self.service_level_base), 4)

    def figures(self) -> dict:
        """The counts and rates a page shows (rates 0..1, seconds; None when undefined)."""
        return {
            "offered": self.offered, "answered": self.answered, "abandoned": self.abandoned,
            "short_abandoned": self.short_abandoned, "timed_out": self.timed_out,
            "overflowed": self.overflowed, "callbacks_requested": self.callbacks_requested,
            "abandon_rate": _rounded(ratio(self.abandoned - self.short_abandoned,
                                           self.offered - self.short_abandoned), 4),
            "service_level": self.service_level,
            "asa_s": _rounded(ratio(self.waited_answered, self.answered), 1),
            "aht_s": _rounded(ratio(self.handle_seconds, self.handled_ended), 1),
        }


def _rounded(value: float | None, digits: int) -> float | None:
    return round(value, digits) if value is not None else None


def cells(calls: Iterable[CallRow], day: Day, threshold: Callable[[int], float],
          now: float) -> dict[tuple[int, int], Tally]:
    """The calls that entered within the day, tallied by queue and by the 15-minute interval
    they entered in: every other tally is a sum of these (each call is judged once)."""
    tallies: dict[tuple[int, int], Tally] = {}
    start, end = day.start, day.end
    for call in calls:
        if start <= call.entered < end:
            key = (call.queue_id, int((call.entered - start) // INTERVAL_SECONDS))
            cell = tallies.get(key)
            if cell is None:
                cell = tallies[key] = Tally()
            cell.add(call, threshold(call.queue_id), now)
    return tallies


def tally(calls: Iterable[CallRow], threshold: Callable[[int], float], now: float,
          day: Day) -> dict[int, Tally]:
    """Each queue's tally of the calls that entered it within the day."""
    return by_queue(cells(calls, day, threshold, now))


def by_queue(tallies: dict[tuple[int, int], Tally]) -> dict[int, Tally]:
    queues: dict[int, Tally] = {}
    for (queue_id, _), cell in tallies.items():
        queues.setdefault(queue_id, Tally()).merge(cell)
    return queues


def total(tallies: Iterable[Tally]) -> Tally:
    whole = Tally()
    for part in tallies:
        whole.merge(part)
    return whole


# -- the day's 15-minute intervals ------------------------------------------------------------

def intervals(calls: list[CallRow], day: Day, threshold: Callable[[int], float], now: float,
              names: dict[int, str],
              tallies: dict[tuple[int, int], Tally] | None = None) -> list[dict]:
    """Each interval of the day up to now (the whole day once it is over): all queues together
    (queue None), then each queue that had callers, by name. A call counts in the interval it
    entered; peak_waiting is the most callers waiting at once at any moment of the interval
    (callers who entered before the day and still waited count too). `tallies`: `cells` of
    the same calls, if already made."""
    count = min(day.interval_count, day.interval_of(min(now, day.end - 1e-3)) + 1) \
        if now >= day.start else 0
    if tallies is None:
        tallies = cells(calls, day, threshold, now)
    everyone: dict[int, Tally] = {}
    for (_, index), cell in tallies.items():
        everyone.setdefault(index, Tally()).merge(cell)
    queues = sorted({queue_id for queue_id, _ in tallies},
                    key=lambda queue_id: names.get(queue_id, ""))
    peaks = peaks_waiting(calls, day, count, now)
    starts = [day.interval_start(index) for index in range(count + 1)]
    labels = [day.local(at) for at in starts[:count]]
    rows = []
    for queue_id in (None, *queues):
        line = peaks.get(queue_id) or [0] * count
        name = names.get(queue_id) if queue_id is not None else None
        for index in range(count):
            cell = everyone.get(index) if queue_id is None else tallies.get((queue_id, index))
            cell = cell or Tally()
            rows.append({"start": labels[index], "queue": name, "offered": cell.offered,
                         "answered": cell.answered, "abandoned": cell.abandoned,
                         "service_level": cell.service_level,
                         "peak_waiting": line[index]})
    return rows


def peak_waiting(calls: Iterable[CallRow], day: Day, count: int, now: float) -> list[int]:
    """All queues' peaks (see `peaks_waiting`)."""
    return peaks_waiting(calls, day, count, now)[None]


def peaks_waiting(calls: Iterable[CallRow], day: Day, count: int, now: float
                  ) -> dict[int | None, list[int]]:
    """The most callers waiting at once in each of the first `count` intervals, per queue and
    for all queues (None), in one sweep. A caller waits from entering until it leaves the line;
    one leaving as another enters is not counted with it."""
    moves = []
    queues = set()
    for call in calls:
        left = call.left_line(now)
        if left > call.entered and left > day.start and call.entered < day.end:
            moves.append((call.entered, 1, call.queue_id))
            moves.append((left, -1, call.queue_id))
            queues.add(call.queue_id)
    moves.sort()        # by time, leaving (-1) first at the same instant
    waiting: dict[int | None, int] = dict.fromkeys([None, *queues], 0)
    peaks = {key: [0] * count for key in waiting}
    everyone = peaks[None]
    total, index = 0, -1        # the interval being swept (-1: before the day)
    for at, change, queue_id in moves:
        moment = int((at - day.start) // INTERVAL_SECONDS)
        if moment >= count:
            break
        while index < moment:   # intervals begun since: those still waiting as each begins
            index += 1
            for key, now_waiting in waiting.items():
                peaks[key][index] = now_waiting
        waiting[queue_id] += change
        total += change
        waiting[None] = total
        if change > 0 and index >= 0:
            line = peaks[queue_id]
            if waiting[queue_id] > line[index]:
                line[index] = waiting[queue_id]
            if total > everyone[index]:
                everyone[index] = total
    while index < count - 1:    # intervals with no move in them
        index += 1
        for key, now_waiting in waiting.items():
            peaks[key][index] = now_waiting
    return peaks


# -- agents -----------------------------------------------------------------------------------

class AgentTime(NamedTuple):
    """Seconds an agent spent in one status and state (rows of one agent may repeat a pair;
    they add up, and a negative row takes off time counted outside the day)."""
    agent_id: int
    status: str
    state: str
    seconds: float


class AgentEvent(NamedTuple):
    """An agent's events row (agent_status or agent_state), as models.Event holds it."""
    agent_id: int
    at: float
    kind: str
    detail: str             # JSON
    prior_status: str
    prior_state: str
    prior_seconds: float

    def situation(self) -> tuple[str, str]:
        """The agent's status and state from this event on."""
        detail = json.loads(self.detail or "{}")
        if self.kind == EventKind.AGENT_STATUS:
            return detail.get("status", self.prior_status), self.prior_state
        return self.prior_status, detail.get("state", self.prior_state)


def agent_times(events: Iterable[AgentEvent], day: Day, now: float) -> list[AgentTime]:
    """An agent's time in each status and state within the day, from its events: each event of
    the day ends the situation before it (prior_*, for prior_seconds); the day's first event's
    situation is cut at midnight, and the situation after each agent's last event (that one may
    be from an earlier day) lasts until now or the day's end. The reader sums the day's events
    in SQL and adds `edges`; this is the same, over rows in memory."""
    events = sorted(events, key=lambda e: e.at)
    times = [AgentTime(e.agent_id, e.prior_status, e.prior_state, e.prior_seconds)
             for e in events if day.start <= e.at < day.end]
    first: dict[int, AgentEvent] = {}
    last: dict[int, AgentEvent] = {}
    for event in events:
        if day.start <= event.at < day.end:
            first.setdefault(event.agent_id, event)
        if event.at < day.end:
            last[event.agent_id] = event
    return times + edges(first.values(), last.values(), day, now)


def edges(first: Iterable[AgentEvent], last: Iterable[AgentEvent], day: Day,
          now: float) -> list[AgentTime]:
    """What a sum of the day's prior_seconds gets wrong at the day's two ends: the part before
    midnight of the situation the day's first event ended (taken off), and the situation after
    the last event (added, until now or the day's end)."""
    times = []
    for event in first:
        before = event.prior_seconds - (event.at - day.start)
        if before > 0:
            times.append(AgentTime(event.agent_id, event.prior_status, event.prior_state,
                                   -before))
    until = min(now, day.end)
    for event in last:
        seconds = until - max(event.at, day.start)
        if seconds > 0:
            status, state = event.situation()
            times.append(AgentTime(event.agent_id, status, state, seconds))
    return times


class AgentPart(NamedTuple):
    """An agent's part in one call (a call_agents row)."""
    agent_id: int
    talk: float | None              # joined to left, hold included; None: still with the customer
    hold: float
    wrapup: float | None            # None: not over yet (or still with the customer)


@dataclass
class Handled:
    """An agent's parts in the day's calls, summed."""
    parts: int = 0
    ended: int = 0
    talk: float = 0.0
    hold: float = 0.0
    wrapup: float = 0.0

    @property
    def aht(self) -> float | None:
        return _rounded(ratio(self.talk + self.wrapup, self.ended), 1)


def handled_by_agent(parts: Iterable[AgentPart]) -> dict[int, Handled]:
    """Each agent's own parts, whoever else had the same calls."""
    agents: dict[int, Handled] = {}
    for part in parts:
        mine = agents.setdefault(part.agent_id, Handled())
        mine.parts += 1
        if part.talk is not None:
            mine.ended += 1
            mine.talk += part.talk
            mine.hold += part.hold
            mine.wrapup += part.wrapup or 0.0
    return agents


def agent_rows(agent_ids: Iterable[int], times: Iterable[AgentTime],
               handled: dict[int, Handled], missed: dict[int, int]) -> list[dict]:
    """Each agent's day: handled calls, its talk, hold and wrap-up, AHT, missed offers,
    occupancy, and seconds in each status and state."""
    names = [s.value for s in AgentStatus] + [s.value for s in AgentState]
    seconds = {agent_id: dict.fromkeys(names, 0.0) for agent_id in agent_ids}
    ready: dict[int, float] = {}
    for row in times:
        spent = seconds.setdefault(row.agent_id, dict.fromkeys(names, 0.0))
        spent[row.status] += row.seconds
        spent[row.state] += row.seconds
        if row.status == AgentStatus.AVAILABLE and row.state in READY_STATES:
            ready[row.agent_id] = ready.get(row.agent_id, 0.0) + row.seconds
    rows = []
    for agent_id in sorted(seconds):
        spent = seconds[agent_id]
        busy = sum(spent[state] for state in BUSY_STATES)
        mine = handled.get(agent_id) or Handled()
        rows.append({
            "agent_id": agent_id, "handled": mine.parts, "aht_s": mine.aht,
            "talk_s": round(mine.talk, 1), "hold_s": round(mine.hold, 1),
            "wrapup_s": round(mine.wrapup, 1), "missed_offers": missed.get(agent_id, 0),
            "occupancy": _rounded(ratio(busy, ready.get(agent_id, 0.0) + busy), 4),
            "seconds": {name: round(max(0.0, value), 1) for name, value in spent.items()},
        })
    return rows


__all__ = ["INTERVAL_SECONDS", "AgentEvent", "AgentPart", "AgentTime", "CallRow", "Handled",
           "Tally", "agent_rows", "agent_times", "by_queue", "cells", "edges",
           "handled_by_agent", "intervals", "peak_waiting",
           "peaks_waiting", "ratio",
           "tally", "total"]
