"""Which agents a waiting caller is offered to, and in what order: the queue strategies and the
tier rules, as pure functions (no clock, no I/O: the queue engine passes everything in).

The engine asks `open_levels` which tier levels the caller may reach by now, gives `order` the
free agents of those levels as frozen `Candidate`s, and offers the call down the list it gets
back: to the first agent, or to several at once where `rings_many`. Lower levels come first in
every strategy but top-down's walk; equal keys fall back to (level, position, agent id), so the
same roster always gives the same order (random aside).

The strategies — mod_callcenter's nine, with its meaning unless said:
- ring_all: every free agent of the open levels rings at once; the first to answer takes the call.
- longest_idle_agent: the agent free for calls the longest (since wrap-up ended, or Available).
- round_robin: the agent after the one this queue offered a call to last, round his level.
- top_down: each caller walks down the list from the top; after a miss, on below, then round again.
- agent_with_least_talk_time: the agent with the least talk time today.
- agent_with_fewest_calls: the agent who answered the fewest calls today.
- sequentially_by_agent_order: the list from the top for every offer: the first free agent in it.
- random: a random free agent of the lowest level that has one.
- ring_progressively: rings down the list from the top, keeping the earlier agents ringing and
  adding the next every few seconds (`progressive_count`); the first to answer takes the call.

Top-down and sequentially differ in memory: sequentially starts every offer at the top, so an
agent who let a call ring out is offered it again as soon as he is free; top-down remembers,
for each caller, who he was last offered to and tries the agents below first.

Tier rules (the queue's tier_wait_* settings): the queue's first level is open at once; a
caller waits `wait_seconds` on each level before the next one joins (with `multiply`, that wait
times the level's rank: the 2nd level joins after 1 x wait, the 3rd 2 x wait later, ...); a
level with no Available agent is not waited on, unless `wait_empty`. 0 seconds: all at once.
Agents busy on a call count as Available here: a level whose agents are all on calls is waited
on (one will be free soon); a level whose agents are all on break or logged out is not.

Where ours is deliberately better than mod_callcenter:
- Candidates are free agents only, and every list ends by going round to the top, so nothing
  halts distribution: with top-down, an unavailable agent last in the list stopped mod_callcenter
  for good (signalwire/freeswitch #1216).
- Round-robin remembers per queue (mod_callcenter goes by each agent's last offer in any queue)
  and keeps levels first (mod_callcenter finishes a higher level's round before going back to a
  lower level with a free agent).
- Tier waits count the queue's levels in order, not their numbers (levels 10, 20, 30 wait like
  1, 2, 3), and are waited one level after another: mod_callcenter opens every later level at
  once after one wait, or with multiply opens level N after N x wait, and makes even the first
  level wait unless empty levels are skipped.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

from ...models import QueueStrategy

TierSpot = tuple[int, int]   # (level, position): where an agent sits in a queue's tiers


@dataclass(frozen=True, slots=True)
class Candidate:
    """A free agent in a queue's tiers, as the strategy sees it (a frozen view)."""
    agent_id: int
    level: int            # tier level: lower levels are tried first
    position: int         # position within the level
    idle_since: float     # clock time it last became free for calls (wrap-up ended, or Available)
    talk_seconds: float   # talk time today
    calls: int            # calls answered today


@dataclass(frozen=True, slots=True)
class TierRules:
    """When a waiting caller reaches the next tier level (the queue's tier_wait_* columns)."""
    wait_seconds: int = 0        # waited on each level before the next joins; 0: all at once
    multiply: bool = False       # the wait on a level times its rank among the queue's levels
    wait_empty: bool = False     # False: a level with no Available agent is not waited on

    def __post_init__(self) -> None:
        if self.wait_seconds < 0:
            raise ValueError(f"a tier wait cannot be negative ({self.wait_seconds} seconds)")


def open_levels(levels: Iterable[int], available_levels: Collection[int], waited: float,
                rules: TierRules) -> set[int]:
    """The tier levels a caller who has waited `waited` seconds may be offered to. `levels`: the
    queue's configured levels (all its tiers, whoever is in them); `available_levels`: the
    levels with an Available agent now, free or busy on a call (On break and logged-out agents
    do not count: an agent on a call is worth waiting for, one on a break is not)."""
    ranked = sorted(set(levels))
    if rules.wait_seconds == 0:
        return set(ranked)
    opened: set[int] = set()
    opens_at = 0.0            # how long the caller must have waited for the level walked
    for rank, level in enumerate(ranked, start=1):
        if opens_at and waited < opens_at:
            break
        opened.add(level)
        if rules.wait_empty or level in available_levels:
            opens_at += rules.wait_seconds * (rank if rules.multiply else 1)
    return opened


