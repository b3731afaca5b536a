"""fs-check on sounds: the uploaded sounds' folder must be readable by FreeSWITCH's user, and
it says whether the English sound files (place and wait) are installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from callcenter.fsconf.media import PROMPTS, SOUND_SET, media_dir_problems, say_sounds
from tests.test_fs_check import certificate, certs, env, tree  # noqa: F401  (fixtures)

NOBODY = "nobody"


@pytest.fixture
def open_tmp():
    """A folder every user can reach (pytest's own tmp_path sits under a private folder)."""
    folder = Path(tempfile.mkdtemp(prefix="callcenter-media-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def sounds_folder(tmp_path: Path, mode: int = 0o755, file_mode: int = 0o644) -> Path:
    folder = tmp_path / "instance" / "media"
    folder.mkdir(parents=True)
    (folder / "greeting.wav").write_bytes(b"RIFF")
    (folder / "greeting.wav").chmod(file_mode)
    folder.chmod(mode)
    for parent in folder.parents:
        if tmp_path in (parent, *parent.parents):
            parent.chmod(0o755)
    return folder


def test_a_folder_other_users_can_read_passes(open_tmp):
    assert media_dir_problems(sounds_folder(open_tmp)) == []
    assert media_dir_problems(sounds_folder(open_tmp / "x"), NOBODY) == []


def test_a_private_folder_or_sound_is_named_with_the_fix(open_tmp):
    folder = sounds_folder(open_tmp, mode=0o700, file_mode=0o600)
    problems = media_dir_problems(folder)
    assert problems == [
        f"{folder}: other users (FreeSWITCH's) cannot go through it (mode drwx------): chmod "
        "o+x, or give it to FreeSWITCH's group",
        f"{folder / 'greeting.wav'}: other users (FreeSWITCH's) cannot read it (mode "
        "-rw-------): chmod o+r"]
    assert len(media_dir_problems(folder, NOBODY)) == 2


def test_a_private_instance_folder_on_the_way_is_a_problem(open_tmp):
    folder = sounds_folder(open_tmp)
    folder.parent.chmod(0o750)
    assert media_dir_problems(folder) == [
        f"{folder.parent}: other users (FreeSWITCH's) cannot go through it (mode drwxr-x---): "
        "chmod o+x, or give it to FreeSWITCH's group"]


def test_a_missing_folder_or_user_is_said(tmp_path):
    assert "is not a directory" in media_dir_problems(tmp_path / "none")[0]
    assert media_dir_problems(tmp_path, "no-such-user-here") == [
        "there is no user 'no-such-user-here' on this machine"]


def test_english_sound_files_found_in_their_rate_folders_or_said_missing(tmp_path):
    installed, line = say_sounds(tmp_path)
    assert not installed and "no English sound files" in line and "--sounds-dir" in line
    for prompt in PROMPTS:
        path = tmp_path / SOUND_SET / prompt
        (path.parent / "8000").mkdir(parents=True, exist_ok=True)
        (path.parent / "8000" / path.name).write_bytes(b"RIFF")
    assert say_sounds(tmp_path) == (True, f"English sound files installed in "
                                          f"{tmp_path / SOUND_SET}: waiting callers hear their "
                                          "place and wait")
    next((tmp_path / SOUND_SET / "time" / "8000").glob("minutes.wav")).unlink()
    installed, line = say_sounds(tmp_path)
    assert not installed and "missing time/minutes.wav" in line


@pytest.mark.slow
def test_cli_checks_the_media_folder_and_notes_the_sound_files(tree, env, certs, tmp_path,  # noqa: F811
                                                               open_tmp):
    folder = sounds_folder(open_tmp, mode=0o700)
    full = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")} | env
    result = subprocess.run(
        [sys.executable, "-m", "callcenter.cli", "fs-check", str(tree), "--certs-dir",
         str(certs), "--media-dir", str(folder), "--sounds-dir", str(tmp_path / "sounds")],
        capture_output=True, text=True, env=full, timeout=60)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"media: {folder}: other users (FreeSWITCH's) cannot go through")
    assert lines[1].startswith("note: no English sound files in ")
    assert result.stderr == f"1 problem(s) in {tree}\n"
