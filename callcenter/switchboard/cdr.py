"""The one CDR writer: ESL hangup events, mod_json_cdr posts and `cdr import` files meet here.

Each FreeSWITCH leg ends with one CHANNEL_HANGUP_COMPLETE event and (with mod_json_cdr) one JSON
document; both carry the same channel variables, so both become the same `LegRecord`, and
`write_leg` upserts it by leg UUID. Either path alone gives the full CDR; both give the same rows.
Which documents FreeSWITCH sends on its own may reach this writer at all is cdr_posts.py's rule.

What a record says comes from the channel variables the switchboard sets on every leg
(`cc_call_id`, `cc_role`, `cc_agent_id`, `cc_direction`, `cc_customer_number`, `cc_caller_id`,
`cc_queue`, and `cc_hangup_by` just before it hangs a leg up for someone) and from FreeSWITCH's
own (`*_uepoch` times, `billsec`, `hold_accum_seconds`, `hangup_cause`,
`sip_hangup_disposition`). Where ours are missing (older captures, a leg tagged late):
- role: a leg on the `sofia/internal/` profile or dialled as `user/...` is an agent's, any
  other the customer's;
- direction: `cc_queue` means inbound; a customer leg's own FreeSWITCH direction tells too (an
  inbound caller is FreeSWITCH-inbound, a customer we dialled is FreeSWITCH-outbound); an agent
  leg alone cannot tell.

The Call's summary is recomputed from all its legs on every write (`summarize`), so the order
legs arrive in never matters. Each leg's record is kept in CallLeg.raw_cdr: FreeSWITCH's own
document when the JSON path brought one, else a small document of the same shape built from the
event (marked `"cc_source": "esl"`, and replaced when FreeSWITCH's arrives). After that a leg's
record is settled: a later, different document for it changes nothing (`_merge_leg`).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, unquote_plus

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from ..models import Agent, Call, CallLeg, Direction, HangupBy, LegRole, Queue, utcnow

if TYPE_CHECKING:
    from ..esl.protocol import Event

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UUID = re.compile(r"[A-Za-z0-9-]{1,36}")
_MAX_UEPOCH_DIGITS = 17  # about the year 5000: anything longer is garbage, not a time
_ESL_SOURCE = "esl"
# Lengths of the columns the cc_* values land in: a longer value is refused, not cut.
_LIMITS = {"cc_call_id": 64, "cc_customer_number": 32, "cc_caller_id": 32, "cc_queue": 64}


class CdrError(ValueError):
    """A CDR that cannot be read; the message names what is wrong with it."""


@dataclass(frozen=True)
class LegRecord:
    """One leg's final account, from either path."""

    uuid: str
    call_id: str | None                # None: not a call-center leg
    role: LegRole
    agent_id: int | None = None
    direction: Direction | None = None
    customer_number: str = ""
    caller_id: str = ""
    queue_name: str | None = None
    channel_name: str = ""
    started: datetime | None = None
    progress: datetime | None = None   # first ringing or early media
    answered: datetime | None = None
    bridged: datetime | None = None
    ended: datetime | None = None
    billsec: int = 0
    hold_seconds: int = 0
    hangup_cause: str | None = None
    hangup_disposition: str | None = None
    hangup_by_hint: HangupBy | None = None
    transfer: str | None = None        # cc_transfer: the leg's part in a blind transfer
    raw: str | None = None             # the JSON document, on the JSON path only

    @classmethod
    def from_event(cls, event: Event) -> LegRecord:
        """From a CHANNEL_HANGUP_COMPLETE `callcenter.esl.protocol.Event`."""
        name = event.get("Event-Name")
        if name != "CHANNEL_HANGUP_COMPLETE":
            raise CdrError(f"a CDR comes from CHANNEL_HANGUP_COMPLETE, not {name or 'nothing'}")

        def variable(key: str) -> str | None:
            return event.get("variable_" + key)

        return _read(variable,
                     uuid=event.get("Unique-ID") or variable("uuid"),
                     channel_name=event.get("Channel-Name") or variable("channel_name"),
                     channel_direction=variable("direction") or event.get("Call-Direction"),
                     cause=variable("hangup_cause") or event.get("Hangup-Cause"),
                     raw=None)

    @classmethod
    def from_json_cdr(cls, document: str | bytes) -> LegRecord:
        """From a mod_json_cdr document (variable values URL-encoded or not)."""
        text = _text(document)
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise CdrError(f"the CDR is not JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise CdrError(f"the CDR is a JSON {type(doc).__name__}, not an object")
        variables = doc.get("variables")
        if not isinstance(variables, dict):
            raise CdrError('the CDR has no "variables" object')

        def variable(key: str) -> str | None:
            value = variables.get(key)
            if value is None:
                return None
            if not isinstance(value, str):
                raise CdrError(f"variable {key} is a JSON {type(value).__name__}, not a string")
            # mod_json_cdr URL-encodes values by default (encode-values); decoding a value it
            # left plain changes nothing unless it holds a '%', which ours never do.
            return unquote(value)

        profile = _caller_profile(doc)
        channel_data = doc.get("channel_data")
        channel_data = channel_data if isinstance(channel_data, dict) else {}
        return _read(variable,
                     uuid=variable("uuid") or _str(profile.get("uuid")),
                     channel_name=variable("channel_name") or _str(profile.get("chan_name")),
                     channel_direction=variable("direction") or _str(channel_data.get("direction")),
                     cause=variable("hangup_cause"),
                     raw=text)

    def as_json_cdr(self) -> str:
        """The record as a small document of mod_json_cdr's shape that reads back the same."""
        values: dict[str, str | None] = {
            "uuid": self.uuid, "cc_call_id": self.call_id, "cc_role": self.role.value,
            "cc_agent_id": None if self.agent_id is None else str(self.agent_id),
            "cc_direction": self.direction.value if self.direction else None,
            "cc_customer_number": self.customer_number, "cc_caller_id": self.caller_id,
            "cc_queue": self.queue_name, "channel_name": self.channel_name,
            "start_uepoch": _uepoch(self.started), "progress_uepoch": _uepoch(self.progress),
            "answer_uepoch": _uepoch(self.answered), "bridge_uepoch": _uepoch(self.bridged),
            "end_uepoch": _uepoch(self.ended), "billsec": str(self.billsec),
            "hold_accum_seconds": str(self.hold_seconds), "hangup_cause": self.hangup_cause,
            "sip_hangup_disposition": self.hangup_disposition,
            "cc_hangup_by": self.hangup_by_hint.value if self.hangup_by_hint else None,
            "cc_transfer": self.transfer,
        }
        variables = {k: quote(v, safe="") for k, v in values.items() if v}
        return json.dumps({"cc_source": _ESL_SOURCE, "variables": variables},
                          separators=(",", ":"))


# --- reading ---------------------------------------------------------------------------------


def _read(variable: Callable[[str], str | None], *, uuid: str | None, channel_name: str | None,
          channel_direction: str | None, cause: str | None, raw: str | None) -> LegRecord:
    if not uuid:
        raise CdrError("the CDR names no leg (no uuid)")
    if not _UUID.fullmatch(uuid):
        raise CdrError(f"leg uuid {uuid[:60]!r} is not a FreeSWITCH UUID")

    def fail(message: str) -> CdrError:
        return CdrError(f"CDR of leg {uuid}: {message}")

    def ours(key: str) -> str:
        value = (variable(key) or "").strip()
        if len(value) > _LIMITS.get(key, 64):
            raise fail(f"{key} is longer than {_LIMITS.get(key, 64)} characters: {value[:80]!r}")
        return value

    def choice(key: str, kind: type):
        value = ours(key)
        if not value:
            return None
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(m.value for m in kind)
            raise fail(f"{key} {value!r} is not one of {allowed}") from None

    def time(key: str) -> datetime | None:
        value = (variable(key) or "0").strip()
        if not value.isascii() or not value.isdigit() or len(value) > _MAX_UEPOCH_DIGITS:
            raise fail(f"{key} {value[:40]!r} is not a time in microseconds since 1970")
        return None if int(value) == 0 else EPOCH + timedelta(microseconds=int(value))

    def count(key: str) -> int:
        value = (variable(key) or "0").strip()
        if not value.isascii() or not value.isdigit() or len(value) > 9:
            raise fail(f"{key} {value[:40]!r} is not a number of seconds")
        return int(value)

    agent_text = ours("cc_agent_id")
    if agent_text and not (agent_text.isascii() and agent_text.isdigit() and len(agent_text) < 10):
        raise fail(f"cc_agent_id {agent_text!r} is not an agent id")
    channel_name = (channel_name or "")[:255]
    queue_name = ours("cc_queue") or None
    role = choice("cc_role", LegRole) or _infer_role(channel_name, variable)
    direction = choice("cc_direction", Direction)
    if direction is None and queue_name:
        direction = Direction.INBOUND
    elif direction is None and role is LegRole.CUSTOMER and channel_direction in ("inbound",
                                                                                  "outbound"):
        direction = Direction(channel_direction)
    progress = [t for t in (time("progress_uepoch"), time("progress_media_uepoch")) if t]
    return LegRecord(
        uuid=uuid,
        call_id=ours("cc_call_id") or None,
        role=role,
        agent_id=int(agent_text) if agent_text else None,
        direction=direction,
        customer_number=ours("cc_customer_number"),
        caller_id=ours("cc_caller_id"),
        queue_name=queue_name,
        channel_name=channel_name,
        started=time("start_uepoch"),
        progress=min(progress) if progress else None,
        answered=time("answer_uepoch"),
        bridged=time("bridge_uepoch"),
        ended=time("end_uepoch"),
        billsec=count("billsec"),
        hold_seconds=count("hold_accum_seconds"),
        hangup_cause=(cause or "").strip()[:64] or None,
        hangup_disposition=(variable("sip_hangup_disposition") or "").strip() or None,
        hangup_by_hint=choice("cc_hangup_by", HangupBy),
        transfer=ours("cc_transfer") or None,
        raw=raw,
    )


def _infer_role(channel_name: str, variable: Callable[[str], str | None]) -> LegRole:
    """No cc_role: agents' phones register on the internal profile and are dialled as user/."""
    if (channel_name.startswith("sofia/internal/") or variable("originate_endpoint") == "user"
            or variable("dialed_user")):
        return LegRole.AGENT
    return LegRole.CUSTOMER


def _text(document: str | bytes) -> str:
    if isinstance(document, str):
        return document
    try:
        return bytes(document).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CdrError(f"the CDR is not UTF-8 text: {exc}") from None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _caller_profile(doc: dict) -> dict:
    # mod_json_cdr adds "callflow" once per caller profile under the same key; JSON parsers keep
    # the last, some writers make it a list. Only a fallback for uuid and channel name.
    callflow = doc.get("callflow")
    if isinstance(callflow, list):
        callflow = callflow[0] if callflow else None
    profile = callflow.get("caller_profile") if isinstance(callflow, dict) else None
    return profile if isinstance(profile, dict) else {}


def _uepoch(when: datetime | None) -> str | None:
    return None if when is None else str((when - EPOCH) // timedelta(microseconds=1))


def json_cdr_text(data: bytes | str) -> str:
    """The JSON document in what mod_json_cdr posts or leaves in its err-log-dir: raw JSON
    (`encode=false`), `cdr=<url-encoded JSON>` / url-encoded JSON (`encode=true`), or
    `cdr=<base64>` / base64 (`encode=base64`)."""
    text = _text(data).strip()
    if text.startswith("cdr="):
        text = text[4:]
    if text.startswith("%"):
        text = unquote_plus(text).strip()
    elif text and not text.startswith(("{", "[")):
        try:
            text = base64.b64decode(text.replace("\n", ""), validate=True).decode().strip()
        except (binascii.Error, ValueError):
            text = ""
        if not text.startswith("{"):
            raise CdrError("the CDR is neither JSON nor URL-encoded or base64 JSON")
    if not text:
        raise CdrError("the CDR is empty")
    return text


# --- the summary -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CallSummary:
    direction: Direction
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


_BESIDE = frozenset({"joining", "left"})  # cc_transfer values of legs that did not end a call
_ROLE_ORDER = {LegRole.CUSTOMER: 0, LegRole.AGENT: 1, LegRole.SUPERVISOR: 2}
_FAR = datetime.max.replace(tzinfo=UTC)


def _leg_order(leg: LegRecord) -> tuple:
    return (_ROLE_ORDER[leg.role], leg.started or _FAR, leg.uuid)


def _end_order(leg: LegRecord) -> tuple:
    # Who ended first; at the same instant, the leg whose far end hung up (recv_*) came first.
    received = (leg.hangup_disposition or "").startswith("recv_")
    return (leg.ended or _FAR, 0 if received else 1, *_leg_order(leg))


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
    `system`. Both pass over the legs a transfer put beside the call (cc_transfer `joining`: a
    new leg that never joined; `left`: the agent leg it replaced): they did not end it.
    Seconds are whole, rounded down, never negative.
    """
    legs = sorted(legs, key=_leg_order)
    customer = next((leg for leg in legs if leg.role is LegRole.CUSTOMER), None)
    by_end = sorted(legs, key=_end_order)
    ended = [leg for leg in by_end if leg.ended]
    enders = [leg for leg in ended if leg.transfer not in _BESIDE] or ended
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
                 if leg.hangup_by_hint and leg.transfer not in _BESIDE), None)
    if hint is None and first is not None:
        if (first.hangup_disposition or "").startswith("recv_"):
            hint = HangupBy.CUSTOMER if first.role is LegRole.CUSTOMER else HangupBy.AGENT
        else:
            hint = HangupBy.SYSTEM
    said = next((leg.direction for leg in legs if leg.direction), None)
    return CallSummary(
        direction=said or getattr(call, "direction", None) or Direction.OUTBOUND,
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
    them one after the other, with the Call summarized once (the ESL path hands over a call's
    legs together when they end together). Returns the (last) call id written, None if none.

    Core statements, not the ORM's unit of work (this runs for every leg at full load); ORM
    objects of these rows already in the session are expired, so they read what was written.
    """
    session.flush()  # our own pending rows first, so the inserts below see them
    uuids = list(dict.fromkeys(record.uuid for record in records))
    known = dict(session.execute(select(_LEGS.c.uuid, _LEGS.c.call_id)
                                 .where(_LEGS.c.uuid.in_(uuids))).all())
    calls: dict[str, list[LegRecord]] = {}
    for record in records:
        # A leg we track stays in its call: one tagged too late (hung up before uuid_setvar)
        # has no cc_call_id, and a leg never moves between calls.
        call_id = known.get(record.uuid, record.call_id)
        if call_id is None:
            continue
        if record.call_id not in (None, call_id):
            log.warning("leg %s belongs to call %s, its CDR says %s: kept in %s",
                        record.uuid, call_id, record.call_id, call_id)
        calls.setdefault(call_id, []).append(record)
    for call_id, legs in calls.items():
        _write_call(session, call_id, legs)
    return call_id if calls else None


_CALLS, _LEGS = Call.__table__, CallLeg.__table__


def _write_call(session: Session, call_id: str, records: list[LegRecord]) -> None:
    def first_seen(record: LegRecord) -> datetime:
        return record.started or record.ended or utcnow()

    first = records[0]
    _insert_missing(session, Call, [dict(id=call_id, direction=first.direction
                                         or Direction.OUTBOUND, created_at=first_seen(first))])
    (call,) = _locked(session, _CALLS, _CALLS.c.id, [call_id])
    firsts: dict[str, LegRecord] = {}
    for record in records:
        firsts.setdefault(record.uuid, record)
    _insert_missing(session, CallLeg, [
        dict(uuid=uuid, call_id=call_id, role=record.role, created_at=first_seen(record))
        for uuid, record in firsts.items()])
    ours = {row.uuid: row for row in _locked(session, _LEGS, _LEGS.c.uuid, list(firsts))}
    was = {uuid: dict(vars(row)) for uuid, row in ours.items()}
    for record in records:
        _merge_leg(ours[record.uuid], record)
    changed = [row for uuid, row in ours.items() if vars(row) != was[uuid]]
    if changed:
        session.execute(_LEG_UPDATE, [{"key": row.uuid} | {name: getattr(row, name)
                                                          for name in _MERGED}
                                      for row in changed])

    legs = [SimpleNamespace(**row) for row in session.execute(
        select(_LEGS).where(_LEGS.c.call_id == call_id)).mappings()]
    stored = [_stored_record(row) for row in legs]
    was_call = dict(vars(call))
    _fill_switchboard_fields(session, call, stored)
    for name, value in vars(summarize(call, stored)).items():
        setattr(call, name, value)
    if vars(call) != was_call:
        session.execute(_CALL_UPDATE, [{"key": call_id} | {name: getattr(call, name)
                                                           for name in _SUMMED}])
    for model, keys in ((Call, [call_id]), (CallLeg, list(ours))):
        for key in keys:
            loaded = session.identity_map.get(identity_key(model, key))
            if loaded is not None:
                session.expire(loaded)


# What a CDR write may change, as statements built once (a statement built per write costs
# more than running it): the leg's columns _merge_leg sets, the call's summary and the fields
# _fill_switchboard_fields fills.
_MERGED = ("channel_name", "created_at", "answered_at", "ended_at", "hangup_cause", "raw_cdr")
_SUMMED = (*(f.name for f in fields(CallSummary)), "customer_number", "caller_id", "agent_id",
           "queue_id")
_LEG_UPDATE = update(_LEGS).where(_LEGS.c.uuid == bindparam("key"))
_CALL_UPDATE = update(_CALLS).where(_CALLS.c.id == bindparam("key"))


def _insert_missing(session: Session, model: type, rows: list[dict[str, Any]]) -> None:
    session.execute(insert_missing(session, model), rows)


def insert_missing(session: Session, model: type):
    """INSERT ... ON CONFLICT DO NOTHING for `model`'s table in the session's dialect (built
    once per dialect and table: building a statement costs more than running it)."""
    return _upserts(session.get_bind().dialect.name, model, None)


def upsert(session: Session, model: type, columns: tuple[str, ...], where: str):
    """INSERT ... ON CONFLICT (primary key) DO UPDATE SET `columns` from the new row, where
    the existing row is `where` (SQL over the table's own columns); cached too."""
    return _upserts(session.get_bind().dialect.name, model, (columns, where))


@functools.cache
def _upserts(dialect: str, model: type, on_conflict: tuple[tuple[str, ...], str] | None):
    if dialect not in ("postgresql", "sqlite"):
        raise RuntimeError(f"the CDR writer does not support {dialect}")
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model.__table__)
    if on_conflict is None:
        return insert.on_conflict_do_nothing()
    columns, where = on_conflict
    return insert.on_conflict_do_update(
        index_elements=list(model.__table__.primary_key.columns),
        set_={name: insert.excluded[name] for name in columns}, where=text(where))


def _locked(session: Session, table, key: Any, values: list[str]) -> list[SimpleNamespace]:
    """The rows, locked (FOR UPDATE) until the transaction ends, as plain objects."""
    rows = session.execute(select(table).where(key.in_(values)).with_for_update()).mappings()
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
        return json.loads(raw).get("cc_source") == _ESL_SOURCE
    except (ValueError, AttributeError):
        return False


def _stored_record(row: CallLeg) -> LegRecord:
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
    legs = sorted(legs, key=_leg_order)
    if not call.customer_number:
        call.customer_number = next((leg.customer_number for leg in legs
                                     if leg.customer_number), "")
    if not call.caller_id:
        call.caller_id = next((leg.caller_id for leg in legs if leg.caller_id), "")
    if call.agent_id is None:
        for agent_id in dict.fromkeys(leg.agent_id for leg in legs if leg.agent_id is not None):
            if session.get(Agent, agent_id) is not None:  # a deleted agent leaves it empty
                call.agent_id = agent_id
                break
    if call.queue_id is None:
        for name in dict.fromkeys(leg.queue_name for leg in legs if leg.queue_name):
            queue_id = session.scalar(select(Queue.id).where(Queue.name == name))
            if queue_id is not None:
                call.queue_id = queue_id
                break
