"""The site's local day and its 15-minute intervals, as instants (seconds since the epoch).

A day runs from local midnight to the next local midnight, so a spring-forward day is 23 hours
long (92 intervals) and a fall-back day 25 (100); zoneinfo decides. Intervals are 15 minutes of
real time from midnight: every offset in use is a whole number of quarter hours, so they stay
on the wall clock's quarter hours through a change (the repeated hour's quarters appear twice,
with their two offsets).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

INTERVAL_SECONDS = 900


@dataclass(frozen=True)
class Day:
    date: date
    timezone: ZoneInfo
    start: float        # local midnight
    end: float          # the next local midnight

    def interval_of(self, at: float) -> int:
        """The index of the interval `at` falls in (it must be within the day)."""
        return int((at - self.start) // INTERVAL_SECONDS)

    @property
    def interval_count(self) -> int:
        return -int(-(self.end - self.start) // INTERVAL_SECONDS)

    def interval_start(self, index: int) -> float:
        return self.start + index * INTERVAL_SECONDS

    def local(self, at: float) -> str:
        """An instant as the site's local time, with its offset (ISO 8601)."""
        return datetime.fromtimestamp(at, self.timezone).isoformat()


def local_day(day: date, timezone: ZoneInfo) -> Day:
    return Day(day, timezone, _midnight(day, timezone), _midnight(day + timedelta(days=1),
                                                                   timezone))


def day_of(at: float, timezone: ZoneInfo) -> date:
    """The site's local date at an instant."""
    return datetime.fromtimestamp(at, timezone).date()


def _midnight(day: date, timezone: ZoneInfo) -> float:
    return datetime.combine(day, time(0), tzinfo=timezone).timestamp()
