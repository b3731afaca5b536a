"""Click-to-dial, agent first: ring the agent's softphone, and when it answers, dial the customer
and bridge the two on the customer's first sign of media.

Channel events decide a call's fate. Job results only fill in for legs that never produced an
event (an unregistered agent, a gateway that refused at once): the customer originate says
`+OK` at early media (so a no-answer timer of our own covers a carrier that plays early media
forever) and `-ERR ORIGINATOR_CANCEL` for a call that bridged before its `park` ran and
talked normally.

The legs are made and joined with the call primitives (calls.py).
"""

from __future__ import annotations

import logging
import uuid

from ..errors import Conflict, Unavailable
from ..esl import commands
from ..esl.connection import ESLError
from ..esl.protocol import Event
from ..models import AgentState, Direction, HangupBy, LegRole, Outcome
from .agents import AgentError, AgentView, Roster
from .calls import Calls, DialTimes, customer_outcome, hung_up_by, job_cause
from .legs import COMING_UP, Call, Happened, Leg, Progress
from .offers import Offers, refusal
from .sender import Sent

log = logging.getLogger(__name__)

# What the agent hears while the customer's phone rings with no media of its own (180 only):
# the North American ringback cadence.
RINGBACK = "tone_stream://%(2000,4000,440,480);loops=-1"


class DialError(Conflict):
    """A dial refused before anything was originated; the message is for the agent."""


class SwitchUnavailable(Unavailable):
    """FreeSWITCH cannot be reached right now."""


