"""The benchmarks run small: the throughput readers count every replayed event, and a quick
calls-per-second run loses no CDR (the figures themselves live in bench/)."""

from __future__ import annotations

import pytest

from bench import esl_throughput

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("reader", ["stock", "ours", "ours-sb", "framing"])
def test_each_reader_counts_every_event(reader):
    result = esl_throughput.run_reader(reader, esl_throughput.load_frames("large"), 1500)
    assert result["events"] == 1500 and result["seconds"] > 0 and result["rss_mb"] > 0


@pytest.mark.parametrize("kind", ["greenlet", "fifo"])
def test_each_sender_gets_every_reply(kind):
    from bench import sender

    result = sender.run_sender(kind, 2000)      # raises unless every reply reached its callback
    assert result["commands"] == 2000 and result["cpu_s"] > 0 and result["wall_s"] > 0


def test_calls_per_second_quick_run_loses_no_cdr():
    from bench import cps

    figures = cps.run(cps.QUICK)
    steps = figures["steps"]
    assert [step.rate for step in steps] == list(cps.QUICK.rates)
    for step in steps:
        assert step.placed == step.offered > 0 and not step.refused, step
        assert step.completed == step.cdrs == step.placed and step.settled, step
        assert step.left_in_switch == 0, "no leg outlives its call in the switch"
        assert step.outcomes == {"answered": step.placed}, step.outcomes
        # Every dial and every bridge was timed, by the controller and by the driver.
        assert step.api_to_originate["count"] == step.media_to_bridge["count"] == step.placed
        assert step.http_dial["count"] == step.placed
        assert step.rss_peak_mb > 0 and step.cpu["controller"] > 0
    held = figures["held"]
    assert held["calls_up"] == held["placed"] == cps.QUICK.concurrent
    assert held["cdrs"] == held["placed"] and held["hangup_status"] == {200: held["placed"]}
    assert held["left_in_switch"] == 0
    table = cps.report(figures, cps.QUICK)
    assert f"{cps.QUICK.concurrent} calls up at once" in table and "goal >= 300" in table


def test_queues_quick_run_loses_no_caller_and_leaves_no_agent_stuck():
    from bench import acd

    steps = acd.run(acd.QUICK)
    # Every rate, then the last again with talking calls lost behind the controller's back.
    assert [step.rate for step in steps] == [*acd.QUICK.rates, acd.QUICK.rates[-1]]
    for step in steps:
        assert step.placed == int(step.rate * acd.QUICK.seconds) and step.settled, step
        assert step.lost == 0 and step.stuck_agents == 0 and step.left_in_switch == 0, step
        counts = step.counts
        assert counts["entered"] == step.placed
        assert counts["answered"] + counts["abandoned"] == step.placed, counts
        # Every offer an agent answered was dispatched and bridged, and timed both ways.
        assert step.dispatch["count"] == counts["offers"] >= counts["answered"]
        assert step.answer_to_bridge["count"] == counts["answered"]
        # The auditor ran meanwhile and repaired exactly what was broken: nothing on a healthy
        # run, one agent released per lost call on the last.
        assert step.audits >= 1 and step.repaired == step.faults, step.repairs
    assert [step.faults for step in steps[:-1]] == [0] * len(acd.QUICK.rates)
    assert steps[-1].faults > 0
    assert steps[-1].repairs["agent_released"] == steps[-1].faults
    assert "dispatch" in acd.report(steps, acd.QUICK)


def test_login_flood_quick_run_keeps_the_hub_answering():
    from bench import login_flood

    figures = login_flood.run(login_flood.QUICK)
    on, off = figures["on"]["flood"], figures["off"]["flood"]
    # Limiter on: the guessers are told to wait, and the agent from a clean address gets in.
    assert on["flood_status"].get(429, 0) > 0 and set(on["flood_status"]) <= {401, 429}
    assert on["login_status"] and set(on["login_status"]) == {302}
    # Limiter off: every guess is hashed and refused, none is told to wait.
    assert off["flood_status"] and set(off["flood_status"]) == {401}
    # Either way the probes kept getting answers while the flood ran (before hashing left the
    # hub, a couple of /healthz answers came back in the whole 10 s flood). A smoke check only:
    # how fast they come back is the benchmark's figure, not a test's (a loaded CI box answered
    # 17 and 7 in this 2 s run).
    for run in (on, off):
        assert run["healthz"]["count"] >= 3 and run["control"]["count"] >= 3, run
        assert set(run["control_status"]) <= {200, 409}
    table = login_flood.report(figures, login_flood.QUICK)
    assert "limiter on" in table and "goal: /healthz p99" in table


def test_the_figures_benchmark_counts_every_call_of_its_day():
    from bench import figures

    ms, cpu, result, paused = figures.measure(300, runs=1, days=2, pauses=True)
    assert ms > 0 and cpu > 0 and result["day"] == figures.DAY.isoformat()
    assert [where for where, _pause, _wall in paused] == ["threadpool (before)",
                                                         "own process (now)"]
    assert all(pause >= 0 and wall > 0 for _where, pause, wall in paused)
    assert result["totals"]["offered"] == 300
    assert sum(queue["offered"] for queue in result["queues"]) == 300
    assert result["totals"]["answered"] == sum(agent["handled"] for agent in result["agents"])


def test_the_metrics_benchmark_scrapes_every_agent_and_queue():
    from bench import metrics_scrape

    found = metrics_scrape.measure(2)
    assert (found["agents"], found["queues"]) == (metrics_scrape.AGENTS, metrics_scrape.QUEUES)
    assert found["median_ms"] > 0 and found["samples"] > 500


def test_the_records_benchmark_times_every_search_and_exports_every_call():
    from bench import records

    results = records.run(600, ["sqlite"], runs=2)
    figures = results["sqlite"]
    assert figures["calls"] == 600 and figures["export"]["rows"] == 600
    assert set(figures["searches"]) == set(records.searches(None, [], [], []))
    assert all(p50 > 0 and p99 >= p50 for p50, p99, _found in figures["searches"].values())
    assert figures["searches"]["everything"][2] == 600          # the total, counted
    assert figures["size_bytes"] > 0 and figures["export"]["rss_mb"] > 0
    assert "calls_numbers VIRTUAL TABLE" in figures["plans"]["number contains (5 digits)"]
    table = records.report(results, 600)
    assert "100th page by keyset" in table and "CSV export: 600 rows" in table


def test_the_login_lookup_benchmark_times_both_lookups(tmp_path):
    from bench import login_lookup

    figures = login_lookup.run(f"sqlite:///{tmp_path}/bench.db", 20)
    assert set(figures) == {"signed_in (columns)", "ORM rows"}
    assert all(value > 0 for value in figures.values())
