"""The one CDR writer: ESL hangup events, mod_json_cdr posts and `cdr import` files meet here.

`write_leg` upserts a leg's record by its UUID, and the Call's summary is recomputed from all
its legs on every write (`summarize`), so either path alone gives the full CDR and both give the
same rows. Which documents FreeSWITCH sends on its own may reach this writer at all is posts.py's
rule. Each leg's record is kept, compressed, in leg_cdrs (documents.py): FreeSWITCH's own
document when the JSON path brought one, else a small document of the same shape built from
the event (marked `"cc_source": "esl"`, and replaced when FreeSWITCH's arrives). After that
a leg's record is settled: a later, different document for it changes nothing (`_merge_leg`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import fields, replace
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from ..db import insert_missing
from ..models import Agent, Call, CallLeg, Direction, Queue, utcnow
from . import documents
from .parse import ESL_SOURCE, CdrError, LegRecord
from .summary import CallSummary, leg_order, summarize

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)
# --- the writer ------------------------------------------------------------------------------


def write_leg(session: Session, record: LegRecord) -> Call | None:
    """Upsert the leg by UUID and its Call by cc_call_id, recompute the Call's summary from all
    its legs, and flush (the caller commits). None when the leg is not ours: no cc_call_id and
    no CallLeg row of that UUID.

    Idempotent, and the same whichever path brings a leg first. Safe against a second writer of
    the same call in another transaction: missing rows are inserted with ON CONFLICT DO NOTHING
    (no IntegrityError to recover from), then the Call row is locked (SELECT ... FOR UPDATE on
    PostgreSQL; SQLite has one writer at a time anyway) before its legs are read, so the second
    writer waits and then summarizes both legs instead of overwriting the first one's summary.
    """
    call_id = write_legs(session, [record])
    return None if call_id is None else session.get(Call, call_id)


def write_legs(session: Session, records: Sequence[LegRecord]) -> str | None:
    """`write_leg` for several legs at once, in the order given: the rows the same as writing
    them one after the other, with each Call summarized once. Several calls' legs (the
    switchboard's writer hands over a batch of ended calls) go through the same few
    statements: one insert, select, update per table for them all. Returns the (last) call id
    written, None if none.

    Core statements, not the ORM's unit of work (this runs for every leg at full load); ORM
    objects of these rows already in the session are expired, so they read what was written.
    """
    session.flush()  # our own pending rows first, so the inserts below see them
    uuids = list(dict.fromkeys(record.uuid for record in records))
    known = dict(session.execute(select(_LEGS.c.uuid, _LEGS.c.call_id)
                                 .where(_LEGS.c.uuid.in_(uuids))).all())
    calls: dict[str, list[LegRecord]] = {}
    last = None
    for record in records:
        # A leg we track stays in its call: one tagged too late (hung up before uuid_setvar)
        # has no cc_call_id, and a leg never moves between calls.
        call_id = known.get(record.uuid, record.call_id)
        if call_id is None:
            continue
        if record.call_id not in (None, call_id):
            log.warning("leg %s belongs to call %s, its CDR says %s: kept in %s",
                        record.uuid, call_id, record.call_id, call_id)
        known[record.uuid] = call_id   # as a write one after the other would find it
        calls.setdefault(call_id, []).append(record)
        last = call_id
    if calls:
        _write_calls(session, calls)
    return last


_CALLS, _LEGS = Call.__table__, CallLeg.__table__


def _write_calls(session: Session, calls: dict[str, list[LegRecord]]) -> None:
    def first_seen(record: LegRecord) -> datetime:
        return record.started or record.ended or utcnow()

    _insert_missing(session, Call, [
        dict(id=call_id, direction=legs[0].direction or Direction.OUTBOUND,
             created_at=first_seen(legs[0])) for call_id, legs in calls.items()])
    locked_calls = {row.id: row for row in _locked(session, _CALLS, _CALLS.c.id, sorted(calls))}
    firsts: dict[str, tuple[str, LegRecord]] = {}   # each leg's call and first record
    for call_id, legs in calls.items():
        for record in legs:
            firsts.setdefault(record.uuid, (call_id, record))
    _insert_missing(session, CallLeg, [
        dict(uuid=uuid, call_id=call_id, role=record.role, created_at=first_seen(record))
        for uuid, (call_id, record) in firsts.items()])
    # Every leg of these calls, locked: ours to merge into, the others to summarize with.
    rows = [SimpleNamespace(**row) for row in session.execute(
        select(_LEGS).where(_LEGS.c.call_id.in_(list(calls))).with_for_update()).mappings()]
    ours = {row.uuid: row for row in rows if row.uuid in firsts}
    if len(ours) != len(firsts):  # inserted or already there a moment ago
        raise NoResultFound(f"call_legs rows {sorted(set(firsts) - set(ours))} vanished "
                            "while being written")
    filed = documents.raw_cdrs(session, [row.uuid for row in rows])
    for row in rows:
        row.raw_cdr = filed.get(row.uuid)
    was = {uuid: dict(vars(row)) for uuid, row in ours.items()}
    for legs in calls.values():
        for record in legs:
            _merge_leg(ours[record.uuid], record)
    changed = [row for uuid, row in ours.items() if vars(row) != was[uuid]]
    if changed:
        session.execute(_LEG_UPDATE, [{"key": row.uuid} | {name: getattr(row, name)
                                                          for name in _MERGED}
                                      for row in changed])
        documents.keep(session, [(row.uuid, row.call_id, row.raw_cdr) for row in changed
                                 if row.raw_cdr != was[row.uuid]["raw_cdr"]])

    by_call: dict[str, list[LegRecord]] = {call_id: [] for call_id in calls}
    for row in rows:
        by_call[row.call_id].append(_stored_record(row))
    summed = []
    for call_id, stored in by_call.items():
        call = locked_calls[call_id]
        was_call = dict(vars(call))
        _fill_switchboard_fields(session, call, stored)
        for name, value in vars(summarize(call, stored)).items():
            setattr(call, name, value)
        if vars(call) != was_call:
            summed.append({"key": call_id} | {name: getattr(call, name) for name in _SUMMED})
    if summed:
        session.execute(_CALL_UPDATE, summed)
    for model, keys in ((Call, list(calls)), (CallLeg, list(ours))):
        for key in keys:
            loaded = session.identity_map.get(identity_key(model, key))
            if loaded is not None:
                session.expire(loaded)


# What a CDR write may change, as statements built once (a statement built per write costs
# more than running it): the leg's columns _merge_leg sets, the call's summary and the fields
# _fill_switchboard_fields fills.
_MERGED = ("channel_name", "created_at", "answered_at", "ended_at", "hangup_cause")
_SUMMED = (*(f.name for f in fields(CallSummary)), "customer_number", "caller_id", "agent_id",
           "queue_id")
_LEG_UPDATE = update(_LEGS).where(_LEGS.c.uuid == bindparam("key"))
_CALL_UPDATE = update(_CALLS).where(_CALLS.c.id == bindparam("key"))


def _insert_missing(session: Session, model: type, rows: list[dict[str, Any]]) -> None:
    session.execute(insert_missing(session, model), rows)


def _locked(session: Session, table, key: Any, values: list[str]) -> list[SimpleNamespace]:
    """The rows, locked (FOR UPDATE) until the transaction ends, as plain objects."""
    # In key order: two writers locking the same rows take them in the same order.
    rows = session.execute(select(table).where(key.in_(values)).order_by(key)
                           .with_for_update()).mappings()
    found = [SimpleNamespace(**row) for row in rows]
    if len(found) != len(set(values)):  # inserted or already there a moment ago
        raise NoResultFound(f"{table.name} rows {values} vanished while being written")
    return found


def _merge_leg(leg: Any, record: LegRecord) -> None:  # a call_legs row as a plain object
    """One leg's record, first come first served: the hangup event builds it (unless
    FreeSWITCH's document came first); the first document fills its raw CDR and its times;
    anything later changes nothing (the same document again is a no-op, a different one is
    logged). The row's role (the switchboard's) stays."""
    if leg.raw_cdr is not None and (record.raw is None or not _built_from_event(leg.raw_cdr)):
        if record.raw is not None and not same_document(leg.raw_cdr, record.raw):
            log.warning("leg %s already has FreeSWITCH's CDR; a different one was ignored",
                        leg.uuid)
        return
    if record.channel_name:
        leg.channel_name = record.channel_name
    if record.started:
        leg.created_at = record.started
    leg.answered_at = record.answered
    leg.ended_at = record.ended
    leg.hangup_cause = record.hangup_cause
    leg.raw_cdr = record.raw if record.raw is not None else record.as_json_cdr()


def has_document(raw: str | None) -> bool:
    """The stored CDR is FreeSWITCH's own document (not one built from the event)."""
    return raw is not None and not _built_from_event(raw)


