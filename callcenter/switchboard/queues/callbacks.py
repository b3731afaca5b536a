"""Callbacks that keep the caller's place. A waiting caller presses its queue's callback key (or
reaches a closed queue whose closed action is a callback): it hears the confirmation and is hung
up (outcome callback_requested), and a request takes its place in the queue's line, at the
caller's entry time. When its turn comes, dispatch offers it to an agent like any caller (same
strategies, same ringing); the agent who answers dials the customer's number as click-to-dial
does (dialer.py: the same validated number, gateway and caller ID) and is bridged to it.

An attempt is one dial of the customer. Busy, no answer or failed: the request waits out the
queue's retry delay, then takes its place in line again; after the last retry it has failed. An
offer the agent misses or declines is no attempt: the request waits for the next agent.

Each attempt is a call of its own (kind callback, direction outbound, its queue set): it is made
when the request is first offered, and its CDR says how it ended. Requests live in the database
(the `callbacks` table, written through the store) and are read back into their lines at start
and after each resync. They are offered only while their queue is open.
"""

from __future__ import annotations

import logging
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ...clock import Timer
from ...errors import Conflict, NotFound
from ...esl import commands
from ...esl.protocol import Event
from ...models import Call as CallRow
from ...models import Callback as CallbackRow
from ...models import CallbackState, Direction, HangupBy, OfferOutcome, Outcome, Queue
from .. import messages
from ..legs import Call, CallKind, Happened, Leg, Progress
from ..persist import when
from . import hours
from .closed import CLOSED, CLOSED_MESSAGE_MAX_S
from .settings import CallbackRules, QueueSettings
from .waiting import FEATURE, Line, Waiting, waiting_of

if TYPE_CHECKING:
    from ..dialer import Dialer
    from .distributor import Distributor

log = logging.getLogger(__name__)

CALLBACK = "callback"         # call.features: the request an attempt's call serves
CALLER_NAME = "caller_name"   # call.features: the caller's name, as the carrier gave it
CHECK_S = 5.0                 # requests waiting out a retry delay or a closed queue are looked at
RECENT_KEPT = 50              # finished requests kept in memory for the supervisors' list
ACTIVE = (CallbackState.WAITING, CallbackState.OFFERED, CallbackState.DIALING)


@dataclass
class Request:
    """A callback request in memory; its row is written from it."""
    id: str
    call_id: str | None           # the call the caller made
    queue: str
    queue_id: int | None
    number: str
    caller_name: str
    entered: float                # when the caller entered the queue: its place in line
    requested: float
    state: CallbackState = CallbackState.WAITING
    attempts: int = 0
    next_attempt: float | None = None
    last_result: str | None = None
    agent_id: int | None = None
    callback_call_id: str | None = None
    done: float | None = None
    call: Call | None = None      # the attempt in line, ringing or dialling

    def row(self) -> dict:
        """The columns that change."""
        return dict(id=self.id, state=self.state, attempts=self.attempts,
                    next_attempt_at=when(self.next_attempt), last_result=self.last_result,
                    agent_id=self.agent_id, callback_call_id=self.callback_call_id,
                    done_at=when(self.done))


def dialable(number: str) -> str | None:
    """The caller's number if the dialer can dial it back (anonymous, empty or odd: None)."""
    try:
        return commands.valid_number(number.strip())
    except commands.CommandError:
        return None


