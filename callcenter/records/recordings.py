"""Recording files as the controller reads them: where a row's file is (never outside the
recordings directory, whatever its row says), and retention — the recordings older than
CALLCENTER_RECORDINGS_KEEP_DAYS, listed (a dry run) or removed with their rows.

FreeSWITCH writes the files; the controller reads them from the same directory (the same host,
or a shared mount at the same path).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .. import audit
from ..errors import NotFound
from ..models import Recording


class RecordingGone(NotFound):
    """The row is there, the file is not (pruned by hand, a lost mount)."""


def file_of(recordings_dir: Path, path: str) -> Path:
    """The file a recordings row names, resolved (links and `..` followed) and inside
    `recordings_dir`; NotFound if it lies anywhere else: a row is data, and data never opens
    another file."""
    folder = recordings_dir.resolve()
    resolved = (folder / path).resolve()   # an absolute path replaces the folder
    if not resolved.is_relative_to(folder):
        raise NotFound("this recording is not in the recordings directory "
                       "(CALLCENTER_RECORDINGS_DIR), so it is not served")
    return resolved


def readable_file(recordings_dir: Path, path: str) -> Path:
    """file_of, and it must be there: RecordingGone says the file is gone."""
    resolved = file_of(recordings_dir, path)
    if not resolved.is_file():
        raise RecordingGone(f"the recording's file is gone: {Path(path).name} is no longer in "
                            "the recordings directory (removed, or the shared mount is not "
                            "there)")
    return resolved


@dataclass
class Pruned:
    """What a prune found: recordings due to go, and what happened to their files."""
    cutoff: datetime
    due: list[Recording] = field(default_factory=list)
    removed_files: int = 0
    missing_files: int = 0
    refused: list[str] = field(default_factory=list)   # outside the recordings directory
    failed: list[str] = field(default_factory=list)    # could not be deleted: row kept

    def summary(self, applied: bool) -> str:
        if not self.due:
            return f"no recordings started before {self.cutoff:%Y-%m-%d %H:%M} UTC"
        if not applied:
            return (f"{len(self.due)} recording(s) started before {self.cutoff:%Y-%m-%d %H:%M} "
                    "UTC would be removed (dry run: --apply removes them)")
        kept = f"; {len(self.failed)} kept (their files could not be deleted)" \
            if self.failed else ""
        return (f"removed {len(self.due) - len(self.failed)} recording row(s) started before "
                f"{self.cutoff:%Y-%m-%d %H:%M} UTC: {self.removed_files} file(s) deleted, "
                f"{self.missing_files} already gone{kept}")


def prune(session: Session, recordings_dir: Path, keep_days: int, now: datetime, *,
          apply: bool, who: audit.Actor = audit.CLI) -> Pruned:
    """The recordings started more than `keep_days` before `now`; with `apply`, their files
    deleted and their rows removed, with an audit row, in the caller's transaction. A file
    already gone still loses its row; a row naming a file outside the recordings directory
    loses its row, and that file is left alone; a file that cannot be deleted keeps its row.
    Running it again finds nothing more."""
    report = Pruned(cutoff=now - timedelta(days=keep_days))
    report.due = list(session.scalars(select(Recording).where(
        Recording.started_at < report.cutoff).order_by(Recording.started_at, Recording.id)))
    if not apply or not report.due:
        return report
    gone = []
    for row in report.due:
        try:
            target = file_of(recordings_dir, row.path)
        except NotFound:
            report.refused.append(row.path)
            gone.append(row.id)
            continue
        try:
            os.unlink(target)
            report.removed_files += 1
        except FileNotFoundError:
            report.missing_files += 1
        except OSError as exc:      # not ours to delete (permissions): the row stays, to retry
            report.failed.append(f"{row.path}: {exc.strerror}")
            continue
        gone.append(row.id)
    for start in range(0, len(gone), 500):
        session.execute(delete(Recording).where(Recording.id.in_(gone[start:start + 500])))
    audit.record(session, who, "recordings.prune", f"recordings before {report.cutoff:%Y-%m-%d}",
                 after={"keep_days": keep_days, "rows": len(gone),
                        "files_deleted": report.removed_files,
                        "files_missing": report.missing_files,
                        "left_alone": len(report.refused)})
    return report
