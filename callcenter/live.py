"""The live hub: the switchboard publishes small deltas, each browser socket reads its own queue.

Everything runs in one gevent hub. `Hub.publish` runs in the switchboard's greenlet, so it never
blocks, never yields and never raises: each subscription has a bounded queue, and a subscription
that falls behind has its queue dropped and is owed a fresh snapshot instead (amortised O(1) for
the publisher: every queued message is appended once and freed once). A snapshot reflects the
state when it is taken, so the messages dropped with the queue lose nothing.

Topics say who hears a message. Every message goes to topic "all" (supervisors and admins:
their subscription sees every seq, so a gap means a loss), and to the topics it names besides:
"agent:N" (that agent's pages), "queue:N" (one queue's live row: the wall display), "figures"
(today's figures). A subscription holds one or more topics and hears each message once; an
agent's or a display's sees a rising subset of seqs. Delivery costs O(subscribers of the
message's topics), never O(all subscribers).

A snapshot carries the seq it was taken at (messages after it have a higher seq) and one section
per provider: the switchboard's view (agents, calls, offers, the link) for "all" and "agent:N",
and each section registered with `provide` (queues, figures ...), which returns None for an
audience it has nothing for.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Callable

from gevent.event import Event

log = logging.getLogger(__name__)

SnapshotProvider = Callable[[int | None], dict]
EVERYTHING = "all"


def agent_topic(agent_id: int) -> str:
    return f"agent:{agent_id}"


def queue_topic(queue_id: int) -> str:
    return f"queue:{queue_id}"


class Audience:
    """Who a subscription is: its topics, the agent it belongs to (if any), whether it sees
    everything. What a section provider reads to decide what to send."""

    __slots__ = ("agent_id", "everything", "topics")

    def __init__(self, topics: frozenset[str]) -> None:
        self.topics = topics
        self.everything = EVERYTHING in topics
        agents = [int(t.partition(":")[2]) for t in topics if t.startswith("agent:")]
        self.agent_id = agents[0] if len(agents) == 1 and not self.everything else None

    def queue_ids(self) -> set[int]:
        return {int(t.partition(":")[2]) for t in self.topics if t.startswith("queue:")}


SectionProvider = Callable[[Audience], object]


def empty_view(agent_id: int | None) -> dict:
    """The snapshot before the switchboard provides one: nothing to show."""
    return {"agents": [], "calls": []}


class Message(dict):
    """A delivered message. One instance is shared by every subscriber, so nobody may change it;
    `text` is its JSON, encoded once however many sockets send it."""

    __slots__ = ("_text",)

    @property
    def text(self) -> str:
        try:
            return self._text
        except AttributeError:
            self._text = json.dumps(self, separators=(",", ":"), default=str)
            return self._text


def encode(message: dict) -> str:
    """JSON text for a socket frame (cached on hub messages)."""
    if isinstance(message, Message):
        return message.text
    return json.dumps(message, separators=(",", ":"), default=str)


class Hub:
    def __init__(self, queue_size: int = 256) -> None:
        if not isinstance(queue_size, int) or queue_size < 1:
            raise ValueError(f"queue_size must be a positive integer, not {queue_size!r}")
        self.queue_size = queue_size
        self._seq = 0
        self._by_topic: dict[str, set[Subscription]] = {}
        self._count = 0
        self._snapshot: SnapshotProvider = empty_view
        self._sections: dict[str, SectionProvider] = {}

    @property
    def seq(self) -> int:
        """The seq of the last message published (0 before the first)."""
        return self._seq

    @property
    def subscribers(self) -> int:
        return self._count

    def listening(self, topic: str) -> bool:
        """Whether anyone subscribes to `topic` now (so its messages are worth building)."""
        return bool(self._by_topic.get(topic))

    def set_snapshot(self, provider: SnapshotProvider) -> None:
        """provider(agent_id) -> {"agents": [...], "calls": [...]} for that agent's view;
        provider(None) -> everything (supervisors/admins). Default provider: empty lists."""
        if not callable(provider):
            raise TypeError(f"the snapshot provider must be callable, not {provider!r}")
        self._snapshot = provider

    def provide(self, section: str, provider: SectionProvider) -> None:
        """provider(audience) -> the snapshot's `section` for that audience, or None to leave
        it out. One provider per section; a later one replaces it."""
        if not callable(provider):
            raise TypeError(f"the {section!r} provider must be callable, not {provider!r}")
        if section in ("type", "seq"):
            raise ValueError(f"{section!r} is the hub's own key, not a section")
        self._sections[section] = provider

    def publish(self, message: dict, agent_id: int | None = None,
                topics: tuple[str, ...] = ()) -> None:
        """Deliver to topic "all", to agent_id's topic, and to `topics`. Adds "seq" (one
        hub-wide counter). Never blocks, never yields, never raises."""
        try:
            if not isinstance(message, dict):
                log.error("live: dropped a message that is not a dict: %r", message)
                return
            self._seq += 1
            delivered = Message(message)
            delivered["seq"] = self._seq
            by_topic = self._by_topic
            for subscription in by_topic.get(EVERYTHING, ()):
                subscription._deliver(delivered)
            if agent_id is not None:
                for subscription in by_topic.get(agent_topic(agent_id), ()):
                    subscription._deliver(delivered)
            for topic in topics:
                for subscription in by_topic.get(topic, ()):
                    subscription._deliver(delivered)
        except Exception:       # the switchboard's greenlet must go on whatever happens here
            log.exception("live: a message was not delivered")

    def broadcast(self, message: dict) -> None:
        """Deliver to every subscription, agents' included: news for every page (the link to
        the phone system). Never blocks, never yields, never raises."""
        try:
            self._seq += 1
            delivered = Message(message)
            delivered["seq"] = self._seq
            for subscriptions in self._by_topic.values():
                for subscription in subscriptions:
                    subscription._deliver(delivered)
        except Exception:
            log.exception("live: a message for everyone was not delivered")

    def subscribe(self, agent_id: int | None = None, *,
                  topics: frozenset[str] | None = None) -> Subscription:
        """agent_id None: sees everything (topic "all"); an agent id: that agent's topic.
        `topics` instead: exactly those (a wall display's queues)."""
        if topics is None:
            if agent_id is not None and (not isinstance(agent_id, int)
                                         or isinstance(agent_id, bool)):
                raise TypeError(f"agent_id must be an int or None, not {agent_id!r}")
            topics = frozenset({EVERYTHING if agent_id is None else agent_topic(agent_id)})
        elif agent_id is not None:
            raise TypeError("give agent_id or topics, not both")
        elif not topics or not all(isinstance(t, str) and t for t in topics):
            raise ValueError(f"topics must be a non-empty set of names, not {topics!r}")
        subscription = Subscription(self, Audience(frozenset(topics)))
        for topic in subscription.audience.topics:
            self._by_topic.setdefault(topic, set()).add(subscription)
        self._count += 1
        return subscription

    def _unsubscribe(self, subscription: Subscription) -> None:
        for topic in subscription.audience.topics:
            mine = self._by_topic.get(topic)
            if mine is not None:
                mine.discard(subscription)
                if not mine:
                    del self._by_topic[topic]
        self._count -= 1

    def _take_snapshot(self, audience: Audience) -> Message:
        # The seq is read before the providers run: if one yields and messages are published
        # meanwhile, they follow the snapshot (a client may apply one twice; deltas carry whole
        # objects, so that is harmless), and none is lost.
        seq = self._seq
        view: dict = {}
        if audience.everything or audience.agent_id is not None:
            view.update(self._snapshot(audience.agent_id))
        for section, provider in self._sections.items():
            value = provider(audience)
            if value is not None:
                view[section] = value
        snapshot = Message({"type": "snapshot", "seq": seq, **view})
        snapshot["type"], snapshot["seq"] = "snapshot", seq
        return snapshot


class Subscription:
    """One socket's view of the hub. Read it from one greenlet at a time."""

    def __init__(self, hub: Hub, audience: Audience) -> None:
        self.audience = audience
        self.agent_id = audience.agent_id
        self.overflows = 0                  # how many times its queue was dropped
        self._last_seq = -1                 # a message for two of its topics comes once
        self._hub = hub
        self._limit = hub.queue_size
        self._queue: deque[Message] = deque()
        self._owed_snapshot = True          # the first message is always a snapshot
        self._closed = False
        self._waiting = False
        self._ready = Event()

    @property
    def closed(self) -> bool:
        return self._closed

    def _deliver(self, message: Message) -> None:
        # The publisher's path: plain attribute work, and Event.set only schedules a wake-up.
        if self._owed_snapshot or message["seq"] == self._last_seq:
            return                          # the snapshot it will get covers this message
        self._last_seq = message["seq"]
        queue = self._queue
        if len(queue) >= self._limit:
            queue.clear()
            self._owed_snapshot = True
            self.overflows += 1
        else:
            queue.append(message)
        if self._waiting:
            self._ready.set()

    def get(self, timeout: float | None = None) -> dict | None:
        """The next message; the first is {"type": "snapshot", "seq": <hub seq now>, **view}.
        After an overflow, the queued messages are dropped and the next get() returns a fresh
        snapshot. None on timeout, or once closed."""
        if self._closed:
            return None
        if not self._owed_snapshot and not self._queue:
            self._ready.clear()
            self._waiting = True
            try:
                self._ready.wait(timeout)
            finally:
                self._waiting = False
            if self._closed:
                return None
        if self._owed_snapshot:
            self._owed_snapshot = False
            self._queue.clear()
            try:
                return self._hub._take_snapshot(self.audience)
            except BaseException:
                self._owed_snapshot = True
                raise
        if self._queue:
            return self._queue.popleft()
        return None

    def take_queued(self) -> list[Message]:
        """The messages queued now, without waiting (none while a snapshot is owed: the next
        get() returns it). A sender takes them together to send them at once."""
        if self._owed_snapshot or self._closed:
            return []
        taken = list(self._queue)
        self._queue.clear()
        return taken

    def close(self) -> None:
        """Leave the hub; a greenlet waiting in get() wakes with None. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._queue.clear()
        self._hub._unsubscribe(self)
        self._ready.set()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