def same_document(stored: str, posted: str) -> bool:
    """The same JSON document, whatever its spacing (a file re-read, a post retried)."""
    if stored == posted:
        return True
    try:
        return json.loads(stored) == json.loads(posted)
    except ValueError:
        return False


def _built_from_event(raw: str) -> bool:
    try:
        return json.loads(raw).get("cc_source") == ESL_SOURCE
    except (ValueError, AttributeError):
        return False


def _stored_record(row: Any) -> LegRecord:  # a call_legs row with its raw_cdr
    if row.raw_cdr is not None:
        try:
            record = LegRecord.from_json_cdr(row.raw_cdr)
            return replace(record, role=row.role, call_id=row.call_id)
        except CdrError as exc:  # only what parsed was stored; say so if that ever changes
            log.error("stored CDR of leg %s no longer reads: %s", row.uuid, exc)
    # A leg the switchboard knows whose CDR has not come (yet): what its row says.
    return LegRecord(uuid=row.uuid, call_id=row.call_id, role=row.role,
                     channel_name=row.channel_name, started=row.created_at,
                     answered=row.answered_at, ended=row.ended_at,
                     hangup_cause=row.hangup_cause)


def _fill_switchboard_fields(session: Session, call: Call, legs: Iterable[LegRecord]) -> None:
    """What the switchboard writes is kept; what it left empty the legs fill in."""
    legs = sorted(legs, key=leg_order)
    if not call.customer_number:
        call.customer_number = next((leg.customer_number for leg in legs
                                     if leg.customer_number), "")
    if not call.caller_id:
        call.caller_id = next((leg.caller_id for leg in legs if leg.caller_id), "")
    if call.agent_id is None:
        for agent_id in dict.fromkeys(leg.agent_id for leg in legs
                                      if leg.agent_id is not None and not leg.beside):
            if session.get(Agent, agent_id) is not None:  # a deleted agent leaves it empty
                call.agent_id = agent_id
                break
    if call.queue_id is None:
        for name in dict.fromkeys(leg.queue_name for leg in legs if leg.queue_name):
            queue_id = session.scalar(select(Queue.id).where(Queue.name == name))
            if queue_id is not None:
                call.queue_id = queue_id
                break
