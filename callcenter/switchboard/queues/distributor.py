"""The automatic call distributor: inbound callers parked by the dialplan with `cc_queue` are
claimed, wait in their queue's line hearing hold music, and are offered to free agents by the
queue's strategy; the first agent to answer is bridged to the caller.

The rules mod_callcenter breaks and we keep (each has a test):
- a caller who leaves while an agent's phone rings (or before its leg even exists) takes the
  offer with it: the agent leg is hung up the moment it exists, never left to ring alone;
- when several agents answer one caller at once, exactly one is bridged and every other is
  released at once: nobody stays Reserved;
- only free agents are candidates, so an unavailable agent anywhere in the tiers never halts
  distribution;
- a caller's place in the line ends with its channel: an answered or abandoned caller never
  stays listed.

Dispatch runs soon after anything that can match a caller with an agent (a caller enters, an
agent becomes free, an offer ends, a tier level opens), once for all of them.

Its parts, one job each: closed.py (open hours at the door), audio.py (what a waiting caller
hears), announcer.py (what it is told while it waits, and when; estimate.py its wait),
timeouts.py (how long a caller may wait, and where it goes then), recovery.py (callers
found again after a restart), strategies.py (who is offered a caller), ledger.py (agents'
figures for the strategies), callbacks.py (a caller's request to be called back, in line at its
place; it plugs itself in as `callbacks`).
"""

from __future__ import annotations

import heapq
import logging
import random
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from ...clock import Timer
from ...errors import Conflict, InvalidInput
from ...esl import commands
from ...esl.connection import ESLError
from ...esl.protocol import Event
from ...models import (
    AgentState,
    AgentStatus,
    Direction,
    HangupBy,
    LegRole,
    OfferOutcome,
    Outcome,
    QueueStrategy,
)
from .. import messages
from ..agents import AgentView, Roster
from ..calls import Calls, hung_up_by, job_cause
from ..legs import COMING_UP, Call, CallKind, Happened, Leg, Progress
from ..offers import Offers, refusal
from ..persist import Persist, when
from ..stats import Latency
from ..web_calls import guest_of, offer_variables
from . import strategies
from .announcer import Announcer
from .audio import CallerAudio
from .callbacks import CALLER_NAME, Callbacks
from .closed import ClosedQueues
from .ledger import Ledger
from .recovery import Recovery, number
from .settings import QueueSettings
from .timeouts import Timeouts
from .waiting import FEATURE, Line, Waiting, waiting_of

if TYPE_CHECKING:
    from ..web_calls import WebCalls

log = logging.getLogger(__name__)

TICK_S = 1.0                 # tier levels opening, ring-progressively, waits with no agent
PROGRESSIVE_DELAY_S = 10.0   # ring-progressively: the next agent joins after this long
MISSED_CALLS = "missed calls"

# How an offer's leg ended, by FreeSWITCH's cause, when the agent did not take the call.
_DECLINED = frozenset({"CALL_REJECTED", "USER_BUSY", "DECLINED"})


class CallerError(Conflict):
    """A supervisor's move of a waiting caller that cannot be done now; the message says why."""


def offer_outcome(cause: str | None) -> OfferOutcome:
    return OfferOutcome.DECLINED if cause in _DECLINED else OfferOutcome.MISSED


