"""The rules for the dispositions list admins keep (the Dispositions page): what a code and a
label may be, where a new one goes, moving one up or down its list, deactivating it. Each
change checks the version the admin's form was made from (an edit of something changed
meanwhile is refused, never silently overwritten) and writes its audit row in the change's own
transaction. The running switchboard reloads the list after each commit (web/dispositions.py).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from . import audit
from .errors import InvalidInput, NotFound
from .models import Disposition, Queue
from .typed import Problems
from .versions import check_version, flush_unless_stale

LABEL_MAX = 128


def all_dispositions(session: Session) -> list[Disposition]:
    """Every disposition, global ones first, then by queue name, each list in its order."""
    return list(session.scalars(
        select(Disposition).outerjoin(Queue).options(selectinload(Disposition.queue))
        .order_by(Disposition.queue_id.is_not(None), Queue.name, Disposition.position,
                  Disposition.id)))


def values(row: Disposition) -> dict[str, Any]:
    """What the audit log keeps of a disposition."""
    return {"code": row.code, "label": row.label,
            "queue": row.queue.name if row.queue is not None else None,
            "requires_notes": row.requires_notes, "active": row.active, "position": row.position}


def create(session: Session, form: Mapping[str, object], *, who: audit.Actor) -> Disposition:
    """A new disposition at the end of its list (global, or the queue's)."""
    code, label, queue, requires_notes = _checked(session, form)
    _refuse_duplicate(session, code, queue, None)
    last = session.scalar(select(func.max(Disposition.position))
                          .where(_in_list(queue.id if queue else None)))
    row = Disposition(code=code, label=label, queue=queue, requires_notes=requires_notes,
                      active=True, position=(last or 0) + 1)
    session.add(row)
    session.flush()
    audit.record(session, who, "disposition.create", _target(row), after=values(row))
    return row


def change(session: Session, disposition_id: int, version: object,
           form: Mapping[str, object], *, who: audit.Actor) -> Disposition:
    """New code, label, list or notes rule for a disposition, if unchanged since `version`."""
    row = _current(session, disposition_id, version)
    code, label, queue, requires_notes = _checked(session, form)
    _refuse_duplicate(session, code, queue, row.id)
    was = values(row)
    if (queue.id if queue else None) != row.queue_id:     # to the end of its new list
        last = session.scalar(select(func.max(Disposition.position))
                              .where(_in_list(queue.id if queue else None)))
        row.position = (last or 0) + 1
    row.code, row.label, row.queue, row.requires_notes = code, label, queue, requires_notes
    return _saved(session, row, was, "disposition.change", who)


def set_active(session: Session, disposition_id: int, version: object, active: bool, *,
               who: audit.Actor) -> Disposition:
    """Deactivate (agents no longer see it; calls keep it) or reactivate a disposition."""
    row = _current(session, disposition_id, version)
    was = values(row)
    row.active = active
    return _saved(session, row, was, "disposition.change", who)


def move(session: Session, disposition_id: int, version: object, step: str, *,
         who: audit.Actor) -> Disposition:
    """Swap a disposition with its neighbour in its list ("up" or "down")."""
    if step not in ("up", "down"):
        raise InvalidInput("move a disposition up or down", field="step")
    row = _current(session, disposition_id, version)
    listed = list(session.scalars(select(Disposition).where(_in_list(row.queue_id))
                                  .order_by(Disposition.position, Disposition.id)))
    at = listed.index(row)
    other = at - 1 if step == "up" else at + 1
    if not 0 <= other < len(listed):
        return row          # first already (or last): nothing moves
    # Renumbered 1..n as shown, so equal positions (rows added by hand) still swap.
    listed[at], listed[other] = listed[other], listed[at]
    was = values(row)
    for position, each in enumerate(listed, 1):
        each.position = position
    return _saved(session, row, was, "disposition.move", who)


def _current(session: Session, disposition_id: int, version: object) -> Disposition:
    row = session.get(Disposition, disposition_id)
    if row is None:
        raise NotFound("there is no such disposition (deleted meanwhile?)")
    check_version(row, version, f"Disposition {row.code!r}")
    return row


def _saved(session: Session, row: Disposition, was: dict, action: str,
           who: audit.Actor) -> Disposition:
    # The UPDATE checks the version it read (another admin's commit).
    flush_unless_stale(session, f"Disposition {was['code']!r}")
    before, after = audit.changed(was, values(row))
    if after:
        audit.record(session, who, action, _target(row), before, after)
    return row


def _checked(session: Session, form: Mapping[str, object]) -> tuple[str, str, Queue | None, bool]:
    # Imported when needed: the switchboard package behind it loads gevent, which the command
    # line does not need. One rule for a code, whoever checks it.
    from .switchboard.disposition import valid_disposition

    problems: dict[str, str] = {}
    code = ""
    try:
        code = valid_disposition(form.get("code"))
    except InvalidInput as exc:
        problems["code"] = exc.reason
    raw_label = form.get("label")
    label = raw_label.strip() if isinstance(raw_label, str) else ""
    label = label or code       # no label: agents read the code
    if len(label) > LABEL_MAX:
        problems["label"] = f"at most {LABEL_MAX} characters (got {len(label)})"
    elif any(unicodedata.category(char).startswith("C") for char in label):
        problems["label"] = "no control characters or line breaks"
    queue = None
    name = form.get("queue")
    name = name.strip() if isinstance(name, str) else ""
    if name:
        queue = session.scalar(select(Queue).where(Queue.name == name))
        if queue is None:
            problems["queue"] = f"there is no queue named {name!r}"
    if problems:
        raise Problems(problems)
    return code, label, queue, bool(form.get("requires_notes"))


def _refuse_duplicate(session: Session, code: str, queue: Queue | None,
                      itself: int | None) -> None:
    """A code appears once in any call's list: once among the global ones, and a queue's own
    never repeats a global one (nor a global one any queue's)."""
    same = select(Disposition).options(selectinload(Disposition.queue)).where(
        func.lower(Disposition.code) == code.lower())
    if itself is not None:
        same = same.where(Disposition.id != itself)
    if queue is not None:
        same = same.where((Disposition.queue_id == queue.id) | Disposition.queue_id.is_(None))
    clash = session.scalars(same).first()
    if clash is None:
        return
    where = "the global list" if clash.queue is None else f"queue {clash.queue.name}'s list"
    raise Problems({"code": f"{clash.code!r} is in {where} already"})


def _in_list(queue_id: int | None):
    return Disposition.queue_id.is_(None) if queue_id is None \
        else Disposition.queue_id == queue_id


def _target(row: Disposition) -> str:
    return f"disposition {row.code}" + (f" (queue {row.queue.name})" if row.queue else "")
