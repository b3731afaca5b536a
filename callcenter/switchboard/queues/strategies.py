"""PLACEHOLDER until the strategies module lands."""
from __future__ import annotations

import random
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from ...models import QueueStrategy


@dataclass(frozen=True)
class Candidate:
    agent_id: int
    level: int
    position: int
    idle_since: float
    talk_seconds: float
    calls: int


@dataclass(frozen=True)
class TierRules:
    wait_seconds: int = 0
    multiply: bool = False
    wait_empty: bool = False


def open_levels(levels: Iterable[int], free_levels: Collection[int], waited: float,
                rules: TierRules) -> set[int]:
    return set(levels)


def order(strategy, candidates: Sequence[Candidate], *, last_offered=None, rng=None):
    return sorted(candidates, key=lambda c: (c.idle_since, c.level, c.position, c.agent_id))


def rings_many(strategy) -> bool:
    return strategy in (QueueStrategy.RING_ALL, QueueStrategy.RING_PROGRESSIVELY)


def never_auto_answer(strategy) -> bool:
    return rings_many(strategy)


def progressive_count(elapsed: float, delay: float, total: int) -> int:
    return min(total, 1 + int(elapsed // delay)) if delay > 0 else total
