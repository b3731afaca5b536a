"""The queue strategies and tier rules (switchboard/queues/strategies.py), on hand-made rosters.

Every expected order below is worked out by hand from the strategy's definition in the
module's docstring, never by running the code.
"""

from __future__ import annotations

import itertools
import random

import pytest

from callcenter.models import QueueStrategy
from callcenter.switchboard.queues.strategies import (
    Candidate,
    TierRules,
    never_auto_answer,
    open_levels,
    order,
    progressive_count,
    rings_many,
)

S = QueueStrategy

# The frozen roster: three agents on level 1, two on level 2.
#             agent  level pos  idle since  talk s  calls
A = Candidate(11,    1,    1,   300.0,      500.0,  5)
B = Candidate(12,    1,    2,   100.0,      200.0,  9)
C = Candidate(13,    1,    3,   200.0,      900.0,  2)
D = Candidate(21,    2,    1,    50.0,      100.0,  1)   # idle longest of all, but level 2
E = Candidate(22,    2,    2,   400.0,       50.0,  7)   # least talk of all, but level 2
ROSTER = (E, C, A, D, B)                                  # as the engine might list them


def names(candidates):
    by_id = {A.agent_id: "A", B.agent_id: "B", C.agent_id: "C", D.agent_id: "D", E.agent_id: "E"}
    return "".join(by_id[c.agent_id] for c in candidates)


# --- each strategy on the roster -------------------------------------------------------------

@pytest.mark.parametrize("strategy, expected", [
    (S.RING_ALL, "ABCDE"),                       # everyone, originated in tier order
    (S.SEQUENTIALLY_BY_AGENT_ORDER, "ABCDE"),    # the list from the top
    (S.RING_PROGRESSIVELY, "ABCDE"),             # down the list from the top
    (S.LONGEST_IDLE_AGENT, "BCADE"),             # level 1 by idle since 100, 200, 300; then D, E
    (S.AGENT_WITH_LEAST_TALK_TIME, "BACED"),     # level 1 by talk 200, 500, 900; then E 50, D 100
    (S.AGENT_WITH_FEWEST_CALLS, "CABDE"),        # level 1 by calls 2, 5, 9; then D 1, E 7
])
def test_each_strategy_orders_the_roster_by_its_definition(strategy, expected):
    assert names(order(strategy, ROSTER)) == expected


@pytest.mark.parametrize("last_offered, expected", [
    (None, "ABCDE"),       # nobody offered yet: from the top
    ((1, 1), "BCADE"),     # after A in level 1, round to A; level 2 as it is
    ((1, 2), "CABDE"),     # after B
    ((1, 3), "ABCDE"),     # after C, the last of level 1: round to A
    ((2, 1), "ABCED"),     # after D: level 1 still first, then E, round to D
    ((1, 9), "ABCDE"),     # the last offered agent left the tiers: round to the top of his level
])
def test_round_robin_continues_after_the_queues_last_offered_agent(last_offered, expected):
    assert names(order(S.ROUND_ROBIN, ROSTER, last_offered=last_offered)) == expected


@pytest.mark.parametrize("caller_last_offered, expected", [
    (None, "ABCDE"),       # the caller's first offer: from the top
    ((1, 2), "CDEAB"),     # he was offered to B: on below him, level 2 too, then round
    ((2, 1), "EABCD"),     # offered to D: E, then round from the top
    ((2, 2), "ABCDE"),     # offered to E, the last: round to the top
    ((2, 7), "ABCDE"),     # offered to an agent last in the list who is gone now (#1216)
])
def test_top_down_walks_each_caller_down_the_list(caller_last_offered, expected):
    assert names(order(S.TOP_DOWN, ROSTER, caller_last_offered=caller_last_offered)) == expected


def test_top_down_goes_by_the_callers_memory_and_round_robin_by_the_queues():
    # The queue's last offer steers round-robin only; the caller's steers top-down only.
    assert names(order(S.TOP_DOWN, ROSTER, last_offered=(1, 1))) == "ABCDE"
    assert names(order(S.ROUND_ROBIN, ROSTER, caller_last_offered=(1, 1))) == "ABCDE"
    # Sequentially has no memory at all: the agent who was just offered the call is first again.
    assert names(order(S.SEQUENTIALLY_BY_AGENT_ORDER, ROSTER, last_offered=(1, 1),
                       caller_last_offered=(1, 1))) == "ABCDE"


def test_random_shuffles_within_each_level_and_every_order_occurs():
    rng = random.Random(15)
    seen = {names(order(S.RANDOM, ROSTER, rng=rng)) for _ in range(2000)}
    level_one = {"".join(p) for p in itertools.permutations("ABC")}
    level_two = {"DE", "ED"}
    assert seen == {first + second for first in level_one for second in level_two}


def test_random_takes_its_draws_from_the_given_generator():
    def twenty_orders(rng):
        return [names(order(S.RANDOM, ROSTER, rng=rng)) for _ in range(20)]
    assert twenty_orders(random.Random(1)) == twenty_orders(random.Random(1))


# --- ties, and every strategy keeps every agent ---------------------------------------------

def test_equal_keys_fall_back_to_level_position_and_agent():
    # Same idle time, talk time and calls: only the tier spot and the agent id tell them apart.
    x = Candidate(7, 1, 2, 10.0, 0.0, 0)
    y = Candidate(5, 1, 2, 10.0, 0.0, 0)
    z = Candidate(9, 1, 1, 10.0, 0.0, 0)
    for strategy in (S.LONGEST_IDLE_AGENT, S.AGENT_WITH_LEAST_TALK_TIME,
                     S.AGENT_WITH_FEWEST_CALLS, S.SEQUENTIALLY_BY_AGENT_ORDER, S.RING_ALL):
        assert [c.agent_id for c in order(strategy, (x, y, z))] == [9, 5, 7]