class Callbacks:
    def __init__(self, distributor: Distributor, dialer: Dialer, *,
                 load: Callable[[], list[Request]],
                 publish: Callable[[dict, int | None], None]) -> None:
        self.distributor, self.dialer = distributor, dialer
        self.calls, self.legs, self.persist = distributor.calls, distributor.legs, \
            distributor.persist
        self.clock, self.audio, self.roster = distributor.clock, distributor.audio, \
            distributor.roster
        self._load, self._publish = load, publish
        self.requests: dict[str, Request] = {}      # not finished, by id
        self.recent: deque[Request] = deque(maxlen=RECENT_KEPT)
        self._check: Timer | None = None
        self.counts = {"requested": 0, "unavailable": 0, "attempts": 0, "done": 0, "failed": 0,
                       "cancelled": 0}
        distributor.callbacks = self

    # -- a caller asks -----------------------------------------------------------------------

    def pressed(self, call: Call, waiting: Waiting, event: Event) -> None:
        """A waiting caller pressed a key: its queue's callback key makes a request."""
        queue = self.distributor.queues.get(waiting.queue)
        rules = queue.callbacks if queue is not None else None
        if rules is None or not rules.key or event.get("DTMF-Digit") != rules.key \
                or call.outcome is not None or waiting.connected is not None:
            return
        number = dialable(call.number)
        if number is None:
            self.counts["unavailable"] += 1
            log.info("callback asked in %s by %r, which cannot be dialled back", queue.name,
                     commands.passable_text(call.number, 32), extra={"call_id": call.id})
            if rules.unavailable_message:
                self.audio.stop(call)
                self.audio.play(call, queue, rules.unavailable_message, "callback unavailable")
                self.audio.play(call, queue, queue.hold_music, "hold music")
            return
        now = self.clock.now()
        self.calls.decide(call, Outcome.CALLBACK_REQUESTED, "NORMAL_CLEARING", HangupBy.SYSTEM)
        self.distributor.cancel_offers(call, waiting, OfferOutcome.CANCELLED)
        self.distributor.leave_line(call, waiting, now)
        del call.features[FEATURE]      # no longer a queue's caller: its goodbye is all left
        self._request(call, queue, number, waiting.entered, now)
        self.audio.stop(call)
        self._goodbye(call, queue)

    def closed_queue(self, call: Call, queue: QueueSettings, now: float) -> bool:
        """A caller reached a closed queue whose closed action is a callback: a request,
        served once the queue opens. False when its number cannot be dialled back (the queue
        then hangs up as if its action were hang_up)."""
        number = dialable(call.number)
        if number is None:
            self.counts["unavailable"] += 1
            log.info("queue %s is closed, and %r cannot be called back", queue.name,
                     commands.passable_text(call.number, 32), extra={"call_id": call.id})
            return False
        self.persist.new_call(call, queue_id=queue.id, entered_at=when(now))
        self.calls.decide(call, Outcome.CALLBACK_REQUESTED, "NORMAL_CLEARING", HangupBy.SYSTEM)
        self._request(call, queue, number, now, now)
        if queue.callbacks.confirm_message and queue.answer_on_entry:
            self.calls.sender.api(commands.uuid_answer(call.customer_leg))
        self._goodbye(call, queue)
        return True

    def _request(self, call: Call, queue: QueueSettings, number: str, entered: float,
                 now: float) -> Request:
        request = Request(id=str(uuid.uuid4()), call_id=call.id, queue=queue.name,
                          queue_id=queue.id, number=number,
                          caller_name=call.features.get(CALLER_NAME, ""), entered=entered,
                          requested=now)
        self.requests[request.id] = request
        self.counts["requested"] += 1
        self.persist.callback_new(
            **request.row(), call_id=call.id, queue_id=queue.id, number=number,
            caller_name=request.caller_name, entered_at=when(entered), requested_at=when(now))
        log.info("callback requested in queue %s, keeping the place of %s", queue.name,
                 when(entered).isoformat(), extra={"call_id": call.id, "callback": request.id})
        self._publish(messages.callback_changed(request, now), None)
        self._line_up(request)
        return request

    def _goodbye(self, call: Call, queue: QueueSettings) -> None:
        """The confirmation, then hung up (on its PLAYBACK_STOP, as closed.py does); at once
        without one."""
        message = queue.callbacks.confirm_message
        if message and self.audio.play(call, queue, message, "callback confirmation"):
            call.features[CLOSED] = queue.name
            call.timers.append(self.clock.call_later(
                CLOSED_MESSAGE_MAX_S, self.distributor.closed.message_over, call))
            return
        self.calls.hang_up(call.customer_leg, "NORMAL_CLEARING")

    # -- in line -----------------------------------------------------------------------------

    def _line_up(self, request: Request) -> None:
        """The request takes its place in its queue's line, if its queue exists and is open
        and its retry delay is over; otherwise it is looked at again in a while."""
        queue = self.distributor.queues.get(request.queue)
        now = self.clock.now()
        if queue is None or not self._open(queue, now) \
                or (request.next_attempt is not None and request.next_attempt > now):
            self._arm_check()
            return
        call = Call(id=str(uuid.uuid4()), direction=Direction.OUTBOUND, agent_id=None,
                    number=request.number, kind=CallKind.CALLBACK,
                    caller_id=self.dialer.caller_id or "", created=now,
                    progress=Progress.WAITING)
        call.features[FEATURE] = Waiting(queue=queue.name, entered=request.entered,
                                         ready_since=now)
        call.features[CALLBACK] = request
        request.call, request.next_attempt = call, None
        self.distributor.lines.setdefault(queue.name, Line()).join(call)
        self.distributor.soon()
        self._arm_check()       # steps out if its queue closes before an agent is free

    def _open(self, queue: QueueSettings, now: float) -> bool:
        return hours.is_open(queue.schedule, datetime.fromtimestamp(now, UTC),
                             self.distributor.timezone)

    def _arm_check(self) -> None:
        if self._check is None:
            self._check = self.clock.call_later(CHECK_S, self._on_check)

    def _on_check(self) -> None:
        """Requests due (their delay over, their queue open) join their lines; one still idle
        in the line of a queue that closed meanwhile steps out until it opens."""
        self._check = None
        now = self.clock.now()
        for request in list(self.requests.values()):
            if request.state is not CallbackState.WAITING:
                continue
            call = request.call
            if call is None:
                self._line_up(request)
                continue
            queue = self.distributor.queues.get(request.queue)
            if call.id not in self.legs.calls and waiting_of(call).idle \
                    and (queue is None or not self._open(queue, now)):
                self._step_out(request)
        if any(r.state is CallbackState.WAITING for r in self.requests.values()):
            self._arm_check()

    def _step_out(self, request: Request) -> None:
        call, request.call = request.call, None
        line = self.distributor.lines.get(waiting_of(call).queue)
        if line is not None:
            line.leave(call)

    # -- offered, taken, dialled (the distributor's and the dialer's steps) -------------------

    def offering(self, call: Call, agent_id: int) -> None:
        """Dispatch is about to ring an agent with the request: its attempt's call exists from
        now (the offer's leg and row belong to it)."""
        request: Request = call.features[CALLBACK]
        if call.id not in self.legs.calls:
            self.legs.add_call(call)
            self.persist.new_call(call, queue_id=request.queue_id)
            request.callback_call_id = call.id
        request.state, request.agent_id = CallbackState.OFFERED, agent_id
        self._save(request)

    def on_leg(self, call: Call, leg: Leg, happened: Happened, event: Event) -> None:
        """The owner of callback calls: offers as the distributor has them, until an agent
        answers; from then on the dialer's click-to-dial."""
        waiting = waiting_of(call)
        if waiting is None:
            return
        if leg.uuid in waiting.offers:
            if happened is Happened.ANSWERED and call.outcome is None \
                    and waiting.connected is None:
                self._taken(call, waiting, leg)
                self.dialer.on_leg(call, leg, happened, event)
            else:
                self.distributor.offer_leg(call, waiting, leg, happened, event)
        elif waiting.connected is not None:
            self.dialer.on_leg(call, leg, happened, event)

    def _taken(self, call: Call, waiting: Waiting, leg: Leg) -> None:
        """The first agent to answer takes the request (the others' phones stop) and is about
        to dial the customer: an attempt."""
        distributor, request = self.distributor, call.features[CALLBACK]
        now = self.clock.now()
        agent_id = waiting.offers.pop(leg.uuid)
        waiting.connected, waiting.left = leg.uuid, now
        if leg.uuid in call.others:
            call.others.remove(leg.uuid)
        call.agent_leg, call.agent_id = leg.uuid, agent_id
        call.progress = Progress.DIALING_AGENT     # the dialer dials the customer from here
        queue = distributor.queues.get(waiting.queue)
        if queue is not None and queue.wrapup is not None:
            call.wrapup_seconds = queue.wrapup
        distributor.ledger.answered(agent_id)
        self.persist.offer_ended(leg.uuid, OfferOutcome.ANSWERED, now)
        distributor.cancel_offers(call, waiting, OfferOutcome.LOST_RACE)
        line = distributor.lines.get(waiting.queue)
        if line is not None:
            line.leave(call)
        self.persist.call_values(call.id, agent_id=agent_id)
        request.state, request.agent_id = CallbackState.DIALING, agent_id
        request.attempts += 1
        self.counts["attempts"] += 1
        self._save(request)
        agent = self.roster.agents.get(agent_id)
        if queue is not None and agent is not None:
            self._publish(distributor.offer_message(call, queue, agent, leg.uuid,
                                                    leg.uuid in waiting.auto_answer,
                                                    OfferOutcome.ANSWERED.value), agent_id)
        log.info("callback %s taken by agent %s: attempt %d", request.id,
                 agent.extension if agent else agent_id, request.attempts,
                 extra={"call_id": call.id, "callback": request.id})

    def finished(self, call: Call) -> None:
        """An attempt's call is over: the request is done, waits for the next agent (no agent
        took it), waits out its retry delay, or has failed after its last retry."""
        request: Request | None = call.features.get(CALLBACK)
        waiting = waiting_of(call)
        if request is None or waiting is None:
            return
        line = self.distributor.lines.get(waiting.queue)
        if line is not None:
            line.leave(call)
        if request.call is call:
            request.call = None
        now = self.clock.now()
        if waiting.connected is None:
            # No agent took it (finishing's default would say failed): the CDR says why.
            call.outcome = Outcome.CANCELLED if request.state is CallbackState.CANCELLED \
                else Outcome.AGENT_NO_ANSWER
            if request.state in ACTIVE:
                request.state, request.agent_id = CallbackState.WAITING, None
                self._save(request)
                self._line_up(request)
            return
        if call.bridged_at is not None and call.agent_id is not None:
            self.distributor.ledger.talked(call.agent_id, (call.ended_at or now) - call.bridged_at,
                                           self.distributor.ledger.day_of(now))
        request.last_result = call.outcome.value if call.outcome else None
        if call.outcome is Outcome.ANSWERED:
            self._finish(request, CallbackState.DONE, now)
            return
        rules = self._rules(request)
        if request.attempts > rules.retries:
            log.warning("callback %s for %s failed after %d attempts (last: %s)", request.id,
                        request.number, request.attempts, request.last_result,
                        extra={"call_id": call.id, "callback": request.id})
            self._finish(request, CallbackState.FAILED, now)
            return
        request.state, request.agent_id = CallbackState.WAITING, None
        request.next_attempt = now + rules.retry_delay
        log.info("callback %s: %s, tried again in %ds", request.id, request.last_result,
                 rules.retry_delay, extra={"call_id": call.id, "callback": request.id})
        self._save(request)
        self._line_up(request)

    def _rules(self, request: Request) -> CallbackRules:
        queue = self.distributor.queues.get(request.queue)
        return queue.callbacks if queue is not None else CallbackRules()

    def _finish(self, request: Request, state: CallbackState, now: float) -> None:
        request.state, request.done, request.next_attempt = state, now, None
        self.requests.pop(request.id, None)
        self.recent.appendleft(request)
        self.counts[state.value] += 1
        self._save(request)

    def _save(self, request: Request) -> None:
        self.persist.callback_values(**request.row())
        self._publish(messages.callback_changed(request, self.clock.now()), None)

    # -- supervisors ---------------------------------------------------------------------------

    def cancel(self, request_id: str) -> tuple[Request, CallbackState]:
        """A supervisor cancels a request that is waiting or ringing an agent (one being dialled
        is the agent's to finish). Returns it, and the state it was in (for the audit log, which
        the web layer writes)."""
        request = self.requests.get(request_id)
        if request is None:
            done = next((r for r in self.recent if r.id == request_id), None)
            if done is not None:
                raise Conflict(f"this callback is {done.state.value} already")
            raise NotFound("no such callback request waiting")
        if request.state is CallbackState.DIALING:
            raise Conflict("an agent is calling the customer back now")
        was, call = request.state, request.call
        self._finish(request, CallbackState.CANCELLED, self.clock.now())
        if call is not None:
            self._step_out(request)
            if call.id in self.legs.calls:      # ringing an agent: the offers end with it
                self.calls.decide(call, Outcome.CANCELLED, "ORIGINATOR_CANCEL", HangupBy.SYSTEM)
                self.distributor.cancel_offers(call, waiting_of(call), OfferOutcome.CANCELLED)
        return request, was

    def messages(self, now: float | None = None) -> list[dict]:
        """The requests not finished, oldest place first, then the recently finished."""
        now = self.clock.now() if now is None else now
        active = sorted(self.requests.values(), key=lambda r: r.entered)
        return [messages.callback(r, now) for r in (*active, *self.recent)]

    def figures(self) -> dict:
        return {"active": len(self.requests), **self.counts}

    # -- after a restart or a resync -----------------------------------------------------------

    def recover(self, channels: Iterable[dict], bridged: set[str]) -> None:
        """The router's hook after every resync (the first one at start): requests in the
        database that memory lacks are read back into their lines, at their places."""
        try:
            loaded = self._load()
        except SQLAlchemyError as exc:
            log.error("cannot read callback requests back: %s", exc)
            return
        now = self.clock.now()
        for request in loaded:
            if request.id in self.requests:
                continue
            if request.state is CallbackState.DIALING and self._talking(request):
                request.state, request.last_result = CallbackState.DONE, Outcome.ANSWERED.value
            if request.state is CallbackState.DONE:     # it got through before the stop
                self.requests[request.id] = request
                self._finish(request, CallbackState.DONE, now)
                continue
            if request.state is CallbackState.DIALING:
                # The controller stopped while the customer was being dialled; the loader says
                # whether the call got through (DONE) — otherwise it counts as tried.
                request.last_result = request.last_result or "interrupted"
                if request.attempts > self._rules(request).retries:
                    self.requests[request.id] = request
                    self._finish(request, CallbackState.FAILED, now)
                    continue
                request.next_attempt = now + self._rules(request).retry_delay
            request.state, request.agent_id = CallbackState.WAITING, None
            self.requests[request.id] = request
            self._save(request)
            log.info("callback %s read back into queue %s", request.id, request.queue,
                     extra={"callback": request.id})
            self._line_up(request)


    def _talking(self, request: Request) -> bool:
        """The request's attempt is a call the resync found bridged in FreeSWITCH."""
        call = self.legs.calls.get(request.callback_call_id or "")
        return call is not None and not call.ended \
            and any(leg.alive and leg.bridged_to for leg in self.legs.legs_of(call))


