"""Legs (one FreeSWITCH channel each, keyed by UUID) and the calls they make up, built from
channel events.

FreeSWITCH's event order is not always the textbook one: a leg's first event may not be
CHANNEL_CREATE, an agent leg can be bridged before its `park` ran (no PARK at all), and a
leg we originated can produce events before the originate's reply. So a leg is registered
*before* its originate is sent (we chose its UUID), and each event only moves a leg forward:
what was seen stays seen, whatever order it arrives in.
"""

from __future__ import annotations

import enum
import logging
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..esl.protocol import Event
from ..models import PHONE, Direction, HangupBy, LegRole, Outcome

log = logging.getLogger(__name__)


ORPHANS_KEPT = 10000  # legs of closed calls still watched for (a few minutes at full load)


class Happened(enum.Enum):
    """What an event meant for its leg, once (a repeated event means nothing new)."""
    CREATED = "created"
    RINGING = "ringing"               # 180 (CHANNEL_PROGRESS)
    EARLY_MEDIA = "early_media"       # 183 with SDP (CHANNEL_PROGRESS_MEDIA)
    ANSWERED = "answered"
    PARKED = "parked"
    BRIDGED = "bridged"
    UNBRIDGED = "unbridged"
    HELD = "held"
    UNHELD = "unheld"
    HUNG_UP = "hung_up"
    COMPLETED = "completed"           # CHANNEL_HANGUP_COMPLETE: the leg's CDR is final
    PLAYED = "played"                 # PLAYBACK_STOP: a file or tone played to its end
    DTMF = "dtmf"                     # a key the far end pressed (the event's DTMF-Digit)


# What shows a leg is (still) up: a leg that does this after its call was decided must go.
COMING_UP = frozenset({Happened.CREATED, Happened.RINGING, Happened.EARLY_MEDIA,
                       Happened.ANSWERED, Happened.PARKED})


@dataclass
class Leg:
    uuid: str
    call_id: str
    role: LegRole
    agent_id: int | None = None       # the agent whose softphone this leg rings (offers.py)
    channel_name: str = ""
    seen: bool = False                # any channel event arrived
    ringing: bool = False
    early_media: bool = False
    answered: bool = False
    parked: bool = False
    bridged_to: str | None = None     # the partner while bridged
    was_bridged: bool = False
    held: bool = False
    hung_up: bool = False
    kill_sent: bool = False           # we asked FreeSWITCH to hang it up
    completed: bool = False
    recorded: bool = False            # its CHANNEL_HANGUP_COMPLETE reached the CDR writer
    cause: str | None = None
    disposition: str | None = None    # sip_hangup_disposition: recv_bye, send_cancel ...
    sip_status: int | None = None     # sip_term_status: the SIP final response (486, 503 ...)
    sip_reason: str | None = None     # sip_invite_failure_phrase, when the INVITE failed

    @property
    def alive(self) -> bool:
        return not self.hung_up


class Progress(enum.StrEnum):
    """Where a call is, as the pages show it. A dial-out climbs dialing_agent → dialing →
    ringing → early_media → answered; a queued call goes waiting → offered (an agent's phone
    rings) → back to waiting if it is missed, or answered. The pages order a call's updates by
    its version, never by this."""
    WAITING = "waiting"               # a caller in a queue, waiting for an agent
    OFFERED = "offered"               # a queued caller: an agent's phone rings with it
    DIALING_AGENT = "dialing_agent"   # ringing the agent's own softphone
    DIALING = "dialing"               # the agent answered; the customer's number is dialled
    RINGING = "ringing"               # the customer's phone rings (180)
    EARLY_MEDIA = "early_media"       # the carrier sends audio before the answer (183)
    ANSWERED = "answered"
    ENDED = "ended"


class CallKind(enum.StrEnum):
    """Which feature owns a call (router.py sends its events there)."""
    DIAL_OUT = "dial_out"           # click-to-dial: the agent's own call to a customer
    QUEUED = "queued"               # an inbound caller through a queue (queues/)
    CALLBACK = "callback"           # a caller's callback request, dialled by an agent


def kind_of(direction: Direction) -> CallKind:
    """The kind of a call rebuilt from its row after a restart."""
    return CallKind.QUEUED if direction is Direction.INBOUND else CallKind.DIAL_OUT


