"""Adding many users from a CSV file (the admin's Users page): every row is checked first, and
the file's problems are listed by line before anything is written (the dry run); the import
then writes every user of the file in one transaction, or none.

The columns (the first line names them, in any order; README "Users and agents"):
username, role, password (empty: one is generated and shown once), extension, queues
("sales:1:2 support" - each queue with its optional level and position), and an agent's
settings (accounts.AGENT_SETTINGS by name: wrapup_seconds, auto_answer ...); only username and
role are required."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import accounts, audit, queue_config
from .errors import InvalidInput
from .models import Queue, Role
from .passwords import hash_password

MAX_BYTES = 256 * 1024
# Each password's hash costs a tenth of a second of CPU (passwords.py), one at a time on the
# hashing pool's thread: 100 users take about ten seconds; more would keep the admin waiting on
# one request for longer than a person waits without giving up.
MAX_ROWS = 100
REQUIRED = ("username", "role")
COLUMNS = (*REQUIRED, "password", "extension", "queues",
           *(setting.name for setting in accounts.AGENT_SETTINGS))
_MEMBERSHIP = re.compile(r"([^:\s]+)(?::([^:\s]*))?(?::([^:\s]*))?")


@dataclass
class Row:
    """One user of the file as it will be written, and what is wrong with it."""
    line: int
    username: str
    role: Role | None = None
    password: str = ""                  # empty: generated at the import
    extension: str | None = None
    settings: dict[str, object] = field(default_factory=dict)
    queues: list[tuple[str, int | None, int | None]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """What the file would add: its rows, and problems of the file as a whole."""
    rows: list[Row]
    file_problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.file_problems and not any(row.problems for row in self.rows)


def read_upload(data: bytes) -> str:
    """The uploaded file as text, or InvalidInput saying why it is not a CSV file we read."""
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"the file is too big: at most {MAX_BYTES // 1024} KB "
                           f"({MAX_ROWS} users)", field="file")
    if not data.strip():
        raise InvalidInput("the file is empty", field="file")
    if b"\0" in data:
        raise InvalidInput("this is not a CSV file (it holds binary data)", field="file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("this is not a CSV file in UTF-8 (save it as CSV UTF-8)",
                           field="file") from None


def check(session: Session, text: str) -> Plan:
    """Every row's problems (reads only; writes nothing)."""
    try:
        lines = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        return Plan([], [f"this is not a CSV file we can read: {exc}"])
    if not lines:
        return Plan([], ["the file is empty"])
    header = [name.strip().lower() for name in lines[0]]
    problems = _header_problems(header)
    body = [(number, cells) for number, cells in enumerate(lines[1:], start=2)
            if any(cell.strip() for cell in cells)]
    if not body:
        problems.append("no user in the file: one a line after the line of column names")
    if len(body) > MAX_ROWS:
        problems.append(f"{len(body)} users: at most {MAX_ROWS} a file (split it)")
    if problems:
        return Plan([], problems)
    queues = set(session.scalars(select(Queue.name)))
    taken = accounts.Taken.read(session)
    rows = [_row(session, number, dict(zip(header, cells, strict=False)), len(cells),
                 len(header), queues, taken) for number, cells in body]
    _duplicates(rows, "username", lambda row: row.username)
    _duplicates(rows, "extension", lambda row: row.extension)
    return Plan(rows, [])


def _header_problems(header: list[str]) -> list[str]:
    problems = []
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        problems.append("unknown column " + ", ".join(repr(n) for n in unknown)
                        + ": the columns are " + ", ".join(COLUMNS))
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        problems.append("the first line names the columns; missing: " + ", ".join(missing))
    repeated = [name for name, count in Counter(header).items() if count > 1]
    if repeated:
        problems.append("column named twice: " + ", ".join(repeated))
    return problems


