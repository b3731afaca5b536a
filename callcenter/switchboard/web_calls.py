"""Calls from a website (callcenter/widgets/): a visitor's call reaches the switchboard like a
DID call — parked by the `guests` context with cc_queue — and carries cc_channel=web and the
visitor's one-call token (cc_guest). Here it gets its channel on the CDR, the visitor's pre-call
fields and page for the agent's card, its maximum length (the widget's, on the injectable
clock), and the visitor's status (waiting and its place, connected, ended) for the widget.

The guest's row is read once, when its call arrives: one primary-key SELECT, for web calls
only; the widgets' maximum lengths are loaded with the queues.

After a controller restart the resync rebuilds the call: a visitor still waiting enters its queue
again through `arrived` (its token read back from the channel), one already talking to an agent
through `rebuilt` (its row found by the call's id). Either way the maximum length runs from the
call's start — when its INVITE used the credential — so a call already past it ends at once."""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..models import WEB, GuestCall, HangupBy, Outcome, Widget
from ..models import Call as CallRow
from .calls import Calls
from .legs import Call
from .persist import Persist
from .queues.waiting import Line, waiting_of

log = logging.getLogger(__name__)

VISITOR = "visitor"          # call.features: the Visitor of a web call
MAX_LENGTH_CAUSE = "ALLOTTED_TIMEOUT"
# The agent leg of a visitor's video call is offered video too (the internal profile's outbound
# list is audio-only: globals.xml).
VIDEO_CODECS = "OPUS,PCMU,VP8"
KEEP_ENDED = 1000            # ended calls whose status a widget may still ask for
GUEST_VARIABLES = ("cc_channel", "cc_guest", "cc_widget")   # read by guest_of


@dataclass
class Visitor:
    token: str
    widget: str
    fields: dict[str, str] = field(default_factory=dict)
    page_url: str = ""
    page_title: str = ""
    video: bool = False
    # The wait the call's row recorded when an agent took it: a call rebuilt after a restart
    # with its agent already (its line's entry is not rebuilt, only the row remembers it).
    waited_seconds: int | None = None

    def as_dict(self) -> dict:
        return {"widget": self.widget, "fields": self.fields, "page_url": self.page_url,
                "page_title": self.page_title, "video": self.video}


def guest_of(variable: Callable[[str], str | None]) -> tuple[str, str] | None:
    """A website call's (visitor token, widget id) from the channel variables the guest
    directory set on its leg; None for any other call."""
    if variable("cc_channel") == WEB and variable("cc_guest"):
        return variable("cc_guest") or "", variable("cc_widget") or ""
    return None


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

    def arrived(self, call: Call, token: str, widget: str, entered: float | None = None) -> None:
        """A parked caller came from a website: mark it, learn its visitor, time its length.
        `entered`: when it first entered its queue, for a caller found again after a restart."""
        visitor = Visitor(token=token[:32], widget=widget[:32])
        row = self._guest_row(GuestCall.token == visitor.token)
        self._follow(call, visitor, row[0] if row else None, entered)
        self.counts["arrived"] += 1
        self.persist.guest_call(visitor.token, call.id)

    def rebuilt(self, call: Call) -> None:
        """A web call already with its agent when the controller restarted (rebuilt from the
        database): its visitor is read again, its status answers again, its length is timed."""
        row = self._guest_row(GuestCall.call_id == call.id)
        if row is None:
            log.warning("website call rebuilt without its visitor's row: no maximum length",
                        extra={"call_id": call.id})
            return
        guest, widget = row
        visitor = Visitor(token=guest.token, widget=widget, waited_seconds=self._waited(call))
        self._follow(call, visitor, guest, call.created)

    def _follow(self, call: Call, visitor: Visitor, row: GuestCall | None,
                known_start: float | None) -> None:
        call.channel = WEB
        if row is not None:
            self._learn(visitor, row)
        call.features[VISITOR] = visitor
        self._by_token[visitor.token] = call
        self._forget_old()
        if visitor.widget not in self._max_seconds:
            self.reload()       # added since the switchboard started
        limit = self._max_seconds.get(visitor.widget)
        if limit:
            now = self.clock.now()
            started = row.used_at.timestamp() if row is not None and row.used_at \
                else known_start if known_start is not None else now
            # Past it already (the controller was away): ended at once, on the next turn.
            call.timers.append(self.clock.call_later(started + limit - now, self._too_long,
                                                     call))

    def _guest_row(self, where) -> tuple[GuestCall, str] | None:
        """The visitor's credential row and its widget's public id (None: unknown, or the
        database did not answer)."""
        try:
            with self._sessions() as session:
                found = session.execute(
                    select(GuestCall, Widget.public_id)
                    .join(Widget, Widget.id == GuestCall.widget_id).where(where)).first()
        except SQLAlchemyError as exc:
            log.error("website call: visitor's row not read: %s", str(exc).splitlines()[0])
            return None
        return None if found is None else (found[0], found[1])

    def _waited(self, call: Call) -> int | None:
        try:
            with self._sessions() as session:
                return session.scalar(select(CallRow.wait_seconds).where(CallRow.id == call.id))
        except SQLAlchemyError as exc:
            log.error("website call: its wait not read: %s", str(exc).splitlines()[0])
            return None

    @staticmethod
    def _learn(visitor: Visitor, row: GuestCall) -> None:
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
            rebuilt = visitor_of(call).waited_seconds      # every call here has its visitor
            return {"state": "connected", "position": None,
                    "waited_seconds": waited if rebuilt is None else rebuilt}
        line = self._lines().get(waiting.queue)
        position = line.position(call) if line is not None else None
        return {"state": "waiting", "position": position, "waited_seconds": waited}

    def _forget_old(self) -> None:
        if len(self._by_token) > KEEP_ENDED:
            ended = [token for token, call in self._by_token.items() if call.ended]
            for token in ended[:len(ended) // 2 + 1]:
                del self._by_token[token]