@dataclass
class Call:
    """One customer interaction in memory; the Call row (the CDR) is written from it."""
    id: str
    direction: Direction
    agent_id: int | None
    number: str
    kind: CallKind = CallKind.DIAL_OUT
    caller_id: str = ""
    channel: str = PHONE              # how the customer came: phone, or web (web_calls.py)
    created: float = 0.0
    agent_leg: str | None = None
    customer_leg: str | None = None
    progress: Progress = Progress.DIALING_AGENT
    outcome: Outcome | None = None
    cause: str | None = None
    sip_status: int | None = None
    sip_reason: str | None = None
    hangup_by: HangupBy | None = None
    ringing_at: float | None = None
    answered_at: float | None = None
    bridged_at: float | None = None
    ended_at: float | None = None
    bridge_sent: bool = False
    wrapup_seconds: int | None = None  # the agent's wrap-up after this call, if not its own
    held: bool = False                # the agent's leg is on hold: the customer hears music
    transfer: Any = None              # controls.Transfer: the last transfer, while it matters
    # Legs beside the current agent_leg/customer_leg: a transfer's new leg until it is bridged,
    # then the agent leg it replaced.
    others: list[str] = field(default_factory=list)
    timers: list = field(default_factory=list)
    # Each feature's own state for this call (the queue's waiting caller, ...), by feature name:
    # features keep theirs here rather than adding fields to every call.
    features: dict[str, Any] = field(default_factory=dict)
    # Grows with every change the pages hear of: a page keeps the update with the highest
    # version, whichever way (live socket, HTTP reply) and in whatever order it arrives.
    version: int = 0

    @property
    def ended(self) -> bool:
        return self.progress is Progress.ENDED

    def cancel_timers(self) -> None:
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()

    def as_message(self) -> dict:
        """The call as the pages see it (its shape lives in messages.py)."""
        from .messages import call
        return call(self)


class Legs:
    """Every leg and call the switchboard knows, and what each channel event did to them."""

    def __init__(self) -> None:
        self.legs: dict[str, Leg] = {}
        self.calls: dict[str, Call] = {}
        self.orphans: OrderedDict[str, str] = OrderedDict()  # leg uuid -> its call id

    def add_call(self, call: Call) -> Call:
        self.calls[call.id] = call
        return call

    def add_leg(self, call: Call, uuid: str, role: LegRole, *, current: bool = True,
                agent_id: int | None = None) -> Leg:
        """`current=False`: a leg joining in a transfer, not (yet) the call's agent leg."""
        leg = Leg(uuid, call.id, role, agent_id)
        self.legs[uuid] = leg
        if not current:
            call.others.append(uuid)
        elif role is LegRole.AGENT:
            call.agent_leg = uuid
        elif role is LegRole.CUSTOMER:
            call.customer_leg = uuid
        return leg

    def add_listener(self, call: Call, uuid: str, role: LegRole) -> Leg:
        """A leg that listens in on the call (a supervisor's): its events reach the call's
        features, but it is none of the call's legs (legs_of): the call does not wait for it,
        and forgetting the call leaves it to `release`."""
        leg = Leg(uuid, call.id, role)
        self.legs[uuid] = leg
        return leg

    def release(self, uuid: str) -> None:
        """Stop following a leg outside any call; if it still shows up, it goes (orphans)."""
        leg = self.legs.pop(uuid, None)
        if leg is not None and not leg.recorded:
            self._orphan(leg)

    def call_of(self, leg: Leg) -> Call | None:
        return self.calls.get(leg.call_id)

    def legs_of(self, call: Call) -> Iterator[Leg]:
        for uuid in (call.agent_leg, call.customer_leg, *call.others):
            if uuid is not None and uuid in self.legs:
                yield self.legs[uuid]

    def forget(self, call: Call) -> None:
        for leg in list(self.legs_of(call)):
            self.legs.pop(leg.uuid, None)
            if not leg.recorded:
                # Closed here without FreeSWITCH's word that the leg is gone (an originate
                # whose reply never came, a leg lost in a resync): if it shows up, it goes.
                self._orphan(leg)
        self.calls.pop(call.id, None)

    def _orphan(self, leg: Leg) -> None:
        self.orphans[leg.uuid] = leg.call_id
        if len(self.orphans) > ORPHANS_KEPT:
            self.orphans.popitem(last=False)

    def apply(self, event: Event) -> tuple[Leg, Happened] | None:
        """Move the event's leg forward; None for legs that are not ours or nothing new."""
        leg = self.legs.get(event.uuid or "")
        if leg is None:
            return None
        if not leg.seen:
            leg.seen = True
            leg.channel_name = event.get("Channel-Name") or leg.channel_name
        transition = _TRANSITIONS.get(event.name)
        if transition is None:
            return None
        move, result = transition
        partner_before = leg.bridged_to
        if not move(leg, event):
            return None
        # FreeSWITCH reports a bridge once, on the first UUID given to uuid_bridge.
        if result is Happened.BRIDGED and leg.bridged_to in self.legs:
            partner = self.legs[leg.bridged_to]
            partner.bridged_to, partner.was_bridged, partner.parked = leg.uuid, True, False
        elif result is Happened.UNBRIDGED:
            partner = self.legs.get(partner_before or "")
            if partner is not None and partner.bridged_to == leg.uuid:
                partner.bridged_to = None
        return leg, result


