"""A queue's open hours, pure: a weekly schedule of open intervals per weekday plus holidays
(dates closed all day), read in the site's timezone (CALLCENTER_TIMEZONE).

The compact text form is the one form everywhere (command line, admin page, the database, `queue
list`); this module alone parses and prints it:

    open hours   "mon-fri 09:00-12:30,13:30-17:00; sat 10:00-13:00"
                 day groups separated by ';': days (mon..sun, ranges and commas), then the open
                 intervals HH:MM-HH:MM; days not named are closed; an interval ends by midnight
                 (write 22:00-24:00 and 00:00-06:00); empty: no weekly hours, open every day.
    holidays     "2026-12-25 Christmas, 2027-01-01": dates closed all day, each with an
                 optional name.

Times are wall-clock times in the timezone, so zoneinfo decides DST: on a spring-forward day the
skipped hour never comes, on a fall-back day the repeated hour is open or closed both times.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ...errors import InvalidInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MINUTES = 24 * 60
LONGEST_TEXT = 500
HOLIDAY_NAME_LENGTH = 40
SEARCH_DAYS = 400       # next_change looks this far ahead (a year of holidays and then some)

Interval = tuple[int, int]      # minutes after local midnight: [start, end)

_DAY_NAMES = {**{day: n for n, day in enumerate(DAYS)},
              **{day: n for n, day in enumerate(("monday", "tuesday", "wednesday", "thursday",
                                                 "friday", "saturday", "sunday"))}}
_TIME = re.compile(r"([01]\d|2[0-4]):([0-5]\d)")
_HOLIDAY = re.compile(r"(\d{4}-\d{2}-\d{2})(?:\s+(.*))?")


@dataclass(frozen=True)
class Schedule:
    """week: for each weekday (Monday first) its open intervals, sorted; None when the queue
    has no weekly hours (open every day that is not a holiday). holidays: date -> name."""
    week: tuple[tuple[Interval, ...], ...] | None = None
    holidays: tuple[tuple[date, str], ...] = ()

    @property
    def always_open(self) -> bool:
        return self.week is None and not self.holidays

    def closed_on(self, day: date) -> bool:
        return any(holiday == day for holiday, _ in self.holidays)


def schedule_of(open_hours: str, holidays: str) -> Schedule:
    """A queue's schedule from its two compact texts."""
    return Schedule(parse_week(open_hours), parse_holidays(holidays))


# -- reading the compact form -------------------------------------------------------------------

def parse_week(text: str) -> tuple[tuple[Interval, ...], ...] | None:
    """The weekly hours from their compact form; None for an empty text."""
    text = _bounded(text)
    if not text:
        return None
    week: list[list[Interval]] = [[] for _ in DAYS]
    for group in filter(None, (part.strip() for part in text.split(";"))):
        days_text, _, times_text = group.partition(" ")
        days = _days(days_text)
        intervals = [_interval(part) for part in re.split(r"[,\s]+", times_text.strip()) if part]
        if not intervals:
            raise InvalidInput(f"{group!r}: give open times after the days, like "
                               f"'{days_text} 09:00-17:00'")
        for day in days:
            week[day].extend(intervals)
    for day, intervals in enumerate(week):
        intervals.sort()
        for before, after in zip(intervals, intervals[1:], strict=False):
            if after[0] < before[1]:
                raise InvalidInput(f"{DAYS[day]}: {_span(before)} and {_span(after)} overlap")
    return tuple(tuple(intervals) for intervals in week)


def parse_holidays(text: str) -> tuple[tuple[date, str], ...]:
    """Holidays from their compact form, by date."""
    found: dict[date, str] = {}
    for part in filter(None, (part.strip() for part in _bounded(text).split(","))):
        match = _HOLIDAY.fullmatch(part)
        if match is None:
            raise InvalidInput(f"{part[:30]!r}: a date is YYYY-MM-DD, then an optional name")
        try:
            day = date.fromisoformat(match[1])
        except ValueError:
            raise InvalidInput(f"{match[1]!r} is not a date") from None
        name = " ".join((match[2] or "").split())
        if len(name) > HOLIDAY_NAME_LENGTH or any(ch in name for ch in ";") \
                or not name.isprintable():
            raise InvalidInput(f"{day}: a name is one line of at most {HOLIDAY_NAME_LENGTH} "
                               "characters, without ';'")
        if day in found:
            raise InvalidInput(f"{day} is given twice")
        found[day] = name
    return tuple(sorted(found.items()))


