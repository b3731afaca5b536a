"""Queues as the distributor reads them: their settings and tiers, loaded from the database
(admins change them there; the distributor reloads them after each change)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ...errors import InvalidInput
from ...models import Queue, QueueStrategy, TimeoutAction
from .hours import Schedule, schedule_of
from .strategies import TierRules

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tier:
    agent_id: int
    level: int
    position: int


@dataclass(frozen=True)
class CallbackRules:
    """A queue's callbacks (callbacks.py): the key a waiting caller presses ("" for none), how
    many more attempts an unreachable callback gets and after how many seconds, and what the
    caller hears ("" for nothing)."""
    key: str = ""
    retries: int = 2
    retry_delay: int = 300
    confirm_message: str = ""
    unavailable_message: str = ""


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
    schedule: Schedule = Schedule()     # open hours; the default is always open
    closed_action: TimeoutAction = TimeoutAction.HANG_UP
    closed_target: str = ""
    closed_message: str = ""            # played before a closed queue hangs up; "" for none
    callbacks: CallbackRules = CallbackRules()
    # What a waiting caller is told (announcer.py); "" and 0 for nothing.
    greeting: str = ""
    announcement: str = ""
    announce_every: int = 0             # seconds between two announcements
    announce_position: bool = False
    announce_wait: bool = False
    position_every: int = 0             # seconds between two tellings of place and wait

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
                               key=lambda t: (t.level, t.position, t.agent_id))),
            schedule=_schedule(queue), closed_action=queue.closed_action,
            closed_target=queue.closed_target, closed_message=queue.closed_message,
            callbacks=CallbackRules(
                key=queue.callback_key, retries=queue.callback_retries,
                retry_delay=queue.callback_retry_delay_seconds,
                confirm_message=queue.callback_confirm_message,
                unavailable_message=queue.callback_unavailable_message),
            greeting=queue.greeting, announcement=queue.announcement,
            announce_every=queue.announce_seconds, announce_position=queue.announce_position,
            announce_wait=queue.announce_wait, position_every=queue.position_seconds)


def _schedule(queue: Queue) -> Schedule:
    """queue_config checked the hours before storing them; a row edited by hand that no longer
    reads keeps its queue open rather than stopping every queue from loading."""
    try:
        return schedule_of(queue.open_hours, queue.holidays)
    except InvalidInput as exc:
        log.error("queue %s: its open hours do not read (%s): open at all hours", queue.name,
                  exc)
        return Schedule()


def load_queues(session_factory) -> Callable[[], dict[str, QueueSettings]]:
    """A loader reading every queue with its tiers."""
    def load() -> dict[str, QueueSettings]:
        with session_factory() as session:
            queues = session.scalars(select(Queue).options(selectinload(Queue.tiers))).all()
            return {queue.name: QueueSettings.of(queue) for queue in queues}
    return load
