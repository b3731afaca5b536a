"""The store's durable spool: records the database has not taken yet, on local disk.

An append-only file of one JSON record per line, fsynced after each append, so writes queued
while the database is failing survive a controller restart; the store replays it in order at
start and empties it once everything in it has landed. A dead-letter file beside it keeps the
records refused for their own data, with the reason, for a person to read.

File I/O blocks, so the store calls these from gevent's threadpool, never on the hub.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from .records import Record, dumps, loads

log = logging.getLogger(__name__)

SPOOL_NAME = "store-spool.jsonl"
DEAD_LETTER_NAME = "store-dead-letters.jsonl"


class Spool:
    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / SPOOL_NAME
        self.dead_letters = self.directory / DEAD_LETTER_NAME

    def load(self) -> list[Record]:
        """The records left by the last run, oldest first. A torn last line (the process died
        mid-append) is skipped; any other unreadable line is moved to the dead letters."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        records = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                records.append(loads(line))
            except (ValueError, TypeError) as exc:
                if number == len(lines):
                    log.warning("store spool: last line cut short (%s); skipped", exc)
                else:
                    log.error("store spool: line %d cannot be read (%s); set aside", number, exc)
                    self._dead_letter_text(line, f"unreadable in the spool: {exc}")
        return records

    def append(self, records: list[Record]) -> None:
        """Raises OSError when the disk refuses (full, read-only, gone)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        data = "".join(dumps(record) + "\n" for record in records).encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def clear(self) -> None:
        try:
            os.truncate(self.path, 0)
        except FileNotFoundError:
            pass

    def dead_letter(self, record: Record, reason: str) -> None:
        self._dead_letter_text(dumps(record), reason)

    def _dead_letter_text(self, record: str, reason: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"at": datetime.now(UTC).isoformat(), "reason": reason,
                           "record": record}) + "\n"
        fd = os.open(self.dead_letters, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
