"""The auditor: every few seconds, and right after each resync, the switchboard's view is
compared with FreeSWITCH's own (`show channels as json`, and `uuid_getvar` for a row no call
owns), and what drifted is repaired:

- an agent Reserved, Ringing or In call whose call is gone, or has no leg for it in FreeSWITCH
  → the agent is released (Idle); a call none of whose legs FreeSWITCH still has is closed;
- a caller waiting in a queue whose channel is gone → it leaves its line as abandoned;
- a leg carrying our `cc_call_id` that no call owns → hung up;
- callers waiting while a free agent could take one, and no offer made → dispatch runs again.

Events and command replies travel separately, so one audit can see FreeSWITCH ahead of the
events still queued for us (a leg whose CHANNEL_CREATE or HANGUP is on its way): each finding
must be seen, unchanged, in two consecutive audits before anything is repaired. A Reserved
agent has no leg until its CHANNEL_CREATE; a caller still in the dialplan, or parked before the
distributor claimed it, carries no `cc_call_id` and is never touched.

The audit's replies come through the Sender: nothing here waits for FreeSWITCH.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..esl import commands
from ..esl.connection import ESLError
from ..models import AgentState, LegRole
from .legs import Call, Leg
from .queues.waiting import waiting_of
from .resync import json_rows

if TYPE_CHECKING:
    from ..clock import Clock, Timer
    from .agents import AgentView, Roster
    from .finishing import Finishing
    from .legs import Legs
    from .offers import Offers
    from .queues import Distributor
    from .sender import Sender

log = logging.getLogger(__name__)

AUDIT_SECONDS = 5
BUSY_STATES = frozenset({AgentState.RESERVED, AgentState.RINGING, AgentState.IN_CALL})
# A channel in these states is still being set up or routed by the dialplan: never ours to kill.
IN_DIALPLAN = frozenset({"CS_NEW", "CS_INIT", "CS_ROUTING"})

AGENT_RELEASED = "agent_released"
CALLER_REMOVED = "caller_removed"
LEG_HUNG_UP = "leg_hung_up"
DISPATCH_RESTARTED = "dispatch_restarted"
REPAIRS = (AGENT_RELEASED, CALLER_REMOVED, LEG_HUNG_UP, DISPATCH_RESTARTED)


class Auditor:
    def __init__(self, *, sender: Sender, legs: Legs, roster: Roster, offers: Offers,
                 finishing: Finishing, distributor: Distributor, clock: Clock,
                 seconds: float = AUDIT_SECONDS) -> None:
        self.sender, self.legs, self.roster, self.offers = sender, legs, roster, offers
        self.finishing, self.distributor, self.clock = finishing, distributor, clock
        self.seconds = seconds
        self.runs = 0
        self.repairs = dict.fromkeys(REPAIRS, 0)
        self.last_run: float | None = None
        self._asking = False            # a `show channels` is on its way
        self._timer: Timer | None = None
        # What the last audit found, by kind: a finding seen again now is repaired.
        self._stuck: set[tuple] = set()             # (agent id, call id, its legs)
        self._gone_callers: set[tuple] = set()      # (call id, caller leg)
        self._ours_unowned: set[str] = set()        # leg uuids carrying cc_call_id
        self._stalled: set[tuple] = set()           # (queue, call id, waiting since)

    # -- running ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self._timer is None and self.seconds > 0:
            self._timer = self.clock.call_later(self.seconds, self._due)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _due(self) -> None:
        self._timer = None
        self.run()
        self.start()

    def run(self) -> None:
        """Audit now (after a resync, or when due): one at a time."""
        if self._asking:
            return
        self._asking = True
        self.sender.api(commands.show_channels(), self._compare)

    def _compare(self, reply: str | None, error: ESLError | None) -> None:
        self._asking = False
        rows = json_rows(reply, "audit: show channels") if error is None and reply else None
        if rows is None:
            return      # the link is down or the reply unreadable: the next audit will tell
        live = {row["uuid"]: row for row in rows if row.get("uuid")}
        self.runs += 1
        self.last_run = self.clock.now()
        self._agents(live)
        self._callers(live)
        self._orphans(live)
        self._dispatch()

    def figures(self) -> dict:
        return {"runs": self.runs, "repairs": dict(self.repairs),
                "last_run": self.last_run, "seconds": self.seconds}

    def _repaired(self, kind: str) -> None:
        self.repairs[kind] += 1

    # -- 1. agents held by a call FreeSWITCH no longer has ---------------------------------------

    def _agents(self, live: dict[str, dict]) -> None:
        found = set()
        for agent in list(self.roster.agents.values()):
            if agent.state not in BUSY_STATES:
                continue
            call = self.legs.calls.get(agent.call_id or "")
            mine = self._legs_of(agent, call)
            if any(leg.uuid in live for leg in mine):
                continue
            finding = (agent.id, agent.call_id, agent.state, frozenset(leg.uuid for leg in mine))
            if finding in self._stuck:
                self._release(agent, call, mine, live)
            else:
                found.add(finding)
        self._stuck = found

    def _legs_of(self, agent: AgentView, call: Call | None) -> list[Leg]:
        """The legs of `call` that ring or carry the agent's softphone (a leg rebuilt after a
        restart does not say whose it is: any agent leg of the call counts)."""
        if call is None or call.ended:
            return []
        return [leg for leg in self.legs.legs_of(call) if leg.role is LegRole.AGENT
                and leg.agent_id in (None, agent.id) and leg.alive]

    def _release(self, agent: AgentView, call: Call | None, mine: list[Leg],
                 live: dict[str, dict]) -> None:
        what = "no such call" if call is None else "no leg for it in FreeSWITCH"
        log.warning("audit: agent %s was %s on call %s with %s: released (Idle)",
                    agent.extension, agent.state.value, agent.call_id, what,
                    extra={"agent": agent.extension, "call_id": agent.call_id})
        if call is not None:
            for leg in mine:    # never created, or gone without its events
                leg.hung_up = leg.completed = True
                self.distributor.offer_lost(call, leg.uuid)
            self.offers.withdraw(call, agent.id)    # Reserved or Ringing: as an ended offer
        if agent.state is not AgentState.IDLE:
            self.roster.set_state(agent, AgentState.IDLE, None)
        self._repaired(AGENT_RELEASED)
        if call is not None and not call.ended \
                and not any(leg.uuid in live for leg in self.legs.legs_of(call)):
            self._close(call, "none of its legs is left in FreeSWITCH")

    def _close(self, call: Call, why: str) -> None:
        """Every leg of the call is gone in FreeSWITCH: close it as a resync would (its CDR
        comes by json_cdr, if FreeSWITCH posted one)."""
        log.warning("audit: call closed: %s", why, extra={"call_id": call.id})
        for leg in self.legs.legs_of(call):
            leg.hung_up = leg.completed = True
        self.finishing.finish(call)

    # -- 2. waiting callers whose channel is gone ------------------------------------------------

    def _callers(self, live: dict[str, dict]) -> None:
        found = set()
        for call in self.distributor.waiting_calls():
            leg = call.customer_leg
            if call.ended or leg is None or leg in live:
                continue
            finding = (call.id, leg)
            if finding not in self._gone_callers:
                found.add(finding)
                continue
            why = f"its channel {leg} is gone from FreeSWITCH"
            caller = self.legs.legs.get(leg)
            if caller is not None:
                caller.hung_up = caller.completed = True
            self.distributor.remove_caller(call, why)
            self._repaired(CALLER_REMOVED)
            if not any(other.uuid in live for other in self.legs.legs_of(call)):
                self._close(call, why)
        self._gone_callers = found

    # -- 3. legs carrying our cc_call_id that no call owns ---------------------------------------
    # (Known legs that their call believes gone count too: a leg that came up after its call
    # gave up on it would otherwise ring or stay parked with nobody to end it.)

    def _orphans(self, live: dict[str, dict]) -> None:
        ours: set[str] = set()    # filled as FreeSWITCH answers; read by the next audit
        for uuid, row in live.items():
            if self._owned(uuid) or row.get("state") in IN_DIALPLAN:
                continue
            if uuid in self._ours_unowned:
                log.warning("audit: leg %s (%s) carries a cc_call_id no call owns: hanging "
                            "it up", uuid, row.get("name", ""), extra={"leg": uuid})
                self.sender.api(commands.uuid_kill(uuid, "NORMAL_CLEARING"))
                self._repaired(LEG_HUNG_UP)
                continue
            self.sender.api(commands.uuid_getvar(uuid, "cc_call_id"),
                            lambda reply, error, uuid=uuid: self._tagged(uuid, reply, error, ours))
        self._ours_unowned = ours

    def _tagged(self, uuid: str, reply: str | None, error: ESLError | None,
                ours: set[str]) -> None:
        text = (reply or "").strip()
        if error is None and text and not text.startswith("-") and text != "_undef_" \
                and not self._owned(uuid):
            ours.add(uuid)

    def _owned(self, uuid: str) -> bool:
        """A live leg of a call (a leg its call believes gone is owned by nobody)."""
        leg = self.legs.legs.get(uuid)
        return leg is not None and leg.alive

    # -- 4. a dispatch that stopped making offers ------------------------------------------------

    def _dispatch(self) -> None:
        found = set()
        for queue, call in self.distributor.servable():
            waiting = waiting_of(call)
            # Waiting since the same moment in both audits: no offer was made to it meanwhile
            # (an offer that ends resets the moment).
            found.add((queue, call.id, waiting.ready_since))
        stalled = found & self._stalled
        if stalled:
            queues = sorted({queue for queue, _, _ in stalled})
            log.warning("audit: callers wait in %s while agents are free and no offer was "
                        "made since the last audit: dispatching again", ", ".join(queues))
            self._repaired(DISPATCH_RESTARTED)
            self.distributor.kick()
            found -= stalled
        self._stalled = found
