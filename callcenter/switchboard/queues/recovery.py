"""Callers found again after the controller restarted: a queued call the resync rebuilt, and
inbound channels parked while the controller was away. Each is asked its queue, call id and
first entry time (`uuid_getvar`), and waits again from that time; one already talking to an
agent talks on. A website visitor's call is found again as one (web_calls.py) either way."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ...esl import commands
from ...models import WEB
from ..legs import Call
from ..web_calls import GUEST_VARIABLES, guest_of
from .waiting import FEATURE, Waiting

if TYPE_CHECKING:
    from .distributor import Distributor

log = logging.getLogger(__name__)

RECONFIRM = ("cc_queue", "cc_call_id", "cc_queue_entered", *GUEST_VARIABLES)


class Recovery:
    def __init__(self, distributor: Distributor) -> None:
        self.distributor = distributor
        self.calls, self.legs, self.sender = distributor.calls, distributor.legs, \
            distributor.sender

    def adopt(self, call: Call) -> bool:
        """A queued call rebuilt after a controller restart. A caller still alone in its
        channel waits again, in its queue, from its first entry time (read back from the
        channel); a bridged one talks on."""
        alive = [leg for leg in self.legs.legs_of(call) if leg.alive]
        caller = self.calls.leg(call.customer_leg)
        if len(alive) == 1 and caller is alive[0] and caller.bridged_to is None:
            self._read_back(caller.uuid, call)
            return True
        if call.agent_leg is not None:
            call.features[FEATURE] = Waiting(queue="", entered=call.created,
                                             ready_since=call.created,
                                             connected=call.agent_leg,
                                             left=call.created)
        if call.channel == WEB and self.distributor.web_calls is not None:
            self.distributor.web_calls.rebuilt(call)
        return False

    def recover(self, channels: Iterable[dict], bridged: set[str]) -> None:
        """After a resync: inbound channels not bridged that no call owns — callers parked
        while the controller was away — are asked their queue and claimed."""
        for row in channels:
            uuid_ = row.get("uuid") or ""
            if not uuid_ or uuid_ in self.legs.legs or uuid_ in bridged:
                continue
            if row.get("direction") != "inbound":
                continue
            self._read_back(uuid_, None)

    def _read_back(self, leg_uuid: str, call: Call | None) -> None:
        values: dict[str, str] = {}

        def got(name: str, reply: str | None, error: Exception | None) -> None:
            text = (reply or "").strip()
            values[name] = "" if error is not None or text.startswith("-ERR") \
                or text == "_undef_" else text
            if len(values) == len(RECONFIRM):
                self._recovered(leg_uuid, call, values)

        for name in RECONFIRM:
            self.sender.api(commands.uuid_getvar(leg_uuid, name),
                            lambda reply, error, name=name: got(name, reply, error))

    def _recovered(self, leg_uuid: str, call: Call | None, values: dict[str, str]) -> None:
        queue = values.get("cc_queue", "")
        entered = number(values.get("cc_queue_entered"))
        if call is not None:
            leg = self.calls.leg(leg_uuid)
            if leg is None or not leg.alive:
                return
            self.legs.forget(call)   # taken again below, under the same id
            self.legs.orphans.pop(leg_uuid, None)
        if not queue or leg_uuid in self.legs.legs:
            return
        log.info("caller %s found parked for queue %s after a restart", leg_uuid, queue,
                 extra={"leg": leg_uuid})
        claimed = self.distributor.enter(leg_uuid, queue, caller=call.number if call else "",
                              caller_name="", did=call.caller_id if call else "",
                              entered=entered, call_id=values.get("cc_call_id") or
                              (call.id if call else None), guest=guest_of(values.get))
        if claimed is not None:
            leg = self.calls.leg(leg_uuid)
            leg.seen = leg.parked = leg.answered = True


def number(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None
