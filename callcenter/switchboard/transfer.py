"""Blind transfer: hand the customer to another agent or number.

The new leg is originated to `&park()` (to an agent through offers.py, so a busy, unregistered
or On break agent is refused with the reason), and on its answer (or, for a number, its early
media) the customer is bridged to it. That re-bridge takes the customer out of the old bridge,
and FreeSWITCH hangs the old agent leg up itself (a partner that leaves a bridge takes the other
with it unless park_after_bridge); a leg still there when the new bridge is reported is hung up
here. The call keeps its id: the new leg becomes its agent leg, the old one stays in
`Call.others` until the call ends. Each leg's part is tagged `cc_transfer` (joining, joined,
left, stayed) so the CDR never takes a leg that left, or one that never joined, for the one that
ended the call. A transfer only waits for its checks: how it goes is pushed to the page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from ..clock import Timer
from ..esl import commands
from ..esl.connection import ESLError
from ..models import AgentLeft, AgentState, EventKind, HangupBy, LegRole, Outcome
from . import messages
from .agents import AgentView, Roster
from .calls import Calls, job_cause
from .controls import ControlError, Controls
from .handlers import Handlers
from .legs import COMING_UP, Call, Happened, Leg
from .offers import Offers, refusal
from .persist import Persist

log = logging.getLogger(__name__)

FEATURE = "transfer_legs"   # call.features: the legs transfers put beside the call


@dataclass
class Transfer:
    """A blind transfer: under way, then its result (shown until the next one)."""
    leg: str                        # the new leg
    to: str                         # the number, or the agent's extension
    agent_id: int | None            # the agent the call goes to; None for a number
    from_leg: str                   # the agent leg it replaces
    from_agent_id: int | None
    ring: int = 0                   # seconds the new leg may ring
    state: str = "dialing"          # UNDER_WAY, then done or failed
    cause: str | None = None
    timer: Timer | None = None

    UNDER_WAY = ("dialing", "ringing", "connecting")

    @property
    def under_way(self) -> bool:
        return self.state in self.UNDER_WAY


class Transfers:
    def __init__(self, *, calls: Calls, controls: Controls, offers: Offers, roster: Roster,
                 persist: Persist, handlers: Handlers, changed: Callable[[Call], None],
                 publish: Callable[[dict, int | None], None], gateway: str,
                 caller_id: str | None) -> None:
        self.calls, self.controls, self.offers, self.roster = calls, controls, offers, roster
        self.persist, self.handlers = persist, handlers
        self.legs, self.sender, self.clock, self.times = (calls.legs, calls.sender, calls.clock,
                                                          calls.times)
        self.gateway, self.caller_id = gateway, caller_id
        self._changed = changed
        self._publish = publish

    def to_number(self, call: Call, number: str) -> Transfer:
        number = commands.valid_number(number, "number")
        agent_leg, _ = self.controls.talking(call, "transfer the call")
        self._no_transfer_under_way(call)
        variables = {**self._tags(call),
                     "originate_timeout": self.times.customer_ring,
                     "park_timeout": self.times.park}
        if self.caller_id:
            variables["origination_caller_id_number"] = self.caller_id
        endpoint = commands.gateway_endpoint(self.gateway, number)
        self.controls.reachable()
        transfer = self._start_transfer(call, agent_leg, number, None, self.times.customer_ring)
        transfer.leg = self.calls.originate(call, LegRole.AGENT, endpoint, variables,
                                            self._transfer_job_of(call, transfer),
                                            current=False)
        return self._transfer_started(call, transfer)

    def to_agent(self, call: Call, agent: AgentView) -> Transfer:
        agent_leg, _ = self.controls.talking(call, "transfer the call")
        self._no_transfer_under_way(call)
        if agent.id == call.agent_id:
            raise ControlError("the call is already with that agent")
        refused = refusal(agent, own_call=False)
        if refused is not None:
            raise ControlError(refused)
        self.controls.reachable()
        transfer = self._start_transfer(call, agent_leg, agent.extension, agent.id,
                                        self.times.agent_ring)
        transfer.leg = self.offers.ring(call, agent, shows=call.number, current=False,
                                        extra={"cc_transfer": "joining"},
                                        then=self._transfer_job_of(call, transfer))
        return self._transfer_started(call, transfer)

    def _start_transfer(self, call: Call, agent_leg: Leg, to: str, agent_id: int | None,
                        ring: int) -> Transfer:
        transfer = Transfer(leg="", to=to, agent_id=agent_id, from_leg=agent_leg.uuid,
                            from_agent_id=call.agent_id, ring=ring)
        return transfer

    def _transfer_started(self, call: Call, transfer: Transfer) -> Transfer:
        """The new leg is on its way (`transfer.leg` set)."""
        call.features.setdefault(FEATURE, set()).update((transfer.leg, transfer.from_leg))
        transfer.timer = self.clock.call_later(transfer.ring + self.times.timer_margin,
                                               self._transfer_timeout, call, transfer)
        call.transfer = transfer
        self._note(call, transfer, "started")
        log.info("transfer to %s", transfer.to, extra={"call_id": call.id})
        self._changed(call)
        return transfer

    def _transfer_job_of(self, call: Call, transfer: Transfer):
        return lambda _leg, reply, error: self._transfer_job(call, transfer, reply, error)

    def _tags(self, call: Call) -> dict[str, str]:
        """A transfer to a number: the new leg serves no agent."""
        tags = self.calls.tags(call, LegRole.AGENT)
        tags.pop("cc_agent_id", None)
        return {**tags, "cc_transfer": "joining"}

    def _no_transfer_under_way(self, call: Call) -> None:
        if call.transfer is not None and call.transfer.under_way:
            raise ControlError(f"the call is already being transferred to {call.transfer.to}")

    def _transfer_job(self, call: Call, transfer: Transfer, reply: str | None,
                      error: ESLError | None) -> None:
        """The originate's result matters only for a leg that never produced an event."""
        leg = self.calls.leg(transfer.leg)
        if leg is None or leg.seen or (reply or "").startswith("+OK"):
            return
        cause = job_cause(reply, error)
        leg.hung_up = leg.completed = True
        leg.cause = cause
        if cause == "USER_NOT_REGISTERED" and transfer.agent_id is not None:
            target = self.roster.agents.get(transfer.agent_id)
            if target is not None:
                self.roster.mark_unregistered(target.extension)
        self._failed(call, transfer, cause)

    def _transfer_timeout(self, call: Call, transfer: Transfer) -> None:
        leg = self.calls.leg(transfer.leg)
        if call.ended or leg is None or not leg.alive or leg.answered:
            return
        if transfer.state == "done":
            # Bridged on early media and never answered: the customer goes with it.
            if call.outcome is None:
                self.calls.decide(call, Outcome.ANSWERED, "NO_ANSWER", HangupBy.SYSTEM)
        self.calls.hang_up(leg.uuid, "NO_ANSWER")

    def on_leg(self, call: Call, leg: Leg, happened: Happened, event=None) -> bool:
        """A transfer's share of a channel event: True for the new leg until it is bridged and
        for legs that left the call (the call's owner must not take them for its own)."""
        if happened is Happened.BRIDGED:
            self.bridged(call)
        transfer = call.transfer
        joining = (transfer is not None and transfer.under_way and leg.uuid == transfer.leg)
        # Only legs a transfer touched are its own (a queue's offers are beside the call too).
        leaving = not joining and leg.uuid in call.features.get(FEATURE, ()) and (
            leg.uuid not in (call.agent_leg, call.customer_leg)
            or transfer is not None and transfer.state == "connecting"
            and leg.uuid == transfer.from_leg)
        if joining:
            self._joining(call, transfer, leg, happened)
            return True
        if leaving:
            if happened is Happened.HUNG_UP:
                self._left(call, leg)
            return True
        if transfer is not None and leg.uuid == transfer.leg:
            if happened is Happened.ANSWERED and transfer.timer is not None:
                transfer.timer.cancel()
            elif happened is Happened.HUNG_UP and not leg.answered and call.outcome is None:
                # A number bridged on early media that never answered: the customer had.
                self.calls.decide(call, Outcome.ANSWERED, leg.cause, HangupBy.SYSTEM)
        return False

    def bridged(self, call: Call) -> None:
        """A bridge was reported: the customer may be with the new leg now."""
        transfer = call.transfer
        if transfer is not None and transfer.state == "connecting":
            new = self.calls.leg(transfer.leg)
            if new is not None and new.bridged_to == call.customer_leg:
                self._transferred(call, transfer)

    def _joining(self, call: Call, transfer: Transfer, leg: Leg, happened: Happened) -> None:
        self.offers.on_agent_leg(call, leg, happened, transfer.agent_id)
        if call.outcome is not None and leg.alive and happened in COMING_UP:
            # The call ended while the transfer rang: the new leg must not ring on alone.
            self.calls.hang_up(leg.uuid, "NORMAL_CLEARING" if leg.answered else
                                 "ORIGINATOR_CANCEL")
        elif happened is Happened.RINGING and transfer.state == "dialing":
            transfer.state = "ringing"
            self._changed(call)
        elif (happened is Happened.ANSWERED or happened is Happened.EARLY_MEDIA
              and transfer.agent_id is None) and transfer.state in ("dialing", "ringing"):
            self._connect(call, transfer)
        elif happened is Happened.HUNG_UP:
            self._failed(call, transfer, leg.cause or "NORMAL_CLEARING")

    def _connect(self, call: Call, transfer: Transfer) -> None:
        """The new leg has media: bridge the customer to it before the old leg leaves."""
        transfer.state = "connecting"
        customer = call.customer_leg
        self.sender.api(commands.uuid_setvar(transfer.from_leg, "cc_transfer", "left"))
        self.sender.api(commands.uuid_bridge(transfer.leg, customer),
                        lambda reply, error: self._connect_reply(call, transfer, reply, error))
        self._changed(call)

    def _connect_reply(self, call: Call, transfer: Transfer, reply: str | None,
                       error: ESLError | None) -> None:
        if error is None and commands.is_ok(reply or "") or transfer.state != "connecting":
            return
        # Either leg left meanwhile: the customer stays where it was.
        log.info("transfer bridge failed: %s", (reply or str(error)).strip(),
                 extra={"call_id": call.id})
        old = self.calls.leg(transfer.from_leg)
        if old is not None and old.alive:
            self.sender.api(commands.uuid_setvar(transfer.from_leg, "cc_transfer", "stayed"))
        new = self.calls.leg(transfer.leg)
        if new is not None and new.alive:
            self.calls.hang_up(new.uuid, "NORMAL_CLEARING")
        self._failed(call, transfer, "BRIDGE_FAILED")

    def _transferred(self, call: Call, transfer: Transfer) -> None:
        """The customer is bridged to the new leg: it is the call's agent leg from now on."""
        transfer.state = "done"
        old = self.calls.leg(transfer.from_leg)
        call.others.remove(transfer.leg)
        if call.agent_leg is not None:
            call.others.append(call.agent_leg)
        call.agent_leg = transfer.leg
        call.held = False
        self.handlers.left(call, transfer.from_leg, AgentLeft.TRANSFERRED)
        self.sender.api(commands.uuid_setvar(transfer.leg, "cc_transfer", "joined"))
        if old is not None and old.alive:
            self.calls.hang_up(old.uuid, "NORMAL_CLEARING")
        new_agent = self.roster.agents.get(transfer.agent_id) \
            if transfer.agent_id is not None else None
        call.agent_id = transfer.agent_id
        if new_agent is not None:
            self.roster.set_state(new_agent, AgentState.IN_CALL, call.id)
            self.persist.call_values(call.id, agent_id=new_agent.id)
        self._note(call, transfer, "done")
        log.info("transferred to %s", transfer.to, extra={"call_id": call.id})
        self._changed(call)
        if transfer.from_agent_id is not None and transfer.from_agent_id != call.agent_id:
            # The old agent's page learns the call is no longer its own, with the new version
            # (an HTTP reply of the version before must not overwrite it there).
            self._publish(messages.call_changed(call), transfer.from_agent_id)

    def _left(self, call: Call, leg: Leg) -> None:
        """A leg that left the call hung up: the agent it served wraps the call up."""
        transfer = call.transfer
        if transfer is None or leg.uuid != transfer.from_leg:
            return
        agent = self.roster.agents.get(transfer.from_agent_id) \
            if transfer.from_agent_id is not None else None
        if agent is not None and agent.call_id == call.id:
            self.roster.wrap_up(agent, call.id)
            self.roster.note_call_ended(agent)

    def _failed(self, call: Call, transfer: Transfer, cause: str) -> None:
        if not transfer.under_way:
            return
        transfer.state, transfer.cause = "failed", cause
        if transfer.timer is not None:
            transfer.timer.cancel()
        self._release_target(call, transfer)
        self._note(call, transfer, "failed")
        log.info("transfer to %s failed: %s", transfer.to, cause, extra={"call_id": call.id})
        if not call.ended:
            self._changed(call)

    def _note(self, call: Call, transfer: Transfer, result: str) -> None:
        """The call's story: a transfer started, done or failed (by the agent who made it)."""
        detail = {"to": transfer.to, "result": result}
        if transfer.agent_id is not None:
            detail["to_agent_id"] = transfer.agent_id
        if transfer.cause:
            detail["cause"] = transfer.cause
        self.persist.event(EventKind.TRANSFER, self.clock.now(),
                           agent_id=transfer.from_agent_id, call_id=call.id, detail=detail)

    def _release_target(self, call: Call, transfer: Transfer) -> None:
        self.offers.withdraw(call, transfer.agent_id)

    def finished(self, call: Call) -> None:
        """The call ended: a transfer still under way ends with it."""
        transfer = call.transfer
        if transfer is not None and transfer.under_way:
            self._failed(call, transfer, call.cause or "NORMAL_CLEARING")
        elif transfer is not None and transfer.timer is not None:
            transfer.timer.cancel()

