"""In-call basics every feature shares (is the customer on the line with the agent; ask
FreeSWITCH and wait for its answer), hold and DTMF, and the in-call features' share of each
channel event (router.py calls `on_leg` before the call's owner).

Hold is `uuid_hold` on the *agent's* leg. FreeSWITCH's switch_ivr_hold (1.10) sends the held
leg's phone a re-INVITE (sendonly) and plays hold music to that leg's bridged partner (the 03
capture: `uuid_hold B` started local_stream://moh on A). So holding the agent's leg is what
lets the customer hear music while the agent speaks freely; holding the customer's leg would
play the music to the agent.

Actions run in the web request's greenlet and wait for FreeSWITCH's reply, so a refusal is the
request's error. Event handlers never wait.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from gevent.event import AsyncResult

from ..errors import CallEnded, Conflict
from ..esl import commands
from ..esl.connection import ESLError
from ..esl.protocol import Event
from ..models import EventKind
from .calls import Calls
from .dialer import SwitchUnavailable
from .legs import Call, Happened, Leg, Progress

log = logging.getLogger(__name__)


class ControlError(Conflict):
    """A control that cannot be used now; the message says why, for the agent to read."""


class Controls:
    def __init__(self, *, calls: Calls, changed: Callable[[Call], None],
                 connected: Callable[[], bool],
                 noted: Callable[..., None] = lambda kind, call, **detail: None) -> None:
        self.calls, self.sender = calls, calls.sender
        self._changed = changed        # changed(call): push the call's new state
        self._connected = connected
        self._noted = noted            # noted(kind, call): the events table (Persist.call_event)
        self._guards: list[Callable[[Call], str | None]] = []

    def add_guard(self, guard: Callable[[Call], str | None]) -> None:
        """`guard(call)`: why the in-call controls must wait now (a feature rearranging the
        call's legs), or None."""
        self._guards.append(guard)

    # -- hold, DTMF ------------------------------------------------------------------------------

    def hold(self, call: Call) -> None:
        agent, _ = self.talking(call, "put the call on hold")
        if agent.held:
            raise ControlError("the call is already on hold")
        self.ask(commands.uuid_hold(agent.uuid), "hold")

    def unhold(self, call: Call) -> None:
        agent = self.calls.leg(call.agent_leg)
        if agent is None or not agent.alive or not agent.held:
            raise ControlError("the call is not on hold")
        self.ask(commands.uuid_hold(agent.uuid, off=True), "unhold")

    def send_dtmf(self, call: Call, digits: str) -> None:
        digits = commands.valid_digits(digits, "digits")
        _, customer = self.talking(call, "send tones")
        self.ask(commands.uuid_send_dtmf(customer.uuid, digits), "tones")

    # -- events ----------------------------------------------------------------------------------

    def on_leg(self, call: Call, leg: Leg, happened: Happened, event: Event | None = None
               ) -> None:
        """A channel event of a live call: the agent's leg held or taken off hold."""
        if happened in (Happened.HELD, Happened.UNHELD) and leg.uuid == call.agent_leg:
            call.held = leg.held
            self._noted(EventKind.HOLD if leg.held else EventKind.UNHOLD, call)
            self._changed(call)

    # -- shared by the in-call features ----------------------------------------------------------

    def talking(self, call: Call, what: str) -> tuple[Leg, Leg]:
        """The agent and customer legs, bridged to each other with the customer answered."""
        if call.ended:
            raise CallEnded()
        agent, customer = self.calls.leg(call.agent_leg), self.calls.leg(call.customer_leg)
        if (call.progress is not Progress.ANSWERED or agent is None or customer is None
                or not agent.alive or not customer.alive or not customer.answered
                or agent.bridged_to != customer.uuid or call.outcome is not None):
            raise ControlError(f"you can {what} only while the customer is on the line with "
                               "you")
        if call.transfer is not None and call.transfer.state == "connecting":
            raise ControlError("the call is being handed over right now")
        for guard in self._guards:
            reason = guard(call)
            if reason is not None:
                raise ControlError(reason)
        return agent, customer

    def reachable(self) -> None:
        if not self._connected():
            raise SwitchUnavailable("the phone system (FreeSWITCH) is unreachable; "
                                    "try again in a moment")

    def ask(self, command: str, what: str) -> str:
        """Send a command from a web request and wait for FreeSWITCH's reply."""
        self.reachable()
        answer = AsyncResult()
        self.sender.api(command, lambda reply, error: answer.set((reply, error)))
        return self.check(*answer.get(), what)

    @staticmethod
    def check(reply: str | None, error: ESLError | None, what: str) -> str:
        if error is not None:
            raise SwitchUnavailable(f"the phone system (FreeSWITCH) did not take the {what}: "
                                    f"{error}")
        if not commands.is_ok(reply or ""):
            raise ControlError(f"the phone system refused the {what}: {(reply or '').strip()}")
        return reply or ""


__all__ = ["ControlError", "Controls"]
