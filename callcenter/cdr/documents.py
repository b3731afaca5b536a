"""Each leg's raw CDR document, kept zlib-compressed in leg_cdrs (a JSON CDR of about 3 KB
becomes about 1 KB) and read only where a leg's whole document is needed: the CDR writer's
summary, and a call's page (`raw_cdr`). Searches and lists never touch the table."""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import upsert
from ..models import LegCdr

LEVEL = 6   # zlib's default: within a few per cent of 9's size, at a third of its time


def packed(document: str) -> bytes:
    return zlib.compress(document.encode(), LEVEL)


def unpacked(data: bytes) -> str:
    return zlib.decompress(data).decode()


def raw_cdr(session: Session, uuid: str) -> str | None:
    """The leg's document as it was filed, None when it has none."""
    data = session.scalar(select(LegCdr.document).where(LegCdr.leg_uuid == uuid))
    return None if data is None else unpacked(data)


def raw_cdrs(session: Session, uuids: Iterable[str] = (), *, call_id: str | None = None,
             ) -> dict[str, str]:
    """The documents of these legs, or of every leg of `call_id`, by leg UUID."""
    rows = select(LegCdr.leg_uuid, LegCdr.document)
    rows = (rows.where(LegCdr.call_id == call_id) if call_id is not None
            else rows.where(LegCdr.leg_uuid.in_(list(uuids))))
    return {uuid: unpacked(data) for uuid, data in session.execute(rows)}


def keep(session: Session, documents: Iterable[tuple[str, str, str]]) -> None:
    """File (leg UUID, call id, document) rows, replacing a leg's earlier document (the
    writer's rules say when one may be replaced: cdr/write.py)."""
    rows = [{"leg_uuid": uuid, "call_id": call_id, "document": packed(document)}
            for uuid, call_id, document in documents]
    if rows:
        session.execute(upsert(session, LegCdr, ("document",), "1 = 1"), rows)