def _bounded(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > LONGEST_TEXT:
        raise InvalidInput(f"at most {LONGEST_TEXT} characters")
    return text


def _day(text: str) -> int:
    """A weekday's index from its short or full English name; -1 for anything else."""
    name = text.strip().lower()
    return _DAY_NAMES.get(name, -1)


def _days(text: str) -> list[int]:
    days: list[int] = []
    for part in filter(None, text.split(",")):
        first, _, last = part.partition("-")
        start, end = _day(first), _day(last) if last else _day(first)
        if start < 0 or end < 0:
            raise InvalidInput(f"{part!r}: days are mon, tue, wed, thu, fri, sat, sun "
                               "(ranges like mon-fri)")
        # A range may wrap over the weekend: fri-mon is fri, sat, sun, mon.
        days.extend((start + n) % 7 for n in range((end - start) % 7 + 1))
    if not days:
        raise InvalidInput("name the days first, like 'mon-fri 09:00-17:00'")
    return days


def _minutes(text: str) -> int:
    match = _TIME.fullmatch(text)
    if match is None or (match[1] == "24" and match[2] != "00"):
        raise InvalidInput(f"{text!r}: a time is HH:MM, 00:00 to 24:00")
    return int(match[1]) * 60 + int(match[2])


def _interval(text: str) -> Interval:
    start_text, dash, end_text = text.partition("-")
    if not dash:
        raise InvalidInput(f"{text!r}: an open interval is HH:MM-HH:MM")
    start, end = _minutes(start_text), _minutes(end_text)
    if start >= end:
        raise InvalidInput(f"{text!r}: it must end after it starts, by midnight (write "
                           "22:00-24:00 and 00:00-06:00 for a night)")
    return start, end


# -- printing the compact form ------------------------------------------------------------------

def format_week(week: tuple[tuple[Interval, ...], ...] | None) -> str:
    """The weekly hours in compact form: days with the same hours share a group, consecutive
    days as ranges (`mon-fri 09:00-17:00; sat 10:00-13:00`)."""
    if week is None:
        return ""
    groups: dict[tuple[Interval, ...], list[int]] = {}
    for day, intervals in enumerate(week):
        if intervals:
            groups.setdefault(intervals, []).append(day)
    return "; ".join(f"{_day_list(days)} {','.join(_span(i) for i in intervals)}"
                     for intervals, days in groups.items())


def format_holidays(holidays: tuple[tuple[date, str], ...]) -> str:
    return ", ".join(f"{day.isoformat()} {name}".strip() for day, name in holidays)


def _day_list(days: list[int]) -> str:
    runs: list[list[int]] = []
    for day in days:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join(DAYS[run[0]] if len(run) == 1 else f"{DAYS[run[0]]}-{DAYS[run[-1]]}"
                    for run in runs)


def _span(interval: Interval) -> str:
    return "-".join(f"{m // 60:02d}:{m % 60:02d}" for m in interval)


# -- open or closed -----------------------------------------------------------------------------

def is_open(schedule: Schedule, when_utc: datetime, tz: ZoneInfo) -> bool:
    """Whether the queue takes callers at this instant."""
    local = when_utc.astimezone(tz)
    if schedule.closed_on(local.date()):
        return False
    if schedule.week is None:
        return True
    minute = local.hour * 60 + local.minute
    return any(start <= minute < end for start, end in schedule.week[local.weekday()])


def next_change(schedule: Schedule, when_utc: datetime, tz: ZoneInfo) -> datetime | None:
    """The next instant (UTC) the queue opens or closes after `when_utc`; None if it never
    changes (always open, or no open hours at all within the search)."""
    if schedule.always_open:
        return None
    now = is_open(schedule, when_utc, tz)
    today = when_utc.astimezone(tz).date()
    for offset in range(SEARCH_DAYS):
        day = today + timedelta(days=offset)
        for instant in _boundaries(schedule, day, tz):
            if instant > when_utc and is_open(schedule, instant, tz) != now:
                return instant
    return None


def _boundaries(schedule: Schedule, day: date, tz: ZoneInfo) -> list[datetime]:
    """The instants on a local day where the state may change: midnight, each interval's start
    and end, and the clock change. A wall time DST skips maps past the gap; one it repeats
    counts twice."""
    minutes = {0}
    if schedule.week is not None:
        for start, end in schedule.week[day.weekday()]:
            minutes.update((start, end))
    instants = set()
    for minute in minutes:
        at = datetime.combine(day + timedelta(days=minute // DAY_MINUTES),
                              time(minute % DAY_MINUTES // 60, minute % 60), tzinfo=tz)
        # Both readings of a wall time the fall-back hour repeats (the same instant otherwise).
        instants.update(at.replace(fold=fold).astimezone(UTC) for fold in (0, 1))
    shift = _offset_change(day, tz)
    if shift is not None:
        instants.add(shift)
    return sorted(instants)


def _offset_change(day: date, tz: ZoneInfo) -> datetime | None:
    """The instant the clocks change on this local day, if they do: the wall clock jumps there,
    so an interval may start or end at it."""
    low = datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)
    high = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC)
    before = low.astimezone(tz).utcoffset()
    if high.astimezone(tz).utcoffset() == before:
        return None
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).utcoffset() == before:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)
