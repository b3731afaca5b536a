"""The call primitives every kind of call is made of: originate a leg to park, bridge two legs
(checked), hang a leg up (and release its partner), and decide how the call ended.

FreeSWITCH hangs up the bridged partner of a leg that leaves, but leaves a parked or unbridged
partner alone: whenever a leg goes, its partner is hung up here unless the bridge will take it.
Click-to-dial, transfers and queues are compositions of these, driven by events.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..clock import Clock
from ..esl import commands
from ..esl.connection import ESLError
from ..esl.protocol import Event
from ..models import HangupBy, LegRole, Outcome
from .legs import Call, Leg, Legs
from .sender import Sender, Sent
from .stats import SwitchboardStats, stamped_at

log = logging.getLogger(__name__)

BRIDGE_CHECK_S = 1.0  # a bridge not seen this long after uuid_bridge is sent again
BRIDGE_TRIES = 3

BUSY_CAUSES = frozenset({"USER_BUSY"})
NO_ANSWER_CAUSES = frozenset({"NO_ANSWER", "NO_USER_RESPONSE", "ALLOTTED_TIMEOUT"})

# An originate's job result: (the new leg's UUID, reply, error).
JobReply = Callable[[str, str | None, ESLError | None], None]


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


class Calls:
    def __init__(self, *, legs: Legs, sender: Sender, clock: Clock, times: DialTimes,
                 stats: SwitchboardStats | None = None) -> None:
        self.legs, self.sender, self.clock, self.times = legs, sender, clock, times
        self.stats = stats or SwitchboardStats()

    # -- originate ------------------------------------------------------------------------------

    @staticmethod
    def tags(call: Call, role: LegRole, agent_id: int | None = None) -> dict[str, str]:
        """Channel variables that tie a leg to its call (the CDR reads them back). `agent_id`:
        the agent this leg serves, when not the call's own."""
        tags = {"cc_call_id": call.id, "cc_role": role.value,
                "cc_direction": call.direction.value,
                # A carrier's caller ID is untrusted text: only what may travel in a variable.
                "cc_customer_number": commands.passable_text(call.number, 32)}
        agent = call.agent_id if agent_id is None else agent_id
        if agent is not None:
            tags["cc_agent_id"] = str(agent)
        if call.caller_id:
            tags["cc_caller_id"] = commands.passable_text(call.caller_id, 32)
        return {name: value for name, value in tags.items() if value}

    def originate(self, call: Call, role: LegRole, endpoint: str,
                  variables: Mapping[str, str | int], then: JobReply, *, current: bool = True,
                  sent: Sent | None = None, agent_id: int | None = None) -> str:
        """Originate a new leg of `call` to `&park()`. The leg is registered before the command
        is sent (we choose its UUID), so its events are matched even before the job's reply.
        `agent_id`: the agent whose softphone the leg rings.
        Raises CommandError (nothing sent, nothing registered) if a value is refused."""
        leg = str(uuid.uuid4())
        command = commands.originate(leg, endpoint, variables)
        self.legs.add_leg(call, leg, role, current=current, agent_id=agent_id)
        self.sender.bgapi(command, lambda reply, error: then(leg, reply, error), sent=sent)
        return leg

    # -- bridge ---------------------------------------------------------------------------------

    def bridge(self, call: Call, media: Event, *, quiet: str | None = None) -> None:
        """Connect the call's agent and customer legs (once), on the customer's first media (or
        the agent's answer to a queued caller). `quiet`: the leg whose playback (ringback, hold
        music) stops first, and the first named to uuid_bridge (as captured: the agent's for a
        dial-out, the caller's for a queued call); the agent's by default."""
        if call.bridge_sent:
            return
        call.bridge_sent = True
        first = quiet or call.agent_leg
        second = call.customer_leg if first == call.agent_leg else call.agent_leg
        # From when FreeSWITCH stamped the media event: the wait in our event queue counts.
        media_at = stamped_at(media) or self.clock.now()
        self.sender.api(commands.uuid_break(first))
        self.sender.api(commands.uuid_bridge(first, second),
                        lambda reply, error: self._bridge_reply(call, reply, error),
                        sent=lambda: self.stats.media_to_bridge.add(self.clock.now() - media_at))
        call.timers.append(self.clock.call_later(BRIDGE_CHECK_S, self._check_bridge, call, 1,
                                                 first, second))

    def _check_bridge(self, call: Call, attempt: int, first: str, second: str) -> None:
        """A uuid_bridge that said +OK but never bridged: on a real FreeSWITCH, ringback
        broadcast on the 180 can start playing *after* the uuid_break sent on the 183 (the break
        found nothing queued yet), and the agent leg then sits in its endless playback while the
        bridge waits. Break and bridge again; give up after a few tries."""
        if call.ended or call.bridged_at is not None or call.outcome is not None:
            return
        legs = [self.leg(first), self.leg(second)]
        if any(leg is None or not leg.alive for leg in legs):
            return
        if attempt >= BRIDGE_TRIES:
            log.warning("bridge of %s never happened; giving up", call.id,
                        extra={"call_id": call.id})
            self.decide(call, Outcome.FAILED, "RECOVERY_ON_TIMER_EXPIRE", HangupBy.SYSTEM)
            for leg in legs:
                self.hang_up(leg.uuid, "RECOVERY_ON_TIMER_EXPIRE")
            return
        log.info("bridge of %s not seen after %.1fs: breaking and bridging again", call.id,
                 BRIDGE_CHECK_S * attempt, extra={"call_id": call.id})
        self.sender.api(commands.uuid_break(first))
        self.sender.api(commands.uuid_bridge(first, second))
        call.timers.append(self.clock.call_later(BRIDGE_CHECK_S, self._check_bridge, call,
                                                 attempt + 1, first, second))

    def _bridge_reply(self, call: Call, reply: str | None, error: ESLError | None) -> None:
        if error is None and commands.is_ok(reply or ""):
            return
        # A leg left while the bridge was on its way: the other one is parked — hang it up.
        log.info("bridge of %s failed: %s", call.id, (reply or str(error)).strip(),
                 extra={"call_id": call.id})
        for leg in self.legs.legs_of(call):
            if leg.alive and leg.bridged_to is None:
                self.hang_up(leg.uuid, "NORMAL_CLEARING")

    # -- hang up --------------------------------------------------------------------------------

    def hang_up(self, uuid_: str | None, cause: str) -> None:
        """Ask FreeSWITCH to hang the leg up (once)."""
        leg = self.leg(uuid_)
        if uuid_ is None or leg is not None and (leg.kill_sent or leg.hung_up):
            return
        if leg is not None:
            leg.kill_sent = True
        self.sender.api(commands.uuid_kill(uuid_, cause))

    def release_partner(self, call: Call, gone: Leg, cause: str) -> None:
        """`gone` left: its bridged partner goes with the bridge (checked after a grace time);
        any other live leg of the call is hung up now."""
        for leg in self.legs.legs_of(call):
            if leg is gone or not leg.alive:
                continue
            if leg.bridged_to == gone.uuid:
                call.timers.append(self.clock.call_later(self.times.partner_grace,
                                                         self._still_there, leg))
            else:
                self.hang_up(leg.uuid, cause if not leg.answered else "NORMAL_CLEARING")

    def _still_there(self, leg: Leg) -> None:
        if leg.alive and self.legs.legs.get(leg.uuid) is leg:
            log.warning("leg %s outlived its bridged partner; hanging it up", leg.uuid,
                        extra={"leg": leg.uuid})
            self.hang_up(leg.uuid, "NORMAL_CLEARING")

    def end(self, call: Call, by: HangupBy) -> None:
        """End the whole call for `by`: the CDR says who (cc_hangup_by travels with the leg, so
        the json_cdr path knows too); the partner goes with the bridge or is released here."""
        if call.outcome is None:
            customer = self.leg(call.customer_leg)
            if customer is not None and customer.answered:
                self.decide(call, Outcome.ANSWERED, "NORMAL_CLEARING", by)
            else:
                self.decide(call, Outcome.CANCELLED, "ORIGINATOR_CANCEL", by)
        for leg in self.legs.legs_of(call):
            if leg.alive:
                self.sender.api(commands.uuid_setvar(leg.uuid, "cc_hangup_by", by.value))
        first = self.leg(call.agent_leg if by is HangupBy.AGENT else call.customer_leg)
        if first is not None and first.alive:
            self.hang_up(first.uuid, "NORMAL_CLEARING")
        for leg in self.legs.legs_of(call):
            if leg is not first and leg.alive and leg.bridged_to is None:
                self.hang_up(leg.uuid, "ORIGINATOR_CANCEL" if not leg.answered else
                             "NORMAL_CLEARING")

    # -- the outcome ----------------------------------------------------------------------------

    @staticmethod
    def decide(call: Call, outcome: Outcome, cause: str | None, by: HangupBy) -> None:
        """The first leg to go decides how the call ended."""
        call.outcome, call.cause, call.hangup_by = outcome, cause, by
        call.cancel_timers()

    def leg(self, uuid_: str | None) -> Leg | None:
        return self.legs.legs.get(uuid_) if uuid_ is not None else None


def customer_outcome(leg: Leg) -> tuple[Outcome, str | None]:
    """How a call ends when its customer leg goes first."""
    cause = leg.cause or "NORMAL_CLEARING"
    if leg.answered:
        return Outcome.ANSWERED, cause
    if cause in BUSY_CAUSES:
        return Outcome.BUSY, cause
    if cause in NO_ANSWER_CAUSES:
        return Outcome.NO_ANSWER, cause
    return Outcome.FAILED, cause


def hung_up_by(leg: Leg, side: HangupBy) -> HangupBy:
    """Who ended the call when `leg` went first: its own side if the far end sent the BYE,
    CANCEL or refusal; the switch if it ended the leg itself."""
    if leg.disposition is None or leg.disposition.startswith("recv_"):
        return side
    return HangupBy.SYSTEM


def job_cause(reply: str | None, error: ESLError | None) -> str:
    """The cause an originate's job reply gives (`-ERR USER_BUSY`), for a leg with no events."""
    if error is not None:
        return "SWITCH_UNREACHABLE"
    text = (reply or "").strip()
    if text.startswith("-ERR"):
        return text[4:].strip().split()[0] if text[4:].strip() else "NORMAL_UNSPECIFIED"
    return "NORMAL_UNSPECIFIED"
