"""Website visitors' rows do not pile up. A guest_calls row holds a one-call credential's hash
and what the visitor gave (pre-call fields, page, client address): personal data, kept only as
long as it serves.

- A credential never used goes UNUSED_KEEP_S after it was minted: it could start a call for a
  minute, and the calls-at-once limit counts it for two (limits.py).
- A used one goes `keep_days` (CALLCENTER_GUEST_CALLS_KEEP_DAYS) after its call ended — or after
  it was minted, when no ended call names it (the call never got its CDR, or never reached a
  queue): no call outlives its widget's maximum length (4 hours at most), so a row that old is
  over. The fields and the page are kept nowhere else (the agent saw them on the live call);
  the call's CDR keeps what any call's does (README: Calls from your website, What is kept).

The purge runs every PURGE_SECONDS on the active controller, through the switchboard's database
writer (writing.py), never on the hub."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from ..clock import Clock
from ..credentials import Every
from ..models import Call, GuestCall
from ..writing import write
from .credentials import LIFETIME_S, when

log = logging.getLogger(__name__)

UNUSED_KEEP_S = 10 * LIFETIME_S
PURGE_SECONDS = 300.0


@dataclass(frozen=True)
class Purged:
    unused: int      # credentials that expired unused
    ended: int       # rows of calls over for longer than the retention


def purge(session: Session, now: datetime, keep_days: int) -> Purged:
    """Delete what is due at `now` (the caller commits)."""
    unused = session.execute(
        delete(GuestCall).where(GuestCall.used_at.is_(None),
                                GuestCall.created_at <= now - timedelta(seconds=UNUSED_KEEP_S))
        .execution_options(synchronize_session=False)).rowcount
    cutoff = now - timedelta(days=keep_days)
    ended_lately = exists(select(Call.id).where(Call.id == GuestCall.call_id,
                                                Call.ended_at > cutoff))
    ended = session.execute(
        delete(GuestCall).where(GuestCall.created_at <= cutoff, ~ended_lately)
        .execution_options(synchronize_session=False)).rowcount
    return Purged(unused=unused, ended=ended)


def start_purge(switchboard, database, clock: Clock, keep_days: int,
                seconds: float = PURGE_SECONDS) -> Every:
    """Purge now and every `seconds` until `.stop()`."""
    def purging() -> None:
        with database.session() as session:
            purged = write(switchboard, session,
                           lambda writing: purge(writing, when(clock), keep_days))
        if purged.unused or purged.ended:
            log.info("website calls: %d unused credentials and %d ended calls' details removed",
                     purged.unused, purged.ended)
    return Every(clock, seconds, purging, "website calls' purge").start()
