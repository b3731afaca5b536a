"""What a waiting caller hears: the queue's hold music (answered first when the queue answers on
entry, otherwise as early media), and single messages played to it."""

from __future__ import annotations

import logging

from ...esl import commands
from ..calls import Calls
from ..legs import Call
from .settings import QueueSettings

log = logging.getLogger(__name__)


class CallerAudio:
    def __init__(self, calls: Calls) -> None:
        self.sender = calls.sender

    def hold(self, call: Call, queue: QueueSettings) -> None:
        """Hold music for the caller: answered first if the queue answers on entry (billing
        starts, music plays); otherwise the tone goes out as early media (183)."""
        if queue.answer_on_entry:
            self.sender.api(commands.uuid_answer(call.customer_leg))
        self.play(call, queue, queue.hold_music, "hold music")

    def play(self, call: Call, queue: QueueSettings, path: str, what: str) -> bool:
        """Play `path` to the caller (stopping nothing); False when FreeSWITCH cannot be asked
        (a path our command builder refuses), logged with the queue and what it was."""
        try:
            self.sender.api(commands.uuid_broadcast(call.customer_leg, path, "aleg"))
        except commands.CommandError as exc:
            log.error("queue %s: %s %r refused: %s", queue.name, what, path, exc)
            return False
        return True

    def stop(self, call: Call) -> None:
        """Stop what the caller hears (before sending it on elsewhere)."""
        self.sender.api(commands.uuid_break(call.customer_leg))
