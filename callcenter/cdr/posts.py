"""What a CDR FreeSWITCH sends on its own (a mod_json_cdr post, or a file from its err-log-dir)
may change: one rule for the endpoint, `callcenter cdr import` and the spool directory.

A document changes a call only when the controller knows that the leg belongs to it: a
CallLeg row of that call (legs it originated or claimed), never because the document names the
call in its `cc_call_id`. A leg whose row the batched writer may not have written yet (the
running switchboard holds it in memory, or has writes still queued) is "not yet": the post is
answered 503 so FreeSWITCH retries, a file waits for the next pass; it is never filed as
unmatched. A leg no call owns is kept in the `unmatched_legs` table for an operator to audit,
and changes nothing.

For a leg of ours the first FreeSWITCH document wins (see cdr._merge_leg): the same document
again is accepted and changes nothing; a different one is refused as a conflict. Times more than
a day ahead of now, or before the call began, are refused: they would rewrite the call's
summary with nonsense (a start in the year 5138, ring seconds counted from 1970).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import insert_missing
from ..models import Call, CallLeg, UnmatchedLeg
from .documents import raw_cdr
from .parse import CdrError, LegRecord
from .write import has_document, same_document, write_legs

log = logging.getLogger(__name__)

# A leg time later than now by more than this is refused: no clock is that wrong.
FUTURE_LIMIT = timedelta(days=1)
# How much earlier than the controller's own record of the call a leg may say it began: the
# clocks of FreeSWITCH's host and the controller's may differ by a little.
CLOCK_SKEW = timedelta(minutes=1)

# leg uuid -> True when the running switchboard may not have written its row yet
Unwritten = Callable[[str], bool]


class CdrRefused(CdrError):
    """A document that reads but may not change its call (times out of bounds)."""


class Filed(enum.Enum):
    WRITTEN = "written"            # the leg's record now has this document
    ALREADY = "already present"    # the same document again: nothing changed
    CONFLICT = "conflict"          # the leg already has a different document: ignored
    UNMATCHED = "unmatched"        # no call owns the leg: kept in unmatched_legs
    NOT_YET = "not yet"            # the switchboard holds the leg; its row is not written yet


def file_document(session: Session, record: LegRecord, *, now: datetime, source: str,
                  unwritten: Unwritten | None = None) -> Filed:
    """File one leg's document (`record.raw` set) and flush; the caller commits. Raises
    CdrRefused for times out of bounds (nothing written)."""
    call_id = session.scalar(select(CallLeg.call_id).where(CallLeg.uuid == record.uuid))
    if call_id is None:
        if unwritten is not None and unwritten(record.uuid):
            return Filed.NOT_YET
        session.execute(insert_missing(session, UnmatchedLeg), [dict(
            uuid=record.uuid, named_call_id=record.call_id, received_at=now, source=source,
            raw_cdr=record.raw or record.as_json_cdr())])
        log.warning("CDR of leg %s (%s) matches no call's leg: kept as unmatched, nothing "
                    "changed", record.uuid, f"names call {record.call_id}" if record.call_id
                    else "names no call", extra={"leg": record.uuid})
        return Filed.UNMATCHED
    # Locked in write_legs' order (the call, then its legs), so the verdict below holds.
    began = session.scalar(select(Call.created_at).where(Call.id == call_id).with_for_update())
    leg_began = session.scalar(select(CallLeg.created_at).where(CallLeg.uuid == record.uuid)
                               .with_for_update())
    _check_times(record, call_id, min(began, leg_began), now)
    filed = raw_cdr(session, record.uuid)
    if has_document(filed):
        if same_document(filed, record.raw or ""):
            return Filed.ALREADY
        log.warning("leg %s of call %s already has FreeSWITCH's CDR; a different one was "
                    "refused", record.uuid, call_id, extra={"call_id": call_id})
        return Filed.CONFLICT
    write_legs(session, [record])
    return Filed.WRITTEN


def _check_times(record: LegRecord, call_id: str, began: datetime, now: datetime) -> None:
    times = {"start": record.started, "progress": record.progress, "answer": record.answered,
             "bridge": record.bridged, "end": record.ended}
    for name, when in times.items():
        if when is None:
            continue
        if when > now + FUTURE_LIMIT:
            problem = f"is more than {FUTURE_LIMIT.days} day ahead of now ({now:%Y-%m-%d %H:%M})"
        elif when < began - CLOCK_SKEW:
            problem = f"is before call {call_id} began ({began:%Y-%m-%d %H:%M:%S})"
        else:
            continue
        message = f"CDR of leg {record.uuid}: its {name} time {when:%Y-%m-%d %H:%M:%S} {problem}"
        log.warning("%s: refused", message, extra={"call_id": call_id})
        raise CdrRefused(message)




def unwritten_legs(legs, store) -> Unwritten:
    """Over a running switchboard: its live legs and the legs of calls it closed lately (still
    watched for) are its own; while its writer has writes queued, any leg may be among them."""
    def unwritten(uuid: str) -> bool:
        return uuid in legs.legs or uuid in legs.orphans or store.depth > 0
    return unwritten
