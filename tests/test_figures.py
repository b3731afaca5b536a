"""Each figure's definition on hand-made call histories (callcenter/figures/definitions.py),
the README's worked example exactly, and the edges: zero denominators, short abandons, calls
crossing midnight and interval edges, days with a DST change."""

from __future__ import annotations

import random
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from callcenter.clock import ManualClock
from callcenter.figures import definitions as d
from callcenter.figures.day import local_day
from callcenter.models import AgentState, AgentStatus
from callcenter.switchboard.agents import AgentView, Roster

UTC = ZoneInfo("UTC")
DAY = local_day(date(2026, 3, 10), UTC)
NINE = DAY.start + 9 * 3600
SALES = 1


def answered(wait: float, *, at: float = NINE, talk: int = 0, wrapup: float = 0.0,
             ended: bool = True) -> d.CallRow:
    return d.CallRow(SALES, at, at + wait, True, ended, "answered" if ended else None, talk,
                     wrapup)


def left(outcome: str, wait: float, *, at: float = NINE, queue: int = SALES) -> d.CallRow:
    return d.CallRow(queue, at, at + wait, False, True, outcome)


def figures(calls, threshold: float = 20, now: float = DAY.end) -> dict:
    return d.tally(calls, lambda _queue: threshold, now, DAY).get(SALES, d.Tally()).figures()


def readme_example() -> list[d.CallRow]:
    """The README's example: queue sales, threshold 20 s, eleven callers after 09:00."""
    waits_and_talks = [(5, 90), (10, 120), (15, 150), (20, 60), (30, 180), (40, 120)]
    return [answered(wait, at=NINE + n * 60, talk=talk, wrapup=30)
            for n, (wait, talk) in enumerate(waits_and_talks)] + [
        left("abandoned", 3, at=NINE + 400), left("abandoned", 12, at=NINE + 410),
        left("abandoned", 45, at=NINE + 420), left("timed_out", 60, at=NINE + 430),
        left("callback_requested", 25, at=NINE + 440)]


def test_the_readme_example():
    assert figures(readme_example()) == {
        "offered": 11, "answered": 6, "abandoned": 3, "short_abandoned": 1, "timed_out": 1,
        "overflowed": 0, "callbacks_requested": 1,
        "abandon_rate": 0.2,        # (3 - 1) / (11 - 1)
        "service_level": 0.5,       # 4 within 20 s / (6 answered + 1 late abandon + 1 timeout)
        "asa_s": 20.0,              # (5 + 10 + 15 + 20 + 30 + 40) / 6
        "aht_s": 150.0,             # (720 talk + 6 x 30 wrap-up) / 6
    }


def test_nothing_to_divide_is_none_not_zero():
    assert figures([]) | {} == {**dict.fromkeys(
        ("offered", "answered", "abandoned", "short_abandoned", "timed_out", "overflowed",
         "callbacks_requested"), 0), **dict.fromkeys(
        ("abandon_rate", "service_level", "asa_s", "aht_s"), None)}
    only_short = figures([left("abandoned", 2), left("abandoned", 4)])
    assert only_short["abandon_rate"] is None and only_short["service_level"] is None
    only_callbacks = figures([left("callback_requested", 90)])
    assert only_callbacks["service_level"] is None and only_callbacks["abandon_rate"] == 0.0
    talking = figures([answered(8, talk=0, ended=False)])
    assert talking["asa_s"] == 8.0 and talking["aht_s"] is None, \
        "a call still going has no handle time yet"


def test_a_short_abandon_is_within_five_seconds():
    at_five = figures([left("abandoned", 5.0), answered(1)])
    just_after = figures([left("abandoned", 5.001), answered(1)])
    assert at_five["short_abandoned"] == 1 and at_five["abandon_rate"] == 0.0
    assert just_after["short_abandoned"] == 0 and just_after["abandon_rate"] == 0.5
    # Below a threshold shorter than 5 s, a short abandon still stays out of the service level.
    assert figures([left("abandoned", 4), answered(1)], threshold=3)["service_level"] == 1.0
    assert figures([left("abandoned", 6), answered(1)], threshold=3)["service_level"] == 0.5


def test_the_threshold_itself_is_within_it():
    assert figures([answered(20), answered(20.5)])["service_level"] == 0.5
    # Abandoned within the threshold: neither side of the ratio; after it: a miss.
    assert figures([answered(3), left("abandoned", 19)])["service_level"] == 1.0
    assert figures([answered(3), left("abandoned", 21)])["service_level"] == 0.5
    assert figures([answered(3), left("overflowed", 30)])["service_level"] == 0.5