class Dialer:
    def __init__(self, *, calls: Calls, offers: Offers, roster: Roster, domain: str,
                 gateway: str, caller_id: str | None, ended, changed) -> None:
        self.calls, self.offers, self.roster = calls, offers, roster
        self.legs, self.sender, self.clock = calls.legs, calls.sender, calls.clock
        self.domain, self.gateway, self.caller_id = domain, gateway, caller_id
        self.times = calls.times
        self._ended = ended        # ended(call): the switchboard finishes the call
        self._changed = changed    # changed(call): publish the call's new progress

    # -- the agent presses Dial ---------------------------------------------------------------

    def dial(self, agent: AgentView, number: str, *, connected: bool,
             sent: Sent | None = None) -> Call:
        """`sent` is called just before the agent's originate is written."""
        number = commands.valid_number(number, "number")
        refused = refusal(agent, own_call=True)
        if refused is not None:
            raise DialError(refused)
        if not connected:
            raise SwitchUnavailable("the phone system (FreeSWITCH) is unreachable; "
                                    "try again in a moment")
        call = Call(id=str(uuid.uuid4()), direction=Direction.OUTBOUND, agent_id=agent.id,
                    number=number, caller_id=self.caller_id or "", created=self.clock.now())
        self.legs.add_call(call)
        try:
            self.offers.ring(call, agent, shows=number, sent=sent,
                             then=lambda _leg, reply, error: self._agent_job(call, reply, error))
        except commands.CommandError:
            self.legs.calls.pop(call.id, None)
            raise
        return call

    # -- events ---------------------------------------------------------------------------------

    def on_leg(self, call: Call, leg: Leg, happened: Happened, event: Event) -> None:
        if call.outcome is not None and leg.alive and happened in COMING_UP:
            # The call was over before this leg came up (its originate was on the way when
            # the other side left): it must not ring on alone.
            self.calls.hang_up(leg.uuid, "ORIGINATOR_CANCEL" if not leg.answered else
                          "NORMAL_CLEARING")
            return
        if leg.role is LegRole.AGENT:
            self._agent_leg(call, leg, happened)
        elif leg.role is LegRole.CUSTOMER:
            self._customer_leg(call, leg, happened, event)

    def _agent_leg(self, call: Call, leg: Leg, happened: Happened) -> None:
        self.offers.on_agent_leg(call, leg, happened, call.agent_id)
        if happened is Happened.ANSWERED and call.progress is Progress.DIALING_AGENT:
            agent = self.roster.agents.get(call.agent_id)
            if agent is not None:
                self.roster.set_state(agent, AgentState.IN_CALL, call.id)
            self._dial_customer(call)
        elif happened is Happened.HUNG_UP:
            if call.outcome is None:
                customer = self.calls.leg(call.customer_leg)
                if not leg.answered:
                    self.calls.decide(call, Outcome.AGENT_NO_ANSWER, leg.cause,
                                 hung_up_by(leg, HangupBy.AGENT))
                elif customer is not None and customer.answered:
                    self.calls.decide(call, Outcome.ANSWERED, customer.cause,
                                      hung_up_by(leg, HangupBy.AGENT))
                else:
                    self.calls.decide(call, Outcome.CANCELLED, "ORIGINATOR_CANCEL", HangupBy.AGENT)
            self.calls.release_partner(call, leg, "ORIGINATOR_CANCEL")

    def _customer_leg(self, call: Call, leg: Leg, happened: Happened, event: Event) -> None:
        now = self.clock.now()
        agent_leg = call.agent_leg
        if happened is Happened.RINGING and call.progress is Progress.DIALING:
            call.progress, call.ringing_at = Progress.RINGING, now
            # 180 without media leaves the agent in silence: play ringback until media comes.
            self.sender.api(commands.uuid_broadcast(agent_leg, RINGBACK, "aleg"))
            self._changed(call)
        elif happened is Happened.EARLY_MEDIA and not leg.answered:
            if call.ringing_at is None:
                call.ringing_at = now
            call.progress = Progress.EARLY_MEDIA
            self.calls.bridge(call, event)
            self._changed(call)
        elif happened is Happened.ANSWERED:
            call.answered_at = now
            if call.ringing_at is None:
                call.ringing_at = now
            call.progress = Progress.ANSWERED
            self.calls.bridge(call, event)  # the no-answer timer sees the answer and does nothing
            self._changed(call)
        elif happened is Happened.BRIDGED:
            call.bridged_at = call.bridged_at or now
        elif happened is Happened.HUNG_UP:
            if call.outcome is None:
                self.calls.decide(call, *customer_outcome(leg), hung_up_by(leg, HangupBy.CUSTOMER))
            self.calls.release_partner(call, leg, "NORMAL_CLEARING")

    # -- steps ----------------------------------------------------------------------------------

    def _dial_customer(self, call: Call) -> None:
        variables = {
            **self.calls.tags(call, LegRole.CUSTOMER),
            "originate_timeout": self.times.customer_ring,
            "park_timeout": self.times.park,
        }
        if call.caller_id:  # never the agent's extension: the carrier's default otherwise
            variables["origination_caller_id_number"] = call.caller_id
        try:
            self.calls.originate(
                call, LegRole.CUSTOMER, commands.gateway_endpoint(self.gateway, call.number),
                variables, lambda leg, reply, error: self._customer_job(call, leg, reply, error))
        except commands.CommandError as exc:  # a misconfigured gateway or caller ID
            log.error("cannot dial the customer of %s: %s", call.id, exc,
                      extra={"call_id": call.id})
            self.calls.decide(call, Outcome.FAILED, "INVALID_GATEWAY", HangupBy.SYSTEM)
            self.calls.hang_up(call.agent_leg, "NORMAL_CLEARING")
            return
        call.progress = Progress.DIALING
        call.timers.append(self.clock.call_later(
            self.times.customer_ring + self.times.timer_margin, self._no_answer, call))
        self._changed(call)

    def adopt(self, call: Call) -> bool:
        """A dial-out rebuilt after a controller restart: half a call (its partner left while
        we were away, or was never dialled) is released; one still ringing gets a fresh
        no-answer timer. The switchboard goes on with it (False)."""
        alive = [leg for leg in self.legs.legs_of(call) if leg.alive]
        if len(alive) == 1 and alive[0].bridged_to is None:
            self.calls.end(call, HangupBy.SYSTEM)
        elif call.progress is not Progress.ANSWERED:
            call.timers.append(self.clock.call_later(
                self.times.customer_ring + self.times.timer_margin, self._no_answer, call))
        return False

    def _no_answer(self, call: Call) -> None:
        customer = self.calls.leg(call.customer_leg)
        if call.ended or customer is None or customer.answered:
            return
        self.calls.decide(call, Outcome.NO_ANSWER, "NO_ANSWER", HangupBy.SYSTEM)
        self.calls.hang_up(customer.uuid, "NO_ANSWER")
        self.calls.hang_up(call.agent_leg, "NORMAL_CLEARING")

    # -- job results: only for legs that never produced an event ------------------------------

    def _agent_job(self, call: Call, reply: str | None, error: ESLError | None) -> None:
        leg = self.calls.leg(call.agent_leg)
        if leg is None or leg.seen or call.ended or (reply or "").startswith("+OK"):
            return
        cause = job_cause(reply, error)
        if error is not None:
            # No result (a timeout under overload, a lost link): the leg may exist all the
            # same, parked with the agent's softphone picked up. We chose its UUID: kill it.
            self.calls.hang_up(leg.uuid, "NORMAL_CLEARING")
        agent = self.roster.agents.get(call.agent_id)
        if cause == "USER_NOT_REGISTERED":
            if agent is not None:
                self.roster.mark_unregistered(agent.extension)
            self.calls.decide(call, Outcome.AGENT_NOT_REGISTERED, cause, HangupBy.SYSTEM)
        else:
            self.calls.decide(call, Outcome.FAILED, cause, HangupBy.SYSTEM)
        leg.hung_up = leg.completed = True
        leg.cause = cause
        self._ended(call)

    def _customer_job(self, call: Call, uuid_: str, reply: str | None,
                      error: ESLError | None) -> None:
        leg = self.calls.leg(uuid_)
        if leg is None or leg.seen or call.ended:
            return
        if (reply or "").startswith("+OK"):
            if call.outcome is not None:  # up now, but the call is over
                self.calls.hang_up(uuid_, "ORIGINATOR_CANCEL")
            return
        # Refused before any channel existed (e.g. an unknown gateway), or no result at all.
        cause = job_cause(reply, error)
        if error is not None:
            self.calls.hang_up(uuid_, "NORMAL_CLEARING")
        leg.hung_up = leg.completed = True
        leg.cause = cause
        if call.outcome is None:
            self.calls.decide(call, *customer_outcome(leg), HangupBy.SYSTEM)
        self.calls.release_partner(call, leg, "NORMAL_CLEARING")
        self._ended(call)



__all__ = ["AgentError", "DialError", "DialTimes", "Dialer", "SwitchUnavailable"]
