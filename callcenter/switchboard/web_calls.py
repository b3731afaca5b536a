"""Calls from a website (callcenter/widgets/): a visitor's call reaches the switchboard like a
DID call — parked by the `guests` context with cc_queue — and carries cc_channel=web and the
visitor's one-call token (cc_guest). Here it gets its channel on the CDR, the visitor's pre-call
fields and page for the agent's card, its maximum length (the widget's, on the injectable
clock), and the visitor's status (waiting and its place, connected, ended) for the widget.

The guest's row is read once, when its call arrives: one primary-key SELECT, for web calls
only; the widgets' maximum lengths are loaded with the queues."""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..models import GuestCall, HangupBy, Outcome, Widget
from .calls import Calls
from .legs import Call
from .persist import Persist
from .queues.waiting import Line, waiting_of

log = logging.getLogger(__name__)

WEB = "web"
VISITOR = "visitor"          # call.features: the Visitor of a web call
MAX_LENGTH_CAUSE = "ALLOTTED_TIMEOUT"
# The agent leg of a visitor's video call is offered video too (the internal profile's outbound
# list is audio-only: globals.xml).
VIDEO_CODECS = "OPUS,PCMU,VP8"
KEEP_ENDED = 1000            # ended calls whose status a widget may still ask for


@dataclass
class Visitor:
    token: str
    widget: str
    fields: dict[str, str] = field(default_factory=dict)
    page_url: str = ""
    page_title: str = ""
    video: bool = False

    def as_dict(self) -> dict:
        return {"widget": self.widget, "fields": self.fields, "page_url": self.page_url,
                "page_title": self.page_title, "video": self.video}


def visitor_of(call: Call) -> Visitor | None:
    return call.features.get(VISITOR)


def offer_variables(call: Call) -> dict[str, str]:
    """What an agent leg offered this call carries for it: video, for a visitor's video call."""
    visitor = visitor_of(call)
    return {"absolute_codec_string": VIDEO_CODECS} if visitor and visitor.video else {}


class WebCalls:
    def __init__(self, *, calls: Calls, persist: Persist, sessions,
                 lines: Callable[[], dict[str, Line]]) -> None:
        self.calls, self.persist, self.clock = calls, persist, calls.clock
        self._sessions = sessions
        self._lines = lines
        self._max_seconds: dict[str, int] = {}
        self._by_token: OrderedDict[str, Call] = OrderedDict()
        self.counts = {"arrived": 0, "too_long": 0}

    def reload(self) -> None:
        """The widgets' maximum call lengths (an admin changed a widget)."""
        try:
            with self._sessions() as session:
                self._max_seconds = dict(session.execute(
                    select(Widget.public_id, Widget.max_call_seconds)).all())
        except SQLAlchemyError as exc:
            log.error("widgets not loaded: %s", str(exc).splitlines()[0])

    def arrived(self, call: Call, token: str, widget: str) -> None:
        """A parked caller came from a website: mark it, learn its visitor, time its length."""
        call.channel = WEB
        visitor = Visitor(token=token[:32], widget=widget[:32])
        self._learn(visitor)
        call.features[VISITOR] = visitor
        self._by_token[visitor.token] = call
        self._forget_old()
        self.counts["arrived"] += 1
        if widget not in self._max_seconds:
            self.reload()       # added since the switchboard started
        limit = self._max_seconds.get(widget)
        if limit:
            call.timers.append(self.clock.call_later(limit, self._too_long, call))
        self.persist.guest_call(visitor.token, call.id)

    def _learn(self, visitor: Visitor) -> None:
        try:
            with self._sessions() as session:
                row = session.scalar(select(GuestCall).where(GuestCall.token == visitor.token))
        except SQLAlchemyError as exc:
            log.error("website call %s: visitor's fields not read: %s", visitor.token,
                      str(exc).splitlines()[0])
            return
        if row is None:
            return
        try:
            fields = json.loads(row.fields or "{}")
        except ValueError:
            fields = {}
        visitor.fields = fields if isinstance(fields, dict) else {}
        visitor.page_url, visitor.page_title = row.page_url, row.page_title
        visitor.video = row.video

    def _too_long(self, call: Call) -> None:
        """The widget's maximum length is up: the call ends (both sides)."""
        if call.ended:
            return
        log.info("website call reached its maximum length: hanging up",
                 extra={"call_id": call.id})
        self.counts["too_long"] += 1
        waiting = waiting_of(call)
        if call.outcome is None and waiting is not None and waiting.connected is None:
            # Still in line: the wait ran out, as with the queue's own longest wait.
            self.calls.decide(call, Outcome.TIMED_OUT, MAX_LENGTH_CAUSE, HangupBy.SYSTEM)
        self.calls.hang_up(call.customer_leg, MAX_LENGTH_CAUSE)

    def status(self, token: str) -> dict | None:
        """The visitor's view of its call, or None when the switchboard does not know it."""
        call = self._by_token.get(token)
        if call is None:
            return None
        waiting = waiting_of(call)
        now = self.clock.now()
        if call.ended or call.outcome is not None and (waiting is None or not waiting.connected):
            return {"state": "ended", "position": None, "waited_seconds": None}
        if waiting is None:
            return {"state": "connecting", "position": None, "waited_seconds": None}
        waited = int((waiting.left or now) - waiting.entered)
        if waiting.connected is not None:
            return {"state": "connected", "position": None, "waited_seconds": waited}
        line = self._lines().get(waiting.queue)
        position = line.position(call) if line is not None else None
        return {"state": "waiting", "position": position, "waited_seconds": waited}

    def _forget_old(self) -> None:
        if len(self._by_token) > KEEP_ENDED:
            ended = [token for token, call in self._by_token.items() if call.ended]
            for token in ended[:len(ended) // 2 + 1]:
                del self._by_token[token]
