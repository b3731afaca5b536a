"""Rebuilding calls from FreeSWITCH after the controller (or its link) comes back.

`show channels as json` rows carry no channel variables, so rows are matched to calls through
the CallLeg rows written when the legs were originated; `show calls as json` says which legs are
bridged to which.
"""

from __future__ import annotations

import json
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Call as CallRow
from ..models import CallLeg
from .legs import Call, Leg, Legs, Progress, kind_of

log = logging.getLogger(__name__)

ANSWERED_STATES = frozenset({"ACTIVE", "HELD"})


def json_rows(reply: str, what: str) -> list[dict] | None:
    """The rows of a `show ... as json` reply; None if it cannot be read."""
    try:
        rows = json.loads(reply).get("rows") or []
        return [row for row in rows if isinstance(row, dict)]
    except (ValueError, AttributeError, TypeError):
        log.warning("%s: unreadable reply %r", what, reply[:200])
        return None


def bridged_pairs(rows: list[dict]) -> dict[str, str]:
    """uuid -> partner uuid, both ways, from `show calls as json` rows."""
    pairs: dict[str, str] = {}
    for row in rows:
        a, b = row.get("uuid"), row.get("b_uuid")
        if a and b:
            pairs[a], pairs[b] = b, a
    return pairs


def rebuild(session: Session, legs: Legs, channels: dict[str, dict],
            pairs: dict[str, str]) -> list[Call]:
    """Calls that are live in FreeSWITCH but unknown here, rebuilt from their rows."""
    unknown = [uuid for uuid in channels if uuid not in legs.legs]
    if not unknown:
        return []
    rows = session.scalars(select(CallLeg).where(CallLeg.uuid.in_(unknown))).all()
    call_ids = {row.call_id for row in rows}
    calls = []
    for call_row in session.scalars(select(CallRow).where(CallRow.id.in_(call_ids))):
        if call_row.id in legs.calls:
            continue
        call = legs.add_call(Call(
            id=call_row.id, kind=kind_of(call_row.direction), direction=call_row.direction,
            agent_id=call_row.agent_id,
            number=call_row.customer_number, caller_id=call_row.caller_id,
            created=call_row.created_at.timestamp()))
        for leg_row in call_row.legs:
            leg = legs.add_leg(call, leg_row.uuid, leg_row.role)
            _restore(leg, leg_row, channels.get(leg_row.uuid), pairs)
        _restore_progress(call, legs)
        calls.append(call)
    return calls


def _restore(leg: Leg, row: CallLeg, channel: dict | None, pairs: dict[str, str]) -> None:
    leg.seen = True
    leg.channel_name = row.channel_name
    if channel is None:
        # Gone while we were away: its CDR comes by json_cdr (or `cdr import`).
        leg.hung_up = leg.completed = True
        leg.cause = row.hangup_cause
        return
    state = channel.get("callstate", "")
    leg.answered = state in ANSWERED_STATES
    leg.early_media = state == "EARLY"
    leg.ringing = state in ("RINGING", "EARLY")
    leg.held = state == "HELD"
    leg.bridged_to = pairs.get(leg.uuid)
    leg.was_bridged = leg.bridged_to is not None
    leg.parked = channel.get("application") == "park"


def _restore_progress(call: Call, legs: Legs) -> None:
    agent = legs.legs.get(call.agent_leg or "")
    customer = legs.legs.get(call.customer_leg or "")
    if customer is None:
        call.progress = Progress.DIALING_AGENT if agent is None or not agent.answered \
            else Progress.DIALING
        return
    call.bridge_sent = customer.was_bridged
    if customer.answered:
        call.progress = Progress.ANSWERED
    elif customer.early_media:
        call.progress = Progress.EARLY_MEDIA
    else:
        call.progress = Progress.RINGING