def test_a_caller_still_waiting_is_offered_but_not_yet_judged():
    waiting = d.CallRow(SALES, NINE, None, False, False, None)
    result = figures([waiting, answered(2)], now=NINE + 600)
    assert result["offered"] == 2 and result["service_level"] == 1.0
    assert result["abandon_rate"] == 0.0


def test_calls_belong_to_the_day_they_entered():
    before_midnight = d.CallRow(SALES, DAY.start - 10, DAY.start + 30, True, True, "answered",
                                60)
    last_minute = d.CallRow(SALES, DAY.end - 60, DAY.end + 30, True, True, "answered", 70)
    result = figures([before_midnight, last_minute])
    assert result["offered"] == 1 and result["asa_s"] == 90.0 and result["aht_s"] == 70.0
    rows = d.intervals([before_midnight, last_minute], DAY, lambda _q: 20, DAY.end,
                       {SALES: "sales"})
    everyone = [row for row in rows if row["queue"] is None]
    assert len(everyone) == 96
    assert everyone[0] == {"start": "2026-03-10T00:00:00+00:00", "queue": None, "offered": 0,
                           "answered": 0, "abandoned": 0, "service_level": None,
                           "peak_waiting": 1}, "yesterday's caller still waited at midnight"
    assert everyone[-1]["start"] == "2026-03-10T23:45:00+00:00"
    assert (everyone[-1]["offered"], everyone[-1]["peak_waiting"]) == (1, 1)


def test_a_call_entering_on_an_interval_edge_counts_in_the_interval_it_begins():
    calls = [left("abandoned", 30, at=NINE + 900), answered(10, at=NINE + 899.999)]
    rows = {row["start"]: row for row in d.intervals(calls, DAY, lambda _q: 20, DAY.end,
                                                     {SALES: "sales"}) if row["queue"]}
    assert rows["2026-03-10T09:00:00+00:00"]["answered"] == 1
    assert rows["2026-03-10T09:15:00+00:00"]["abandoned"] == 1
    # The first still waits as the second enters: two at once, in the later interval only.
    assert rows["2026-03-10T09:15:00+00:00"]["peak_waiting"] == 2
    assert rows["2026-03-10T09:00:00+00:00"]["peak_waiting"] == 1


def test_peak_waiting_is_the_most_callers_waiting_at_once():
    calls = [left("abandoned", 100, at=NINE), left("abandoned", 100, at=NINE + 50),
             left("abandoned", 50, at=NINE + 100),       # enters as the first leaves
             answered(10, at=NINE + 1000)]
    peaks = d.peak_waiting(calls, DAY, 96, DAY.end)
    assert peaks[36] == 2 and peaks[37] == 1 and peaks[35] == 0 and peaks[38] == 0
    still_waiting = d.CallRow(SALES, NINE, None, False, False, None)
    assert d.peak_waiting([still_waiting], DAY, 96, NINE + 2000)[36:40] == [1, 1, 1, 0]


def _peaks_by_counting(calls, count: int, now: float) -> dict:
    """The peak counted moment by moment: at each interval's start, the callers who entered
    before it and had not left the line before it; at each moment a caller enters within it,
    those who entered by then and have not left yet."""
    spans = [(call.queue_id, call.entered, call.left_line(now)) for call in calls]
    peaks = {}
    for key in {None} | {queue for queue, _, _ in spans}:
        mine = [(entered, gone) for queue, entered, gone in spans
                if key in (None, queue) and gone > entered]
        peaks[key] = []
        for index in range(count):
            start, end = DAY.interval_start(index), DAY.interval_start(index + 1)
            counts = [sum(entered < start <= gone for entered, gone in mine)]
            counts += [sum(entered <= moment < gone for entered, gone in mine)
                       for moment, _ in mine if start <= moment < end]
            peaks[key].append(max(counts))
    return peaks


@pytest.mark.parametrize("seed", range(5))
def test_the_peak_sweep_agrees_with_counting_at_every_moment(seed):
    """Whole seconds make callers enter and leave at the same instants; some entered the day
    before, some still wait."""
    rng = random.Random(seed)
    calls = []
    for _ in range(300):
        at = NINE + rng.randrange(-11 * 3600, 2 * 3600, 30)
        wait = rng.choice([0, 30, 60, 90, 600, 900, 4000])
        if rng.random() < 0.1:
            calls.append(d.CallRow(rng.randrange(1, 4), at, None, False, False, None))
        else:
            calls.append(left("abandoned", wait, at=at, queue=rng.randrange(1, 4)))
    now = NINE + 2 * 3600
    count = DAY.interval_of(now) + 1
    expected = _peaks_by_counting(calls, count, now)
    assert max(expected[None]) >= 3     # callers overlap: a sweep that got it wrong would show
    assert d.peaks_waiting(calls, DAY, count, now) == expected


