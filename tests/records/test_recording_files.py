"""Recording files: a row never opens a file outside the recordings directory, and retention
lists (dry run) or removes (apply) old recordings, files and rows, idempotently."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter.errors import NotFound
from callcenter.models import AuditEntry, Recording
from callcenter.records.recordings import RecordingGone, file_of, prune, readable_file
from tests.records.calls import T0, past_call


@pytest.mark.parametrize("path", ["../secrets.json", "/etc/passwd", "2026/../../callcenter.db",
                                  "link/secrets.json"])
def test_a_row_naming_a_file_outside_the_recordings_directory_is_refused(tmp_path, path):
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    (tmp_path / "secrets.json").write_text("{}")
    (recordings / "link").symlink_to(tmp_path)      # a link out counts as out
    with pytest.raises(NotFound, match="not in the recordings directory"):
        file_of(recordings, path)


def test_a_file_inside_is_found_by_its_absolute_or_relative_path(tmp_path):
    recordings = tmp_path / "recordings"
    (recordings / "2026").mkdir(parents=True)
    (recordings / "2026" / "c.wav").write_bytes(b"RIFF")
    assert readable_file(recordings, str(recordings / "2026" / "c.wav")) == \
        (recordings / "2026" / "c.wav").resolve()
    assert readable_file(recordings, "2026/c.wav") == (recordings / "2026" / "c.wav").resolve()
    with pytest.raises(RecordingGone, match="gone: d.wav"):
        readable_file(recordings, "2026/d.wav")


def _rows(database):
    with database.session() as session:
        return sorted(session.scalars(select(Recording.path)))


def _audits(database):
    with database.session() as session:
        return [(a.action, a.actor) for a in session.scalars(
            select(AuditEntry).where(AuditEntry.action == "recordings.prune"))]


@pytest.mark.both_databases
def test_prune_lists_in_a_dry_run_then_removes_files_and_rows(database, settings):
    past_call(database, settings, "old", seconds=(2, 1), started=T0)
    past_call(database, settings, "new", seconds=(2,), started=T0 + timedelta(days=20))
    old = sorted(str(p) for p in settings.recordings_dir.rglob("old*.wav"))
    now = T0 + timedelta(days=40)
    with database.session() as session:
        dry = prune(session, settings.recordings_dir, 30, now, apply=False)
        session.commit()
    assert sorted(row.path for row in dry.due) == old
    assert "2 recording(s) started before 2026-11-30 09:00 UTC would be removed" in \
        dry.summary(False)
    assert all(os.path.exists(path) for path in old) and len(_rows(database)) == 3
    assert _audits(database) == []

    with database.session() as session:
        done = prune(session, settings.recordings_dir, 30, now, apply=True)
        session.commit()
    assert (len(done.due), done.removed_files, done.missing_files) == (2, 2, 0)
    assert not any(os.path.exists(path) for path in old)
    assert [Path(p).name for p in _rows(database)] == ["new.wav"]
    assert (settings.recordings_dir / f"{T0 + timedelta(days=20):%Y/%m/%d}/new.wav").exists()
    assert _audits(database) == [("recordings.prune", "cli")]

    with database.session() as session:   # again: nothing more to do, nothing written
        again = prune(session, settings.recordings_dir, 30, now, apply=True)
        session.commit()
    assert again.due == [] and "no recordings started before" in again.summary(True)
    assert _audits(database) == [("recordings.prune", "cli")]


@pytest.mark.both_databases
def test_a_missing_file_still_loses_its_row_and_a_file_outside_is_left_alone(database,
                                                                            settings, tmp_path):
    past_call(database, settings, "gone", seconds=(2,), files=False)
    outside = tmp_path / "not-a-recording.wav"
    outside.write_bytes(b"keep me")
    with database.session() as session:
        session.add(Recording(call_id="gone", path=str(outside), started_at=T0))
        session.commit()
    with database.session() as session:
        done = prune(session, settings.recordings_dir, 1, T0 + timedelta(days=5), apply=True)
        session.commit()
    assert (done.removed_files, done.missing_files, done.refused) == (0, 1, [str(outside)])
    assert _rows(database) == [] and outside.read_bytes() == b"keep me"
