"""Fan-out of events to the ESL sessions that asked for them.

An event is built only if some session is subscribed to its name, and encoded at most once
per format however many sessions receive it. While a command runs, `hold()` keeps its events
back so the command's reply goes out first, as FreeSWITCH's replies do.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import contextmanager
from typing import Protocol

from callcenter.esl.protocol import Event, encode_event


class Listener(Protocol):
    """A subscriber: an ESL session (or a test probe)."""

    def wants(self, name: str, subclass: str | None) -> bool: ...

    def accepts(self, headers: dict[str, str]) -> bool: ...

    @property
    def format(self) -> str: ...

    def send(self, frame: bytes) -> None: ...


class Subscription:
    """What one session listens to: `event <format> <names...>`, `nixevent`, `filter`."""

    def __init__(self) -> None:
        self.format = "plain"
        self.all = False
        self.names: set[str] = set()
        self.subclasses: set[str] = set()
        self.all_custom = False
        self.filters: list[tuple[str, str]] = []

    @property
    def active(self) -> bool:
        return self.all or bool(self.names)

    def add(self, words: list[str]) -> int:
        """Subscribe to event names (and, after CUSTOM, subclasses); returns how many names."""
        count = 0
        custom = False
        for word in words:
            if not custom:
                word = word.upper()  # FreeSWITCH matches event names case-insensitively
            if custom:
                self.subclasses.add(word)
            elif word == "ALL":
                self.all = True
                self.all_custom = True
                count += 1
            elif word == "CUSTOM":
                custom = True
                self.names.add(word)
                count += 1
            elif re.fullmatch(r"[A-Z][A-Z_]*", word):
                self.names.add(word)
                count += 1
        return count

    def remove(self, words: list[str]) -> int:
        count = 0
        custom = False
        for word in words:
            if not custom:
                word = word.upper()
            if custom:
                self.subclasses.discard(word)
            elif word == "ALL":
                self.clear()
                count += 1
            elif word == "CUSTOM":
                custom = True
                count += 1
            elif re.fullmatch(r"[A-Z][A-Z_]*", word):
                if self.all:  # "all but this": turn ALL into the explicit list
                    self.all = False
                    self.names = set(KNOWN_EVENTS)
                self.names.discard(word)
                count += 1
        return count

    def clear(self) -> None:
        self.all = False
        self.all_custom = False
        self.names.clear()
        self.subclasses.clear()

    def wants(self, name: str, subclass: str | None) -> bool:
        if self.all:
            return True
        if name not in self.names:
            return False
        if name == "CUSTOM" and subclass is not None:
            return self.all_custom or subclass in self.subclasses
        return True

    def accepts(self, headers: dict[str, str]) -> bool:
        """mod_event_socket's filter rule: with filters set, an event must match one."""
        if not self.filters:
            return True
        send = False
        for name, wanted in self.filters:
            value = headers.get(name)
            if value is None:
                continue
            positive = True
            while wanted[:1] in ("+", "-", " ") and wanted:
                if wanted[0] == "+":
                    positive = True
                elif wanted[0] == "-":
                    positive = False
                wanted = wanted[1:]
            if send and positive:
                continue
            if wanted.startswith("/") and wanted.endswith("/") and len(wanted) > 1:
                matched = re.search(wanted[1:-1], value) is not None
            else:
                matched = value.lower() == wanted.lower()
            if matched:
                if not positive:
                    return False
                send = True
        return send


