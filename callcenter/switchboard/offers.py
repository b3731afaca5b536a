"""Offering a call to an agent, the one way every feature does it (the agent's own dial-out,
a transfer to an agent, queues): check the agent may take it, reserve the agent, ring its
softphone (auto-answer), then answered, missed or refused.

An agent is Reserved from the moment the offer is made until its softphone's leg exists
(Ringing); the owner of the call moves it on from there (In call on the answer, Idle when
missed or refused).
"""

from __future__ import annotations

from collections.abc import Callable

from ..esl import commands
from ..models import AgentState, AgentStatus, LegRole
from .agents import AgentView, Roster
from .calls import Calls, JobReply
from .legs import Call, Happened, Leg
from .sender import Sent


class OfferRefused(Exception):
    """The agent cannot be offered this call now; the message says why."""


def refusal(agent: AgentView, *, own_call: bool) -> str | None:
    """Why `agent` cannot be offered a call now, or None. `own_call`: the agent is placing it
    (dial-out: On break may, and so may an agent in wrap-up); otherwise the call is someone
    else's (a transfer, a queue): only an Available, Idle agent takes it."""
    if not agent.active:
        return f"{agent.name}'s account is deactivated" if not own_call else \
            "your account is deactivated"
    if own_call and agent.status is AgentStatus.LOGGED_OUT:
        # Logged Out means not logged in to the web page (logout, or the softphone's
        # credential expired): Available and On break may both dial out.
        return ("you are Logged Out: choose Available or On break (or log in again) to place "
                "calls")
    if not agent.registered:
        if own_call:
            return (f"your softphone (extension {agent.extension}) is not registered; open "
                    "the agent page and wait for 'Registered'")
        return f"{agent.name}'s softphone (extension {agent.extension}) is not registered"
    if own_call:
        if agent.state not in (AgentState.IDLE, AgentState.WRAP_UP):
            return f"you are already on a call ({agent.state.value.replace('_', ' ')})"
    elif agent.status is not AgentStatus.AVAILABLE or agent.state is not AgentState.IDLE:
        return (f"{agent.name} is not free to take it ({agent.status.value.replace('_', ' ')}, "
                f"{agent.state.value.replace('_', ' ')})")
    return None


class Offers:
    def __init__(self, *, calls: Calls, roster: Roster, domain: str) -> None:
        self.calls, self.roster, self.domain = calls, roster, domain

    def ring(self, call: Call, agent: AgentView, *, shows: str, then: JobReply,
             current: bool = True, extra: dict[str, str] | None = None,
             sent: Sent | None = None, auto_answer: bool = True,
             ring_seconds: int | None = None) -> str:
        """Reserve `agent` and ring its softphone with a new leg of `call` parked on answer;
        `shows` is the number its screen shows. Returns the leg's UUID. Refusals are checked
        by the caller first (`refusal`), each feature with its own words. `auto_answer=False`:
        the softphone rings until the agent answers or declines."""
        variables: dict[str, str | int] = {
            **self.calls.tags(call, LegRole.AGENT, agent.id), **(extra or {})}
        if auto_answer:
            variables.update(commands.auto_answer_variables(self.domain))
        try:  # what the agent's softphone shows: who it is about to talk to
            variables["origination_caller_id_number"] = commands.valid_number(shows)
        except commands.CommandError:
            pass
        variables["originate_timeout"] = ring_seconds or self.calls.times.agent_ring
        variables["park_timeout"] = self.calls.times.park
        endpoint = commands.user_endpoint(agent.extension, self.domain)
        self.roster.set_state(agent, AgentState.RESERVED, call.id)
        try:
            return self.calls.originate(call, LegRole.AGENT, endpoint, variables, then,
                                        current=current, sent=sent, agent_id=agent.id)
        except commands.CommandError:
            self.roster.set_state(agent, AgentState.IDLE, None)
            raise

    def on_agent_leg(self, call: Call, leg: Leg, happened: Happened,
                     agent_id: int | None) -> None:
        """The offered leg exists: the agent's phone rings."""
        if happened is not Happened.CREATED and happened is not Happened.RINGING:
            return
        agent = self.roster.agents.get(agent_id) if agent_id is not None else None
        if agent is not None and agent.call_id == call.id \
                and agent.state is AgentState.RESERVED:
            self.roster.set_state(agent, AgentState.RINGING, call.id)

    def withdraw(self, call: Call, agent_id: int | None,
                 then: Callable[[AgentView], None] | None = None) -> None:
        """The offer is over without the agent taking the call (missed, refused, cancelled):
        a Reserved or Ringing agent is free again."""
        agent = self.roster.agents.get(agent_id) if agent_id is not None else None
        if agent is not None and agent.call_id == call.id \
                and agent.state in (AgentState.RESERVED, AgentState.RINGING):
            self.roster.set_state(agent, AgentState.IDLE, None)
            if then is not None:
                then(agent)
