"""Open hours, pure: the compact form read and printed back, open or closed at an instant, and
the next change, across DST days."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from callcenter.errors import InvalidInput
from callcenter.switchboard.queues.hours import (
    Schedule,
    format_holidays,
    format_week,
    is_open,
    next_change,
    parse_holidays,
    parse_week,
    schedule_of,
)

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_compact_form_reads_and_prints_back():
    week = parse_week("Mon-Fri 09:00-12:30, 13:30-17:00;  sat 10:00-13:00")
    assert week[0] == ((540, 750), (810, 1020))
    assert week[4] == week[0]
    assert week[5] == ((600, 780),)
    assert week[6] == ()
    text = format_week(week)
    assert text == "mon-fri 09:00-12:30,13:30-17:00; sat 10:00-13:00"
    assert parse_week(text) == week


def test_groups_of_days_combine_and_wrap_over_the_weekend():
    week = parse_week("fri-mon 22:00-24:00; monday 00:00-06:00; wed,thu 08:00-09:00")
    assert [bool(day) for day in week] == [True, False, True, True, True, True, True]
    assert week[0] == ((0, 360), (1320, 1440))
    assert format_week(week) == "mon 00:00-06:00,22:00-24:00; wed-thu 08:00-09:00; " \
        "fri-sun 22:00-24:00"
    assert parse_week(format_week(week)) == week
    assert parse_week("  ") is None


@pytest.mark.parametrize("text, says", [
    ("mon-fri", "open times"),
    ("mon-fri 09:00", "HH:MM-HH:MM"),
    ("noday 09:00-10:00", "days are"),
    ("mon 22:00-02:00", "by midnight"),
    ("mon 09:00-09:00", "end after"),
    ("mon 24:30-25:00", "00:00 to 24:00"),
    ("mon 9:00-17:00", "HH:MM"),
    ("mon 09:00-12:00,11:00-13:00", "overlap"),
    ("mon-fri 09:00-12:00; fri 11:00-13:00", "fri: 09:00-12:00 and 11:00-13:00 overlap"),
    ("mon 09:00-10:00; " * 40, "at most"),
])
def test_bad_weeks_are_refused_with_the_reason(text, says):
    with pytest.raises(InvalidInput, match=says):
        parse_week(text)


def test_holidays_read_sorted_with_their_names():
    holidays = parse_holidays("2027-01-01, 2026-12-25  Christmas  Day")
    assert holidays == ((date(2026, 12, 25), "Christmas Day"), (date(2027, 1, 1), ""))
    assert format_holidays(holidays) == "2026-12-25 Christmas Day, 2027-01-01"
    assert parse_holidays(format_holidays(holidays)) == holidays
    assert parse_holidays("") == ()


@pytest.mark.parametrize("text, says", [
    ("25/12/2026", "YYYY-MM-DD"),
    ("2026-02-30", "not a date"),
    ("2026-12-25, 2026-12-25 again", "given twice"),
    ("2026-12-25 " + "x" * 41, "at most 40"),
])
def test_bad_holidays_are_refused(text, says):
    with pytest.raises(InvalidInput, match=says):
        parse_holidays(text)


def test_no_schedule_is_always_open():
    schedule = schedule_of("", "")
    assert is_open(schedule, utc(2026, 3, 1, 3, 0), PARIS)
    assert next_change(schedule, utc(2026, 3, 1, 3, 0), PARIS) is None


def test_open_and_closed_in_the_site_timezone():
    schedule = schedule_of("mon-fri 09:00-12:30,13:30-17:00", "")
    # Monday 2026-01-12; Paris is UTC+1 in winter.
    assert not is_open(schedule, utc(2026, 1, 12, 7, 59), PARIS)
    assert is_open(schedule, utc(2026, 1, 12, 8, 0), PARIS)
    assert not is_open(schedule, utc(2026, 1, 12, 11, 30), PARIS)     # 12:30: lunch
    assert is_open(schedule, utc(2026, 1, 12, 15, 59), PARIS)
    assert not is_open(schedule, utc(2026, 1, 12, 16, 0), PARIS)      # 17:00
    assert not is_open(schedule, utc(2026, 1, 17, 10, 0), PARIS)      # Saturday
    assert is_open(schedule, utc(2026, 1, 12, 8, 0), ZoneInfo("UTC")) is False


def test_a_holiday_closes_the_whole_day_even_without_weekly_hours():
    schedule = schedule_of("", "2026-12-25 Christmas")
    assert not is_open(schedule, utc(2026, 12, 25, 10, 0), PARIS)
    assert not is_open(schedule, utc(2026, 12, 24, 23, 30), PARIS)    # already the 25th there
    assert is_open(schedule, utc(2026, 12, 25, 23, 0), PARIS)         # the 26th there
    assert next_change(schedule, utc(2026, 12, 24, 12, 0), PARIS) == utc(2026, 12, 24, 23, 0)
    assert next_change(schedule, utc(2026, 12, 25, 12, 0), PARIS) == utc(2026, 12, 25, 23, 0)


def test_next_change_walks_intervals_days_and_holidays():
    schedule = schedule_of("mon-fri 09:00-17:00", "2026-01-16")    # Friday a holiday
    assert next_change(schedule, utc(2026, 1, 12, 6, 0), PARIS) == utc(2026, 1, 12, 8, 0)
    assert next_change(schedule, utc(2026, 1, 12, 8, 0), PARIS) == utc(2026, 1, 12, 16, 0)
    # Thursday evening: closed until Monday morning.
    assert next_change(schedule, utc(2026, 1, 15, 17, 0), PARIS) == utc(2026, 1, 19, 8, 0)
    # Open past midnight: 22:00-24:00 then 00:00-06:00 is one stretch.
    night = schedule_of("mon 22:00-24:00; tue 00:00-06:00", "")
    assert next_change(night, utc(2026, 1, 12, 21, 30), PARIS) == utc(2026, 1, 13, 5, 0)


def test_never_open_has_no_next_change():
    closed = Schedule(week=((),) * 7)
    assert not is_open(closed, utc(2026, 1, 12, 8, 30), PARIS)
    assert next_change(closed, utc(2026, 1, 12, 8, 30), PARIS) is None


def test_spring_forward_day():
    # New York, Sunday 2026-03-08: 02:00 EST jumps to 03:00 EDT.
    schedule = schedule_of("sun 01:00-02:30,03:30-05:00", "")
    assert is_open(schedule, utc(2026, 3, 8, 6, 59), NEW_YORK)         # 01:59 EST
    assert not is_open(schedule, utc(2026, 3, 8, 7, 0), NEW_YORK)      # 03:00 EDT
    assert next_change(schedule, utc(2026, 3, 8, 6, 30), NEW_YORK) == utc(2026, 3, 8, 7, 0)
    assert next_change(schedule, utc(2026, 3, 8, 7, 0), NEW_YORK) == utc(2026, 3, 8, 7, 30)
    assert next_change(schedule, utc(2026, 3, 8, 7, 30), NEW_YORK) == utc(2026, 3, 8, 9, 0)


def test_fall_back_day():
    # New York, Sunday 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:xx comes twice.
    schedule = schedule_of("sun 00:00-01:30,09:00-17:00", "")
    assert is_open(schedule, utc(2026, 11, 1, 5, 15), NEW_YORK)        # 01:15 EDT
    assert not is_open(schedule, utc(2026, 11, 1, 5, 45), NEW_YORK)    # 01:45 EDT
    assert is_open(schedule, utc(2026, 11, 1, 6, 15), NEW_YORK)        # 01:15 EST
    assert next_change(schedule, utc(2026, 11, 1, 5, 0), NEW_YORK) == utc(2026, 11, 1, 5, 30)
    assert next_change(schedule, utc(2026, 11, 1, 5, 45), NEW_YORK) == utc(2026, 11, 1, 6, 0)
    assert next_change(schedule, utc(2026, 11, 1, 6, 0), NEW_YORK) == utc(2026, 11, 1, 6, 30)
    # 09:00 EST is 14:00 UTC, an hour later in UTC than the day before.
    assert next_change(schedule, utc(2026, 11, 1, 7, 0), NEW_YORK) == utc(2026, 11, 1, 14, 0)
