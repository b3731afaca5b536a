"""Channel events to the owner of each call.

Every call has a kind (click-to-dial, inbound queues; supervision and website calls plug in the
same way) and one owner per kind that drives it. In-call features common to every kind
(transfer, recording, hold) all see each event first, and one may keep it from the owner. A leg the
switchboard does not know (an inbound caller parked by the dialplan) is offered to the
claimers: the first that takes it makes it a leg of one of its calls, and its events flow from
then on like any other's.

Owners are isolated: one that raises is logged and counted, the others still run, and the
switchboard still finishes the call (finishing is not an owner's job).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from ..esl.protocol import Event
from .legs import Call, Happened, Leg, Legs

log = logging.getLogger(__name__)


class Owner(Protocol):
    def on_leg(self, call: Call, leg: Leg, happened: Happened, event: Event) -> bool | None:
        """Handle a channel event of one of the owner's calls; True keeps it from the owners
        after this one."""


# A claimer looks at an event of an unknown leg; to take it, it adds the leg to a call of its
# own (Legs.add_leg) and returns that call.
Claimer = Callable[[Event], Call | None]


class Router:
    def __init__(self, legs: Legs) -> None:
        self.legs = legs
        self._common: list[Owner] = []            # every kind of call, first
        self._owners: dict[str, Owner] = {}        # call kind -> its owner
        self._claimers: list[Claimer] = []
        self.failures = 0                          # owner or claimer exceptions, for figures

    def add_common(self, owner: Owner) -> None:
        self._common.append(owner)

    def add_owner(self, kind: str, owner: Owner) -> None:
        if kind in self._owners:
            raise ValueError(f"calls of kind {kind!r} already have an owner")
        self._owners[kind] = owner

    def add_claimer(self, claimer: Claimer) -> None:
        self._claimers.append(claimer)

    def apply(self, event: Event) -> tuple[Leg, Happened] | None:
        """The event applied to its leg: a known one, or one a claimer takes now."""
        applied = self.legs.apply(event)
        if applied is not None or event.uuid in self.legs.legs:
            return applied
        for claimer in self._claimers:
            try:
                call = claimer(event)
            except Exception:  # noqa: BLE001 - one claimer never stops the others
                self._failed("claimer", claimer, event)
                continue
            if call is not None:
                return self.legs.apply(event)
        return None

    def dispatch(self, call: Call, leg: Leg, happened: Happened, event: Event) -> None:
        """Every in-call feature sees the event (in the order added); then the owner of the
        call's kind, unless a feature kept the event to itself."""
        kept = False
        for feature in self._common:
            if call.ended:
                return
            try:
                kept = bool(feature.on_leg(call, leg, happened, event)) or kept
            except Exception:  # noqa: BLE001 - isolated: the call still finishes
                self._failed("feature", feature, event, call)
        owner = self._owners.get(call.kind)
        if kept or owner is None or call.ended:
            return
        try:
            owner.on_leg(call, leg, happened, event)
        except Exception:  # noqa: BLE001 - isolated: the call still finishes
            self._failed("owner", owner, event, call)

    # Optional hooks an owner may have (the common ones: finished): finished(call) once the
    # call is over, adopt(call) ->
    # bool for a call of its kind rebuilt after a restart (True: the owner took care of it),
    # recover(channels, bridged) after every resync, for channels no call owns.

    def finished(self, call: Call) -> None:
        for common in self._common:
            self._run(common, "finished", call)
        self._hook(call.kind, "finished", call)

    def adopt(self, call: Call) -> bool:
        return bool(self._hook(call.kind, "adopt", call))

    def recover(self, channels: list[dict], bridged: set[str]) -> None:
        for kind in list(self._owners):
            self._hook(kind, "recover", channels, bridged)

    def _hook(self, kind: str, name: str, *args):
        return self._run(self._owners.get(kind), name, *args)

    def _run(self, owner: object, name: str, *args):
        hook = getattr(owner, name, None)
        if hook is None:
            return None
        try:
            return hook(*args)
        except Exception:  # noqa: BLE001 - isolated like the event handlers
            self.failures += 1
            log.exception("%s failed in %s", type(owner).__name__, name)
            return None

    def _failed(self, what: str, handler: object, event: Event, call: Call | None = None) -> None:
        self.failures += 1
        name = getattr(handler, "__qualname__", type(handler).__name__)
        log.exception("%s %s failed on %s of leg %s", what, name, event.name, event.uuid,
                      extra={"call_id": call.id} if call is not None else {})
