"""What the switchboard measures about itself, cheaply enough to leave on in production.

Latencies go into log-spaced buckets (8 per doubling, so any percentile is within 9% of the
truth) rather than a list of samples: recording is one log and one increment, memory is fixed,
and two snapshots can be subtracted to get the percentiles of just the time between them (the
benchmark does this per load step). Peaks of the event queue and the write queue are kept per
wall-clock second for the last hour, so a reader can ask for the peak since any moment.
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from collections.abc import Mapping
from pathlib import Path

BUCKETS_PER_DOUBLING = 8
_SMALLEST = 1e-6                   # seconds: bucket 0 holds everything up to 1 microsecond
_LAST_BUCKET = BUCKETS_PER_DOUBLING * 37  # about 38 hours: nothing we time is longer
_SCALE = BUCKETS_PER_DOUBLING / math.log(2)
PEAK_SECONDS = 3600


def bucket_of(seconds: float) -> int:
    if seconds <= _SMALLEST:
        return 0
    return min(_LAST_BUCKET, int(math.log(seconds / _SMALLEST) * _SCALE) + 1)


def bucket_ceiling(index: int) -> float:
    """The largest value (seconds) bucket `index` holds."""
    return _SMALLEST * 2 ** (index / BUCKETS_PER_DOUBLING)


def percentile(counts: Mapping[int, int], q: float) -> float | None:
    """The q-th percentile (0-100) in seconds of a bucket histogram: the ceiling of the bucket
    it falls in, so it never understates. None when the histogram is empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be between 0 and 100, not {q}")
    total = sum(counts.values())
    if not total:
        return None
    rank = max(1, math.ceil(total * q / 100))
    seen = 0
    for index in sorted(counts):
        seen += counts[index]
        if seen >= rank:
            return bucket_ceiling(index)
    raise AssertionError("unreachable: the ranks add up to the total")


def subtract(after: Mapping, before: Mapping) -> dict[int, int]:
    """The buckets filled between two snapshots (JSON turns their keys into strings)."""
    old = {int(k): v for k, v in before.items()}
    diff = {int(k): v - old.get(int(k), 0) for k, v in after.items()}
    return {k: v for k, v in diff.items() if v}


class Latency:
    """A histogram of durations."""

    def __init__(self) -> None:
        self.counts: Counter[int] = Counter()
        self.count = 0
        self.total = 0.0               # seconds: a histogram's sum (Prometheus asks for it)
        self.max = 0.0

    def add(self, seconds: float) -> None:
        seconds = max(0.0, seconds)  # clocks of two hosts can disagree by a little
        self.counts[bucket_of(seconds)] += 1
        self.count += 1
        self.total += seconds
        if seconds > self.max:
            self.max = seconds

    def percentile(self, q: float) -> float | None:
        return percentile(self.counts, q)

    def cumulative(self, bounds: list[float]) -> list[int]:
        """How many durations fell at or below each of the rising `bounds` (seconds), counting
        a bucket under the first bound at or above its ceiling: never understated."""
        found, total, index = [], 0, 0
        buckets = sorted(self.counts.items())
        for bound in bounds:
            while index < len(buckets) and bucket_ceiling(buckets[index][0]) <= bound:
                total += buckets[index][1]
                index += 1
            found.append(total)
        return found

    def as_dict(self) -> dict:
        return summary(self.counts) | {"max_ms": _ms(self.max) if self.count else None,
                                       "buckets": dict(self.counts)}


def summary(counts: Mapping[int, int]) -> dict:
    """count, p50 and p99 in milliseconds of a histogram."""
    return {"count": sum(counts.values()), "p50_ms": _ms(percentile(counts, 50)),
            "p99_ms": _ms(percentile(counts, 99))}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


class Peak:
    """The highest value seen, overall and per wall-clock second for the last hour."""

    def __init__(self, now=time.time, keep: int = PEAK_SECONDS) -> None:
        self._now = now
        self._seconds: deque[list[int]] = deque(maxlen=keep)  # [second, peak in it]
        self.max = 0

    def note(self, value: int) -> None:
        if value > self.max:
            self.max = value
        second = int(self._now())
        if self._seconds and self._seconds[-1][0] == second:
            if value > self._seconds[-1][1]:
                self._seconds[-1][1] = value
        else:
            self._seconds.append([second, value])

    def since(self, when: float) -> int:
        """The peak from the second holding `when` on."""
        start = int(when)
        return max((peak for second, peak in reversed(self._seconds) if second >= start),
                   default=0)


class SwitchboardStats:
    """The figures GET /api/stats reports."""

    def __init__(self, now=time.time) -> None:
        self.api_to_originate = Latency()   # API request arrived -> agent originate written
        self.media_to_bridge = Latency()    # customer's first media event -> uuid_bridge written
        self.event_lag = Latency()          # a channel event stamped by the switch -> handled
        self.placed = 0
        self.completed = 0
        self.outcomes: Counter[str] = Counter()
        self.ended: Counter[tuple[str, str]] = Counter()   # (direction, outcome)
        self.cdr_legs_written = 0
        self.event_queue = Peak(now)
        self.store_queue = Peak(now)

    def note_depths(self, event_queue: int, store_queue: int) -> None:
        self.event_queue.note(event_queue)
        self.store_queue.note(store_queue)

    def call_ended(self, outcome: str, direction: str) -> None:
        self.completed += 1
        self.outcomes[outcome] += 1
        self.ended[direction, outcome] += 1

    def as_dict(self, since: float | None = None) -> dict:
        peaks = {"event_queue_peak": self.event_queue.max, "store_queue_peak": self.store_queue.max}
        if since is not None:
            peaks |= {"event_queue_peak_since": self.event_queue.since(since),
                      "store_queue_peak_since": self.store_queue.since(since)}
        return {
            "calls": {"placed": self.placed, "completed": self.completed,
                      "outcomes": dict(self.outcomes)},
            "cdr_legs_written": self.cdr_legs_written,
            "latency": {"api_to_originate": self.api_to_originate.as_dict(),
                        "media_to_bridge": self.media_to_bridge.as_dict(),
                        "event_lag": self.event_lag.as_dict()},
            "peaks": peaks,
        }


def stamped_at(event) -> float | None:
    """When the switch fired an ESL event (Event-Date-Timestamp: microseconds since the epoch),
    or None if it does not say."""
    try:
        return int(event.get("Event-Date-Timestamp") or "") / 1e6
    except ValueError:
        return None


def process_memory() -> dict[str, float | None]:
    """This process's resident set now and at its peak, in MB (None off Linux)."""
    found: dict[str, float | None] = {"rss_mb": None, "peak_rss_mb": None}
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found["rss_mb" if name == "VmRSS" else "peak_rss_mb"] = round(
                int(value.split()[0]) / 1024, 1)
    return found
