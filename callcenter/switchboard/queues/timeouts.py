"""How long a caller may wait: a queue's longest wait, and its longest wait with no agent
Available (logged in, registered) to take the call. When either runs out the caller leaves the
queue by its timeout action: hung up, sent to another queue (keeping its entry time), or sent on
to a number."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ...esl import commands
from ...models import AgentStatus, HangupBy, OfferOutcome, Outcome, TimeoutAction
from ..agents import AgentView
from ..legs import Call, CallKind
from .audio import CallerAudio
from .settings import QueueSettings
from .waiting import Line, Waiting, waiting_of

if TYPE_CHECKING:
    from .distributor import Distributor

log = logging.getLogger(__name__)


class Timeouts:
    def __init__(self, distributor: Distributor, audio: CallerAudio) -> None:
        self.distributor, self.audio = distributor, audio
        self.calls, self.persist = distributor.calls, distributor.persist
        self.clock, self.sender = distributor.clock, distributor.sender
        self._staff: dict[str, set[int]] = {}             # queue -> its agents Available
        self._unstaffed_since: dict[str, float] = {}      # queue -> no agent Available since

    # -- the longest wait ------------------------------------------------------------------------

    def arm(self, call: Call, queue: QueueSettings) -> None:
        if queue.max_wait > 0:
            waiting = waiting_of(call)
            due = waiting.entered + queue.max_wait - self.clock.now()
            call.timers.append(self.clock.call_later(max(0.0, due), self._waited_too_long,
                                                     call, queue.name))

    def _waited_too_long(self, call: Call, name: str) -> None:
        waiting = waiting_of(call)
        if call.ended or waiting is None or waiting.connected or waiting.queue != name \
                or call.outcome is not None:
            return
        queue = self.distributor.queues.get(name)
        if queue is None:
            return
        self.time_out(call, waiting, queue)

    # -- the longest wait with no agent ----------------------------------------------------------

    def reset_staff(self) -> None:
        self._staff = {}

    def staffing(self, view: AgentView, queues: Iterable[QueueSettings], now: float) -> None:
        """Which queues have an agent Available: an agent's status or registration changed."""
        staffs = view.active and view.registered and view.status is AgentStatus.AVAILABLE
        for queue in queues:
            staff = self._staff.setdefault(queue.name, set())
            if staffs:
                staff.add(view.id)
                self._unstaffed_since.pop(queue.name, None)
            else:
                staff.discard(view.id)
                if not staff:
                    self._unstaffed_since.setdefault(queue.name, now)

    def check_unstaffed(self, queue: QueueSettings, line: Line, now: float) -> None:
        """The tick: callers of a queue nobody staffs leave once they waited its limit."""
        if queue.max_wait_no_agent <= 0:
            return
        since = self._unstaffed_since.get(queue.name)
        if since is None and not self._staff.get(queue.name):
            since = self._unstaffed_since.setdefault(queue.name, now)
        if since is None:
            return
        for call in line:
            waiting = waiting_of(call)
            if call.kind is CallKind.CALLBACK:
                continue    # a callback request waits for an agent, however long
            if now - max(since, waiting.entered) >= queue.max_wait_no_agent:
                self.time_out(call, waiting, queue)

    # -- leaving by the timeout action -----------------------------------------------------------

    def time_out(self, call: Call, waiting: Waiting, queue: QueueSettings) -> None:
        """The caller waited as long as the queue allows: hang up, or on to another queue or a
        number."""
        distributor = self.distributor
        now = self.clock.now()
        distributor.cancel_offers(call, waiting, OfferOutcome.CANCELLED)
        target = distributor.queues.get(queue.timeout_target)
        if queue.timeout_action is TimeoutAction.QUEUE and target is not None \
                and target.name != queue.name:
            log.info("caller waited %.0fs in %s: on to queue %s", now - waiting.entered,
                     queue.name, target.name, extra={"call_id": call.id})
            distributor.move(call, waiting, target, now)
            distributor.announcer.moved(call, target)
            self.arm(call, target)
            distributor.counts["overflowed"] += 1
            distributor.soon()
            return
        if queue.timeout_action is TimeoutAction.NUMBER and queue.timeout_target:
            self._overflow_to_number(call, waiting, queue, now)
            return
        distributor.counts["timed_out"] += 1
        log.info("caller waited %.0fs in %s: hanging up", now - waiting.entered, queue.name,
                 extra={"call_id": call.id})
        self.calls.decide(call, Outcome.TIMED_OUT, "ALLOTTED_TIMEOUT", HangupBy.SYSTEM)
        distributor.leave_line(call, waiting, now)
        self.calls.hang_up(call.customer_leg, "NORMAL_CLEARING")

    def _overflow_to_number(self, call: Call, waiting: Waiting, queue: QueueSettings,
                            now: float) -> None:
        """The caller is sent on to a number: the controller's own dialplan context bridges it
        through the carrier (the caller carries our cc_call_id, which that context requires).
        The call is then the carrier's; our CDR says overflowed."""
        distributor = self.distributor
        try:
            transfer = commands.uuid_transfer(call.customer_leg, queue.timeout_target)
        except commands.CommandError as exc:
            log.error("queue %s: timeout number %r refused: %s", queue.name,
                      queue.timeout_target, exc)
            transfer = None
        distributor.leave_line(call, waiting, now)
        if transfer is None:
            distributor.counts["timed_out"] += 1
            self.calls.decide(call, Outcome.TIMED_OUT, "ALLOTTED_TIMEOUT", HangupBy.SYSTEM)
            self.calls.hang_up(call.customer_leg, "NORMAL_CLEARING")
            return
        distributor.counts["overflowed"] += 1
        log.info("caller waited %.0fs in %s: sent on to %s", now - waiting.entered, queue.name,
                 queue.timeout_target, extra={"call_id": call.id})
        self.calls.decide(call, Outcome.OVERFLOWED, None, HangupBy.SYSTEM)
        self.audio.stop(call)
        self.sender.api(transfer)