def test_intervals_stop_at_now_and_list_every_queue_that_had_callers():
    calls = [answered(5, at=NINE), left("abandoned", 30, at=NINE + 60, queue=2)]
    rows = d.intervals(calls, DAY, lambda _q: 20, NINE + 1000, {SALES: "sales", 2: "billing"})
    assert [row["queue"] for row in rows] == [None] * 38 + ["billing"] * 38 + ["sales"] * 38
    assert rows[36] | {} == {"start": "2026-03-10T09:00:00+00:00", "queue": None, "offered": 2,
                             "answered": 1, "abandoned": 1, "service_level": 0.5,
                             "peak_waiting": 1}, "one waited 5 s, the other came a minute later"
    assert d.intervals(calls, DAY, lambda _q: 20, DAY.start - 1, {}) == []


@pytest.mark.parametrize(("day", "count", "around"), [
    (date(2026, 3, 29), 92, ["2026-03-29T01:45:00+01:00", "2026-03-29T03:00:00+02:00"]),
    (date(2026, 10, 25), 100, ["2026-10-25T02:45:00+02:00", "2026-10-25T02:00:00+01:00"]),
])
def test_a_dst_day_has_its_own_number_of_intervals(day, count, around):
    paris = local_day(day, ZoneInfo("Europe/Paris"))
    assert paris.interval_count == count
    labels = [paris.local(paris.interval_start(n)) for n in range(count)]
    assert labels[0].endswith("T00:00:00+01:00" if day.month == 3 else "T00:00:00+02:00")
    assert labels[-1].endswith("T23:45:00+02:00" if day.month == 3 else "T23:45:00+01:00")
    assert around[0] in labels and labels[labels.index(around[0]) + 1] == around[1]
    call = d.CallRow(SALES, paris.start + 3 * 3600, paris.start + 3 * 3600 + 4, True, False,
                     None)
    rows = d.intervals([call], paris, lambda _q: 20, paris.end, {SALES: "sales"})
    assert len(rows) == 2 * count
    entered = [row for row in rows if row["queue"] is None and row["offered"]]
    # Three hours after midnight: 04:00 in spring, the second 02:00 in autumn.
    assert entered[0]["start"] == ("2026-03-29T04:00:00+02:00" if day.month == 3
                                   else "2026-10-25T02:00:00+01:00")


# -- agents -------------------------------------------------------------------------------------

def agent_events(clock: ManualClock, script) -> list[d.AgentEvent]:
    """An agent's events as the switchboard's roster writes them, driven through `script`."""
    rows = []

    def noted(kind, at, *, agent_id, call_id, detail, prior_status, prior_state,
              prior_seconds):
        import json
        rows.append(d.AgentEvent(agent_id, at, kind.value, json.dumps(detail), prior_status.value,
                                 prior_state.value, prior_seconds))

    roster = Roster(clock, lambda *_: None, lambda *_: None, lambda: [], noted=noted)
    view = AgentView(7, "1007", "alice", AgentStatus.LOGGED_OUT, AgentState.IDLE, 30, False,
                     since=clock.now())
    roster.agents[7] = view
    script(roster, view, clock)
    return rows


