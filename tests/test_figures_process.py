"""Today's figures from a process of their own (callcenter/figures/worker.py) are the ones the
controller would compute itself; a failure says why and the next computation starts a fresh
process; the process ends with the feed. On both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import gevent
import pytest

from callcenter import figures
from callcenter.clock import ManualClock
from callcenter.figures.worker import FiguresError, FiguresProcess
from callcenter.switchboard.figures_feed import FiguresFeed, directly, site_figures
from tests.test_figures_api import add_history

pytestmark = pytest.mark.both_databases


@pytest.fixture
def now(database) -> float:
    """The API tests' history at midday UTC, which is the same day in Paris too (a history
    of the real clock's day would be yesterday in Paris after 23:00 UTC)."""
    midday = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
    add_history(database, midday)
    return midday.timestamp()


def as_sent(value) -> object:
    """What a page receives: the JSON the hub sends."""
    return json.loads(json.dumps(value, default=str))


def test_the_process_computes_what_the_controller_would(database, now):
    process = FiguresProcess(database.url, "Europe/Paris")
    try:
        theirs = process(now)
        assert theirs == as_sent(figures.today(database, now=now,
                                               timezone=ZoneInfo("Europe/Paris")))
        [sales] = theirs["queues"]
        assert (sales["offered"], sales["answered"], sales["abandoned"]) == (2, 1, 1)
        assert process(now + 60)["computed_at"] != theirs["computed_at"]   # one child, asked again
    finally:
        process.close()
    assert process._child is None


def test_a_dead_process_is_replaced_and_a_failure_says_why(database, now, tmp_path):
    process = FiguresProcess(database.url, "UTC")
    try:
        process(now)
        first = process._child
        first.kill()
        first.wait()
        assert process(now)["totals"]["offered"] == 2 and process._child is not first
    finally:
        process.close()
    broken = FiguresProcess(f"sqlite:///{tmp_path / 'not-migrated.db'}", "UTC")
    try:
        with pytest.raises(FiguresError, match="no such table|queues"):
            broken(now)
    finally:
        broken.close()


def test_the_feed_uses_the_process_and_ends_it(database, now):
    today, off_hub = site_figures(database, "UTC")
    assert isinstance(today, FiguresProcess) and off_hub is directly
    published = gevent.event.AsyncResult()
    feed = FiguresFeed(today, clock=ManualClock(now), publish=lambda m, t: published.set(m),
                       listening=lambda: True, off_hub=off_hub)
    feed.push()
    message = published.get(timeout=30)
    assert message["figures"]["totals"]["answered"] == 1
    child = today._child
    feed.stop()
    assert child.poll() is not None, "the figures' process ended with the feed"


def test_an_in_memory_database_is_computed_in_the_threadpool():
    from callcenter.db import Database
    from callcenter.switchboard.figures_feed import in_threadpool

    today, off_hub = site_figures(Database("sqlite://"), "UTC")
    assert not isinstance(today, FiguresProcess) and off_hub is in_threadpool
