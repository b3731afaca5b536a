"""Click-to-dial, agent first: ring the agent's softphone, and when it answers, dial the customer
and bridge the two on the customer's first sign of media.

Channel events decide a call's fate. Job results only fill in for legs that never produced an
event (an unregistered agent, a gateway that refused at once): the customer originate says
`+OK` at early media (so a no-answer timer of our own covers a carrier that plays early media
forever) and `-ERR ORIGINATOR_CANCEL` for a call that bridged before its `park` ran and
talked normally.

FreeSWITCH hangs up the bridged partner of a leg that leaves, but leaves a parked or unbridged
partner alone: whenever a leg goes, its partner is hung up here unless the bridge will take it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from ..clock import Clock
from ..esl import commands
from ..esl.connection import ESLError
from ..esl.protocol import Event
from ..models import AgentState, AgentStatus, Direction, HangupBy, LegRole, Outcome
from .agents import AgentError, AgentView, Roster
from .legs import COMING_UP, Call, Happened, Leg, Legs, Progress
from .sender import Sender, Sent
from .stats import SwitchboardStats, stamped_at

log = logging.getLogger(__name__)

# What the agent hears while the customer's phone rings with no media of its own (180 only):
# the North American ringback cadence.
RINGBACK = "tone_stream://%(2000,4000,440,480);loops=-1"

BRIDGE_CHECK_S = 1.0  # a bridge not seen this long after uuid_bridge is sent again
BRIDGE_TRIES = 3

BUSY_CAUSES = frozenset({"USER_BUSY"})
NO_ANSWER_CAUSES = frozenset({"NO_ANSWER", "NO_USER_RESPONSE", "ALLOTTED_TIMEOUT"})


class DialError(Exception):
    """A dial refused before anything was originated; the message is for the agent."""


class SwitchUnavailable(DialError):
    """FreeSWITCH cannot be reached right now."""


@dataclass(frozen=True)
class DialTimes:
    """Seconds. The agent's softphone auto-answers, so its ring time is short; the customer's
    ring time is the carrier's (FreeSWITCH enforces it while there is no early media, our own
    timer after it). park_timeout outlives both, so a parked leg never outlives a lost
    controller by more than that."""
    agent_ring: int = 30
    customer_ring: int = 45
    timer_margin: int = 2
    park: int = 120
    partner_grace: float = 5.0


class Dialer:
    def __init__(self, *, legs: Legs, roster: Roster, sender: Sender, clock: Clock,
                 domain: str, gateway: str, caller_id: str | None, times: DialTimes,
                 ended, changed, stats: SwitchboardStats | None = None) -> None:
        self.legs, self.roster, self.sender, self.clock = legs, roster, sender, clock
        self.stats = stats or SwitchboardStats()
        self.domain, self.gateway, self.caller_id = domain, gateway, caller_id
        self.times = times
        self._ended = ended        # ended(call): the switchboard finishes the call
        self._changed = changed    # changed(call): publish the call's new progress

    # -- the agent presses Dial ---------------------------------------------------------------

    def dial(self, agent: AgentView, number: str, *, connected: bool,
             sent: Sent | None = None) -> Call:
        """`sent` is called just before the agent's originate is written."""
        number = commands.valid_number(number, "number")
        if not agent.active:
            raise DialError("your account is deactivated")
        if agent.status is AgentStatus.LOGGED_OUT:
            # Logged Out means not logged in to the web page (logout, or the softphone's
            # credential expired): Available and On break may both dial out.
            raise DialError("you are Logged Out: choose Available or On break (or log in "
                            "again) to place calls")
        if not agent.registered:
            raise DialError(f"your softphone (extension {agent.extension}) is not registered; "
                            "open the agent page and wait for 'Registered'")
        if agent.state not in (AgentState.IDLE, AgentState.WRAP_UP):
            raise DialError(f"you are already on a call ({agent.state.value.replace('_', ' ')})")
        if not connected:
            raise SwitchUnavailable("the phone system (FreeSWITCH) is unreachable; "
                                    "try again in a moment")
        call = Call(id=str(uuid.uuid4()), direction=Direction.OUTBOUND, agent_id=agent.id,
                    number=number, caller_id=self.caller_id or "", created=self.clock.now())
        leg = str(uuid.uuid4())
        command = commands.originate(leg, commands.user_endpoint(agent.extension, self.domain), {
            **self._tags(call, LegRole.AGENT),
            **commands.auto_answer_variables(self.domain),
            # What the agent's softphone shows: the number it is about to be connected to.
            "origination_caller_id_number": number,
            "originate_timeout": self.times.agent_ring,
            "park_timeout": self.times.park,
        })
        self.legs.add_call(call)
        self.legs.add_leg(call, leg, LegRole.AGENT)
        self.roster.set_state(agent, AgentState.RINGING, call.id)
        self.sender.bgapi(command, lambda reply, error: self._agent_job(call, reply, error),
                          sent=sent)
        return call

    def _tags(self, call: Call, role: LegRole) -> dict[str, str]:
        """Channel variables that tie a leg to its call (the CDR reads them back)."""
        tags = {"cc_call_id": call.id, "cc_role": role.value,
                "cc_direction": call.direction.value, "cc_customer_number": call.number}
        if call.agent_id is not None:
            tags["cc_agent_id"] = str(call.agent_id)
        if call.caller_id:
            tags["cc_caller_id"] = call.caller_id
        return tags

    # -- events ---------------------------------------------------------------------------------

    def on_leg(self, call: Call, leg: Leg, happened: Happened, event: Event) -> None:
        if call.outcome is not None and leg.alive and happened in COMING_UP:
            # The call was over before this leg came up (its originate was on the way when
            # the other side left): it must not ring on alone.
            self._hang_up(leg.uuid, "ORIGINATOR_CANCEL" if not leg.answered else
                          "NORMAL_CLEARING")
            return
        if leg.role is LegRole.AGENT:
            self._agent_leg(call, leg, happened)
        elif leg.role is LegRole.CUSTOMER:
            self._customer_leg(call, leg, happened, event)

    def _agent_leg(self, call: Call, leg: Leg, happened: Happened) -> None:
        if happened is Happened.ANSWERED and call.progress is Progress.DIALING_AGENT:
            agent = self.roster.agents.get(call.agent_id)
            if agent is not None:
                self.roster.set_state(agent, AgentState.IN_CALL, call.id)
            self._dial_customer(call)
        elif happened is Happened.HUNG_UP:
            if call.outcome is None:
                customer = self._leg(call.customer_leg)
                if not leg.answered:
                    self._decide(call, Outcome.AGENT_NO_ANSWER, leg.cause,
                                 _by(leg, HangupBy.AGENT))
                elif customer is not None and customer.answered:
                    self._decide(call, Outcome.ANSWERED, customer.cause, _by(leg, HangupBy.AGENT))
                else:
                    self._decide(call, Outcome.CANCELLED, "ORIGINATOR_CANCEL", HangupBy.AGENT)
            self._release_partner(call, leg, "ORIGINATOR_CANCEL")

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
            self._bridge(call, event)
            self._changed(call)
        elif happened is Happened.ANSWERED:
            call.answered_at = now
            if call.ringing_at is None:
                call.ringing_at = now
            call.progress = Progress.ANSWERED
            self._bridge(call, event)  # the no-answer timer sees the answer and does nothing
            self._changed(call)
        elif happened is Happened.BRIDGED:
            call.bridged_at = call.bridged_at or now
        elif happened is Happened.HUNG_UP:
            if call.outcome is None:
                self._decide(call, *_customer_outcome(leg), _by(leg, HangupBy.CUSTOMER))
            self._release_partner(call, leg, "NORMAL_CLEARING")

    def on_bridged(self, call: Call) -> None:
        if call.bridged_at is None:
            call.bridged_at = self.clock.now()

    # -- steps ----------------------------------------------------------------------------------

    def _dial_customer(self, call: Call) -> None:
        leg = str(uuid.uuid4())
        variables = {
            **self._tags(call, LegRole.CUSTOMER),
            "originate_timeout": self.times.customer_ring,
            "park_timeout": self.times.park,
        }
        if call.caller_id:  # never the agent's extension: the carrier's default otherwise
            variables["origination_caller_id_number"] = call.caller_id
        try:
            command = commands.originate(leg, commands.gateway_endpoint(self.gateway, call.number),
                                         variables)
        except commands.CommandError as exc:  # a misconfigured gateway or caller ID
            log.error("cannot dial the customer of %s: %s", call.id, exc,
                      extra={"call_id": call.id})
            self._decide(call, Outcome.FAILED, "INVALID_GATEWAY", HangupBy.SYSTEM)
            self._hang_up(call.agent_leg, "NORMAL_CLEARING")
            return
        self.legs.add_leg(call, leg, LegRole.CUSTOMER)
        call.progress = Progress.DIALING
        call.timers.append(self.clock.call_later(
            self.times.customer_ring + self.times.timer_margin, self._no_answer, call))
        self.sender.bgapi(command, lambda reply, error: self._customer_job(call, leg, reply, error))
        self._changed(call)

    def restart_timer(self, call: Call) -> None:
        """A call rebuilt after a restart that is still ringing gets a fresh no-answer timer."""
        call.timers.append(self.clock.call_later(
            self.times.customer_ring + self.times.timer_margin, self._no_answer, call))

    def _bridge(self, call: Call, media: Event) -> None:
        if call.bridge_sent:
            return
        call.bridge_sent = True
        agent, customer = call.agent_leg, call.customer_leg
        # From when FreeSWITCH stamped the media event: the wait in our event queue counts.
        media_at = stamped_at(media) or self.clock.now()
        self.sender.api(commands.uuid_break(agent))
        self.sender.api(commands.uuid_bridge(agent, customer),
                        lambda reply, error: self._bridge_reply(call, reply, error),
                        sent=lambda: self.stats.media_to_bridge.add(self.clock.now() - media_at))
        call.timers.append(self.clock.call_later(BRIDGE_CHECK_S, self._check_bridge, call, 1))

    def _check_bridge(self, call: Call, attempt: int) -> None:
        """A uuid_bridge that said +OK but never bridged: on a real FreeSWITCH, ringback
        broadcast on the 180 can start playing *after* the uuid_break sent on the 183 (the break
        found nothing queued yet), and the agent leg then sits in its endless playback while the
        bridge waits. Break and bridge again; give up after a few tries."""
        if call.ended or call.bridged_at is not None or call.outcome is not None:
            return
        legs = [self._leg(call.agent_leg), self._leg(call.customer_leg)]
        if any(leg is None or not leg.alive for leg in legs):
            return
        if attempt >= BRIDGE_TRIES:
            log.warning("bridge of %s never happened; giving up", call.id,
                        extra={"call_id": call.id})
            self._decide(call, Outcome.FAILED, "RECOVERY_ON_TIMER_EXPIRE", HangupBy.SYSTEM)
            for leg in legs:
                self._hang_up(leg.uuid, "RECOVERY_ON_TIMER_EXPIRE")
            return
        log.info("bridge of %s not seen after %.1fs: breaking and bridging again", call.id,
                 BRIDGE_CHECK_S * attempt, extra={"call_id": call.id})
        self.sender.api(commands.uuid_break(call.agent_leg))
        self.sender.api(commands.uuid_bridge(call.agent_leg, call.customer_leg))
        call.timers.append(self.clock.call_later(BRIDGE_CHECK_S, self._check_bridge, call,
                                                 attempt + 1))

    def _bridge_reply(self, call: Call, reply: str | None, error: ESLError | None) -> None:
        if error is None and commands.is_ok(reply or ""):
            return
        # A leg left while the bridge was on its way: the other one is parked — hang it up.
        log.info("bridge of %s failed: %s", call.id, (reply or str(error)).strip(),
                 extra={"call_id": call.id})
        for leg in self.legs.legs_of(call):
            if leg.alive and leg.bridged_to is None:
                self._hang_up(leg.uuid, "NORMAL_CLEARING")

    def _no_answer(self, call: Call) -> None:
        customer = self._leg(call.customer_leg)
        if call.ended or customer is None or customer.answered:
            return
        self._decide(call, Outcome.NO_ANSWER, "NO_ANSWER", HangupBy.SYSTEM)
        self._hang_up(customer.uuid, "NO_ANSWER")
        self._hang_up(call.agent_leg, "NORMAL_CLEARING")

    # -- job results: only for legs that never produced an event ------------------------------

    def _agent_job(self, call: Call, reply: str | None, error: ESLError | None) -> None:
        leg = self._leg(call.agent_leg)
        if leg is None or leg.seen or call.ended or (reply or "").startswith("+OK"):
            return
        cause = _job_cause(reply, error)
        if error is not None:
            # No result (a timeout under overload, a lost link): the leg may exist all the
            # same, parked with the agent's softphone picked up. We chose its UUID: kill it.
            self._hang_up(leg.uuid, "NORMAL_CLEARING")
        agent = self.roster.agents.get(call.agent_id)
        if cause == "USER_NOT_REGISTERED":
            if agent is not None:
                self.roster.mark_unregistered(agent.extension)
            self._decide(call, Outcome.AGENT_NOT_REGISTERED, cause, HangupBy.SYSTEM)
        else:
            self._decide(call, Outcome.FAILED, cause, HangupBy.SYSTEM)
        leg.hung_up = leg.completed = True
        leg.cause = cause
        self._ended(call)

    def _customer_job(self, call: Call, uuid_: str, reply: str | None,
                      error: ESLError | None) -> None:
        leg = self._leg(uuid_)
        if leg is None or leg.seen or call.ended:
            return
        if (reply or "").startswith("+OK"):
            if call.outcome is not None:  # up now, but the call is over
                self._hang_up(uuid_, "ORIGINATOR_CANCEL")
            return
        # Refused before any channel existed (e.g. an unknown gateway), or no result at all.
        cause = _job_cause(reply, error)
        if error is not None:
            self._hang_up(uuid_, "NORMAL_CLEARING")
        leg.hung_up = leg.completed = True
        leg.cause = cause
        if call.outcome is None:
            self._decide(call, *_customer_outcome(leg), HangupBy.SYSTEM)
        self._release_partner(call, leg, "NORMAL_CLEARING")
        self._ended(call)

    # -- the agent presses Hang up ---------------------------------------------------------------

    def hang_up(self, call: Call, by: HangupBy) -> None:
        """End the call for `by`: the CDR says who (cc_hangup_by travels with the leg, so the
        json_cdr path knows too); the partner goes with the bridge or is released here."""
        if call.outcome is None:
            customer = self._leg(call.customer_leg)
            if customer is not None and customer.answered:
                self._decide(call, Outcome.ANSWERED, "NORMAL_CLEARING", by)
            else:
                self._decide(call, Outcome.CANCELLED, "ORIGINATOR_CANCEL", by)
        for leg in self.legs.legs_of(call):
            if leg.alive:
                self.sender.api(commands.uuid_setvar(leg.uuid, "cc_hangup_by", by.value))
        first = self._leg(call.agent_leg if by is HangupBy.AGENT else call.customer_leg)
        if first is not None and first.alive:
            self._hang_up(first.uuid, "NORMAL_CLEARING")
        for leg in self.legs.legs_of(call):
            if leg is not first and leg.alive and leg.bridged_to is None:
                self._hang_up(leg.uuid, "ORIGINATOR_CANCEL" if not leg.answered else
                              "NORMAL_CLEARING")

    # -- helpers --------------------------------------------------------------------------------

    def _decide(self, call: Call, outcome: Outcome, cause: str | None, by: HangupBy) -> None:
        """The first leg to go decides how the call ended."""
        call.outcome, call.cause, call.hangup_by = outcome, cause, by
        call.cancel_timers()

    def _release_partner(self, call: Call, gone: Leg, cause: str) -> None:
        for leg in self.legs.legs_of(call):
            if leg is gone or not leg.alive:
                continue
            if leg.bridged_to == gone.uuid:
                # FreeSWITCH hangs a bridged partner up by itself; check it did.
                call.timers.append(self.clock.call_later(self.times.partner_grace,
                                                         self._still_there, leg))
            else:
                self._hang_up(leg.uuid, cause if not leg.answered else "NORMAL_CLEARING")

    def _still_there(self, leg: Leg) -> None:
        if leg.alive and self.legs.legs.get(leg.uuid) is leg:
            log.warning("leg %s outlived its bridged partner; hanging it up", leg.uuid,
                        extra={"leg": leg.uuid})
            self._hang_up(leg.uuid, "NORMAL_CLEARING")

    def _hang_up(self, uuid_: str | None, cause: str) -> None:
        leg = self._leg(uuid_)
        if uuid_ is None or leg is not None and (leg.kill_sent or leg.hung_up):
            return
        if leg is not None:
            leg.kill_sent = True
        self.sender.api(commands.uuid_kill(uuid_, cause))


    def _leg(self, uuid_: str | None) -> Leg | None:
        return self.legs.legs.get(uuid_) if uuid_ is not None else None


def _customer_outcome(leg: Leg) -> tuple[Outcome, str | None]:
    cause = leg.cause or "NORMAL_CLEARING"
    if leg.answered:
        return Outcome.ANSWERED, cause
    if cause in BUSY_CAUSES:
        return Outcome.BUSY, cause
    if cause in NO_ANSWER_CAUSES:
        return Outcome.NO_ANSWER, cause
    return Outcome.FAILED, cause


def _by(leg: Leg, side: HangupBy) -> HangupBy:
    """Who ended the call when `leg` went first: its own side if the far end sent the BYE,
    CANCEL or refusal; the switch if it ended the leg itself."""
    if leg.disposition is None or leg.disposition.startswith("recv_"):
        return side
    return HangupBy.SYSTEM


def _job_cause(reply: str | None, error: ESLError | None) -> str:
    if error is not None:
        return "SWITCH_UNREACHABLE"
    text = (reply or "").strip()
    if text.startswith("-ERR"):
        return text[4:].strip().split()[0] if text[4:].strip() else "NORMAL_UNSPECIFIED"
    return "NORMAL_UNSPECIFIED"


__all__ = ["DialError", "Dialer", "DialTimes", "SwitchUnavailable", "AgentError"]
