"""What a waiting caller hears: the queue's hold music (answered first when the queue answers on
entry, otherwise as early media), the greeting before it, words played between two stretches of
music, and single messages played to it.

FreeSWITCH queues each uuid_broadcast on the channel and plays it once the one before it ended
(each carries event-lock), so a sequence is sent at once and played through in order; a
`uuid_break ... all` stops what plays and drops what is queued."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from ...esl import commands
from ..calls import Calls
from ..legs import Call
from .settings import QueueSettings

log = logging.getLogger(__name__)


class CallerAudio:
    def __init__(self, calls: Calls) -> None:
        self.sender = calls.sender

    def hold(self, call: Call, queue: QueueSettings, *, greeting: bool = False) -> None:
        """Hold music for the caller (after the queue's greeting, for a new caller): answered
        first if the queue answers on entry (billing starts, music plays); otherwise it goes
        out as early media (183)."""
        if queue.answer_on_entry:
            self.sender.api(commands.uuid_answer(call.customer_leg))
        if greeting and queue.greeting:
            self.play(call, queue, queue.greeting, "greeting")
        self.play(call, queue, queue.hold_music, "hold music")

    def between_music(self, call: Call, queue: QueueSettings, path: str | None,
                      spoken: Iterable[tuple[str, int]]) -> None:
        """The music stops, `path` plays and each (phrase macro, number) is spoken, then the
        music resumes."""
        self.stop(call)
        if path:
            self.play(call, queue, path, "announcement")
        for macro, number in spoken:
            self.sender.api(commands.uuid_broadcast_phrase(call.customer_leg, macro, number))
        self.play(call, queue, queue.hold_music, "hold music")

    def play(self, call: Call, queue: QueueSettings, path: str, what: str) -> bool:
        """Play `path` to the caller (after what it plays now); False when FreeSWITCH cannot be
        asked (a path our command builder refuses), logged with the queue and what it was."""
        try:
            self.sender.api(commands.uuid_broadcast(call.customer_leg, path, "aleg"))
        except commands.CommandError as exc:
            log.error("queue %s: %s %r refused: %s", queue.name, what, path, exc)
            return False
        return True

    def stop(self, call: Call) -> None:
        """Stop what the caller hears and drop what is queued (before sending it on
        elsewhere, or before words between the music)."""
        self.sender.api(commands.uuid_break(call.customer_leg))
