"""Open hours at a queue's door: a new caller joins its queue while it is open; when it is
closed, the queue's closed action applies — another queue (if that one is open, else its own
closed action, and so on), a number, or the queue's message and then goodbye. Only new callers
are turned away: those already waiting when a queue closes are served."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ...esl import commands
from ...models import HangupBy, Outcome, TimeoutAction
from ..legs import Call
from ..persist import when
from . import hours
from .audio import CallerAudio
from .settings import QueueSettings

if TYPE_CHECKING:
    from .distributor import Distributor

log = logging.getLogger(__name__)

CLOSED = "closed"             # call.features: the caller hears a closed queue's message
CLOSED_MESSAGE_MAX_S = 120.0  # hang up then even if the message's end was never reported


class ClosedQueues:
    def __init__(self, distributor: Distributor, audio: CallerAudio) -> None:
        self.distributor, self.audio = distributor, audio
        self.calls, self.persist = distributor.calls, distributor.persist
        self.clock, self.sender = distributor.clock, distributor.sender

    def route(self, call: Call, queue: QueueSettings, now: float) -> QueueSettings | None:
        """The queue a new caller joins, or None when a closed queue hung it up or sent it to
        a number."""
        at = datetime.fromtimestamp(now, UTC)
        passed: list[str] = []
        while not hours.is_open(queue.schedule, at, self.distributor.timezone):
            passed.append(queue.name)
            target = self.distributor.queues.get(queue.closed_target)
            if queue.closed_action is not TimeoutAction.QUEUE or target is None \
                    or target.name in passed:     # queue_config refuses rings; never loop
                self._closed(call, queue, now)
                return None
            log.info("queue %s is closed: caller sent on to queue %s", queue.name, target.name,
                     extra={"call_id": call.id})
            queue = target
        return queue

    def _closed(self, call: Call, queue: QueueSettings, now: float) -> None:
        """A closed queue's caller: sent on to a number, or hung up after the queue's
        message (on its PLAYBACK_STOP; at the latest after CLOSED_MESSAGE_MAX_S)."""
        callbacks = self.distributor.callbacks
        if queue.closed_action is TimeoutAction.CALLBACK and callbacks is not None \
                and callbacks.closed_queue(call, queue, now):
            return      # a callback request, served when the queue opens
        self.distributor.counts["closed"] += 1
        self.persist.new_call(call, queue_id=queue.id, entered_at=when(now))
        self.calls.decide(call, Outcome.CLOSED, "NORMAL_CLEARING", HangupBy.SYSTEM)
        leg = call.customer_leg
        if queue.closed_action is TimeoutAction.NUMBER and queue.closed_target:
            try:
                self.sender.api(commands.uuid_transfer(leg, queue.closed_target))
                log.info("queue %s is closed: caller sent on to %s", queue.name,
                         queue.closed_target, extra={"call_id": call.id})
                return
            except commands.CommandError as exc:
                log.error("queue %s: closed target %r refused: %s", queue.name,
                          queue.closed_target, exc)
        if queue.closed_message:
            if queue.answer_on_entry:
                self.sender.api(commands.uuid_answer(leg))
            if self.audio.play(call, queue, queue.closed_message, "closed message"):
                log.info("queue %s is closed: caller hears its message", queue.name,
                         extra={"call_id": call.id})
                call.features[CLOSED] = queue.name
                call.timers.append(self.clock.call_later(CLOSED_MESSAGE_MAX_S,
                                                         self.message_over, call))
                return
        log.info("queue %s is closed: caller hung up", queue.name, extra={"call_id": call.id})
        self.calls.hang_up(leg, "NORMAL_CLEARING")

    def message_over(self, call: Call) -> None:
        """The closed message played to its end (or its time is up): goodbye."""
        if call.features.pop(CLOSED, None) is not None and not call.ended:
            self.calls.hang_up(call.customer_leg, "NORMAL_CLEARING")
