"""Transfer to a queue: the agent sends the customer it talks to into a queue's line and is
freed (Wrap-up); the customer hears the queue's hold music and waits for the next agent. The
call keeps its id (one CDR), and becomes the queue's: the distributor owns it from now on.

On FreeSWITCH the customer leg must outlive the agent's: as consult.py does, it gets
`park_after_bridge=true` and is taken out of the bridge with `uuid_park`; the agent's leg,
marked `cc_transfer=left` for the CDR, is hung up. Music starts once the customer has parked
(a broadcast sent before the park would be dropped by it).

Its place in line: a customer sent back to the queue it came from keeps its first entry time
(it waited already) when the site says so (`keep_entry`, the default); any other customer
enters the queue now. Its place in the line is the distributor's (`Distributor.line_up`, the
one way back into a line for a caller already answered; a supervisor's `move_caller` moves a
caller that still waits from one line to another, and so stays its own).

The next agent's answer is bridged anew (the call's first bridge was its last agent's)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ...esl import commands
from ...models import AgentLeft, EventKind, LegRole
from ..controls import ControlError, Controls
from ..handlers import Handlers
from ..legs import Call, Happened, Leg
from .waiting import Waiting, waiting_of

log = logging.getLogger(__name__)

PENDING = "requeue"     # call.features: the queue whose music starts once the customer parks


class Requeue:
    def __init__(self, distributor, controls: Controls, handlers: Handlers, *,
                 changed: Callable[[Call], None], keep_entry: bool = True) -> None:
        self.distributor, self.controls, self.keep_entry = distributor, controls, keep_entry
        self.handlers = handlers
        self._changed = changed
        self.calls, self.roster, self.persist = (distributor.calls, distributor.roster,
                                                 distributor.persist)
        self.sender, self.clock = distributor.sender, distributor.clock

    def to_queue(self, call: Call, name: str) -> Waiting:
        queue = self.distributor.queues.get(name)
        if queue is None:
            raise ControlError(f"there is no queue named {name[:64]!r}")
        agent_leg, customer = self.controls.talking(call, "transfer to a queue")
        if call.held:
            raise ControlError("take the customer off hold first")
        if call.transfer is not None and call.transfer.under_way:
            raise ControlError(f"the call is being transferred to {call.transfer.to}")
        self.controls.reachable()
        now = self.clock.now()
        before = waiting_of(call)
        same = before is not None and before.queue == queue.name and self.keep_entry
        entered = before.entered if same else now
        agent_id = call.agent_id
        # The customer parks out of the bridge and stays; the agent's leg goes.
        self.sender.api(commands.uuid_setvar(customer.uuid, "park_after_bridge", "true"))
        self.sender.api(commands.uuid_setvar(agent_leg.uuid, "cc_transfer", "left"))
        self.sender.api(commands.uuid_park(customer.uuid))
        self.handlers.left(call, agent_leg.uuid, AgentLeft.REQUEUED)
        self.calls.hang_up(agent_leg.uuid, "NORMAL_CLEARING")
        call.others.append(agent_leg.uuid)
        call.agent_leg, call.agent_id = None, None
        call.features[PENDING] = queue.name
        agent = self.roster.agents.get(agent_id) if agent_id is not None else None
        if agent is not None and agent.call_id == call.id:
            self.roster.wrap_up(agent, call.id)
            self.roster.note_call_ended(agent)
        self.persist.event(EventKind.TRANSFER, now, agent_id=agent_id, call_id=call.id,
                           detail={"to_queue": queue.name, "result": "done",
                                   "kept_entry": same})
        waiting = self.distributor.line_up(call, queue, entered)
        log.info("customer sent to queue %s (%s)", queue.name,
                 "keeps its place" if same else "enters now", extra={"call_id": call.id})
        self._changed(call)
        return waiting

    def on_leg(self, call: Call, leg: Leg, happened: Happened, event=None) -> bool:
        """The customer parked: the queue's music plays (the owner sees the event too)."""
        name = call.features.get(PENDING)
        if name is None or leg.role is not LegRole.CUSTOMER or happened is not Happened.PARKED:
            return False
        del call.features[PENDING]
        queue = self.distributor.queues.get(name)
        if queue is not None and call.outcome is None:
            self.distributor.audio.hold(call, queue)
        return False
