"""What a waiting caller is told: its queue's greeting before the hold music, then every
`announce_every` seconds the queue's announcement, and every `position_every` seconds its place
in line and its estimated wait; each time the music stops, the words play and the music resumes.
Nothing is told once an agent answered (an offer that only rings changes nothing).

How FreeSWITCH plays it (1.10.12, tests/freeswitch/test_announcements.py): broadcasts queue up on
the channel, so "break; announcement; place; wait; music" is sent at once and the switch plays it
through; nothing waits on the announcement's end. The bridge to an agent starts with
`uuid_break ... all`, which drops whatever is still queued, so nothing follows the caller into the
call. Place and wait are phrase macros of the shipped configuration (lang/en.xml: the say
module's numbers between prompts); without the English sound files they are skipped silently.

PLAYBACK_STOP: one with status break is the music we stopped and means nothing here; one with
status done says the greeting or announcement has been heard (a due announcement waits for it
rather than cut it short) or that a hold music file ended (it is played again).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...clock import Timer
from ...esl.protocol import Event
from ..legs import Call
from .audio import CallerAudio
from .estimate import HandleTimes, estimated_wait, spoken_minutes
from .settings import QueueSettings
from .waiting import Waiting, waiting_of

if TYPE_CHECKING:
    from .distributor import Distributor

log = logging.getLogger(__name__)

FEATURE = "announcer"
POSITION_PHRASE = "cc_queue_position"   # freeswitch-conf/lang/en.xml
WAIT_PHRASE = "cc_queue_wait"
TOGETHER_S = 1.0          # what falls due this soon after is told in the same break
SPEAKING_MAX_S = 120.0    # a greeting or announcement never reported played stops holding others


@dataclass
class Told:
    """What the announcer keeps of one waiting caller (call.features[FEATURE])."""
    queue: str
    next_announcement: float | None = None
    next_position: float | None = None
    speaking: str | None = None     # a greeting or announcement sent, not yet reported played
    speaking_since: float = 0.0
    timer: Timer | None = None


class Announcer:
    def __init__(self, distributor: Distributor, audio: CallerAudio) -> None:
        self.distributor, self.audio = distributor, audio
        self.clock = distributor.clock
        self.handle_times = HandleTimes()

    # -- a caller joins a queue ------------------------------------------------------------------

    def welcome(self, call: Call, queue: QueueSettings, *, greeting: bool) -> None:
        """A caller joins `queue`: its greeting (for a new caller), the music, and its
        announcements from now on."""
        self.audio.hold(call, queue, greeting=greeting)
        told = Told(queue=queue.name)
        if greeting and queue.greeting:
            told.speaking, told.speaking_since = queue.greeting, self.clock.now()
        self._start(call, told, queue)

    def moved(self, call: Call, queue: QueueSettings) -> None:
        """The caller was moved to another queue: that queue's music and announcements."""
        self.audio.stop(call)
        self.welcome(call, queue, greeting=False)

    def _start(self, call: Call, told: Told, queue: QueueSettings) -> None:
        old = call.features.get(FEATURE)
        if old is not None and old.timer is not None:
            old.timer.cancel()
        now = self.clock.now()
        if queue.announcement and queue.announce_every:
            told.next_announcement = now + queue.announce_every
        if (queue.announce_position or queue.announce_wait) and queue.position_every:
            told.next_position = now + queue.position_every
        call.features[FEATURE] = told
        self._arm(call, told)

    # -- the cadence -----------------------------------------------------------------------------

    def _arm(self, call: Call, told: Told) -> None:
        due = [t for t in (told.next_announcement, told.next_position) if t is not None]
        if told.timer is not None:
            told.timer.cancel()
            told.timer = None
        if due:
            delay = max(0.0, min(due) - self.clock.now())
            told.timer = self.clock.call_later(delay, self._due, call)
            call.timers.append(told.timer)

    def _due(self, call: Call) -> None:
        told, waiting = call.features.get(FEATURE), waiting_of(call)
        if told is None or not self._listening(call, waiting):
            return
        if told.timer is not None:      # this one firing, or one a playback's end ran ahead of
            told.timer.cancel()
            told.timer = None
        queue = self.distributor.queues.get(told.queue)
        if queue is None or queue.name != waiting.queue:
            return
        now = self.clock.now()
        if told.speaking is not None and now - told.speaking_since < SPEAKING_MAX_S:
            # The greeting or the last announcement still plays: its end runs this again.
            told.timer = self.clock.call_later(told.speaking_since + SPEAKING_MAX_S - now,
                                               self._due, call)
            call.timers.append(told.timer)
            return
        told.speaking = None
        self._tell(call, told, queue, waiting, now)
        self._arm(call, told)

    def _tell(self, call: Call, told: Told, queue: QueueSettings, waiting: Waiting,
              now: float) -> None:
        """Whatever is due (or nearly): the announcement, the place, the wait; then music."""
        path = None
        if told.next_announcement is not None and told.next_announcement <= now + TOGETHER_S:
            path = queue.announcement
            told.next_announcement = now + queue.announce_every
        spoken: list[tuple[str, int]] = []
        if told.next_position is not None and told.next_position <= now + TOGETHER_S:
            told.next_position = now + queue.position_every
            spoken = self.place_and_wait(call, queue, waiting)
        if not path and not spoken:
            return
        self.audio.between_music(call, queue, path, spoken)
        if path:
            told.speaking, told.speaking_since = path, now
        log.debug("queue %s: told the caller %s", queue.name,
                  ", ".join(filter(None, [path, *(f"{m} {n}" for m, n in spoken)])),
                  extra={"call_id": call.id})

    def place_and_wait(self, call: Call, queue: QueueSettings,
                       waiting: Waiting) -> list[tuple[str, int]]:
        """(phrase, number) for the caller's place and wait, each as the queue asks; the wait
        only while an agent is Available for the queue."""
        line = self.distributor.lines.get(waiting.queue)
        position = line.position(call) if line is not None else None
        if position is None:
            return []
        spoken = []
        if queue.announce_position:
            spoken.append((POSITION_PHRASE, position))
        if queue.announce_wait:
            minutes = spoken_minutes(estimated_wait(
                position, self.handle_times.of(queue.name),
                self.distributor.available_agents(queue)))
            if minutes is not None:
                spoken.append((WAIT_PHRASE, minutes))
        return spoken

    @staticmethod
    def _listening(call: Call, waiting: Waiting | None) -> bool:
        """Still in line, no agent's phone answered: it may be told things."""
        return waiting is not None and waiting.connected is None and waiting.left is None \
            and call.outcome is None and not call.ended

    # -- what the switch reports -----------------------------------------------------------------

    def played(self, call: Call, event: Event) -> None:
        """A playback on the caller reached its end (PLAYBACK_STOP, status done)."""
        told, waiting = call.features.get(FEATURE), waiting_of(call)
        if told is None or not self._listening(call, waiting):
            return
        path = event.get("Playback-File-Path") or ""
        if told.speaking is not None and path == told.speaking:
            told.speaking = None
            if self._overdue(told):
                self._due(call)       # held back while it played
            return
        queue = self.distributor.queues.get(told.queue)
        if queue is not None and told.speaking is None and path == queue.hold_music:
            # A music file ended by itself (tones and streams loop): once more.
            self.audio.play(call, queue, queue.hold_music, "hold music")

    def _overdue(self, told: Told) -> bool:
        now = self.clock.now()
        return any(t is not None and t <= now
                   for t in (told.next_announcement, told.next_position))

    # -- figures for the estimate ----------------------------------------------------------------

    def handled(self, call: Call, queue: str, agent_wrapup: int | None) -> None:
        """An answered call of `queue` ended: its talk and wrap-up time count."""
        if call.bridged_at is None or call.ended_at is None:
            return
        wrapup = call.wrapup_seconds if call.wrapup_seconds is not None else agent_wrapup
        self.handle_times.add(queue, call.ended_at - call.bridged_at + (wrapup or 0))
