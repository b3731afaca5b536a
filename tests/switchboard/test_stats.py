"""The switchboard's own figures: histograms that subtract, peaks per second, and the hooks that
fill them during a real call (switchboard -> ESL over TCP -> simulator)."""

from __future__ import annotations

import json
import time

import pytest

from callcenter.sim import Behaviour
from callcenter.switchboard import DialError
from callcenter.switchboard.stats import (
    Latency,
    Peak,
    bucket_ceiling,
    bucket_of,
    percentile,
    stamped_at,
    subtract,
    summary,
)
from tests.switchboard.conftest import NUMBER


def test_percentiles_never_understate_and_stay_within_one_bucket():
    latency = Latency()
    for ms in range(1, 1001):
        latency.add(ms / 1000)
    p50, p99 = latency.percentile(50), latency.percentile(99)
    assert 0.500 <= p50 < 0.500 * 2 ** (1 / 8) * 1.001
    assert 0.990 <= p99 < 0.990 * 2 ** (1 / 8) * 1.001
    assert latency.count == 1000 and latency.max == 1.0
    assert latency.percentile(100) >= 1.0 and latency.percentile(0) <= 0.001 * 2 ** (1 / 8)


def test_every_value_lands_in_the_bucket_that_holds_it():
    for seconds in (0.0, 1e-7, 1e-6, 3.3e-5, 0.0042, 0.05, 1.0, 17.0, 3600.0):
        index = bucket_of(seconds)
        assert seconds <= bucket_ceiling(index) * 1.000001
        assert index == 0 or seconds > bucket_ceiling(index - 1) * 0.999999


def test_an_empty_histogram_has_no_percentile_and_bad_percentiles_are_refused():
    assert Latency().percentile(50) is None
    assert summary({}) == {"count": 0, "p50_ms": None, "p99_ms": None}
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile({3: 1}, 101)


def test_negative_durations_count_as_zero():
    latency = Latency()
    latency.add(-0.2)  # two hosts' clocks a little apart
    assert latency.count == 1 and latency.percentile(50) == bucket_ceiling(0)


def test_two_snapshots_subtract_to_the_window_between_them():
    latency = Latency()
    for _ in range(100):
        latency.add(0.001)
    # Snapshots travel as JSON, which turns the bucket numbers into strings.
    before = json.loads(json.dumps(latency.as_dict()))["buckets"]
    for _ in range(10):
        latency.add(0.2)
    window = subtract(json.loads(json.dumps(latency.as_dict()))["buckets"], before)
    assert sum(window.values()) == 10
    assert 200 <= summary(window)["p50_ms"] < 200 * 1.1
    assert summary(latency.counts)["p50_ms"] < 2, "overall, the fast ones are the median"


def test_peaks_are_kept_per_second():
    now = [1000.2]
    peak = Peak(now=lambda: now[0])
    peak.note(5)
    now[0] = 1001.5
    peak.note(3)
    peak.note(4)
    now[0] = 1003.0
    peak.note(1)
    assert peak.max == 5
    assert peak.since(1000.9) == 5, "the second holding the moment counts"
    assert peak.since(1001.0) == 4 and peak.since(1002.0) == 1 and peak.since(1004) == 0


def test_the_switchs_timestamp_is_read_and_a_missing_one_is_none():
    class Stamped:
        def __init__(self, value):
            self.value = value

        def get(self, name):
            assert name == "Event-Date-Timestamp"
            return self.value

    assert stamped_at(Stamped("1795000000250000")) == 1_795_000_000.25
    assert stamped_at(Stamped(None)) is None and stamped_at(Stamped("soon")) is None


def test_a_call_fills_every_figure(rig, agent_id):
    rig.sim.script(NUMBER, Behaviour.answer(1000))
    stats = rig.board.stats
    # The request arrived half a second before the switchboard was asked to dial.
    call = rig.board.dial(agent_id, NUMBER, requested_at=time.perf_counter() - 0.5)
    rig.settle()
    assert stats.placed == 1 and stats.api_to_originate.count == 1
    assert stats.api_to_originate.percentile(50) >= 0.5
    assert stats.media_to_bridge.count == 0, "ringing (180) is not media: nothing bridged yet"
    # The customer answers; the switch stamps the event, but the switchboard only gets to it
    # 250 ms later (the clock moves before this greenlet yields).
    rig.clock.advance(1.0)
    rig.clock.advance(0.25)
    rig.settle()
    assert stats.media_to_bridge.count == 1
    assert 0.25 <= stats.media_to_bridge.percentile(50) < 0.25 * 1.1
    assert stats.event_lag.max >= 0.25
    rig.sim.far_end_hangs_up(call.customer_leg)
    rig.settle()
    assert stats.completed == 1 and dict(stats.outcomes) == {"answered": 1}
    assert stats.cdr_legs_written == 2
    figures = stats.as_dict(since=0)
    assert figures["calls"] == {"placed": 1, "completed": 1, "outcomes": {"answered": 1}}
    assert figures["latency"]["media_to_bridge"]["count"] == 1
    assert figures["peaks"]["event_queue_peak_since"] == stats.event_queue.max


def test_a_refused_dial_is_not_counted(rig, agent_id):
    rig.sim.unregister("1000")
    rig.settle()
    with pytest.raises(DialError, match="not registered"):
        rig.board.dial(agent_id, NUMBER)
    assert rig.board.stats.placed == 0 and rig.board.stats.api_to_originate.count == 0