def _rosters(rng, count):
    """Rosters full of ties: few levels, positions and values, agents sharing all of them."""
    for _ in range(count):
        size = rng.randrange(0, 12)
        yield [Candidate(agent_id=rng.randrange(1000), level=rng.randrange(1, 3),
                         position=rng.randrange(1, 4), idle_since=float(rng.randrange(3)),
                         talk_seconds=float(rng.randrange(3)), calls=rng.randrange(3))
               for _ in range(size)]


@pytest.mark.parametrize("strategy", list(S))
def test_every_strategy_returns_a_permutation_of_its_candidates(strategy):
    rng = random.Random(str(strategy))
    for roster in _rosters(rng, 300):
        memory = (rng.randrange(1, 3), rng.randrange(0, 5))
        frozen = tuple(roster)
        result = order(strategy, frozen, last_offered=memory, caller_last_offered=memory,
                       rng=rng)
        assert sorted(result, key=id) == sorted(roster, key=id)
        assert tuple(roster) == frozen              # the input is left as it was


@pytest.mark.parametrize("strategy", list(S))
def test_no_candidates_no_order(strategy):
    assert order(strategy, [], last_offered=(1, 1), caller_last_offered=(1, 1)) == []


def test_an_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="round-robin"):
        order("round-robin", ROSTER)


# --- ringing several agents ------------------------------------------------------------------

def test_only_ring_all_and_ring_progressively_ring_many_and_never_auto_answer():
    many = {S.RING_ALL, S.RING_PROGRESSIVELY}
    assert {s for s in S if rings_many(s)} == many
    assert {s for s in S if never_auto_answer(s)} == many


@pytest.mark.parametrize("elapsed, expected", [
    (0, 1), (9.9, 1), (10, 2), (19.9, 2), (25, 3), (30, 4), (500, 4), (-3, 1),
])
def test_ring_progressively_adds_an_agent_every_delay(elapsed, expected):
    assert progressive_count(elapsed, 10, 4) == expected


def test_ring_progressively_edges():
    assert progressive_count(50, 10, 0) == 0           # nobody to ring
    assert progressive_count(0, 0, 3) == 3             # no delay: all at once, like ring-all
    with pytest.raises(ValueError, match="negative"):
        progressive_count(0, -1, 3)
    with pytest.raises(ValueError, match="negative"):
        progressive_count(0, 10, -1)


# --- tier rules ------------------------------------------------------------------------------

LEVELS = [1, 2, 3]
EVERY_LEVEL_STAFFED = {1, 2, 3}


@pytest.mark.parametrize("waited", [0, 30, 1000])
def test_no_tier_wait_opens_every_level_at_once(waited):
    assert open_levels(LEVELS, set(), waited, TierRules()) == {1, 2, 3}


@pytest.mark.parametrize("waited, expected", [
    (0, {1}), (29.9, {1}), (30, {1, 2}), (59.9, {1, 2}), (60, {1, 2, 3}),
])
def test_each_level_joins_one_wait_after_the_one_before(waited, expected):
    rules = TierRules(wait_seconds=30)
    assert open_levels(LEVELS, EVERY_LEVEL_STAFFED, waited, rules) == expected


@pytest.mark.parametrize("waited, expected", [
    (29.9, {1}), (30, {1, 2}),            # 1 x 30 on the first level
    (89.9, {1, 2}), (90, {1, 2, 3}),      # then 2 x 30 on the second
])
def test_multiplied_waits_grow_with_the_level(waited, expected):
    rules = TierRules(wait_seconds=30, multiply=True)
    assert open_levels(LEVELS, EVERY_LEVEL_STAFFED, waited, rules) == expected


def test_waits_count_the_queues_levels_not_their_numbers():
    rules = TierRules(wait_seconds=30, multiply=True)
    assert open_levels([10, 20, 30], {10, 20, 30}, 30, rules) == {10, 20}
    assert open_levels([30, 10, 20, 10], {10, 20, 30}, 90, rules) == {10, 20, 30}


@pytest.mark.parametrize("waited, expected", [
    (0, {1, 2}),           # level 1 has nobody Available: level 2 joins at once
    (29.9, {1, 2}),
    (30, {1, 2, 3}),       # level 2 is waited on
])
def test_a_level_with_no_available_agent_is_not_waited_on(waited, expected):
    rules = TierRules(wait_seconds=30)
    assert open_levels(LEVELS, {2, 3}, waited, rules) == expected


def test_several_empty_levels_in_a_row_are_all_skipped():
    assert open_levels(LEVELS, {3}, 0, TierRules(wait_seconds=30)) == {1, 2, 3}


@pytest.mark.parametrize("waited, expected", [(0, {1}), (29.9, {1}), (30, {1, 2})])
def test_with_wait_empty_an_empty_level_is_waited_on(waited, expected):
    rules = TierRules(wait_seconds=30, wait_empty=True)
    assert open_levels(LEVELS, {2, 3}, waited, rules) == expected


def test_the_first_level_is_always_open():
    rules = TierRules(wait_seconds=30, multiply=True, wait_empty=True)
    assert open_levels(LEVELS, set(), 0, rules) == {1}
    assert open_levels(LEVELS, EVERY_LEVEL_STAFFED, -2, rules) == {1}    # a clock stepping back
    assert open_levels([], set(), 100, rules) == set()                   # a queue with no tiers


def test_a_negative_tier_wait_is_refused():
    with pytest.raises(ValueError, match="negative"):
        TierRules(wait_seconds=-1)
