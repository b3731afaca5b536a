"""Today's figures on the live socket (switchboard/figures_feed.py): pushed every few seconds and
after calls end, computed off the hub in gevent's threadpool, one computation at a time, and a
failing computation keeps the last figures."""

from __future__ import annotations

import threading

import gevent
import gevent.event
import pytest

from callcenter.clock import ManualClock
from callcenter.live import Audience
from callcenter.switchboard.figures_feed import FiguresFeed

EVERYONE = Audience(frozenset({"all"}))


def at_once(fn):
    fn()


def test_figures_are_pushed_periodically_and_once_after_calls_end():
    clock = ManualClock()
    sent, asked = [], []
    listening = {"yes": True}

    def today(now):
        asked.append(now)
        return {"computed": now}

    feed = FiguresFeed(today, clock=clock, publish=lambda m, t: sent.append((m, t)),
                       listening=lambda: listening["yes"], every=5, after_call=1,
                       spawn=at_once)
    feed.start()
    start = clock.now()
    for _ in range(3):                     # three calls end together: one computation
        feed.call_ended()
    clock.advance(1)
    assert sent == [({"type": "figures", "figures": {"computed": start + 1}}, ("figures",))]
    clock.advance(4)
    assert len(sent) == 2 and asked == [start + 1, start + 5]
    listening["yes"] = False               # nobody listens: nothing computed
    clock.advance(5)
    assert len(asked) == 2
    feed.stop()
    assert clock.pending == 0


def test_a_failing_figures_callable_is_logged_and_sends_nothing(caplog):
    def broken(now):
        raise RuntimeError("database down")

    sent = []
    feed = FiguresFeed(broken, clock=ManualClock(), publish=lambda m, t: sent.append(m),
                       listening=lambda: True, spawn=at_once)
    feed.push()
    assert sent == [] and "could not be computed" in caplog.text
    assert feed.snapshot_section(Audience(frozenset({"all"}))) is None


@pytest.mark.parametrize("topics, shown", [({"all"}, True), ({"figures", "queue:1"}, True),
                                           ({"agent:3"}, False)])
def test_figures_in_a_snapshot_only_for_supervisors_and_displays(topics, shown):
    feed = FiguresFeed(lambda now: {"x": 1}, clock=ManualClock(), publish=lambda m, t: None,
                       listening=lambda: True, spawn=at_once)
    section = feed.snapshot_section(Audience(frozenset(topics)))
    assert (section == {"x": 1}) if shown else section is None


def test_the_figures_are_computed_off_the_hub():
    """A computation that blocks its thread (as reading the database does) lets the hub serve
    another greenlet meanwhile: that greenlet is the one that lets the computation finish."""
    let_go = threading.Event()              # a native wait: on the hub, it would stop everything

    def slow(now):
        return {"served_meanwhile": let_go.wait(5)}

    published = gevent.event.AsyncResult()
    feed = FiguresFeed(slow, clock=ManualClock(), publish=lambda m, t: published.set(m),
                       listening=lambda: True)
    feed.push()
    gevent.spawn(let_go.set)
    assert published.get(timeout=10) == {"type": "figures",
                                         "figures": {"served_meanwhile": True}}


def test_one_computation_at_a_time():
    """A snapshot asking for figures while a push computes them waits for it, never computing
    beside it."""
    let_go = gevent.event.Event()
    running, most, computed = [0], [0], []

    def off_hub(fn, *args):                 # the threadpool, held until let go
        running[0] += 1
        most[0] = max(most[0], running[0])
        let_go.wait()
        running[0] -= 1
        return fn(*args)

    def today(now):
        computed.append(now)
        return {"n": len(computed)}

    feed = FiguresFeed(today, clock=ManualClock(), publish=lambda m, t: None,
                       listening=lambda: True, off_hub=off_hub)
    feed.push()
    snapshot = gevent.spawn(feed.snapshot_section, EVERYONE)
    feed.push()                             # asked again meanwhile: once more, afterwards
    gevent.idle()                           # everyone is waiting now
    assert running[0] == 1
    let_go.set()
    assert snapshot.get(timeout=5) is not None
    gevent.wait(timeout=5)
    assert most[0] == 1 and len(computed) == 3 and feed.latest == {"n": 3}


def test_a_failing_computation_keeps_the_last_figures(caplog):
    answers = iter([{"n": 1}, RuntimeError("database down")])

    def today(now):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    sent = []
    feed = FiguresFeed(today, clock=ManualClock(), publish=lambda m, t: sent.append(m),
                       listening=lambda: True, spawn=at_once, beside=lambda: {"repairs": {}})
    feed.push()
    feed.push()
    assert sent == [{"type": "figures", "figures": {"n": 1, "repairs": {}}}]
    assert "could not be computed" in caplog.text and "database down" in caplog.text
    assert feed.latest == {"n": 1, "repairs": {}}
    assert feed.snapshot_section(EVERYONE) == {"n": 1, "repairs": {}}