def test_occupancy_and_time_in_each_status_and_state_from_the_roster_s_events():
    """The README's agent example: Available 09:00-12:00 with 1 h 30 of calls and 30 min of
    wrap-up; a 30 min break in between does not count."""
    clock = ManualClock(NINE - 600)

    def shift(roster: Roster, view: AgentView, clock: ManualClock) -> None:
        clock.advance(600)
        roster.set_status(7, AgentStatus.AVAILABLE)             # 09:00
        for n in range(3):                                      # three calls of 30 min
            clock.advance(1200)
            roster.set_state(view, AgentState.RINGING, f"c{n}")
            roster.set_state(view, AgentState.IN_CALL, f"c{n}")
            clock.advance(1800)
            roster.wrap_up(view, f"c{n}", 600)
            clock.advance(600)                                  # the wrap-up timer ends it
        roster.set_status(7, AgentStatus.ON_BREAK, "lunch")     # 12:00
        clock.advance(1800)
        roster.set_status(7, AgentStatus.LOGGED_OUT)

    events = agent_events(clock, shift)
    times = d.agent_times(events, DAY, now=DAY.end)
    handled = d.handled_by_agent([d.AgentPart(7, 1800, 0, 600)] * 3)
    [row] = d.agent_rows([7], times, handled=handled, missed={7: 1})
    # Logged out from 08:50 (when the roster first knew it) to 09:00, and after 12:30.
    logged_out = 600 + 86400 - 12.5 * 3600
    assert row["seconds"] == {"logged_out": logged_out, "available": 3 * 3600.0,
                              "on_break": 1800.0, "idle": logged_out + 3600 + 1800,
                              "reserved": 0.0, "ringing": 0.0, "in_call": 5400.0,
                              "wrap_up": 1800.0}
    assert row["occupancy"] == round(7200 / 10800, 4)
    assert (row["handled"], row["missed_offers"], row["aht_s"]) == (3, 1, 2400.0)
    wrap_ups = [(e.detail, e.prior_seconds) for e in events if e.prior_state == "wrap_up"]
    assert wrap_ups == [('{"state": "idle"}', 600)] * 3


def test_time_is_cut_at_midnight_and_runs_until_now():
    yesterday = DAY.start - 3600
    events = [
        d.AgentEvent(7, yesterday, "agent_status", '{"status": "available"}', "on_break",
                     "idle", 50),
        d.AgentEvent(7, DAY.start + 1800, "agent_state", '{"state": "in_call"}', "available",
                     "idle", 5400),
        d.AgentEvent(8, yesterday, "agent_status", '{"status": "on_break"}', "available", "idle",
                     10),
    ]
    times = d.agent_times(events, DAY, now=DAY.start + 3600)
    rows = {row["agent_id"]: row for row in d.agent_rows([7, 8], times, {}, {})}
    assert rows[7]["seconds"]["idle"] == 1800.0, "idle since yesterday 23:00, counted from 00:00"
    assert rows[7]["seconds"]["in_call"] == 1800.0, "in call from 00:30 until now"
    assert rows[7]["occupancy"] == 0.5
    assert rows[8]["seconds"]["on_break"] == 3600.0 and rows[8]["occupancy"] is None
    assert rows[8]["aht_s"] is None and rows[8]["handled"] == 0
    # The reader's way (a sum of the day's rows, then the edges) gives the same.
    summed = [d.AgentTime(7, "available", "idle", 5400)] + d.edges(
        [events[1]], [events[1], events[2]], DAY, DAY.start + 3600)
    assert d.agent_rows([7, 8], summed, {}, {}) == list(rows.values())


def test_a_day_in_a_dst_timezone_is_its_real_length():
    paris = local_day(date(2026, 3, 29), ZoneInfo("Europe/Paris"))
    event = d.AgentEvent(7, paris.start - 60, "agent_status", '{"status": "available"}',
                         "logged_out", "idle", 0)
    [row] = d.agent_rows([7], d.agent_times([event], paris, now=paris.end + 99), {}, {})
    assert row["seconds"]["available"] == 23 * 3600
    assert datetime.fromtimestamp(paris.start, ZoneInfo("Europe/Paris")).hour == 0


def test_each_agent_who_handled_a_transferred_call_gets_its_own_share():
    """alice talks 120 s to a customer (20 s of it on hold) and transfers it to bob, then wraps
    up 30 s; bob talks 200 s and wraps up 60 s, then takes a call of his own (100 s, 20 s of
    wrap-up); carol is still on her first call. The call's record names bob as its agent: the
    figures must not give him alice's share."""
    parts = [d.AgentPart(ALICE, 120, 20, 30), d.AgentPart(BOB, 200, 0, 60),
             d.AgentPart(BOB, 100, 0, 20), d.AgentPart(CAROL, None, 0, None)]
    rows = {row["agent_id"]: row
            for row in d.agent_rows([ALICE, BOB, CAROL], [], d.handled_by_agent(parts), {})}
    mine = {agent_id: (row["handled"], row["talk_s"], row["hold_s"], row["wrapup_s"],
                       row["aht_s"]) for agent_id, row in rows.items()}
    assert mine == {ALICE: (1, 120.0, 20.0, 30.0, 150.0),    # (120 + 30) / 1
                    BOB: (2, 300.0, 0.0, 80.0, 190.0),       # (200 + 60 + 100 + 20) / 2
                    CAROL: (1, 0.0, 0.0, 0.0, None)}         # handling it: nothing ended yet


ALICE, BOB, CAROL = 1, 2, 3
