"""One-call guest credentials: a random SIP user (`g` + 20 hex) in the guest realm, with a random
password the visitor's page gets once; only FreeSWITCH's a1-hash is kept.

A credential starts one call. FreeSWITCH asks the directory when it challenges the guest's
INVITE; the first lookup uses the credential (its SIP Call-ID is kept), and from then on only
that same SIP call may look it up again (a stale nonce challenges it a second time). It must be
used within LIFETIME_S of being minted. Times come from the injectable clock.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..clock import Clock
from ..credentials import a1_hash
from ..models import GuestCall

LIFETIME_S = 60.0
GUEST_USER = re.compile(r"^g[0-9a-f]{20}$")
TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,32}$")
GUEST_CONTEXT = "guests"          # freeswitch-conf/dialplan/guests.xml
CALL_TARGET = "call"              # the one destination the guests context serves


@dataclass(frozen=True)
class Minted:
    """What the visitor's page is given, once: the password is kept nowhere."""
    token: str
    user: str
    password: str
    realm: str


def when(clock: Clock) -> datetime:
    return datetime.fromtimestamp(clock.now(), UTC)


def mint(session: Session, widget_id: int, realm: str, clock: Clock, *, address: str,
         video: bool, fields: dict[str, str], page_url: str, page_title: str) -> Minted:
    """A new credential for one call through the widget (the caller commits)."""
    user = "g" + secrets.token_hex(10)
    password = secrets.token_urlsafe(18)
    token = secrets.token_urlsafe(18)
    session.add(GuestCall(token=token, guest_user=user, a1_hash=a1_hash(user, realm, password),
                          widget_id=widget_id, created_at=when(clock), client_address=address[:64],
                          video=video, fields=json.dumps(fields), page_url=page_url[:1024],
                          page_title=page_title[:255]))
    return Minted(token, user, password, realm)


def use(session: Session, user: str, sip_call_id: str, clock: Clock) -> GuestCall | None:
    """The credential for an INVITE's directory lookup, marked used by this SIP call; None when
    it is unknown, too old to start a call, or already used by another call (the caller
    commits)."""
    if not GUEST_USER.match(user) or not sip_call_id:
        return None
    row = session.scalars(select(GuestCall).where(GuestCall.guest_user == user)
                          .with_for_update()).first()
    if row is None:
        return None
    if row.used_at is not None:
        return row if row.sip_call_id == sip_call_id[:255] else None
    if when(clock) - row.created_at >= timedelta(seconds=LIFETIME_S):
        return None
    row.used_at, row.sip_call_id = when(clock), sip_call_id[:255]
    return row


def fields_of(row: GuestCall) -> dict[str, str]:
    try:
        fields = json.loads(row.fields or "{}")
    except ValueError:
        return {}
    return fields if isinstance(fields, dict) else {}
