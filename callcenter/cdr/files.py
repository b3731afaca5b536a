"""Loading the `[a_]<uuid>.cdr.json` files mod_json_cdr leaves in its err-log-dir (also in the
dated subdirectories `rotate` makes): `callcenter cdr import DIR` and the controller's spool
directory (cdr_spool.py) both go through `import_directory`, and each file through the same
rule as a post (cdr_posts.file_document).

mod_json_cdr writes a file in place (open with O_TRUNC, then write), so a reader can catch one
half-written: with `settle`, a file that does not read and is younger than that waits for the
next pass. With `reject`, a file that can never load (unreadable once settled, times refused,
a different document for a leg that has one, data the database refuses) is moved once into
`rejected/` beside it, never tried again; without it, it is reported and left where it is.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DataError, IntegrityError, OperationalError, SQLAlchemyError

from .parse import CdrError, LegRecord, json_cdr_text
from .posts import CdrRefused, Filed, Unwritten, file_document

if TYPE_CHECKING:
    from ..db import Database

log = logging.getLogger(__name__)

CDR_FILE_SUFFIX = ".cdr.json"
REJECTED = "rejected"
_FILE_UUID = re.compile(r"[A-Za-z0-9-]{36}")


@dataclass
class ImportReport:
    imported: list[Path] = field(default_factory=list)
    already_present: list[Path] = field(default_factory=list)
    unmatched: list[Path] = field(default_factory=list)   # no call owns the leg: kept for audit
    waiting: list[Path] = field(default_factory=list)     # half-written, or its row not written yet
    rejected: list[tuple[Path, str]] = field(default_factory=list)   # moved to rejected/
    failed: list[tuple[Path, str]] = field(default_factory=list)     # left where they are

    def summary(self) -> str:
        text = (f"imported {len(self.imported)}, already present {len(self.already_present)}, "
                f"unmatched {len(self.unmatched)}, failed {len(self.failed)}")
        if self.waiting:
            text += f", waiting {len(self.waiting)}"
        if self.rejected:
            text += f", rejected {len(self.rejected)}"
        return text

    @property
    def anything(self) -> bool:
        return any(vars(self).values())


def _direct(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


def import_directory(db: Database, path: str | Path, *, remove: bool = False,
                     reject: bool = False, settle: float = 0.0, unwritten: Unwritten | None = None,
                     clock: Callable[[], float] = time.time, source: str = "import",
                     blocking: Callable[..., Any] = _direct) -> ImportReport:
    """Load every CDR file under `path`, one transaction per file; `remove` deletes each file
    whose leg is now in the database (its call's, or unmatched). Running it twice changes
    nothing the second time. `blocking(fn, *args)` runs the file system calls (the spool hands
    them to gevent's threadpool). Raises DatabaseError when the database stops answering
    (nothing later is tried)."""
    report = ImportReport()
    for file, written in blocking(_cdr_files, Path(path)):
        _import_file(db, file, written, report, remove=remove, reject=reject, settle=settle,
                     unwritten=unwritten, clock=clock, source=source, blocking=blocking)
    return report


def _import_file(db: Database, file: Path, written: float, report: ImportReport, *,
                 remove: bool, reject: bool, settle: float, unwritten: Unwritten | None,
                 clock: Callable[[], float], source: str, blocking: Callable[..., Any]) -> None:
    from ..db import DatabaseError

    def refuse(reason: str) -> None:
        if not reject:
            report.failed.append((file, reason))
            return
        try:
            moved = blocking(_move_to_rejected, file)
        except OSError as exc:
            report.failed.append((file, f"{reason}; and it could not be moved to "
                                        f"{REJECTED}/: {exc}"))
            return
        log.error("CDR file %s can never be loaded (%s): moved to %s", file, reason, moved)
        report.rejected.append((file, reason))

    try:
        data = blocking(file.read_bytes)
    except OSError as exc:
        report.failed.append((file, str(exc)))
        return
    try:
        record = read_cdr_file(file, data)
    except CdrError as exc:
        if clock() - written < settle:  # mod_json_cdr may still be writing it
            report.waiting.append(file)
        else:
            refuse(str(exc))
        return
    try:
        with db.session() as session:
            filed = file_document(session, record, now=datetime.fromtimestamp(clock(), UTC),
                                  source=source, unwritten=unwritten)
    except CdrRefused as exc:
        refuse(str(exc))
        return
    except OperationalError as exc:
        raise DatabaseError(f"the database stopped answering at {file}: "
                            f"{_first_line(exc.orig or exc)}") from None
    except (IntegrityError, DataError) as exc:
        refuse(f"the database refused it: {_first_line(exc.orig or exc)}")
        return
    except SQLAlchemyError as exc:
        report.failed.append((file, f"not written: {_first_line(exc.orig or exc)}"))
        return
    if filed is Filed.NOT_YET:
        report.waiting.append(file)
        return
    if filed is Filed.CONFLICT:
        refuse(f"leg {record.uuid} already has a different CDR from FreeSWITCH")
        return
    {Filed.WRITTEN: report.imported, Filed.ALREADY: report.already_present,
     Filed.UNMATCHED: report.unmatched}[filed].append(file)
    if remove:
        try:
            blocking(file.unlink)
        except OSError as exc:
            report.failed.append((file, f"in the database, but not removed: {exc}"))


def read_cdr_file(file: Path, data: bytes) -> LegRecord:
    """The record in a file's bytes, refused when the file is named for another leg."""
    record = LegRecord.from_json_cdr(json_cdr_text(data))
    named = file.name[: -len(CDR_FILE_SUFFIX)].removeprefix("a_")
    if _FILE_UUID.fullmatch(named) and named != record.uuid:
        raise CdrError(f"the file is named for leg {named}, but its CDR is of leg {record.uuid}")
    return record


def _cdr_files(root: Path) -> list[tuple[Path, float]]:
    """The CDR files under `root` (rejected/ directories left out) with their modification
    times, oldest name first; a file gone meanwhile is left out."""
    found = []
    for file in sorted(root.rglob("*" + CDR_FILE_SUFFIX)):
        if REJECTED in file.relative_to(root).parts[:-1]:
            continue
        try:
            if file.is_file():
                found.append((file, file.stat().st_mtime))
        except OSError:
            continue
    return found


def _move_to_rejected(file: Path) -> Path:
    """Into rejected/ beside it, under a name of its own (an earlier one is kept)."""
    folder = file.parent / REJECTED
    folder.mkdir(exist_ok=True)
    target = folder / file.name
    stem = file.name[: -len(CDR_FILE_SUFFIX)] if file.name.endswith(CDR_FILE_SUFFIX) else file.name
    number = 1
    while target.exists():
        number += 1
        target = folder / f"{stem}.{number}{CDR_FILE_SUFFIX}"
    file.rename(target)
    return target


def _first_line(exc: object) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
