"""A call's summary (times, seconds, cause, who hung up) from all its legs' records, in
whatever order they came."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..models import CHANNELS, Direction, HangupBy, LegRole, utcnow
from .parse import LegRecord

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)
# --- the summary -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CallSummary:
    direction: Direction
    channel: str
    created_at: datetime
    ringing_at: datetime | None
    answered_at: datetime | None
    bridged_at: datetime | None
    ended_at: datetime | None
    ring_seconds: int
    talk_seconds: int
    hold_seconds: int
    hangup_cause: str | None
    hangup_by: HangupBy | None


_ROLE_ORDER = {LegRole.CUSTOMER: 0, LegRole.AGENT: 1, LegRole.SUPERVISOR: 2}
_FAR = datetime.max.replace(tzinfo=UTC)


def leg_order(leg: LegRecord) -> tuple:
    return (_ROLE_ORDER[leg.role], leg.started or _FAR, leg.uuid)


def _end_order(leg: LegRecord) -> tuple:
    # Who ended first; at the same instant, the leg whose far end hung up (recv_*) came first.
    received = (leg.hangup_disposition or "").startswith("recv_")
    return (leg.ended or _FAR, 0 if received else 1, *leg_order(leg))


def summarize(call: Any, legs: Sequence[LegRecord]) -> CallSummary:
    """The Call's summary from all its legs (`call` lends its own created_at and direction).

    created_at: earliest of the call's own and the legs' starts; ringing_at / answered_at: the
    customer leg's first progress (ringing or early media) / answer; bridged_at: earliest bridge;
    ended_at: latest leg end. ring_seconds: customer answered (else its end) minus its start.
    talk_seconds: from the later of the bridge and the customer's answer to the end (an agent
    bridged on early media hears ringback, not the customer), 0 if the customer never answered.
    hold_seconds: the customer's own hold or the agent legs' holds added up (one agent leg at a
    time, through transfers), whichever is more. hangup_cause: the customer leg's, else that of
    the leg that ended first. hangup_by: a leg's cc_hangup_by, else the first leg to end:
    `recv_*` (its far end hung up) gives that leg's side (supervisor counts as agent), else
    `system`. Both pass over the legs put beside the call (LegRecord.beside: a transfer's new
    leg that never joined, the agent leg it replaced, a queue's offer nobody took). channel: a
    leg's cc_channel (a website visitor's leg says web), else the call's own.
    Seconds are whole, rounded down, never negative. Supervisors' legs count for nothing.
    """
    # A supervisor who listened in changes nothing of how the call went.
    legs = sorted((leg for leg in legs if leg.role is not LegRole.SUPERVISOR), key=leg_order)
    customer = next((leg for leg in legs if leg.role is LegRole.CUSTOMER), None)
    by_end = sorted(legs, key=_end_order)
    ended = [leg for leg in by_end if leg.ended]
    enders = [leg for leg in ended if not leg.beside] or ended
    first = enders[0] if enders else None

    own = getattr(call, "created_at", None)
    starts = [leg.started for leg in legs if leg.started] + ([own] if own else [])
    bridges = [leg.bridged for leg in legs if leg.bridged]
    ended_at = max((leg.ended for leg in ended), default=None)
    bridged_at = min(bridges, default=None)

    ring = talk = 0
    if customer is not None and customer.started:
        ring = _seconds(customer.started, customer.answered or customer.ended)
    if customer is not None and customer.answered and bridged_at and ended_at:
        talk = _seconds(max(bridged_at, customer.answered), ended_at)

    cause = customer.hangup_cause if customer is not None else None
    hint = next((leg.hangup_by_hint for leg in by_end
                 if leg.hangup_by_hint and not leg.beside), None)
    if hint is None and first is not None:
        if (first.hangup_disposition or "").startswith("recv_"):
            hint = HangupBy.CUSTOMER if first.role is LegRole.CUSTOMER else HangupBy.AGENT
        else:
            hint = HangupBy.SYSTEM
    said = next((leg.direction for leg in legs if leg.direction), None)
    channel = next((leg.channel for leg in legs if leg.channel), None)
    return CallSummary(
        direction=said or getattr(call, "direction", None) or Direction.OUTBOUND,
        channel=channel or getattr(call, "channel", None) or CHANNELS[0],
        created_at=min(starts, default=None) or utcnow(),
        ringing_at=customer.progress if customer else None,
        answered_at=customer.answered if customer else None,
        bridged_at=bridged_at,
        ended_at=ended_at,
        ring_seconds=ring,
        talk_seconds=talk,
        hold_seconds=max(customer.hold_seconds if customer is not None else 0,
                         sum(leg.hold_seconds for leg in legs if leg is not customer)),
        hangup_cause=cause or (first.hangup_cause if first else None),
        hangup_by=hint,
    )


def _seconds(start: datetime | None, end: datetime | None) -> int:
    if start is None or end is None:
        return 0
    return max(0, (end - start) // timedelta(seconds=1))