def _row(session: Session, number: int, cells: dict[str, str], given: int, expected: int,
         queues: set[str], taken: accounts.Taken) -> Row:
    row = Row(number, cells.get("username", "").strip().lower())
    if given != expected:
        row.problems.append(f"{given} cells where the first line names {expected} columns")
    try:
        row.username, row.role, row.extension = accounts.check_new_user(
            session, cells.get("username", ""), cells.get("role", ""),
            cells.get("extension", "").strip() or None, taken)
    except InvalidInput as exc:
        row.problems.append(exc.reason)
        row.role = _role_or_none(cells.get("role", ""))
    row.password = cells.get("password", "")
    if row.password:
        try:
            accounts.check_password(row.password, row.username)
        except InvalidInput as exc:
            row.problems.append(exc.reason)
    settings = {name: cells[name] for name in accounts.AGENT_SETTING_NAMES
                if cells.get(name, "").strip()}
    row.settings, refused = accounts.read_agent_settings(settings)
    row.problems.extend(f"{name}: {why}" for name, why in refused.items())
    row.queues = _memberships(cells.get("queues", ""), queues, row.problems)
    if row.role not in (Role.AGENT, None) and (settings or row.queues):
        row.problems.append("queues and agent settings are for agents only")
    return row


def _role_or_none(text: str) -> Role | None:
    try:
        return accounts.parse_role(text)
    except InvalidInput:
        return None


def _memberships(text: str, queues: set[str], problems: list[str]
                 ) -> list[tuple[str, int | None, int | None]]:
    """`sales:1:2 support:2` -> [("sales", 1, 2), ("support", 2, None)]."""
    found = []
    for item in filter(None, re.split(r"[;\s]+", text.strip())):
        match = _MEMBERSHIP.fullmatch(item)
        if match is None:
            problems.append(f"queues: {item!r} is not QUEUE, QUEUE:LEVEL or "
                            "QUEUE:LEVEL:POSITION")
            continue
        name, level, position = match.groups()
        if name not in queues:
            problems.append(f"queues: there is no queue {name!r}")
            continue
        numbers = []
        for what, value in (("level", level), ("position", position)):
            try:
                numbers.append(queue_config.whole_tier_number(value) if value else None)
            except InvalidInput as exc:
                problems.append(f"queues: {name}'s {what} {exc.reason}")
                numbers.append(None)
        found.append((name, *numbers))
    if len({name for name, *_ in found}) != len(found):
        problems.append("queues: a queue named twice")
    return found


def _duplicates(rows: list[Row], what: str, key) -> None:
    """Two rows of the file with the same username (or extension): both are refused."""
    lines: dict[object, list[int]] = {}
    for row in rows:
        if key(row):
            lines.setdefault(key(row), []).append(row.line)
    for row in rows:
        others = [n for n in lines.get(key(row), []) if n != row.line]
        if others:
            row.problems.append(f"{what} {key(row)} is on line {', '.join(map(str, others))} "
                                "too")


def write(session: Session, write: Callable, text: str, *,
          who: audit.Actor) -> tuple[Plan, list[tuple[str, str]]]:
    """Check the file (in `session`) and, if every row passes, add all its users in one
    transaction (`write(work)`: writing.py): the plan, and each generated password by username
    (shown once). Passwords are hashed before the transaction, so it holds the database (and
    the switchboard's writer) for milliseconds, not seconds."""
    plan = check(session, text)
    if not plan.ok:
        return plan, []
    generated = [(row.username, accounts.generated_password(row.username))
                 for row in plan.rows if not row.password]
    passwords = dict(generated)
    hashes = {row.username: hash_password(row.password or passwords[row.username])
              for row in plan.rows}

    def adding(writing: Session) -> Plan:
        again = check(writing, text)        # someone may have added a user meanwhile
        if not again.ok:
            return again
        by_name = {queue.name: queue for queue in writing.scalars(select(Queue))}
        for row in again.rows:
            noted = {"queues": [f"{n}:{lv or 1}:{pos or ''}".rstrip(":")
                                for n, lv, pos in row.queues]} if row.queues else {}
            noted["imported"] = "csv"
            user = accounts.add_user(writing, row.username, hashes[row.username], row.role,
                                     row.extension, who=who, agent_settings=row.settings,
                                     noted=noted)
            for name, level, position in row.queues:
                queue_config.place_tier(writing, by_name[name], user.agent, level, position)
        return again
    again = write(adding)
    return again, generated if again.ok else []