def _created(leg: Leg, event: Event) -> bool:
    return True


def _ringing(leg: Leg, event: Event) -> bool:
    if leg.ringing or leg.early_media or leg.answered:
        return False
    leg.ringing = True
    return True


def _early_media(leg: Leg, event: Event) -> bool:
    if leg.early_media or leg.answered:
        return False
    leg.early_media = True
    return True


def _answered(leg: Leg, event: Event) -> bool:
    if leg.answered:
        return False
    leg.answered = True
    return True


def _parked(leg: Leg, event: Event) -> bool:
    if leg.parked:
        return False
    leg.parked = True
    return True


def _bridged(leg: Leg, event: Event) -> bool:
    other = event.get("Other-Leg-Unique-ID") or event.get("Bridge-B-Unique-ID")
    leg.bridged_to, leg.was_bridged, leg.parked = other, True, False
    return True


def _unbridged(leg: Leg, event: Event) -> bool:
    leg.bridged_to = None
    return True


def _held(leg: Leg, event: Event) -> bool:
    leg.held = True
    return True


def _unheld(leg: Leg, event: Event) -> bool:
    leg.held = False
    return True


def _hung_up(leg: Leg, event: Event) -> bool:
    if leg.hung_up:
        return False
    leg.hung_up = True
    leg.cause = event.get("Hangup-Cause") or event.get("variable_hangup_cause") or leg.cause
    leg.disposition = event.get("variable_sip_hangup_disposition") or leg.disposition
    _sip_status(leg, event)
    return True


def _sip_status(leg: Leg, event: Event) -> None:
    """What SIP said, from FreeSWITCH itself, never guessed from the Q.850 cause."""
    status = event.get("variable_sip_term_status") or ""
    if status.isdigit() and 100 <= int(status) <= 699:
        leg.sip_status = int(status)
        if event.get("variable_sip_invite_failure_status") == status:
            leg.sip_reason = (event.get("variable_sip_invite_failure_phrase") or "")[:64] or None


def _completed(leg: Leg, event: Event) -> bool:
    if leg.completed:
        return False
    if not leg.hung_up:  # HANGUP was lost (or filtered): HANGUP_COMPLETE says it all
        _hung_up(leg, event)
    leg.completed = True
    leg.disposition = event.get("variable_sip_hangup_disposition") or leg.disposition
    if leg.sip_status is None:
        _sip_status(leg, event)
    return True


# Event name -> (how it moves the leg, what that means).
def _played(leg: Leg, event: Event) -> bool:
    """Only a playback that reached its end (a uuid_break says "break")."""
    return leg.alive and event.get("Playback-Status") == "done"


def _dtmf(leg: Leg, event: Event) -> bool:
    """Every key is news (the same digit twice is two presses)."""
    return leg.alive and bool(event.get("DTMF-Digit"))


_TRANSITIONS = {
    "CHANNEL_CREATE": (_created, Happened.CREATED),
    "CHANNEL_PROGRESS": (_ringing, Happened.RINGING),
    "CHANNEL_PROGRESS_MEDIA": (_early_media, Happened.EARLY_MEDIA),
    "CHANNEL_ANSWER": (_answered, Happened.ANSWERED),
    "CHANNEL_PARK": (_parked, Happened.PARKED),
    "CHANNEL_BRIDGE": (_bridged, Happened.BRIDGED),
    "CHANNEL_UNBRIDGE": (_unbridged, Happened.UNBRIDGED),
    "CHANNEL_HOLD": (_held, Happened.HELD),
    "CHANNEL_UNHOLD": (_unheld, Happened.UNHELD),
    "CHANNEL_HANGUP": (_hung_up, Happened.HUNG_UP),
    "CHANNEL_HANGUP_COMPLETE": (_completed, Happened.COMPLETED),
    "PLAYBACK_STOP": (_played, Happened.PLAYED),
    "DTMF": (_dtmf, Happened.DTMF),
}

# The channel events legs are built from (what the switchboard listens to).
CHANNEL_EVENTS = tuple(_TRANSITIONS)


def meaning(event_name: str) -> Happened | None:
    """What an event of this name means for a leg (None: nothing we track)."""
    transition = _TRANSITIONS.get(event_name)
    return transition[1] if transition else None
