"""Inbound numbers (DIDs): the one place their rules live (the admin's Numbers page, the
`callcenter numbers` command and the dialplan FreeSWITCH fetches over mod_xml_curl).

A number is stored as digits only. A caller's carrier may send it with a leading '+' or
without; both reach the same queue, as the static dids.xml's `^\\+?5550100$` does, so "+5550100"
typed in the form is the number 5550100, and adding "5550100" beside it is a duplicate.

Every change names the version it was made on: a number changed meanwhile (by another admin, or
the command line) refuses the change rather than silently overwriting it. Each change adds its
audit row in the caller's transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from . import audit
from .errors import InvalidInput, NotFound
from .models import InboundNumber, Queue, utcnow
from .typed import Problems
from .versions import check_version, flush_unless_stale

NUMBER_DIGITS = (3, 20)
LABEL_LENGTH = 64
_NUMBER = re.compile(r"\+?[0-9]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def parse_number(text: str) -> str:
    """The stored form of a typed number: digits only, a leading '+' dropped."""
    text = (text or "").strip()
    low, high = NUMBER_DIGITS
    if not _NUMBER.fullmatch(text):
        raise InvalidInput("only digits, with an optional leading +", field="number")
    digits = text.removeprefix("+")
    if not low <= len(digits) <= high:
        raise InvalidInput(f"{low} to {high} digits", field="number")
    return digits


def parse_label(text: str) -> str:
    label = (text or "").strip()
    if len(label) > LABEL_LENGTH:
        raise InvalidInput(f"at most {LABEL_LENGTH} characters", field="label")
    if _CONTROL.search(label):
        raise InvalidInput("no control characters", field="label")
    return label


def all_numbers(session: Session) -> list[InboundNumber]:
    return list(session.scalars(select(InboundNumber).options(joinedload(InboundNumber.queue))
                                .order_by(InboundNumber.number)))


def queue_of(session: Session, destination: str) -> str | None:
    """The queue a call to `destination` (as FreeSWITCH's destination_number carries it)
    reaches, or None when it is no number of ours."""
    digits = destination.removeprefix("+")
    if not digits.isdigit():
        return None
    return session.scalar(select(Queue.name).join(InboundNumber.queue)
                          .where(InboundNumber.number == digits))


def add_number(session: Session, number: str, queue: str, label: str = "", *,
               who: audit.Actor) -> InboundNumber:
    problems: dict[str, str] = {}
    digits = _checked(problems, parse_number, number)
    found = _checked(problems, _queue_named, session, queue)
    text = _checked(problems, parse_label, label)
    if digits is not None and session.scalar(
            select(InboundNumber.id).where(InboundNumber.number == digits)) is not None:
        problems["number"] = f"{digits} is already one of our numbers"
    if problems:
        raise Problems(problems)
    now = utcnow()
    row = InboundNumber(number=digits, queue=found, label=text, created_at=now, updated_at=now)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:      # added by someone else since the check above
        session.rollback()
        raise Problems({"number": f"{digits} is already one of our numbers"}) from None
    audit.record(session, who, "number.create", f"number {digits}",
                 after={"queue": found.name, "label": text})
    return row


def change_number(session: Session, number: str, version: int | str, queue: str, label: str,
                  *, who: audit.Actor) -> InboundNumber:
    row = _current(session, number, version)
    problems: dict[str, str] = {}
    found = _checked(problems, _queue_named, session, queue)
    text = _checked(problems, parse_label, label)
    if problems:
        raise Problems(problems)
    before, after = audit.changed({"queue": row.queue.name, "label": row.label},
                                  {"queue": found.name, "label": text})
    if after:
        row.queue, row.label, row.updated_at = found, text, utcnow()
        flush_unless_stale(session, number)
        audit.record(session, who, "number.change", f"number {row.number}", before, after)
    return row


def delete_number(session: Session, number: str, version: int | str, *,
                  who: audit.Actor) -> None:
    row = _current(session, number, version)
    audit.record(session, who, "number.delete", f"number {row.number}",
                 before={"queue": row.queue.name, "label": row.label})
    session.delete(row)
    flush_unless_stale(session, number)


def _current(session: Session, number: str, version: int | str) -> InboundNumber:
    """The number's row, if it is still at `version` (what the page showed)."""
    row = session.scalar(select(InboundNumber).where(InboundNumber.number == number))
    if row is None:
        raise NotFound(f"{number} is no longer one of our numbers: someone deleted it meanwhile")
    check_version(row, version, number)
    return row


def _queue_named(session: Session, name: str) -> Queue:
    name = (name or "").strip()
    if not name:
        raise InvalidInput("choose the queue this number reaches", field="queue")
    queue = session.scalar(select(Queue).where(Queue.name == name))
    if queue is None:
        raise InvalidInput(f"there is no queue {name[:64]!r}", field="queue")
    return queue


def _checked(problems: dict[str, str], parse, *args):
    try:
        return parse(*args)
    except InvalidInput as exc:
        problems[exc.field or ""] = exc.reason
        return None


# -- moving the static dids.xml's numbers into the table ----------------------------------------

@dataclass(frozen=True)
class StaticNumber:
    number: str
    queue: str
    line: str        # the extension's name, for messages


_STATIC_EXPRESSION = re.compile(r"\^(?:\\\+\?|\\\+)?\+?([0-9]+)\$")


def read_dids(path: Path) -> tuple[list[StaticNumber], list[str]]:
    """The numbers a dids.xml routes to a queue, and a problem for each extension it cannot
    read as one (a pattern rather than a number, no cc_queue)."""
    try:
        root = ElementTree.fromstring(Path(path).read_text(encoding="utf-8"))  # noqa: S314 - ops' own file
    except (OSError, UnicodeDecodeError, ElementTree.ParseError) as exc:
        raise InvalidInput(f"{path}: {exc}", field="file") from None
    found, problems = [], []
    for extension in root.iter("extension"):
        name = extension.get("name", "?")
        condition = extension.find("condition")
        expression = condition.get("expression", "") if condition is not None else ""
        match = _STATIC_EXPRESSION.fullmatch(expression)
        queues = [a.get("data", "").partition("=")[2] for a in extension.iter("action")
                  if a.get("application") == "set"
                  and a.get("data", "").startswith("cc_queue=")]
        if condition is None or condition.get("field") != "destination_number" or not match:
            problems.append(f"extension {name}: its condition is not one destination_number "
                            f"like ^\\+?5550100$ ({expression or 'none'})")
        elif not queues:
            problems.append(f"extension {name}: it sets no cc_queue")
        else:
            found.append(StaticNumber(match.group(1), queues[-1], name))
    return found, problems


def import_dids(session: Session, path: Path, *, who: audit.Actor) -> tuple[list[str], list[str]]:
    """Add dids.xml's numbers to the table: all of them or, if any cannot be added, none.
    Returns (added, already there); raises InvalidInput listing every problem."""
    static, problems = read_dids(path)
    added, kept = [], []
    for entry in static:
        existing = session.scalar(select(InboundNumber).where(InboundNumber.number ==
                                                              entry.number))
        if existing is not None:
            if existing.queue.name != entry.queue:
                problems.append(f"{entry.number} is already in the table for queue "
                                f"{existing.queue.name}, not {entry.queue}")
            else:
                kept.append(entry.number)
            continue
        try:
            add_number(session, entry.number, entry.queue, f"from dids.xml ({entry.line})"[:64],
                       who=who)
        except Problems as exc:
            problems.extend(f"{entry.number}: {reason}" for reason in exc.problems.values())
        else:
            added.append(entry.number)
    if problems:
        session.rollback()
        raise InvalidInput("nothing was imported: " + "; ".join(problems), field="file")
    return added, kept