class Distributor:
    def __init__(self, *, calls: Calls, offers: Offers, roster: Roster, persist: Persist,
                 load: Callable[[], dict[str, QueueSettings]], changed: Callable[[Call], None],
                 publish: Callable[[dict, int | None], None], gateway: str,
                 defer: Callable[[Callable[[], None]], None],
                 settled: Callable[[Call], None],
                 rng: random.Random | None = None, timezone: str = "UTC") -> None:
        self.calls, self.offers, self.roster, self.persist = calls, offers, roster, persist
        self.legs, self.sender, self.clock = calls.legs, calls.sender, calls.clock
        self._load, self._changed, self._publish = load, changed, publish
        self._settled = settled    # settled(call): finish it if its last leg is gone
        self.gateway = gateway
        self._defer = defer
        self.rng = rng or random.Random()
        self.timezone = ZoneInfo(timezone)      # the site's: open hours are read in it
        self.queues: dict[str, QueueSettings] = {}
        self.lines: dict[str, Line] = {}
        self.ledger = Ledger()
        self._by_agent: dict[int, list[QueueSettings]] = {}   # agent -> its queues
        self._last_offered: dict[str, tuple[int, int]] = {}   # round-robin memory per queue
        self._free: set[int] = set()         # Available, Idle, registered agents
        self._available: set[int] = set()
        self._dispatch_due = False
        self._dispatching = False
        self._tick: Timer | None = None
        # Figures.
        self.dispatch = Latency()        # a caller waiting and an agent free -> originate sent
        self.answer_to_bridge = Latency()
        self.counts = {"entered": 0, "answered": 0, "abandoned": 0, "timed_out": 0,
                       "overflowed": 0, "offers": 0, "missed": 0, "declined": 0,
                       "lost_race": 0, "cancelled": 0, "unknown_queue": 0, "closed": 0}
        self.audio = CallerAudio(calls)
        self.announcer = Announcer(self, self.audio)
        self.closed = ClosedQueues(self, self.audio)
        self.timeouts = Timeouts(self, self.audio)
        self.recovery = Recovery(self)
        self.callbacks: Callbacks | None = None     # callbacks.py plugs itself in
        self.web_calls: WebCalls | None = None      # the board plugs web_calls.py in
        roster.listeners.append(self._agent_changed)

    # -- settings --------------------------------------------------------------------------------

    def reload(self) -> None:
        """Read queues and tiers again (an admin changed them): waiting callers keep their
        place; a queue that is gone keeps its callers until they leave."""
        self.queues = self._load()
        by_agent: dict[int, list[QueueSettings]] = {}
        for queue in self.queues.values():
            self.lines.setdefault(queue.name, Line())
            for tier in queue.tiers:
                by_agent.setdefault(tier.agent_id, []).append(queue)
        self._by_agent = by_agent
        self.timeouts.reset_staff()
        for view in self.roster.agents.values():
            self._agent_changed(view)
        self.soon()

    # -- claiming callers ------------------------------------------------------------------------

    def claim(self, event: Event) -> Call | None:
        """An unknown leg's event: an inbound caller the dialplan parked with cc_queue is ours."""
        if event.name != "CHANNEL_PARK" or event.get("Call-Direction") != "inbound":
            return None
        name = event.get("variable_cc_queue") or ""
        if not name:
            return None
        entered = number(event.get("variable_cc_queue_entered"))
        call_id = event.get("variable_cc_call_id") or None
        guest = guest_of(lambda name: event.get("variable_" + name))
        return self.enter(event.uuid, name, caller=event.get("Caller-Caller-ID-Number") or "",
                           caller_name=event.get("Caller-Caller-ID-Name") or "",
                           did=event.get("Caller-Destination-Number") or "",
                           entered=entered, call_id=call_id, guest=guest)

    def enter(self, leg_uuid: str, name: str, *, caller: str, caller_name: str, did: str,
               entered: float | None, call_id: str | None,
               guest: tuple[str, str] | None = None) -> Call | None:
        """`guest`: a website call's (visitor token, widget id) (web_calls.py)."""
        queue = self.queues.get(name)
        if queue is None:
            self.reload()   # added a moment ago?
            queue = self.queues.get(name)
        now = self.clock.now()
        call = Call(id=call_id or str(uuid.uuid4()), direction=Direction.INBOUND, agent_id=None,
                    number=caller[:64], caller_id=commands.passable_text(did, 32),
                    kind=CallKind.QUEUED, created=now, progress=Progress.WAITING)
        call.features[CALLER_NAME] = commands.passable_text(caller_name, 64)
        if guest is not None and self.web_calls is not None:
            self.web_calls.arrived(call, *guest, entered=entered)
        self.legs.add_call(call)
        self.legs.add_leg(call, leg_uuid, LegRole.CUSTOMER)
        if queue is None:
            # dids.xml names a queue nobody set up: the caller must not wait forever in silence.
            log.error("caller %s parked for queue %r, which does not exist: hanging up", caller,
                      name, extra={"call_id": call.id, "leg": leg_uuid})
            self.counts["unknown_queue"] += 1
            self.persist.new_call(call)
            self.calls.decide(call, Outcome.FAILED, "UNALLOCATED_NUMBER", HangupBy.SYSTEM)
            self.calls.hang_up(leg_uuid, "UNALLOCATED_NUMBER")
            return call
        if call_id is None:
            self.sender.api(commands.uuid_setvar(leg_uuid, "cc_call_id", call.id))
        queue = self.closed.route(call, queue, now)
        if queue is None:
            return call     # closed: the caller hears the message and goes, or is sent on
        name = queue.name
        entered = entered if entered is not None and entered <= now else now
        waiting = Waiting(queue=name, entered=entered, ready_since=now)
        call.features[FEATURE] = waiting
        self.counts["entered"] += 1
        if call_id is None:
            self.sender.api(commands.uuid_setvar(leg_uuid, "cc_queue_entered",
                                                 f"{entered:.3f}"))
        self.announcer.welcome(call, queue, greeting=call_id is None)   # not a found-again one
        self.persist.new_call(call, queue_id=queue.id, entered_at=when(entered))
        self.lines.setdefault(name, Line()).join(call)
        self.timeouts.arm(call, queue)
        log.info("caller %s entered queue %s", commands.passable_text(caller, 32) or "unknown",
                 name, extra={"call_id": call.id})
        self._changed(call)
        self.soon()
        return call

    # -- dispatch --------------------------------------------------------------------------------

    def soon(self) -> None:
        if not self._dispatch_due:
            self._dispatch_due = True
            self._defer(self.run_dispatch)

    def run_dispatch(self) -> None:
        self._dispatch_due = False
        if self._dispatching:       # a change made while dispatching: once more after
            self.soon()
            return
        self._dispatching = True
        try:
            self._dispatch()
        finally:
            self._dispatching = False
        self._arm_tick()

    def _dispatch(self) -> None:
        """Match waiting callers with free agents: the highest-priority queue's longest-waiting
        caller first; each caller's candidates by its queue's strategy."""
        now = self.clock.now()
        heads: list[tuple[int, float, int, str]] = []
        for name, line in self.lines.items():
            queue = self.queues.get(name)
            call = line.first_idle() if queue is not None and len(line) else None
            if call is not None:
                heads.append((-queue.priority, waiting_of(call).entered, len(heads), name))
        heapq.heapify(heads)
        while heads:
            _, _, n, name = heapq.heappop(heads)
            queue, line = self.queues[name], self.lines[name]
            call = line.first_idle()
            if call is None:
                continue
            if not self._offer(call, queue, now):
                continue    # no agent for this queue's first caller: none for the later ones
            following = line.first_idle()
            if following is not None:
                heapq.heappush(heads, (-queue.priority, waiting_of(following).entered, n, name))
        self._progress_rings(now)

    def _candidates(self, queue: QueueSettings, waited: float,
                    now: float) -> list[strategies.Candidate]:
        """The free agents of the levels open to a caller who has waited `waited` seconds."""
        free, levels, staffed = [], set(), set()
        day = self.ledger.day_of(now)
        for tier in queue.tiers:
            levels.add(tier.level)
            if tier.agent_id in self._available:
                staffed.add(tier.level)   # Available, free or on a call: worth waiting for
            if tier.agent_id not in self._free:
                continue
            agent = self.roster.agents.get(tier.agent_id)
            if agent is None or not self._takes_calls(agent, now):
                continue
            ledger = self.ledger.today(agent.id, day)
            free.append(strategies.Candidate(
                agent_id=agent.id, level=tier.level, position=tier.position,
                idle_since=ledger.idle_since, talk_seconds=ledger.talk_seconds,
                calls=ledger.calls))
        if not free:
            return []
        opened = strategies.open_levels(levels, staffed, waited, queue.tier_rules)
        return [c for c in free if c.level in opened]

    def available_agents(self, queue: QueueSettings) -> int:
        """The queue's agents who chose Available (free or on a call): who will serve its
        line (the wait estimate)."""
        return sum(1 for tier in queue.tiers if tier.agent_id in self._available)

    def _takes_calls(self, agent: AgentView, now: float) -> bool:
        return agent.id in self._free and self.ledger.ready(agent.id, now) \
            and refusal(agent, own_call=False) is None

    def _offer(self, call: Call, queue: QueueSettings, now: float) -> bool:
        waiting = waiting_of(call)
        candidates = self._candidates(queue, now - waiting.entered, now)
        if not candidates:
            return False
        ordered = strategies.order(queue.strategy, candidates,
                                   last_offered=self._last_offered.get(queue.name),
                                   caller_last_offered=waiting.last_offered, rng=self.rng)
        if queue.strategy is QueueStrategy.RING_ALL:
            chosen = ordered
        elif queue.strategy is QueueStrategy.RING_PROGRESSIVELY:
            waiting.round_started, waiting.round_order = now, [c.agent_id for c in ordered]
            chosen = ordered[:1]
        else:
            chosen = ordered[:1]
        ready = max(waiting.ready_since, *(self.ledger.of(c.agent_id).idle_since
                                           for c in chosen))
        for candidate in chosen:
            self._ring(call, queue, self.roster.agents[candidate.agent_id], ready)
        last = chosen[-1]
        self._last_offered[queue.name] = waiting.last_offered = (last.level, last.position)
        if waiting.offers:
            call.progress = Progress.OFFERED
            self._changed(call)
        return True

    def _ring(self, call: Call, queue: QueueSettings, agent: AgentView, ready: float) -> None:
        waiting = waiting_of(call)
        auto_answer = agent.offers.auto_answer and not strategies.never_auto_answer(
            queue.strategy)
        extra = {"cc_queue": queue.name, "cc_offer": "1", **offer_variables(call)}
        name = commands.passable_text(queue.name, 64)
        if name:
            extra["origination_caller_id_name"] = name
        if call.kind is CallKind.CALLBACK and self.callbacks is not None:
            self.callbacks.offering(call, agent.id)
        try:
            leg = self.offers.ring(
                call, agent, shows=call.number, current=False, extra=extra,
                auto_answer=auto_answer, ring_seconds=queue.agent_ring,
                sent=lambda: self.dispatch.add(max(0.0, self.clock.now() - ready)),
                then=lambda leg, reply, error: self._offer_job(call, leg, reply, error))
        except commands.CommandError as exc:
            log.error("cannot offer %s to agent %s: %s", call.id, agent.extension, exc,
                      extra={"call_id": call.id})
            return
        self._free.discard(agent.id)
        waiting.offers[leg] = agent.id
        if auto_answer:
            waiting.auto_answer.add(leg)
        self.counts["offers"] += 1
        self.persist.offer_made(leg, call.id, agent.id, queue.id, self.clock.now())
        self._publish(self.offer_message(call, queue, agent, leg, auto_answer, "ringing"),
                      agent.id)

    def offer_message(self, call: Call, queue: QueueSettings, agent: AgentView, leg: str,
                       auto_answer: bool, state: str) -> dict:
        waiting = waiting_of(call)
        return messages.offer(
            call, leg=leg, queue=queue.name, auto_answer=auto_answer, state=state,
            waited=round(self.clock.now() - waiting.entered, 1) if waiting else None)

    def ringing_offers(self, agent_id: int | None = None) -> list[dict]:
        """The offers ringing now (for one agent, or all): what a page opened meanwhile shows."""
        found = []
        for name, line in self.lines.items():
            queue = self.queues.get(name)
            if queue is None:
                continue
            for call in line:
                waiting = waiting_of(call)
                for leg, offered_to in waiting.offers.items():
                    agent = self.roster.agents.get(offered_to)
                    if agent is not None and agent_id in (None, offered_to):
                        found.append(self.offer_message(
                            call, queue, agent, leg, leg in waiting.auto_answer,
                            messages.OFFER_RINGING)["offer"])
        return found

    def _progress_rings(self, now: float) -> None:
        """Ring-progressively: every PROGRESSIVE_DELAY_S the next agent of the round joins those
        already ringing (while it is still free)."""
        for name, line in self.lines.items():
            queue = self.queues.get(name)
            if queue is None or queue.strategy is not QueueStrategy.RING_PROGRESSIVELY:
                continue
            for call in line:
                waiting = waiting_of(call)
                if waiting.round_started is None or waiting.connected or not waiting.offers:
                    continue
                due = strategies.progressive_count(now - waiting.round_started,
                                                   PROGRESSIVE_DELAY_S, len(waiting.round_order))
                ringing = set(waiting.offers.values())
                for agent_id in waiting.round_order[:due]:
                    agent = self.roster.agents.get(agent_id)
                    if agent_id not in ringing and agent is not None \
                            and self._takes_calls(agent, now):
                        self._ring(call, queue, agent, now)

    # -- events ----------------------------------------------------------------------------------

    def on_leg(self, call: Call, leg: Leg, happened: Happened, event: Event) -> None:
        waiting = waiting_of(call)
        if waiting is None:
            if happened is Happened.PLAYED and leg.role is LegRole.CUSTOMER:
                self.closed.message_over(call)
            return
        if leg.role is LegRole.CUSTOMER:
            if happened is Happened.DTMF and self.callbacks is not None:
                self.callbacks.pressed(call, waiting, event)
                return
            if happened is Happened.PLAYED:
                self.announcer.played(call, event)
            self._caller_leg(call, waiting, leg, happened)
        elif leg.uuid in waiting.offers:
            self.offer_leg(call, waiting, leg, happened, event)
        elif leg.uuid == waiting.connected or leg.uuid == call.agent_leg:
            self._agent_leg(call, leg, happened)

    def _caller_leg(self, call: Call, waiting: Waiting, leg: Leg, happened: Happened) -> None:
        now = self.clock.now()
        if happened is Happened.ANSWERED and call.answered_at is None:
            call.answered_at = now
            self.persist.call_values(call.id, answered_at=when(now))
        elif happened is Happened.HUNG_UP:
            if call.outcome is None:
                if waiting.connected is None:
                    self._abandoned(call, waiting, leg, now)
                else:
                    self.calls.decide(call, Outcome.ANSWERED, leg.cause or "NORMAL_CLEARING",
                                      hung_up_by(leg, HangupBy.CUSTOMER))
            self.leave_line(call, waiting, now)
            self.cancel_offers(call, waiting, OfferOutcome.CANCELLED)
            self.calls.release_partner(call, leg, "NORMAL_CLEARING")

    def _abandoned(self, call: Call, waiting: Waiting, leg: Leg, now: float) -> None:
        self.calls.decide(call, Outcome.ABANDONED, leg.cause or "NORMAL_CLEARING",
                          hung_up_by(leg, HangupBy.CUSTOMER))
        self.counts["abandoned"] += 1
        log.info("caller abandoned queue %s after %.1fs", waiting.queue, now - waiting.entered,
                 extra={"call_id": call.id})

    def offer_leg(self, call: Call, waiting: Waiting, leg: Leg, happened: Happened,
                  event: Event) -> None:
        agent_id = waiting.offers[leg.uuid]
        if call.outcome is not None or waiting.connected is not None:
            # The caller left, or another agent took the call, while this leg was on its way.
            if leg.alive and happened in COMING_UP:
                self._end_offer(call, waiting, leg.uuid, OfferOutcome.LOST_RACE
                                if waiting.connected else OfferOutcome.CANCELLED, hang_up=True)
            return
        self.offers.on_agent_leg(call, leg, happened, agent_id)
        if happened is Happened.ANSWERED:
            self._connect(call, waiting, leg, agent_id, event)
        elif happened is Happened.HUNG_UP:
            outcome = offer_outcome(leg.cause)
            if leg.cause == "USER_NOT_REGISTERED":
                agent = self.roster.agents.get(agent_id)
                if agent is not None:
                    self.roster.mark_unregistered(agent.extension)
            self._end_offer(call, waiting, leg.uuid, outcome, busy=leg.cause == "USER_BUSY")

    def _connect(self, call: Call, waiting: Waiting, leg: Leg, agent_id: int,
                 event: Event) -> None:
        """The first agent to answer takes the call; the others' phones stop at once."""
        now = self.clock.now()
        queue = self.queues.get(waiting.queue)
        del waiting.offers[leg.uuid]
        waiting.connected, waiting.left = leg.uuid, now
        if leg.uuid in call.others:
            call.others.remove(leg.uuid)
        call.agent_leg, call.agent_id = leg.uuid, agent_id
        if queue is not None and queue.wrapup is not None:
            call.wrapup_seconds = queue.wrapup
        agent = self.roster.agents.get(agent_id)
        if agent is not None:
            self.roster.set_state(agent, AgentState.IN_CALL, call.id)
        self.ledger.answered(agent_id)
        self.persist.offer_ended(leg.uuid, OfferOutcome.ANSWERED, now)
        self.cancel_offers(call, waiting, OfferOutcome.LOST_RACE)
        self.leave_line(call, waiting, now)
        call.progress = Progress.ANSWERED
        self.counts["answered"] += 1
        answered_at = now
        self.calls.bridge(call, event, quiet=call.customer_leg)
        self.answer_to_bridge.add(max(0.0, self.clock.now() - answered_at))
        self.persist.call_values(call.id, agent_id=agent_id, connected_at=when(now),
                                 left_at=when(now), wait_seconds=int(now - waiting.entered))
        if queue is not None and agent is not None:
            self._publish(self.offer_message(call, queue, agent, leg.uuid,
                                              leg.uuid in waiting.auto_answer, "answered"),
                          agent_id)
        self._changed(call)

    def _agent_leg(self, call: Call, leg: Leg, happened: Happened) -> None:
        """The connected agent's leg."""
        if happened is Happened.HUNG_UP:
            if call.outcome is None:
                self.calls.decide(call, Outcome.ANSWERED, leg.cause or "NORMAL_CLEARING",
                                  hung_up_by(leg, HangupBy.AGENT))
            self.calls.release_partner(call, leg, "NORMAL_CLEARING")

    def _end_offer(self, call: Call, waiting: Waiting, leg_uuid: str, outcome: OfferOutcome,
                   *, hang_up: bool = False, busy: bool = False) -> None:
        agent_id = waiting.offers.pop(leg_uuid, None)
        if agent_id is None:
            return
        now = self.clock.now()
        self.counts[outcome.value] = self.counts.get(outcome.value, 0) + 1
        if hang_up:
            self.calls.hang_up(leg_uuid, "LOSE_RACE" if outcome is OfferOutcome.LOST_RACE
                               else "ORIGINATOR_CANCEL")
        self.persist.offer_ended(leg_uuid, outcome, now)
        agent = self.roster.agents.get(agent_id)
        if agent is not None:
            queue = self.queues.get(waiting.queue)
            if queue is not None:
                self._publish(self.offer_message(call, queue, agent, leg_uuid,
                                                  leg_uuid in waiting.auto_answer,
                                                  outcome.value), agent_id)
            self.offers.withdraw(call, agent_id)
            if busy:
                self.ledger.busy(agent, now)
            elif self.ledger.offer_ended(agent, outcome, now):
                log.warning("agent %s missed %d offers in a row: On break", agent.extension,
                            agent.offers.max_no_answer, extra={"agent": agent.extension})
                self.roster.set_status(agent.id, AgentStatus.ON_BREAK, MISSED_CALLS)
        if not waiting.offers and waiting.connected is None and call.outcome is None:
            waiting.ready_since = now
            call.progress = Progress.WAITING
            self._changed(call)
            self.soon()

    def cancel_offers(self, call: Call, waiting: Waiting, outcome: OfferOutcome) -> None:
        for leg_uuid in list(waiting.offers):
            self._end_offer(call, waiting, leg_uuid, outcome, hang_up=True)

    def _offer_job(self, call: Call, leg_uuid: str, reply: str | None,
                   error: ESLError | None) -> None:
        """Only for an offer leg that never produced an event (unregistered, refused at once, or
        no answer from the switch): the leg is over, the offer too if it still stands, and the
        call finishes if this leg was all that kept it open (its caller already gone)."""
        leg = self.calls.leg(leg_uuid)
        if leg is None or leg.seen or (reply or "").startswith("+OK"):
            return
        cause = job_cause(reply, error)
        if error is not None:   # no result: the leg may exist all the same; we chose its UUID
            self.calls.hang_up(leg_uuid, "NORMAL_CLEARING")
        leg.hung_up = leg.completed = True
        leg.cause = cause
        waiting = waiting_of(call)
        if waiting is not None and leg_uuid in waiting.offers:
            if cause == "USER_NOT_REGISTERED":
                agent = self.roster.agents.get(waiting.offers[leg_uuid])
                if agent is not None:
                    self.roster.mark_unregistered(agent.extension)
            self._end_offer(call, waiting, leg_uuid, offer_outcome(cause))
        self._settled(call)

    # -- leaving the line ------------------------------------------------------------------------

    def move(self, call: Call, waiting: Waiting, target: QueueSettings, now: float) -> None:
        """The caller goes on to another queue's line, keeping its entry time."""
        self.lines[waiting.queue].leave(call)
        waiting.queue, waiting.ready_since = target.name, now
        self.lines.setdefault(target.name, Line()).join(call)
        self.persist.call_values(call.id, queue_id=target.id)

    def line_up(self, call: Call, queue: QueueSettings, entered: float) -> Waiting:
        """A caller an agent talked to waits in `queue`'s line again (queues/requeue.py), with
        `entered` as its entry time: the queue owns the call, its longest wait counts from
        `entered`, and the next agent to answer is bridged to it anew."""
        now = self.clock.now()
        call.kind, call.progress = CallKind.QUEUED, Progress.WAITING
        call.bridge_sent = False
        if queue.wrapup is not None:
            call.wrapup_seconds = queue.wrapup
        waiting = Waiting(queue=queue.name, entered=entered, ready_since=now)
        call.features[FEATURE] = waiting
        self.persist.call_values(call.id, queue_id=queue.id, agent_id=None,
                                 entered_at=when(entered), connected_at=None, left_at=None)
        self.lines.setdefault(queue.name, Line()).join(call)
        self.timeouts.arm(call, queue)
        self.soon()
        return waiting

    def leave_line(self, call: Call, waiting: Waiting, now: float) -> None:
        line = self.lines.get(waiting.queue)
        if line is not None:
            line.leave(call)
        if waiting.left is not None:
            return      # left already (timed out, then hung up; finished): written once
        waiting.left = now
        if waiting.connected is None:
            self.persist.call_values(call.id, left_at=when(now),
                                     wait_seconds=int(now - waiting.entered))

    # -- a supervisor's moves (supervisor_actions.py) --------------------------------------------

    def move_caller(self, call: Call, name: str) -> str:
        """Send a waiting caller to queue `name`'s line now, keeping its entry time: its ringing
        offers stop and it hears the target's music. Returns the queue it left."""
        waiting = self._still_waiting(call)
        target = self.queues.get(name)
        if target is None:
            raise InvalidInput(f"there is no queue {name!r}", field="queue")
        if target.name == waiting.queue:
            raise CallerError(f"the caller is already in {name}")
        if call.kind is CallKind.CALLBACK:
            raise CallerError("a callback request has no caller on the line to move")
        now, left = self.clock.now(), waiting.queue
        self.cancel_offers(call, waiting, OfferOutcome.CANCELLED)
        log.info("caller moved from %s to %s by a supervisor", left, name,
                 extra={"call_id": call.id})
        self.move(call, waiting, target, now)
        self.announcer.moved(call, target)
        self.timeouts.arm(call, target)
        self._changed(call)
        self.soon()
        return left

    def offer_now(self, call: Call, agent_id: int) -> None:
        """Ring a chosen agent for a waiting caller now, by the normal offer path, whatever its
        queue's strategy and tiers; the caller's other ringing offers stop first."""
        waiting = self._still_waiting(call)
        agent = self.roster.agents.get(agent_id)
        if agent is None:
            raise InvalidInput(f"there is no agent {agent_id}", field="agent_id")
        why = refusal(agent, own_call=False)
        if why is not None:
            raise CallerError(why)
        queue = self.queues.get(waiting.queue)
        if queue is None:
            raise CallerError(f"queue {waiting.queue} is no longer set up: move the caller")
        self.cancel_offers(call, waiting, OfferOutcome.CANCELLED)
        waiting.round_started = None        # ring-progressively adds nobody to this offer
        self._ring(call, queue, agent, self.clock.now())
        if not waiting.offers:
            raise CallerError(f"{agent.name}'s phone could not be rung")
        call.progress = Progress.OFFERED
        self._changed(call)

    def _still_waiting(self, call: Call) -> Waiting:
        waiting = waiting_of(call)
        if call.ended or waiting is None or waiting.connected is not None \
                or waiting.left is not None or call.outcome is not None:
            raise CallerError("this caller is no longer waiting in a queue")
        return waiting

    # -- agents ----------------------------------------------------------------------------------

    def _agent_changed(self, view: AgentView) -> None:
        """An agent's status, state or registration changed: a free agent may take a caller."""
        now = self.clock.now()
        free = view.status is AgentStatus.AVAILABLE and view.state is AgentState.IDLE \
            and view.registered and view.active
        if free and view.id not in self._free:
            self._free.add(view.id)
            self.ledger.became_free(view.id, now)
            if view.id in self._by_agent:
                self.soon()
        elif not free:
            self._free.discard(view.id)
        available = view.status is AgentStatus.AVAILABLE
        if available and view.id not in self._available:
            self.ledger.back_from_break(view.id)   # chose Available again: a fresh count
            self._available.add(view.id)
        elif not available:
            self._available.discard(view.id)
        self.timeouts.staffing(view, self._by_agent.get(view.id, ()), now)

    # -- the tick: what opens with time ----------------------------------------------------------

    def _arm_tick(self) -> None:
        if self._tick is None and any(len(line) for line in self.lines.values()):
            self._tick = self.clock.call_later(TICK_S, self._on_tick)

    def _on_tick(self) -> None:
        self._tick = None
        now = self.clock.now()
        for name, line in self.lines.items():
            queue = self.queues.get(name)
            if queue is None or not len(line):
                continue
            self.timeouts.check_unstaffed(queue, line, now)
        self.run_dispatch()

    # -- the switchboard's hooks -----------------------------------------------------------------

    def finished(self, call: Call) -> None:
        """The call is over: its agent's figures for the strategies."""
        waiting = waiting_of(call)
        if waiting is None:
            return
        self.leave_line(call, waiting, call.ended_at or self.clock.now())
        if waiting.connected is not None and call.agent_id is not None \
                and call.bridged_at is not None:
            now = self.clock.now()
            self.ledger.talked(call.agent_id, (call.ended_at or now) - call.bridged_at,
                               self.ledger.day_of(now))
            agent = self.roster.agents.get(call.agent_id)
            self.announcer.handled(call, waiting.queue,
                                   agent.wrapup_seconds if agent is not None else None)

    def adopt(self, call: Call) -> bool:
        return self.recovery.adopt(call)

    def recover(self, channels: Iterable[dict], bridged: set[str]) -> None:
        self.recovery.recover(channels, bridged)

    # -- what the auditor may ask and do (auditor.py) ---------------------------------------------

    def waiting_calls(self) -> list[Call]:
        """Every caller still in a line (no agent took it yet); callback requests have no
        channel to check."""
        return [call for line in self.lines.values() for call in line
                if call.kind is not CallKind.CALLBACK]

    def remove_caller(self, call: Call, why: str) -> None:
        """The caller is gone without FreeSWITCH telling us (its channel is missing): it leaves
        its line as abandoned and its ringing offers are withdrawn. Finishing the call is the
        caller's (the auditor's) part."""
        waiting = waiting_of(call)
        if waiting is None or call.ended:
            return
        now = self.clock.now()
        if call.outcome is None:
            self.calls.decide(call, Outcome.ABANDONED, None, HangupBy.CUSTOMER)
            self.counts["abandoned"] += 1
        log.warning("caller removed from queue %s as abandoned: %s", waiting.queue, why,
                    extra={"call_id": call.id})
        self.leave_line(call, waiting, now)
        self.cancel_offers(call, waiting, OfferOutcome.CANCELLED)

    def offer_lost(self, call: Call, leg_uuid: str) -> None:
        """An offer's leg is gone without FreeSWITCH telling us: the offer ends (cancelled,
        not held against the agent), its agent is free again and the caller waits for the
        next offer."""
        waiting = waiting_of(call)
        if waiting is not None and leg_uuid in waiting.offers:
            self._end_offer(call, waiting, leg_uuid, OfferOutcome.CANCELLED)

    def servable(self) -> list[tuple[str, Call]]:
        """(queue, caller) for each queue whose first idle caller has a free agent to be offered
        to right now: dispatch should be ringing one."""
        now = self.clock.now()
        found = []
        for name, line in self.lines.items():
            queue = self.queues.get(name)
            call = line.first_idle() if queue is not None else None
            if call is not None and self._candidates(queue, now - waiting_of(call).entered, now):
                found.append((name, call))
        return found

    def kick(self) -> None:
        """Run dispatch now, whatever a lost wake-up left behind (a due flag that never ran)."""
        self._dispatch_due = self._dispatching = False
        self.run_dispatch()

    def figures(self) -> dict:
        now = self.clock.now()
        return {
            "waiting": {name: len(line) for name, line in self.lines.items()},
            "longest_wait_s": {name: round(max((now - waiting_of(c).entered for c in line),
                                               default=0.0), 1)
                               for name, line in self.lines.items()},
            "dispatch": self.dispatch.as_dict(),
            "answer_to_bridge": self.answer_to_bridge.as_dict(),
            **self.counts,
        }

