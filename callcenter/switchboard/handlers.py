"""Who handled each call, and for how long: one call_agents row per agent leg that talked to
the customer, so a call passed on by a transfer, a consult or a queue keeps every agent's share.

An agent leg *joins* when it is bridged to the customer and the customer has answered (a dial-out
bridged on early media joins at the answer). It *leaves* when a feature hands the customer on
(`left` with how), or when it hangs up, or when the call ends. Its talk is joined → left, hold
included; its hold is the time its leg was held (controls.py holds the agent's leg); its wrap-up
runs from leaving until the agent is out of Wrap-up for that call.

`joined` and `left` are the one entry point for every feature: a feature that brings an agent
to the customer some other way (a conference room) calls them itself. Both are idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..clock import Clock
from ..models import AgentLeft, AgentState, HangupBy, LegRole
from .agents import AgentView, Roster
from .legs import Call, Happened, Leg, Legs
from .persist import Persist

FEATURE = "handlers"    # call.features: {agent leg uuid: Handling}


@dataclass
class Handling:
    agent_id: int
    joined: float
    hold: float = 0.0
    held_since: float | None = None
    left: float | None = None


@dataclass
class WrapUp:
    """An agent's wrap-up after leaving a call, until its state says it is over."""
    leg_uuid: str
    call_id: str
    left: float
    seen: bool = False          # the agent was in Wrap-up for this call


def handlings(call: Call) -> dict[str, Handling]:
    return call.features.setdefault(FEATURE, {})


class Handlers:
    def __init__(self, *, legs: Legs, roster: Roster, persist: Persist, clock: Clock) -> None:
        self.legs, self.roster, self.persist, self.clock = legs, roster, persist, clock
        self._wrapping: dict[int, WrapUp] = {}      # by agent id
        roster.listeners.append(self._agent_changed)

    # -- the entry points ---------------------------------------------------------------------

    def joined(self, call: Call, leg_uuid: str, agent_id: int, at: float | None = None) -> None:
        """The agent on `leg_uuid` talks to the customer from now (once per leg)."""
        rows = handlings(call)
        if leg_uuid in rows:
            return
        at = self.clock.now() if at is None else at
        rows[leg_uuid] = Handling(agent_id, at)
        self.persist.handler_joined(call.id, leg_uuid, agent_id, at)

    def left(self, call: Call, leg_uuid: str, how: AgentLeft, at: float | None = None) -> None:
        """The agent on `leg_uuid` is no longer with the customer: its part is written, and
        its wrap-up is timed (once per leg; a leg that never joined has no part)."""
        handling = handlings(call).get(leg_uuid)
        if handling is None or handling.left is not None:
            return
        at = self.clock.now() if at is None else at
        handling.left = at
        if handling.held_since is not None:
            handling.hold += at - handling.held_since
            handling.held_since = None
        self.persist.handler_left(leg_uuid, left_at=at, talk=at - handling.joined,
                                  hold=handling.hold, how=how)
        agent = self.roster.agents.get(handling.agent_id)
        wrap = WrapUp(leg_uuid, call.id, at)
        self._wrapping[handling.agent_id] = wrap
        if agent is not None:
            self._agent_changed(agent)      # already in (or out of) Wrap-up for this call

    # -- what channel events say --------------------------------------------------------------

    def on_leg(self, call: Call, leg: Leg, happened: Happened, event=None) -> bool:
        if happened in (Happened.BRIDGED, Happened.ANSWERED):
            self._maybe_joined(call)
        elif happened in (Happened.HELD, Happened.UNHELD):
            self._hold(call, leg)
        elif happened is Happened.HUNG_UP and leg.role is LegRole.AGENT:
            self.left(call, leg.uuid, self._how_gone(call, leg))
        return False

    def finished(self, call: Call) -> None:
        """The call is over: whoever is still with the customer leaves with it."""
        for leg_uuid, handling in list(handlings(call).items()):
            if handling.left is None:
                self.left(call, leg_uuid, self._how_ended(call), call.ended_at)

    def _how_gone(self, call: Call, leg: Leg) -> AgentLeft:
        """Why a joined agent leg hung up."""
        transfer = call.transfer
        if transfer is not None and transfer.state == "connecting" \
                and transfer.from_leg == leg.uuid:
            return AgentLeft.TRANSFERRED    # FreeSWITCH may hang it up before the new bridge
        customer = self.legs.legs.get(call.customer_leg or "")
        if call.outcome is None and customer is not None and customer.hung_up:
            return AgentLeft.CUSTOMER_HUNG_UP
        return self._how_ended(call) if call.outcome is not None else AgentLeft.HUNG_UP

    @staticmethod
    def _how_ended(call: Call) -> AgentLeft:
        return {HangupBy.CUSTOMER: AgentLeft.CUSTOMER_HUNG_UP,
                HangupBy.AGENT: AgentLeft.HUNG_UP}.get(call.hangup_by, AgentLeft.ENDED)

    def _maybe_joined(self, call: Call) -> None:
        """An agent leg bridged to an answered customer joins (the bridge and the customer's
        answer come in either order)."""
        customer = self.legs.legs.get(call.customer_leg or "")
        if customer is None or not customer.answered or customer.hung_up:
            return
        partner = self.legs.legs.get(customer.bridged_to or "")
        if partner is None or partner.role is not LegRole.AGENT or partner.hung_up:
            return
        agent_id = partner.agent_id if partner.agent_id is not None else (
            call.agent_id if partner.uuid == call.agent_leg else None)
        if agent_id is not None:
            self.joined(call, partner.uuid, agent_id)

    def _hold(self, call: Call, leg: Leg) -> None:
        handling = handlings(call).get(leg.uuid)
        if handling is None or handling.left is not None:
            return
        now = self.clock.now()
        if leg.held and handling.held_since is None:
            handling.held_since = now
        elif not leg.held and handling.held_since is not None:
            handling.hold += now - handling.held_since
            handling.held_since = None

    # -- wrap-up ------------------------------------------------------------------------------

    def _agent_changed(self, agent: AgentView) -> None:
        """Told of every agent change: an agent that left a call wraps up until its state
        leaves Wrap-up for that call (straight to Idle or another call: no wrap-up)."""
        wrap = self._wrapping.get(agent.id)
        if wrap is None:
            return
        if agent.call_id == wrap.call_id:
            if agent.state is AgentState.WRAP_UP:
                wrap.seen = True
                return
            if agent.state is AgentState.IN_CALL and not wrap.seen:
                return      # left a moment ago: the feature moves it on next
        del self._wrapping[agent.id]
        seconds = self.clock.now() - wrap.left if wrap.seen else 0.0
        self.persist.handler_wrapped_up(wrap.leg_uuid, max(0.0, seconds))