def _by_tier(c: Candidate) -> tuple:
    return (c.level, c.position, c.agent_id)


def _longest_idle(c: Candidate) -> tuple:
    return (c.level, c.idle_since, c.position, c.agent_id)


def _least_talk_time(c: Candidate) -> tuple:
    return (c.level, c.talk_seconds, c.position, c.agent_id)


def _fewest_calls(c: Candidate) -> tuple:
    return (c.level, c.calls, c.position, c.agent_id)


def _round_robin(last: TierSpot | None) -> Callable[[Candidate], tuple]:
    if last is None:
        return _by_tier
    last_level, last_position = last

    def key(c: Candidate) -> tuple:
        # In the last offered agent's level, those after him come before those up to him.
        return (c.level, c.level != last_level or c.position <= last_position,
                c.position, c.agent_id)
    return key


def _top_down(last: TierSpot | None) -> Callable[[Candidate], tuple]:
    if last is None:
        return _by_tier

    def key(c: Candidate) -> tuple:
        # Below the caller's last agent first (later levels too), then round from the top.
        return ((c.level, c.position) <= last, c.level, c.position, c.agent_id)
    return key


_FIXED_KEYS: dict[QueueStrategy, Callable[[Candidate], tuple]] = {
    QueueStrategy.RING_ALL: _by_tier,
    QueueStrategy.LONGEST_IDLE_AGENT: _longest_idle,
    QueueStrategy.AGENT_WITH_LEAST_TALK_TIME: _least_talk_time,
    QueueStrategy.AGENT_WITH_FEWEST_CALLS: _fewest_calls,
    QueueStrategy.SEQUENTIALLY_BY_AGENT_ORDER: _by_tier,
    QueueStrategy.RING_PROGRESSIVELY: _by_tier,
}

_shared_rng = random.Random()


def order(strategy: QueueStrategy, candidates: Sequence[Candidate], *,
          last_offered: TierSpot | None = None, caller_last_offered: TierSpot | None = None,
          rng: random.Random | None = None) -> list[Candidate]:
    """The free candidates in the order to offer them the call (a new list; the input is left
    as it is). Give it the free agents of the caller's open levels only.

    `last_offered`: (level, position) of the agent this queue offered a call to last —
    round-robin continues after it. `caller_last_offered`: (level, position) of the agent this
    caller was offered to last, None before his first offer — top-down continues after it.
    Other strategies ignore both. `rng`: random's draws (tests inject a seeded one)."""
    strategy = QueueStrategy(strategy)
    if strategy is QueueStrategy.RANDOM:
        draw = (rng or _shared_rng).random
        drawn = [(c.level, draw(), c.position, c.agent_id, c) for c in candidates]
        drawn.sort(key=lambda d: d[:4])
        return [d[4] for d in drawn]
    if strategy is QueueStrategy.ROUND_ROBIN:
        key = _round_robin(last_offered)
    elif strategy is QueueStrategy.TOP_DOWN:
        key = _top_down(caller_last_offered)
    else:
        key = _FIXED_KEYS[strategy]
    return sorted(candidates, key=key)


_RING_MANY = frozenset({QueueStrategy.RING_ALL, QueueStrategy.RING_PROGRESSIVELY})


def rings_many(strategy: QueueStrategy) -> bool:
    """Ring-all and ring-progressively ring several agents at once for one caller; the first
    to answer takes the call and the others' legs are cancelled."""
    return QueueStrategy(strategy) in _RING_MANY


def never_auto_answer(strategy: QueueStrategy) -> bool:
    """The strategies whose offers must not carry the auto-answer header: with several agents
    ringing at once, every browser would pick up."""
    return rings_many(strategy)


def progressive_count(elapsed: float, delay: float, total: int) -> int:
    """Ring-progressively: how many of the caller's `total` agents (in `order`) should be
    ringing `elapsed` seconds after the first one started: one, and one more every `delay`
    seconds. A delay of 0 rings them all at once, like ring-all."""
    if total < 0:
        raise ValueError(f"a number of agents cannot be negative ({total})")
    if delay < 0:
        raise ValueError(f"a ring-progressively delay cannot be negative ({delay} seconds)")
    if total == 0 or delay == 0:
        return total
    return min(total, 1 + int(max(elapsed, 0.0) // delay))
