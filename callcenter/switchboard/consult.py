"""Consult (warm transfer): with the customer on hold, the agent talks to another agent or a
number first, then completes the handover, swaps between the two, makes it a three-way call
(three_way.py), or cancels.

Every leg stays up while its partner changes: `park_after_bridge=true` on the customer, the
agent and the target makes a leg left behind by a new bridge park instead of being hung up
(FreeSWITCH clears that variable when a park reads `park_timeout`, so it is set once each leg
has parked, never in an originate). The target is bridged only once it has parked (its originate
returned); the agent's leg has `uuid_bridge_park_on_cancel=true` for a party that hangs up while
a bridge to it is being set up. The customer is taken out of the bridge with `uuid_park`;
whichever of the customer and the target parks hears hold music; the agent's leg is bridged to
the one it talks to (`uuid_bridge`, after a `uuid_break` of the music). Complete bridges the
target to the customer and hangs the agent's leg up; cancel hangs the target up and the agent is
bridged back to the customer; a target that fails or hangs up does the same by itself. If the
first agent hangs up, the customer goes to the target (at once if it answered, on its answer
otherwise). If the customer hangs up, the call's owner ends the call as ever and every leg goes.

The call keeps its id; the target leg is `cc_transfer=joining` until it joins (the CDR never
takes it for the call's agent leg before), the agent's leg `left` once it is handed over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from ..clock import Timer
from ..errors import CallEnded
from ..esl import commands
from ..esl.connection import ESLError
from ..models import DEFAULT_HOLD_MUSIC, AgentState, EventKind, HangupBy, LegRole, Outcome
from . import messages
from .agents import AgentView, Roster
from .calls import Calls, job_cause
from .controls import ControlError, Controls
from .dialer import RINGBACK
from .handlers import AgentLeft, Handlers
from .legs import COMING_UP, Call, Happened, Leg
from .offers import Offers, refusal
from .persist import Persist
from .three_way import ThreeWay

log = logging.getLogger(__name__)

FEATURE = "consult"         # call.features: the call's last consult
LEGS = "consult_legs"       # call.features: every target leg and handed-over agent leg
HOLD_MUSIC = DEFAULT_HOLD_MUSIC   # the queues' default: a tone, played on every install


@dataclass
class Consult:
    leg: str                        # the target's leg
    to: str                         # the number, or the agent's extension
    agent_id: int | None            # the target agent; None for a number
    name: str                       # who the page shows
    from_leg: str                   # the consulting agent's leg
    from_agent_id: int | None
    ring: int = 0
    state: str = "dialing"
    cause: str | None = None
    handover: bool = False          # complete as soon as the target answers
    returning: bool = False         # the agent goes back to the customer once it has parked
    # A uuid_bridge of the agent's leg sent to this party and not seen up yet, and the state
    # the consult takes when it is: another bridge sent meanwhile makes FreeSWITCH hang the
    # waiting party up (DESTINATION_OUT_OF_ORDER), so the steps wait for it.
    bridging: str | None = None
    then: str | None = None
    timer: Timer | None = None

    # dialing, ringing: the target's phone rings; consulting: the agent talks to the target;
    # swapped: the agent talks to the customer again while the target waits; completing;
    # three_way: all three in one conference room (three_way.py).
    THREE_WAY = "three_way"
    UNDER_WAY = ("dialing", "ringing", "consulting", "swapped", "completing", THREE_WAY)
    # completed: the customer is with the target; cancelled: the agent's choice; failed: the
    # target did not answer or hung up (the agent is back with the customer).
    OVER = ("completed", "cancelled", "failed")

    @property
    def under_way(self) -> bool:
        return self.state in self.UNDER_WAY

    @property
    def on_hold(self) -> str | None:
        """Who hears hold music now: customer, target, or None."""
        if self.state in ("dialing", "ringing", "consulting", "completing"):
            return "customer"
        return "target" if self.state == "swapped" else None


def consult_of(call: Call) -> Consult | None:
    return call.features.get(FEATURE)


def consult_now(call: Call) -> dict | None:
    """The consult as the pages show it (messages.call)."""
    consult = consult_of(call)
    if consult is None:
        return None
    return {"to": consult.to, "name": consult.name, "agent_id": consult.agent_id,
            "from_agent_id": consult.from_agent_id, "state": consult.state,
            "cause": consult.cause, "on_hold": consult.on_hold}


class Consults:
    def __init__(self, *, calls: Calls, controls: Controls, offers: Offers, roster: Roster,
                 persist: Persist, handlers: Handlers, changed: Callable[[Call], None],
                 publish: Callable[[dict, int | None], None], gateway: str,
                 caller_id: str | None) -> None:
        self.calls, self.controls, self.offers, self.roster = calls, controls, offers, roster
        self.handlers = handlers    # who handled the call (call_agents)
        self.persist, self.sender, self.clock, self.times = (persist, calls.sender, calls.clock,
                                                             calls.times)
        self.gateway, self.caller_id = gateway, caller_id
        self._changed, self._publish = changed, publish
        self.three_ways = ThreeWay(calls=calls, roster=roster, persist=persist,
                                   handlers=handlers, changed=changed, publish=publish,
                                   note=self._note)
        controls.add_guard(self._guard)

    # -- actions ---------------------------------------------------------------------------------

    def to_agent(self, call: Call, agent: AgentView) -> Consult:
        agent_leg, customer = self._may_start(call)
        if agent.id == call.agent_id:
            raise ControlError("you cannot consult yourself")
        refused = refusal(agent, own_call=False)
        if refused is not None:
            raise ControlError(refused)
        self.controls.reachable()
        consult = Consult(leg="", to=agent.extension, agent_id=agent.id, name=agent.name,
                          from_leg=agent_leg.uuid, from_agent_id=call.agent_id,
                          ring=self.times.agent_ring)
        self._hold_customer(call, agent_leg, customer)
        consult.leg = self.offers.ring(call, agent, shows=call.number, current=False,
                                       extra={"cc_transfer": "joining"},
                                       then=self._job_of(call, consult))
        return self._started(call, consult)

    def to_number(self, call: Call, number: str) -> Consult:
        number = commands.valid_number(number, "number")
        agent_leg, customer = self._may_start(call)
        variables = {**self.calls.tags(call, LegRole.AGENT), "cc_transfer": "joining",
                     "originate_timeout": self.times.customer_ring,
                     "park_timeout": self.times.park}
        variables.pop("cc_agent_id", None)      # the new leg serves no agent
        if self.caller_id:
            variables["origination_caller_id_number"] = self.caller_id
        endpoint = commands.gateway_endpoint(self.gateway, number)
        self.controls.reachable()
        consult = Consult(leg="", to=number, agent_id=None, name=number,
                          from_leg=agent_leg.uuid, from_agent_id=call.agent_id,
                          ring=self.times.customer_ring)
        self._hold_customer(call, agent_leg, customer)
        consult.leg = self.calls.originate(call, LegRole.AGENT, endpoint, variables,
                                           self._job_of(call, consult), current=False)
        return self._started(call, consult)

    def swap(self, call: Call) -> Consult:
        """Talk to the other party; the one left hears hold music."""
        consult = self._consulting(call, ("consulting", "swapped"), "swap")
        if consult.state == "consulting":
            self._bridge_agent(call, consult, call.customer_leg, call.customer_leg, "swapped")
        else:
            self._bridge_agent(call, consult, consult.leg, consult.leg, "consulting")
        self._note(call, consult, "swapped",
                   talking_to="customer" if consult.then == "swapped" else "target")
        return consult

    def complete(self, call: Call) -> Consult:
        consult = self._consulting(call, ("consulting", "swapped"), "complete the transfer")
        self._hand_over(call, consult)
        return consult

    def three_way(self, call: Call) -> Consult:
        """The customer, the agent and the target all hear each other."""
        consult = self._consulting(call, ("consulting", "swapped"), "make it a three-way call")
        self.three_ways.start(call, consult)
        return consult

    def leave(self, call: Call) -> Consult:
        """The call's agent leaves a three-way call (its leg is hung up); the others stay."""
        consult = self._consulting(call, (Consult.THREE_WAY,), "leave a three-way call")
        self.calls.hang_up(call.agent_leg, "NORMAL_CLEARING")
        return consult

    def cancel(self, call: Call) -> Consult:
        """The target is hung up; its hangup brings the agent back to the customer (a leg the
        agent is bridged to must be gone before the agent is bridged again)."""
        consult = self._consulting(call, ("dialing", "ringing", "consulting", "swapped"),
                                   "cancel the consult", settled=False)
        consult.state, consult.cause = "cancelled", "cancelled by the agent"
        self._stop_timer(consult)
        target = self.calls.leg(consult.leg)
        if target is not None and target.alive:
            self.calls.hang_up(consult.leg, "NORMAL_CLEARING" if target.answered
                               else "ORIGINATOR_CANCEL")
        self._note(call, consult, "cancelled")
        self._changed(call)
        return consult

    # -- checks ----------------------------------------------------------------------------------

    def _may_start(self, call: Call) -> tuple[Leg, Leg]:
        agent_leg, customer = self.controls.talking(call, "consult")
        if call.held:
            raise ControlError("take the customer off hold first: the consult holds them")
        if call.transfer is not None and call.transfer.under_way:
            raise ControlError(f"the call is being transferred to {call.transfer.to}")
        last = consult_of(call)
        target = self.calls.leg(last.leg) if last is not None else None
        if target is not None and target.alive:
            raise ControlError(f"the line to {last.name} is still hanging up; try again")
        return agent_leg, customer

    def _consulting(self, call: Call, states: tuple[str, ...], what: str, *,
                    settled: bool = True) -> Consult:
        if call.ended or call.outcome is not None:
            raise CallEnded()
        consult = consult_of(call)
        if consult is None or consult.state not in states:
            now = "no consult" if consult is None or not consult.under_way else consult.state
            raise ControlError(f"you can {what} only while you consult someone (now: {now})")
        if settled and consult.bridging is not None:
            raise ControlError("the line is still being connected; try again in a moment")
        self.controls.reachable()
        return consult

    def _guard(self, call: Call) -> str | None:
        """The in-call controls wait while a consult rearranges the legs."""
        consult = consult_of(call)
        if consult is not None and consult.under_way:
            return f"finish the consult with {consult.name} first"
        return None

    # -- the legs --------------------------------------------------------------------------------

    def _hold_customer(self, call: Call, agent_leg: Leg, customer: Leg) -> None:
        """Both legs survive the split; the customer parks (and hears music on its park)."""
        for leg in (customer.uuid, agent_leg.uuid):
            self.sender.api(commands.uuid_setvar(leg, "park_after_bridge", "true"))
        # A party that hangs up while the agent's uuid_bridge to it is still being set up
        # would take the agent's leg with it (ORIGINATOR_CANCEL); this parks it instead.
        self.sender.api(commands.uuid_setvar(agent_leg.uuid, "uuid_bridge_park_on_cancel",
                                             "true"))
        self.sender.api(commands.uuid_park(customer.uuid))

    def _bridge_agent(self, call: Call, consult: Consult, party: str | None,
                      quiet: str | None, then: str | None = None) -> None:
        """The agent talks to `party`, after what `quiet` plays (music, ringback) stops; the
        one the agent leaves parks, and hears music on its park. The agent's leg leaves its
        park at once, though CHANNEL_BRIDGE may never come (the party hangs up meanwhile: the
        agent parks again, uuid_bridge_park_on_cancel), so it counts as parked only once
        FreeSWITCH says so again."""
        agent = self.calls.leg(consult.from_leg)
        if agent is not None:
            agent.parked = False
        consult.bridging, consult.then = party, then
        self.sender.api(commands.uuid_break(quiet))
        self.sender.api(commands.uuid_bridge(consult.from_leg, party),
                        lambda reply, error: self._bridge_reply(call, consult, reply, error))

    def _agent_bridged(self, call: Call, consult: Consult) -> None:
        """The agent's bridge is up: the consult is in the state it was heading for."""
        then, consult.bridging, consult.then = consult.then, None, None
        if then is not None and consult.state in ("dialing", "ringing", "consulting",
                                                  "swapped"):
            consult.state = then
            self._changed(call)

    def _bridge_reply(self, call: Call, consult: Consult, reply: str | None,
                      error: ESLError | None) -> None:
        """A refused uuid_bridge left the agent's leg where it was: parked."""
        if error is None and commands.is_ok(reply or ""):
            return
        consult.bridging = consult.then = None
        agent = self.calls.leg(consult.from_leg)
        if agent is None or not agent.alive or agent.bridged_to is not None:
            return
        agent.parked = True
        if consult.returning:
            consult.returning = False
            self._rejoin(call, consult)

    def _started(self, call: Call, consult: Consult) -> Consult:
        call.features[FEATURE] = consult
        call.features.setdefault(LEGS, set()).update((consult.leg, consult.from_leg))
        consult.timer = self.clock.call_later(consult.ring + self.times.timer_margin,
                                              self._ring_timeout, call, consult)
        self._note(call, consult, "started")
        log.info("consult %s", consult.to, extra={"call_id": call.id})
        self._changed(call)
        return consult

    def _job_of(self, call: Call, consult: Consult):
        return lambda _leg, reply, error: self._job(call, consult, reply, error)

    def _job(self, call: Call, consult: Consult, reply: str | None,
             error: ESLError | None) -> None:
        """The originate's reply matters only for a leg that never produced an event."""
        leg = self.calls.leg(consult.leg)
        if leg is None or leg.seen or (reply or "").startswith("+OK"):
            return
        leg.hung_up = leg.completed = True
        leg.cause = job_cause(reply, error)
        if leg.cause == "USER_NOT_REGISTERED" and consult.agent_id is not None:
            target = self.roster.agents.get(consult.agent_id)
            if target is not None:
                self.roster.mark_unregistered(target.extension)
        self._target_gone(call, consult, leg)

    def _ring_timeout(self, call: Call, consult: Consult) -> None:
        leg = self.calls.leg(consult.leg)
        if not call.ended and leg is not None and leg.alive and not leg.answered:
            self.calls.hang_up(leg.uuid, "NO_ANSWER")

    # -- events ----------------------------------------------------------------------------------

    def on_leg(self, call: Call, leg: Leg, happened: Happened, event=None) -> bool:
        """A consult's share of a channel event: True keeps it from the call's owner (the
        target's leg, and the agent's while it is handed over or left)."""
        consult = consult_of(call)
        if consult is None:
            return False
        if leg.uuid not in (consult.leg, consult.from_leg, call.agent_leg, call.customer_leg):
            # A leg of an earlier consult: the call's owner must not take it for its own.
            return leg.uuid in call.features.get(LEGS, ())
        if consult.state == Consult.THREE_WAY:
            return self.three_ways.on_leg(call, consult, leg, happened)
        if leg.uuid == consult.leg:
            if consult.state != "completed":
                self._target_leg(call, consult, leg, happened)
                return True
            return False
        if leg.uuid == consult.from_leg and consult.returning and happened is Happened.PARKED:
            consult.returning = False
            self._rejoin(call, consult)
            return True
        if leg.uuid == consult.from_leg and (consult.under_way
                                             or consult.state == "completed"):
            if happened is Happened.HUNG_UP:
                self._agent_left(call, consult)
            elif happened is Happened.BRIDGED and consult.bridging is not None \
                    and leg.bridged_to == consult.bridging:
                self._agent_bridged(call, consult)
            return consult.under_way or leg.uuid != call.agent_leg
        if leg.uuid == call.customer_leg and consult.under_way:
            if happened is Happened.PARKED and call.outcome is None:
                self._music(leg.uuid)
            elif happened is Happened.BRIDGED:
                self._bridged(call, consult)
            return happened is not Happened.HUNG_UP
        return False

    def _target_leg(self, call: Call, consult: Consult, leg: Leg, happened: Happened) -> None:
        if consult.agent_id is not None:
            self.offers.on_agent_leg(call, leg, happened, consult.agent_id)
        if happened is Happened.HUNG_UP:
            self._target_gone(call, consult, leg)
        elif call.outcome is not None or not consult.under_way:
            if leg.alive and happened in COMING_UP:   # cancelled, or the call is over
                self.calls.hang_up(leg.uuid, "NORMAL_CLEARING" if leg.answered
                                   else "ORIGINATOR_CANCEL")
        elif happened is Happened.RINGING and consult.state == "dialing":
            consult.state = "ringing"
            # The agent's leg is parked in silence meanwhile.
            self.sender.api(commands.uuid_broadcast(consult.from_leg, RINGBACK, "aleg"))
            self._changed(call)
        elif happened is Happened.ANSWERED:
            self._stop_timer(consult)
            self._target_answered(call, consult)
        elif happened is Happened.PARKED and consult.state in ("dialing", "ringing"):
            # Bridged only once parked: a uuid_bridge sent while the originate still holds the
            # leg makes FreeSWITCH wait for it, and a hangup meanwhile takes the agent's leg
            # with it (ORIGINATOR_CANCEL) -- the race seen on the real switch.
            self._target_talks(call, consult)
        elif happened is Happened.PARKED and "swapped" in (consult.state, consult.then):
            self._music(leg.uuid)
        elif happened is Happened.BRIDGED:
            self._bridged(call, consult)

    def _target_answered(self, call: Call, consult: Consult) -> None:
        target = self.roster.agents.get(consult.agent_id) \
            if consult.agent_id is not None else None
        if target is not None and target.call_id == call.id:
            self.roster.set_state(target, AgentState.IN_CALL, call.id)

    def _target_talks(self, call: Call, consult: Consult) -> None:
        """The target answered and parked: the agent talks to it (or, if the agent left, the
        customer). Set after its park, which clears park_after_bridge with park_timeout."""
        self.sender.api(commands.uuid_setvar(consult.leg, "park_after_bridge", "true"))
        if consult.handover:
            self._hand_over(call, consult)
            return
        self._bridge_agent(call, consult, consult.leg, consult.from_leg, "consulting")

    def _hand_over(self, call: Call, consult: Consult) -> None:
        """Complete: the target is bridged to the customer; the agent's leg, left behind, is
        hung up once the bridge is seen."""
        consult.state = "completing"
        for leg in (call.customer_leg, consult.leg):
            # From now on a leaving partner takes the other with it, as in any call.
            self.sender.api(commands.uuid_setvar(leg, "park_after_bridge", "false"))
            self.sender.api(commands.uuid_break(leg))
        self.sender.api(commands.uuid_setvar(consult.from_leg, "cc_transfer", "left"))
        self.sender.api(commands.uuid_bridge(consult.leg, call.customer_leg),
                        lambda reply, error: self._hand_over_reply(call, consult, reply, error))
        self._changed(call)

    def _hand_over_reply(self, call: Call, consult: Consult, reply: str | None,
                         error: ESLError | None) -> None:
        if error is None and commands.is_ok(reply or "") or consult.state != "completing":
            return
        log.info("consult handover failed: %s", (reply or str(error)).strip(),
                 extra={"call_id": call.id})
        # One of them left meanwhile: its hangup decides what happens next.

    def _bridged(self, call: Call, consult: Consult) -> None:
        target, customer = self.calls.leg(consult.leg), self.calls.leg(call.customer_leg)
        if consult.state != "completing" or target is None or customer is None \
                or target.bridged_to != customer.uuid:
            return
        consult.state = "completed"
        call.others.remove(consult.leg)
        call.others.append(consult.from_leg)
        call.agent_leg, call.agent_id = consult.leg, consult.agent_id
        call.held = False
        self.handlers.left(call, consult.from_leg, AgentLeft.COMPLETED_CONSULT)
        self.sender.api(commands.uuid_setvar(consult.leg, "cc_transfer", "joined"))
        self.calls.hang_up(consult.from_leg, "NORMAL_CLEARING")
        if consult.agent_id is not None:
            self.persist.call_values(call.id, agent_id=consult.agent_id)
        self._note(call, consult, "completed")
        log.info("consult completed: the call is with %s", consult.to,
                 extra={"call_id": call.id})
        self._changed(call)
        # Told after the announcement, so it carries the new version: the reply to the agent's
        # "complete" (the version before) cannot overwrite it on the page.
        if consult.from_agent_id is not None and consult.from_agent_id != call.agent_id:
            self._publish(messages.call_changed(call), consult.from_agent_id)

    def _target_gone(self, call: Call, consult: Consult, leg: Leg) -> None:
        """The target hung up (or never came): the agent is back with the customer; if the
        agent left too, the customer is hung up."""
        self._stop_timer(consult)
        self._release_target(call, consult, leg)
        if consult.state in ("completed", "failed") or call.outcome is not None:
            return
        if consult.state != "cancelled":
            consult.state, consult.cause = "failed", leg.cause or "NORMAL_CLEARING"
            self._note(call, consult, "failed")
        agent = self.calls.leg(consult.from_leg)
        if consult.handover or agent is None or not agent.alive:
            customer = self.calls.leg(call.customer_leg)
            self.calls.decide(call, Outcome.ANSWERED, "NORMAL_CLEARING", HangupBy.AGENT)
            if customer is not None and customer.alive:
                self.calls.hang_up(customer.uuid, "NORMAL_CLEARING")
            return
        self._back_to_customer(call, consult)

    def _back_to_customer(self, call: Call, consult: Consult) -> None:
        """The agent talks to the customer again. An agent that was bridged to the target is
        bridged anew only once FreeSWITCH has parked it (park_after_bridge): the target's hangup
        and the agent's park come from two channels in either order, and a uuid_bridge sent
        while the agent still leaves the old bridge is refused."""
        log.info("consult with %s over: %s", consult.to, consult.cause,
                 extra={"call_id": call.id})
        agent = self.calls.leg(consult.from_leg)
        if agent is not None and not agent.parked and agent.bridged_to != call.customer_leg:
            consult.returning = True
            self._changed(call)
            return
        self._rejoin(call, consult)

    def _rejoin(self, call: Call, consult: Consult) -> None:
        self.sender.api(commands.uuid_break(consult.from_leg))   # ringback, if it rang
        self._bridge_agent(call, consult, call.customer_leg, call.customer_leg)
        for leg in (call.customer_leg, consult.from_leg):
            self.sender.api(commands.uuid_setvar(leg, "park_after_bridge", "false"))
        self._changed(call)

    def _agent_left(self, call: Call, consult: Consult) -> None:
        """The consulting agent hung up (or was hung up once the call was handed over): it
        wraps up, and the customer goes to the target."""
        if call.outcome is not None:
            return      # the call is over: finishing moves the agent on
        agent = self.roster.agents.get(consult.from_agent_id) \
            if consult.from_agent_id is not None else None
        if agent is not None and agent.call_id == call.id:
            self.roster.wrap_up(agent, call.id, call.wrapup_seconds)
            self.roster.note_call_ended(agent)
        if not consult.under_way:
            return
        consult.handover = True
        target = self.calls.leg(consult.leg)
        if consult.state in ("consulting", "swapped") and target is not None and target.alive:
            self._hand_over(call, consult)
        self._changed(call)

    def _release_target(self, call: Call, consult: Consult, leg: Leg) -> None:
        """The target agent moves on: wrap-up if it talked, Idle if its phone only rang."""
        target = self.roster.agents.get(consult.agent_id) \
            if consult.agent_id is not None else None
        if target is None or target.call_id != call.id:
            return
        if leg.answered:
            self.roster.wrap_up(target, call.id)
            self.roster.note_call_ended(target)
        else:
            self.offers.withdraw(call, consult.agent_id)

    def _note(self, call: Call, consult: Consult, result: str, **more: str) -> None:
        """The call's story: each step of a consult, by the agent who consults."""
        detail = {"to": consult.to, "result": result, **more}
        if consult.agent_id is not None:
            detail["to_agent_id"] = consult.agent_id
        if result == "failed" and consult.cause:
            detail["cause"] = consult.cause
        self.persist.event(EventKind.CONSULT, self.clock.now(), agent_id=consult.from_agent_id,
                           call_id=call.id, detail=detail)

    def _music(self, leg: str) -> None:
        self.sender.api(commands.uuid_broadcast(leg, HOLD_MUSIC, "aleg"))

    @staticmethod
    def _stop_timer(consult: Consult) -> None:
        if consult.timer is not None:
            consult.timer.cancel()
            consult.timer = None

    def finished(self, call: Call) -> None:
        """The call ended: a consult under way ends with it, the target agent moves on."""
        consult = consult_of(call)
        if consult is None:
            return
        self._stop_timer(consult)
        if consult.state == Consult.THREE_WAY:
            leg = self.calls.leg(consult.leg)
            if leg is not None and consult.agent_id != call.agent_id:
                self._release_target(call, consult, leg)    # the call's agent: finishing's
        elif consult.under_way:
            consult.state, consult.cause = "failed", call.cause or "NORMAL_CLEARING"
            self._note(call, consult, "failed")
            leg = self.calls.leg(consult.leg)
            if leg is not None:
                self._release_target(call, consult, leg)
