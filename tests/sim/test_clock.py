"""The injectable clock: ManualClock for tests, RealClock for the running product."""

from __future__ import annotations

import time

import gevent
import gevent.event
import pytest

from callcenter.clock import ManualClock, RealClock


def test_manual_clock_runs_due_callbacks_in_time_order():
    clock = ManualClock(start=100.0)
    seen = []
    clock.call_later(2.0, lambda: seen.append(("b", clock.now())))
    clock.call_later(1.0, lambda: seen.append(("a", clock.now())))
    clock.call_later(2.0, lambda: seen.append(("c", clock.now())))  # same time: in order
    clock.advance(1.5)
    assert seen == [("a", 101.0)]
    assert clock.now() == 101.5
    clock.advance(0.5)
    assert seen == [("a", 101.0), ("b", 102.0), ("c", 102.0)]


def test_manual_clock_runs_what_callbacks_schedule_within_the_same_advance():
    clock = ManualClock()
    seen = []

    def first():
        seen.append("first")
        clock.call_later(1.0, lambda: seen.append("second"))
        clock.call_later(5.0, lambda: seen.append("too late"))

    clock.call_later(1.0, first)
    clock.advance(2.0)
    assert seen == ["first", "second"]
    assert clock.pending == 1


def test_manual_clock_cancel_and_zero_delay():
    clock = ManualClock()
    seen = []
    timer = clock.call_later(1.0, seen.append, "cancelled")
    clock.call_later(0, seen.append, "now")
    timer.cancel()
    assert seen == []  # nothing runs until time is advanced
    clock.advance(0)
    assert seen == ["now"]
    clock.advance(10)
    assert seen == ["now"]
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_real_clock_calls_later_and_cancels():
    clock = RealClock()
    fired = gevent.event.Event()
    cancelled = []
    timer = clock.call_later(0.005, cancelled.append, True)
    clock.call_later(0.02, fired.set)  # due after the cancelled one would have run
    timer.cancel()
    assert fired.wait(2)
    assert cancelled == []
    assert abs(clock.now() - time.time()) < 1