class EventBus:
    def __init__(self, count: Callable[[], None]) -> None:
        self.listeners: list[Listener] = []
        self._count = count  # keeps Event-Sequence moving for events nobody receives
        self._held: list[Event] | None = None
        self._on_listened: list[Callable[[], None]] = []

    def add(self, listener: Listener) -> None:
        self.listeners.append(listener)
        waiting, self._on_listened = self._on_listened, []
        for fn in waiting:
            fn()

    def when_listened(self, fn: Callable[[], None]) -> None:
        """Call fn once a session subscribes to events (now, if one has)."""
        if self.listeners:
            fn()
        else:
            self._on_listened.append(fn)

    def remove(self, listener: Listener) -> None:
        if listener in self.listeners:
            self.listeners.remove(listener)

    def wants(self, name: str, subclass: str | None = None) -> bool:
        return any(listener.wants(name, subclass) for listener in self.listeners)

    def fire(self, name: str, build: Callable[[], Event], subclass: str | None = None) -> None:
        """Build the event only if someone listens, then deliver (or hold) it."""
        if not self.wants(name, subclass):
            self._count()
            return
        event = build()
        if self._held is not None:
            self._held.append(event)
        else:
            self.deliver(event)

    def deliver(self, event: Event) -> None:
        name = event.headers.get("Event-Name", "")
        subclass = event.headers.get("Event-Subclass")
        frames: dict[str, bytes] = {}
        for listener in list(self.listeners):
            if not listener.wants(name, subclass) or not listener.accepts(event.headers):
                continue
            fmt = listener.format
            frame = frames.get(fmt)
            if frame is None:
                frame = frames[fmt] = encode_event(event, fmt)
            listener.send(frame)

    @contextmanager
    def hold(self):
        """Keep events back until the block ends (nested holds release at the outermost)."""
        if self._held is not None:
            yield
            return
        self._held = []
        try:
            yield
        finally:
            held, self._held = self._held, None
            for event in held:
                self.deliver(event)


# Every event name FreeSWITCH 1.10 knows (switch_event.c EVENT_NAMES), for nixevent on ALL.
KNOWN_EVENTS = (
    "CUSTOM", "CLONE", "CHANNEL_CREATE", "CHANNEL_DESTROY", "CHANNEL_STATE", "CHANNEL_CALLSTATE",
    "CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HOLD", "CHANNEL_UNHOLD", "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_OUTGOING",
    "CHANNEL_PARK", "CHANNEL_UNPARK", "CHANNEL_APPLICATION", "CHANNEL_ORIGINATE",
    "CHANNEL_UUID", "API", "LOG", "INBOUND_CHAN", "OUTBOUND_CHAN", "STARTUP", "SHUTDOWN",
    "PUBLISH", "UNPUBLISH", "TALK", "NOTALK", "SESSION_CRASH", "MODULE_LOAD", "MODULE_UNLOAD",
    "DTMF", "MESSAGE", "PRESENCE_IN", "NOTIFY_IN", "PRESENCE_OUT", "PRESENCE_PROBE",
    "MESSAGE_WAITING", "MESSAGE_QUERY", "ROSTER", "CODEC", "BACKGROUND_JOB", "DETECTED_SPEECH",
    "DETECTED_TONE", "PRIVATE_COMMAND", "HEARTBEAT", "TRAP", "ADD_SCHEDULE", "DEL_SCHEDULE",
    "EXE_SCHEDULE", "RE_SCHEDULE", "RELOADXML", "NOTIFY", "PHONE_FEATURE",
    "PHONE_FEATURE_SUBSCRIBE", "SEND_MESSAGE", "RECV_MESSAGE", "REQUEST_PARAMS", "CHANNEL_DATA",
    "GENERAL", "COMMAND", "SESSION_HEARTBEAT", "CLIENT_DISCONNECTED", "SERVER_DISCONNECTED",
    "SEND_INFO", "RECV_INFO", "RECV_RTCP_MESSAGE", "SEND_RTCP_MESSAGE", "CALL_SECURE", "NAT",
    "RECORD_START", "RECORD_STOP", "PLAYBACK_START", "PLAYBACK_STOP", "CALL_UPDATE", "FAILURE",
    "SOCKET_DATA", "MEDIA_BUG_START", "MEDIA_BUG_STOP", "CONFERENCE_DATA_QUERY",
    "CONFERENCE_DATA", "CALL_SETUP_REQ", "CALL_SETUP_RESULT", "CALL_DETAIL", "DEVICE_STATE",
    "TEXT", "SHUTDOWN_REQUESTED",
)
