"""The switchboard's writes: what it knows of calls, legs and agents, as store records.

Nothing here touches the database: every write becomes a record (records.py) for the store's
one writer. The CDR of a leg is held back while the rest of its call is ending, so a call whose
legs end together (FreeSWITCH hangs up a bridged partner) is summarized once for all of them.
"""

from __future__ import annotations

import json
import logging
import random
from datetime import UTC, datetime

from ..cdr import LegRecord
from ..clock import Clock
from ..esl.protocol import Event
from ..models import EVENT_ID_SPAN, EventKind, HangupBy, Outcome, event_id
from . import records
from .legs import Call, Leg, Legs
from .stats import SwitchboardStats
from .store import Store

log = logging.getLogger(__name__)


def when(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


class Persist:
    def __init__(self, *, legs: Legs, clock: Clock, store: Store,
                 stats: SwitchboardStats) -> None:
        self.legs, self.clock, self.stats = legs, clock, stats
        self._submit, self._changed = store.submit, store.changed
        # Ended legs' CDRs waiting for their call's other legs, by call id (see leg_ended).
        self._held: dict[str, list[LegRecord]] = {}
        # Agents' changed columns waiting for the writer's next batch (see agent_values).
        self._agents: dict[int, dict] = {}
        # Events rows waiting for the writer's next batch (see event), and the counter of
        # their ids, from a random start (another run's ids in the same millisecond never meet
        # these).
        self._events: list[dict] = []
        self._event_count = random.randrange(EVENT_ID_SPAN)
        store.collect(self._agent_records)
        store.collect(self._event_records)

    # -- calls and legs -------------------------------------------------------------------------

    def new_call(self, call: Call, **columns) -> None:
        """`columns`: what a feature knows of the call from the start (its queue, ...)."""
        created = when(call.created)
        # Inserted only if missing: a record replayed from the store's spool may have landed.
        self._submit(records.insert("calls", [dict(
            id=call.id, direction=call.direction, agent_id=call.agent_id,
            customer_number=call.number[:32], caller_id=call.caller_id[:32],
            channel=call.channel, created_at=created, **columns)]))
        legs = [dict(uuid=leg.uuid, call_id=call.id, role=leg.role, channel_name="",
                     created_at=created) for leg in self.legs.legs_of(call)]
        if legs:
            self._submit(records.insert("call_legs", legs))

    def leg_seen(self, leg: Leg) -> None:
        """A leg we originated exists: its row lets a resync find the call again (the row if it
        is missing, else its channel name if it has none)."""
        self._submit(records.insert_fill("call_legs", [dict(
            uuid=leg.uuid, call_id=leg.call_id, role=leg.role, channel_name=leg.channel_name,
            created_at=when(self.clock.now()))], fill=("channel_name",)))

    def guest_call(self, token: str, call_id: str) -> None:
        """A website visitor's credential started this call (its status and limits read it)."""
        self._submit(records.fill_rows("guest_calls", [{"token": token, "call_id": call_id}],
                                       by="token"))

    def call_values(self, call_id: str, **values) -> None:
        """Columns of the call row the controller decides (agent, recording, disposition)."""
        self._submit(records.update_rows("calls", [{"id": call_id, **values}]))

    def offer_made(self, leg_uuid: str, call_id: str, agent_id: int, queue_id: int | None,
                   at: float) -> None:
        self._submit(records.insert("offers", [dict(
            leg_uuid=leg_uuid, call_id=call_id, agent_id=agent_id, queue_id=queue_id,
            offered_at=when(at))]))

    def offer_ended(self, leg_uuid: str, outcome, at: float) -> None:
        """How an offer ended (written once: a later word never overwrites the first)."""
        self._submit(records.fill_rows("offers", [dict(
            leg_uuid=leg_uuid, outcome=outcome, ended_at=when(at))], by="leg_uuid"))

    # Who handled the call (handlers.py): a call_agents row per agent leg, keyed by its UUID.

    def handler_joined(self, call_id: str, leg_uuid: str, agent_id: int, at: float) -> None:
        self._submit(records.insert("call_agents", [dict(
            leg_uuid=leg_uuid, call_id=call_id, agent_id=agent_id, joined_at=when(at),
            hold_seconds=0.0)]))

    def handler_left(self, leg_uuid: str, *, left_at: float, talk: float, hold: float,
                     how) -> None:
        self._submit(records.update_rows("call_agents", [dict(
            leg_uuid=leg_uuid, left_at=when(left_at), talk_seconds=round(max(0.0, talk), 3),
            hold_seconds=round(hold, 3), left_how=how)], by="leg_uuid"))

    def handler_wrapped_up(self, leg_uuid: str, seconds: float) -> None:
        self._submit(records.update_rows("call_agents", [dict(
            leg_uuid=leg_uuid, wrapup_seconds=round(seconds, 3))], by="leg_uuid"))

    def callback_new(self, **row) -> None:
        """A callback request's row (queues/callbacks.py)."""
        self._submit(records.insert("callbacks", [row]))

    def callback_values(self, **row) -> None:
        """A callback request's changed columns (`id` and the rest)."""
        self._submit(records.update_rows("callbacks", [row]))

    def login_seen(self, key: str, at: datetime) -> None:
        """A web login's last_seen_at (callcenter/sessions.py), for the idle timeout."""
        self._submit(records.update_rows("login_sessions", [{"id": key, "last_seen_at": at}]))

    def agent_values(self, agent_id: int, values: dict) -> None:
        """An agent's changed columns. They wait for the writer's next batch, the last value of
        each column winning: a call moves its agent through four or five states (and notes
        when its last call ended) within moments, and one row update stores them all."""
        if not self._agents:
            self._changed()
        self._agents.setdefault(agent_id, {}).update(values)

    def _agent_records(self) -> list[records.Record]:
        """The waiting agent changes as records: one per set of columns (one executemany)."""
        waiting, self._agents = self._agents, {}
        shapes: dict[tuple[str, ...], list[dict]] = {}
        for agent_id, values in waiting.items():
            columns = tuple(sorted(values))
            shapes.setdefault(columns, []).append(
                {"id": agent_id} | {column: values[column] for column in columns})
        return [records.update_rows("agents", rows) for rows in shapes.values()]

    # -- events ---------------------------------------------------------------------------------

    def event(self, kind: EventKind, at: float, *, agent_id: int | None = None,
              call_id: str | None = None, queue_id: int | None = None,
              detail: dict | None = None, prior_status=None, prior_state=None,
              prior_seconds: float | None = None) -> None:
        """A row of the events table (models.Event says what each column holds). Kept as it
        is until the writer's next batch, which encodes and inserts them all at once: an
        event handler pays for a dict and an append."""
        if not self._events:
            self._changed()
        self._events.append(dict(
            at=at, kind=kind, agent_id=agent_id, call_id=call_id, queue_id=queue_id,
            detail=detail, prior_status=prior_status, prior_state=prior_state,
            prior_seconds=prior_seconds))

    def call_event(self, kind: EventKind, call: Call, **detail) -> None:
        """Something happened to a live call (hold, transfer, recording): now, with its agent."""
        self.event(kind, self.clock.now(), agent_id=call.agent_id, call_id=call.id,
                   detail=detail or None)

    def _event_records(self) -> list[records.Record]:
        waiting, self._events = self._events, []
        if not waiting:
            return []
        for row in waiting:     # times to the millisecond, as the table keeps them
            self._event_count += 1
            row["id"] = event_id(row["at"], self._event_count)
            row["at"] = when(round(row["at"], 3))
            row["detail"] = json.dumps(row["detail"] or {}, separators=(",", ":"))
            if row["prior_seconds"] is not None:
                row["prior_seconds"] = round(row["prior_seconds"], 3)
        return [records.insert("events", waiting)]

    # -- CDRs -----------------------------------------------------------------------------------

    def leg_ended(self, event: Event, call: Call | None = None, leg: Leg | None = None) -> None:
        """A leg's CHANNEL_HANGUP_COMPLETE: its CDR. While the call's other legs are all hung
        up, the record waits for theirs (`call_finished` hands over whatever still waits)."""
        try:
            record = LegRecord.from_event(event)
        except ValueError as exc:
            log.error("unreadable CHANNEL_HANGUP_COMPLETE for %s: %s", event.uuid, exc)
            return
        if call is None or leg is None:
            self._cdr([record])
            return
        held = self._held.setdefault(call.id, [])
        held.append(record)
        # Hung up: its own CHANNEL_HANGUP_COMPLETE follows (or a resync finishes the call).
        if not all(other is leg or other.hung_up for other in self.legs.legs_of(call)):
            self._cdr(self._held.pop(call.id))  # the call goes on without this leg

    def call_finished(self, call: Call) -> None:
        """Everything the controller knows of an ended call: the held CDRs, what it saw of
        legs no CDR will come for, and how the call ended."""
        held = self._held.pop(call.id, None)
        if held:
            self._cdr(held)
        if call.outcome is Outcome.CUT_OFF:
            self._what_was_seen(call)
        elif not all(leg.recorded for leg in self.legs.legs_of(call)):
            self._unrecorded_legs(call)
        self._submit(records.update_rows("calls", [dict(
            id=call.id, outcome=call.outcome, sip_status=call.sip_status,
            sip_reason=call.sip_reason)]))

    def release_held(self) -> None:
        """Stopping: CDRs still waiting for a partner leg are written as they are."""
        for call_id in list(self._held):
            self._cdr(self._held.pop(call_id))

    @property
    def held(self) -> int:
        return sum(len(legs) for legs in self._held.values())

    def count_written(self, written: list[records.Record]) -> None:
        self.stats.cdr_legs_written += sum(len(r.values) for r in written if r.op == "cdr")

    def _cdr(self, legs: list[LegRecord]) -> None:
        self._submit(records.cdr_legs(legs))

    def _what_was_seen(self, call: Call) -> None:
        """The switch was lost with the call, so no CDR of its legs will come: their records
        are what the controller saw (ringing, answer, bridge), ending when the link was lost."""
        started, ended = when(call.created), when(call.ended_at)
        legs = []
        for leg in self.legs.legs_of(call):
            if leg.recorded:
                continue
            leg.recorded = True
            customer = leg.uuid == call.customer_leg
            legs.append(LegRecord(
                uuid=leg.uuid, call_id=call.id, role=leg.role, agent_id=call.agent_id,
                direction=call.direction, customer_number=call.number,
                caller_id=call.caller_id, channel_name=leg.channel_name, started=started,
                progress=when(call.ringing_at) if customer else None,
                answered=when(call.answered_at) if customer else None,
                bridged=when(call.bridged_at) if leg.was_bridged else None,
                ended=ended, hangup_by_hint=HangupBy.SYSTEM))
        if legs:
            self._cdr(legs)

    def _unrecorded_legs(self, call: Call) -> None:
        """Legs that ended with no CHANNEL_HANGUP_COMPLETE of their own (never created, or gone
        while we were away): what we know goes on their rows and on the call, where nothing
        better is there yet. A json_cdr post for them, if one comes, recomputes the summary."""
        by, ended = call.hangup_by or HangupBy.SYSTEM, when(call.ended_at)
        self._submit(records.fill_rows("calls", [dict(
            id=call.id, hangup_cause=call.cause, hangup_by=by, ended_at=ended)]))
        legs = [dict(uuid=leg.uuid, hangup_cause=leg.cause or call.cause, ended_at=ended)
                for leg in self.legs.legs_of(call) if not leg.recorded]
        if legs:
            self._submit(records.fill_rows("call_legs", legs, by="uuid"))