def load_callbacks(session_factory) -> Callable[[], list[Request]]:
    """A loader of the requests not finished. One being dialled whose call reached the
    customer (bridged) comes back done."""
    def load() -> list[Request]:
        with session_factory() as session:
            rows = session.scalars(select(CallbackRow).where(
                CallbackRow.state.in_(ACTIVE))).all()
            names = dict(session.execute(select(Queue.id, Queue.name)).all())
            found = []
            for row in rows:
                request = Request(
                    id=row.id, call_id=row.call_id, queue=names.get(row.queue_id, ""),
                    queue_id=row.queue_id, number=row.number, caller_name=row.caller_name,
                    entered=row.entered_at.timestamp(), requested=row.requested_at.timestamp(),
                    state=row.state, attempts=row.attempts,
                    next_attempt=row.next_attempt_at.timestamp() if row.next_attempt_at
                    else None, last_result=row.last_result, agent_id=row.agent_id,
                    callback_call_id=row.callback_call_id)
                if row.state is CallbackState.DIALING and row.callback_call_id:
                    call = session.get(CallRow, row.callback_call_id)
                    if call is not None and call.bridged_at is not None:
                        request.state = CallbackState.DONE
                        request.last_result = Outcome.ANSWERED.value
                found.append(request)
            return found
    return load
