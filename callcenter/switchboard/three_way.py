"""Three-way: from a consult, the customer, the agent and the target meet in one mod_conference
room, `cc-<call id>`, where everyone hears everyone (no hold music: the room's profile has none).

Each leg is sent there with `uuid_transfer ... conference:<room>@<profile> inline`: the agent
with its bridged partner (`-both`, so neither is hung up when the bridge ends), then the one that
was parked. The customer's `conference_member_flags=endconf` ends the room when it leaves, and a
leg whose `conference` application returns has nothing left to run, so FreeSWITCH hangs it up:
the customer leaving ends the call. Either agent may leave (its phone hangs up): the other two
stay talking; when the first agent leaves, the target becomes the call's agent. Once no agent is
left the customer is hung up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..esl import commands
from ..models import HangupBy
from . import messages
from .agents import Roster
from .calls import Calls
from .handlers import Handlers
from .legs import Call, Happened, Leg
from .persist import Persist

if TYPE_CHECKING:
    from .consult import Consult

log = logging.getLogger(__name__)

PROFILE = "callcenter"      # freeswitch-conf/autoload_configs/conference.conf.xml


def room_of(call: Call) -> str:
    return f"cc-{call.id}"


class ThreeWay:
    def __init__(self, *, calls: Calls, roster: Roster, persist: Persist, handlers: Handlers,
                 changed: Callable[[Call], None], publish: Callable[[dict, int | None], None],
                 note: Callable[..., None]) -> None:
        self.calls, self.roster, self.persist, self.sender = (calls, roster, persist,
                                                              calls.sender)
        self.handlers = handlers
        self._changed, self._publish, self._note = changed, publish, note

    def start(self, call: Call, consult: Consult) -> None:
        """Everyone into the room: the agent and whom it talks to, then the one on hold."""
        bridged, parked = ((consult.leg, call.customer_leg) if consult.state == "consulting"
                           else (call.customer_leg, consult.leg))
        consult.state = consult.THREE_WAY
        room = room_of(call)
        self.sender.api(commands.uuid_setvar(call.customer_leg, "conference_member_flags",
                                             "endconf"))
        # The CDR takes the first leg to end for the one who ended the call, unless a leg says
        # otherwise: here an agent leaving first ends nothing; the customer leaving does (the
        # controller, ending it for someone else, sets this again).
        self.sender.api(commands.uuid_setvar(call.customer_leg, "cc_hangup_by",
                                             HangupBy.CUSTOMER.value))
        self.sender.api(commands.uuid_setvar(consult.leg, "cc_transfer", "joined"))
        for leg in (call.customer_leg, consult.from_leg, consult.leg):
            self.sender.api(commands.uuid_break(leg))        # hold music, queued ones too
        self.sender.api(commands.uuid_transfer_to_room(consult.from_leg, room, PROFILE,
                                                       both=True))
        self.sender.api(commands.uuid_transfer_to_room(parked, room, PROFILE))
        log.info("three-way call in room %s (the agent was talking to the %s)", room,
                 "target" if bridged == consult.leg else "customer",
                 extra={"call_id": call.id})
        # The room bridges no one to the customer: the target's part in the call starts here
        # (its hangup, or the call's end, closes it as any other).
        if consult.agent_id is not None:
            self.handlers.joined(call, consult.leg, consult.agent_id)
        self._note(call, consult, "three_way")
        self._changed(call)

    def on_leg(self, call: Call, consult: Consult, leg: Leg, happened: Happened) -> bool:
        """An agent's leg leaving the room: kept from the call's owner, which would end the
        call. The customer's hangup is the owner's: the call ends as any other does."""
        if happened is not Happened.HUNG_UP:
            return True         # leaving bridges and parks for the room: nothing to end
        if call.outcome is not None or leg.uuid == call.customer_leg:
            return leg.uuid not in (call.customer_leg, call.agent_leg)
        if leg.uuid == consult.leg:
            self._left(call, consult, "target", consult.agent_id)
        elif leg.uuid == consult.from_leg:
            self._left(call, consult, "agent", consult.from_agent_id)
        else:
            return False
        return True

    def _left(self, call: Call, consult: Consult, who: str, agent_id: int | None) -> None:
        self._note(call, consult, "left", who=who)
        agent = self.roster.agents.get(agent_id) if agent_id is not None else None
        if agent is not None and agent.call_id == call.id:
            self.roster.wrap_up(agent, call.id)
            self.roster.note_call_ended(agent)
        stays = consult.from_leg if who == "target" else consult.leg
        stays_leg = self.calls.leg(stays)
        if stays_leg is None or not stays_leg.alive:
            log.info("three-way: no agent left; the customer is hung up",
                     extra={"call_id": call.id})
            self.calls.end(call, HangupBy.AGENT)
            return
        if who == "agent" and call.agent_leg == consult.from_leg:
            # The target carries the call on: it becomes the call's agent, as on complete.
            call.others.remove(consult.leg)
            call.others.append(consult.from_leg)
            call.agent_leg, call.agent_id = consult.leg, consult.agent_id
            if consult.agent_id is not None:
                self.persist.call_values(call.id, agent_id=consult.agent_id)
        self._changed(call)
        if who == "agent" and consult.from_agent_id is not None:
            # Told with the new version, as on complete: the page shows the call is not its own.
            self._publish(messages.call_changed(call), consult.from_agent_id)
