"""Closing calls. A call is over when every leg it had is gone: its agent moves on (wrap-up
after a call it talked on, else Idle), the features and the call's owner hear of it, its CDR
gets the outcome, the pages hear how it ended, and memory forgets it.

Finishing is nobody's feature: it runs whatever an owner did or failed to do (router.py), so a
raising feature never leaves a call open or an agent stuck.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..clock import Clock
from ..esl import commands
from ..esl.protocol import Event
from ..models import AgentState, Outcome
from .agents import Roster
from .legs import COMING_UP, Call, Legs, Progress, meaning
from .persist import Persist
from .router import Router
from .sender import Sender
from .stats import SwitchboardStats

log = logging.getLogger(__name__)


class Finishing:
    def __init__(self, *, legs: Legs, roster: Roster, persist: Persist, router: Router,
                 sender: Sender, stats: SwitchboardStats, clock: Clock,
                 changed: Callable[[Call], None]) -> None:
        self.legs, self.roster, self.persist, self.router = legs, roster, persist, router
        self.sender, self.stats, self.clock = sender, stats, clock
        self._changed = changed

    def maybe(self, call: Call) -> None:
        """A leg of the call hung up or completed: finish the call if it was the last."""
        if call.ended:
            return
        if all(leg.completed or (not leg.seen and leg.hung_up) for leg in self.legs.legs_of(call)):
            self.finish(call)

    def finish(self, call: Call, ended_at: float | None = None) -> None:
        """Every leg is gone: the agent moves on, the page hears how it ended."""
        if call.ended:
            return
        call.progress = Progress.ENDED
        call.ended_at = self.clock.now() if ended_at is None else ended_at
        if call.outcome is None:
            call.outcome, call.cause = Outcome.FAILED, call.cause or "NORMAL_UNSPECIFIED"
        customer = self.legs.legs.get(call.customer_leg or "")
        if customer is not None and customer.sip_status is not None:
            call.sip_status, call.sip_reason = customer.sip_status, customer.sip_reason
        call.cancel_timers()
        self.router.finished(call)
        agent = self.roster.agents.get(call.agent_id) if call.agent_id is not None else None
        if agent is not None and agent.call_id == call.id:
            agent_leg = self.legs.legs.get(call.agent_leg or "")
            if agent_leg is not None and agent_leg.answered:
                self.roster.wrap_up(agent, call.id, call.wrapup_seconds)
            else:
                self.roster.set_state(agent, AgentState.IDLE, None)
            self.roster.note_call_ended(agent)
        self.persist.call_finished(call)
        self._changed(call)
        self.stats.call_ended(call.outcome.value, call.direction.value)
        log.info("call ended: %s (%s)", call.outcome.value, call.cause,
                 extra={"call_id": call.id})
        self.legs.forget(call)

    def orphan(self, event: Event) -> None:
        """An event for a leg of a call already closed: hang the leg up if it is alive, and
        let its CDR in when it is gone."""
        uuid = event.uuid
        if event.name == "CHANNEL_HANGUP_COMPLETE":
            del self.legs.orphans[uuid]
            self.persist.leg_ended(event)
        elif meaning(event.name) in COMING_UP:
            log.warning("leg %s of a closed call is up: hanging it up", uuid, extra={"leg": uuid})
            self.sender.api(commands.uuid_kill(uuid, "NORMAL_CLEARING"))
