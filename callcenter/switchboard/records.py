"""Store records: every switchboard write as plain data (operation, table, key, values).

A record is not a closure: it can wait in memory while the database is away, be written to the
spool file and read back after a restart, and be set aside with its content when its own data
is bad. Every operation is idempotent (inserts skip rows that exist, fills only fill blanks, a
CDR leg is written by its UUID), because a record replayed from the spool may already have
landed before the controller stopped.

Operations:
- `insert`      rows (`values`, a list) that are missing; existing rows stay as they are
- `insert_fill` rows that are missing; in existing ones, the columns named in `key["fill"]`
                get the new value where they are blank (NULL or '')
- `update`      rows (`values`, a list, each holding the key columns named in `key["by"]`)
- `fill`        like `update`, but a column only changes where it is NULL
- `cdr`         CDR legs (`values`, a list of LegRecord fields), summarized into their calls
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, update
from sqlalchemy.orm import Session

from ..cdr import LegRecord, write_legs
from ..db import insert_missing, upsert
from ..models import Base, Direction, HangupBy, LegRole


@dataclass(frozen=True)
class Record:
    op: str
    table: str
    key: dict[str, Any]
    values: list[dict[str, Any]]

    def detached(self) -> Record:
        """A copy of its own (key and rows): the writer reads it in another thread while the
        code that made it goes on changing what it made it from."""
        return Record(self.op, self.table, dict(self.key), [dict(row) for row in self.values])

    @property
    def statement(self) -> tuple:
        """Records with equal statements can share one executemany (CDR legs: one pass of
        write_legs for several calls)."""
        if self.op == "cdr":
            return (self.op,)
        return (self.op, self.table, json.dumps(self.key, sort_keys=True),
                tuple(self.values[0]))

    @property
    def tables(self) -> tuple[str, ...]:
        """The tables running the record reads or writes (a CDR summarizes into its call)."""
        return ("call_legs", "calls", "leg_cdrs") if self.op == "cdr" else (self.table,)


def grouped(batch: Sequence[Record]) -> list[list[Record]]:
    """The batch in statement groups, run in the order of each group's first record. A record
    joins an earlier group of its statement only if no other statement touched its table since
    (so no row is written in another order than submitted) and no later group inserts into a
    table it refers to (a call's legs never run before the insert of the call): the roster's
    agent updates between call inserts, say, go in one executemany.

    CDR records are judged by call rather than by table (every ended call writes its call row
    between two calls' CDRs, so by table no two would ever share a pass): a CDR joins the last
    CDR group if nothing since touched any of its calls' rows, nor rows of calls it cannot
    name (a leg updated by UUID alone)."""
    groups: list[list[Record]] = []
    by_statement: dict[tuple, int] = {}
    last_on_table: dict[str, int] = {}
    last_insert: dict[str, int] = {}
    cdr_group: int | None = None       # the CDR group later CDRs may still join
    calls_since: set[str] | None = set()   # calls touched since it (None: any call)
    for record in batch:
        statement = record.statement
        index = by_statement.get(statement)
        calls = _calls_of(record)
        if record.op == "cdr":
            joins = (index is not None and index == cdr_group and calls is not None
                     and calls_since is not None and not calls & calls_since
                     and not any(last_insert.get(t, -1) > index
                                 for t in _parents(record.tables)))
        else:
            joins = (index is not None
                     and all(last_on_table.get(t) == index for t in record.tables)
                     and not any(last_insert.get(t, -1) > index
                                 for t in _parents(record.tables)))
        if not joins:
            index = len(groups)
            groups.append([])
            by_statement[statement] = index
            if record.op == "cdr":
                cdr_group, calls_since = index, set()
        groups[index].append(record)
        if index != cdr_group and calls_since is not None and _CALL_TABLES & set(record.tables):
            calls_since = None if calls is None else calls_since | calls
        for table in record.tables:
            # max: a CDR joining an earlier group does not hide the later groups on its tables
            last_on_table[table] = max(index, last_on_table.get(table, index))
            if record.op not in _CHANGES_ONLY:
                last_insert[table] = max(index, last_insert.get(table, index))
    return groups


_CALL_TABLES = frozenset({"calls", "call_legs", "leg_cdrs"})


def _calls_of(record: Record) -> frozenset[str] | None:
    """The call ids whose rows the record writes (a CDR: its legs' calls), None when some
    row does not say (a leg updated by UUID, a CDR leg with no call id)."""
    if record.op == "cdr" or record.table == "call_legs":
        ids = [row.get("call_id") for row in record.values]
    elif record.table == "calls" and record.key.get("by", "id") == "id":
        ids = [row.get("id") for row in record.values]
    else:
        return None
    return None if None in ids else frozenset(ids)


_CHANGES_ONLY = frozenset({"update", "fill"})   # operations that never make a row


@functools.cache
def _parents(tables: tuple[str, ...]) -> frozenset[str]:
    """The other tables the rows of `tables` refer to by foreign key."""
    return frozenset(key.column.table.name for name in tables
                     for key in _table(name).foreign_keys) - set(tables)


def insert(table: str, rows: Sequence[dict[str, Any]]) -> Record:
    return Record("insert", table, {}, list(rows))


def insert_fill(table: str, rows: Sequence[dict[str, Any]], fill: Sequence[str]) -> Record:
    return Record("insert_fill", table, {"fill": list(fill)}, list(rows))


def update_rows(table: str, rows: Sequence[dict[str, Any]], by: str = "id") -> Record:
    return Record("update", table, {"by": by}, list(rows))


def fill_rows(table: str, rows: Sequence[dict[str, Any]], by: str = "id") -> Record:
    return Record("fill", table, {"by": by}, list(rows))


def cdr_legs(legs: Iterable[LegRecord]) -> Record:
    # A shallow copy: every field holds an immutable value (asdict's deep copy cost 25 times
    # as much, for every call).
    return Record("cdr", "call_legs", {}, [{name: getattr(leg, name) for name in _LEG_FIELDS}
                                           for leg in legs])


# --- applying --------------------------------------------------------------------------------


def apply(session: Session, records: Sequence[Record]) -> None:
    """Run records of one statement (see `grouped`) in the caller's transaction."""
    first = records[0]
    rows = [row for record in records for row in record.values]
    _OPERATIONS[first.op](session, first, rows)


def _table(name: str) -> Table:
    try:
        return Base.metadata.tables[name]
    except KeyError:
        raise ValueError(f"a record names no known table: {name!r}") from None


@functools.cache
def _model(name: str) -> type:
    for mapper in Base.registry.mappers:
        if mapper.local_table.name == name:
            return mapper.class_
    raise ValueError(f"a record names no known table: {name!r}")


def _insert(session: Session, record: Record, rows: list[dict]) -> None:
    session.execute(insert_missing(session, _model(record.table)), rows)


def _insert_fill(session: Session, record: Record, rows: list[dict]) -> None:
    table, fill = record.table, tuple(record.key["fill"])
    blank = " OR ".join(f"{table}.{column} IS NULL OR {table}.{column} = ''" for column in fill)
    session.execute(upsert(session, _model(table), fill, blank), rows)


def _by_key(record: Record, rows: list[dict], *, only_null: bool):
    # Bind names must differ from column names in an executemany UPDATE.
    params = [{("k_" + name): value for name, value in row.items()} for row in rows]
    return _update_statement(record.table, record.key["by"], tuple(rows[0]), only_null), params


@functools.cache
def _update_statement(name: str, by: str, columns: tuple[str, ...], only_null: bool):
    """Built once per shape: building a statement costs more than running it. Typed binds:
    inside COALESCE too, each value goes through its column's type (times in UTC)."""
    table = _table(name)
    binds = {column: bindparam("k_" + column, type_=table.c[column].type) for column in columns}
    values = {column: func.coalesce(table.c[column], binds[column]) if only_null
              else binds[column] for column in columns if column != by}
    return update(table).where(table.c[by] == binds[by]).values(values)


def _update(session: Session, record: Record, rows: list[dict]) -> None:
    statement, params = _by_key(record, rows, only_null=False)
    # Core executemany: a row deleted meanwhile matches nothing and fails nobody else.
    session.connection().execute(statement, params)


def _fill(session: Session, record: Record, rows: list[dict]) -> None:
    statement, params = _by_key(record, rows, only_null=True)
    session.connection().execute(statement, params)


def _cdr(session: Session, record: Record, rows: list[dict]) -> None:
    write_legs(session, [leg_record(row) for row in rows])


_OPERATIONS: dict[str, Callable[[Session, Record, list[dict]], None]] = {
    "insert": _insert, "insert_fill": _insert_fill, "update": _update, "fill": _fill,
    "cdr": _cdr,
}
_ENUMS = {"role": LegRole, "direction": Direction, "hangup_by_hint": HangupBy}
_LEG_FIELDS = tuple(field.name for field in dataclasses.fields(LegRecord))


def leg_record(fields: dict[str, Any]) -> LegRecord:
    values = {name: value for name, value in fields.items() if name in _LEG_FIELDS}
    for name, kind in _ENUMS.items():
        if values.get(name) is not None:
            values[name] = kind(values[name])
    return LegRecord(**values)


def check(record: Record) -> None:
    """Refuse a record no operation can run (raises ValueError); the writer dead-letters it."""
    if record.op not in _OPERATIONS:
        raise ValueError(f"unknown record operation {record.op!r}")
    if not record.values:
        raise ValueError("a record with no rows")
    _table(record.table)


# --- as text (the spool and the dead-letter file) --------------------------------------------


def dumps(record: Record) -> str:
    return json.dumps([record.op, record.table, record.key, record.values],
                      default=_encode, separators=(",", ":"))


def loads(line: str) -> Record:
    op, table, key, values = json.loads(line, object_hook=_decode)
    record = Record(op, table, key, values)
    check(record)
    return record


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$t": value.isoformat()}
    raise TypeError(f"a store record cannot hold a {type(value).__name__}")


def _decode(obj: dict) -> Any:
    if obj.keys() == {"$t"}:
        return datetime.fromisoformat(obj["$t"])
    return obj
