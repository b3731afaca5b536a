"""Queues as the distributor reads them: their settings and tiers, loaded from the database
(admins change them there; the distributor reloads them after each change)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ...models import Queue, QueueStrategy, TimeoutAction
from .strategies import TierRules


@dataclass(frozen=True)
class Tier:
    agent_id: int
    level: int
    position: int


@dataclass(frozen=True)
class QueueSettings:
    id: int
    name: str
    strategy: QueueStrategy
    hold_music: str
    max_wait: int                 # seconds; 0: no limit
    max_wait_no_agent: int        # seconds with no agent Available; 0: no limit
    timeout_action: TimeoutAction
    timeout_target: str
    service_level: int
    priority: int
    answer_on_entry: bool
    agent_ring: int
    wrapup: int | None            # overrides the agents' own wrap-up time
    tier_rules: TierRules
    tiers: tuple[Tier, ...]

    @classmethod
    def of(cls, queue: Queue) -> QueueSettings:
        return cls(
            id=queue.id, name=queue.name, strategy=queue.strategy, hold_music=queue.hold_music,
            max_wait=queue.max_wait_seconds, max_wait_no_agent=queue.max_wait_no_agent_seconds,
            timeout_action=queue.timeout_action, timeout_target=queue.timeout_target,
            service_level=queue.service_level_seconds, priority=queue.priority,
            answer_on_entry=queue.answer_on_entry, agent_ring=queue.agent_ring_seconds,
            wrapup=queue.wrapup_seconds,
            tier_rules=TierRules(wait_seconds=queue.tier_wait_seconds,
                                 multiply=queue.tier_wait_multiply,
                                 wait_empty=queue.tier_wait_empty),
            tiers=tuple(sorted((Tier(t.agent_id, t.level, t.position) for t in queue.tiers),
                               key=lambda t: (t.level, t.position, t.agent_id))))


def load_queues(session_factory) -> Callable[[], dict[str, QueueSettings]]:
    """A loader reading every queue with its tiers."""
    def load() -> dict[str, QueueSettings]:
        with session_factory() as session:
            queues = session.scalars(select(Queue).options(selectinload(Queue.tiers))).all()
            return {queue.name: QueueSettings.of(queue) for queue in queues}
    return load
