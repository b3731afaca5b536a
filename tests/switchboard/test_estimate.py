"""The estimated wait (pure): from recent handle times and the agents Available, by position;
rounded for speech; nothing when no agent is there to serve the line."""

from __future__ import annotations

import pytest

from callcenter.switchboard.queues.estimate import (
    DEFAULT_HANDLE_S,
    WINDOW,
    HandleTimes,
    estimated_wait,
    spoken_minutes,
)


def test_the_wait_grows_with_the_place_and_shrinks_with_the_agents():
    times = [120.0, 240.0]                  # 3 minutes on average
    assert estimated_wait(1, times, 1) == 180.0
    assert estimated_wait(4, times, 1) == 720.0
    assert estimated_wait(4, times, 2) == 360.0
    assert estimated_wait(3, times, 3) == 180.0


def test_before_any_handled_call_the_default_handle_time_counts():
    assert estimated_wait(2, [], 1) == 2 * DEFAULT_HANDLE_S
    assert estimated_wait(2, [], 1, default_handle=60.0) == 120.0


@pytest.mark.parametrize("position,agents", [(1, 0), (3, 0), (0, 2), (-1, 1)])
def test_no_agent_or_no_place_gives_no_number(position, agents):
    assert estimated_wait(position, [100.0], agents) is None


@pytest.mark.parametrize("seconds,minutes", [
    (0, 1), (20, 1), (89, 1), (91, 2), (150, 2), (151, 3), (600, 10), (629, 10),
    (631, 10), (700, 10), (780, 15), (1800, 30), (7200, 120)])
def test_the_wait_is_spoken_in_round_minutes(seconds, minutes):
    assert spoken_minutes(seconds) == minutes


def test_no_estimate_or_one_past_two_hours_is_not_spoken():
    assert spoken_minutes(None) is None
    assert spoken_minutes(7200 + 5 * 60) is None


def test_handle_times_keep_each_queue_s_last_calls():
    times = HandleTimes()
    for n in range(WINDOW + 5):
        times.add("sales", float(n))
    times.add("support", -3.0)               # a clock step back counts as nothing
    assert times.of("sales") == tuple(float(n) for n in range(5, WINDOW + 5))
    assert times.of("support") == (0.0,)
    assert times.of("billing") == ()
