"""Rebuilding calls from FreeSWITCH after the controller (or its link) comes back.

`show channels as json` rows carry no channel variables, so rows are matched to calls through
the CallLeg rows written when the legs were originated; `show calls as json` says which legs are
bridged to which.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ..esl import commands
from ..esl.connection import ESLError
from ..models import AgentState, CallLeg, HangupBy, Outcome
from ..models import Call as CallRow
from .legs import Call, Leg, Legs, Progress, kind_of

if TYPE_CHECKING:
    from ..clock import Clock
    from .agents import Roster
    from .finishing import Finishing
    from .router import Router
    from .store import Store

log = logging.getLogger(__name__)

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

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
            created=call_row.created_at.timestamp(), channel=call_row.channel))
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


class Resync:
    """After every (re)connect: registrations and live legs from FreeSWITCH itself. Calls whose
    legs are all gone are closed (cut off, if FreeSWITCH restarted meanwhile: its Core-UUID
    changed); calls live in FreeSWITCH but unknown here (the controller restarted) are rebuilt
    from the database and handed to their owners; channels no call owns go to the owners'
    recover hooks (a queue's waiting callers)."""

    def __init__(self, *, link, roster: Roster, legs: Legs, store: Store, sessions,
                 router: Router, finishing: Finishing, clock: Clock,
                 changed: Callable[[Call], None]) -> None:
        self.link, self.roster, self.legs, self.store = link, roster, legs, store
        self.sessions, self.router, self.finishing, self.clock = sessions, router, finishing, clock
        self._changed = changed
        self._core_uuid: str | None = None   # FreeSWITCH's run; a restart changes it
        self._lost_at: float | None = None   # when the link was lost, until the next resync

    def link_lost(self, _error=None) -> None:
        if self._lost_at is None:
            self._lost_at = self.clock.now()

    def run(self) -> None:
        lost_at, self._lost_at = self._lost_at, None
        try:
            self.roster.resync_registrations(self.link.api(commands.show_registrations()))
            core = self.link.api(commands.global_getvar("core_uuid")).strip()
            core = core if _UUID.fullmatch(core) else ""
            channels = json_rows(self.link.api(commands.show_channels()), "show channels")
            calls = json_rows(self.link.api(commands.show_calls()), "show calls")
        except ESLError as exc:
            log.warning("resync failed: %s", exc)
            return
        if channels is None or calls is None:
            return
        restarted = bool(core) and self._core_uuid is not None and core != self._core_uuid
        if restarted:
            log.warning("FreeSWITCH restarted (Core-UUID %s, was %s): its calls were cut off",
                        core, self._core_uuid)
        self._core_uuid = core or self._core_uuid
        live = {row["uuid"]: row for row in channels if row.get("uuid")}
        self._close_gone(live, restarted and lost_at is not None, lost_at)
        self.store.flush(10)  # the rows a rebuild reads must be written first
        try:
            with self.sessions() as session:
                rebuilt = rebuild(session, self.legs, live, bridged_pairs(calls))
        except SQLAlchemyError as exc:
            log.error("cannot rebuild live calls from the database: %s", exc)
            return
        for call in rebuilt:
            self._adopt(call)
        self.router.recover(channels, set(bridged_pairs(calls)))

    def _close_gone(self, live: dict[str, dict], cut_off: bool, lost_at: float | None) -> None:
        for call in list(self.legs.calls.values()):
            for leg in list(self.legs.legs_of(call)):
                if leg.alive and leg.seen and leg.uuid not in live:
                    # Gone while we were away: its CDR (if FreeSWITCH lived) comes by json_cdr.
                    leg.hung_up = leg.completed = True
            if all(not leg.alive for leg in self.legs.legs_of(call)) and not call.ended:
                if cut_off:
                    # What the controller saw stands, up to the moment the link was lost; the
                    # cause stays empty (FreeSWITCH never said one).
                    call.outcome, call.cause, call.hangup_by = (
                        Outcome.CUT_OFF, None, HangupBy.SYSTEM)
                    self.finishing.finish(call, ended_at=lost_at)
                    continue
                if call.outcome is None:
                    # Ended while the link was down; FreeSWITCH's json_cdr tells the rest.
                    call.outcome = Outcome.ANSWERED if call.answered_at else Outcome.FAILED
                self.finishing.finish(call)

    def _adopt(self, call: Call) -> None:
        """A call rebuilt after a restart: its agent is on it; its owner decides the rest."""
        log.info("call rebuilt from FreeSWITCH: %s", call.progress.value,
                 extra={"call_id": call.id})
        agent = self.roster.agents.get(call.agent_id) if call.agent_id is not None else None
        if agent is not None:
            self.roster.set_state(agent, AgentState.IN_CALL, call.id)
        if self.router.adopt(call):
            return
        self._changed(call)
        if all(not leg.alive for leg in self.legs.legs_of(call)):
            self.finishing.finish(call)
