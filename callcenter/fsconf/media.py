"""What `callcenter fs-check` says about sounds: whether FreeSWITCH can read the folder of the
sounds admins upload (CALLCENTER_MEDIA_DIR: FreeSWITCH runs as another user), and whether the
English sound files that say a waiting caller's place and wait (freeswitch-conf/lang/en.xml) are
installed."""

from __future__ import annotations

import grp
import os
import pwd
import stat
from pathlib import Path

# The English sound set's folder under FreeSWITCH's sounds_dir (globals.xml's sound_prefix),
# and the prompts lang/en.xml plays (mod_say_en's digits among them).
SOUND_SET = Path("en/us/callie")
PROMPTS = ("ivr/ivr-you_are_number.wav", "ivr/ivr-in_line.wav",
           "ivr/ivr-estimated_hold_time.wav", "time/minute.wav", "time/minutes.wav",
           "digits/1.wav", "digits/20.wav")
# Where FreeSWITCH's packages and a build from source put sounds_dir.
SOUNDS_DIRS = (Path("/usr/share/freeswitch/sounds"), Path("/usr/local/freeswitch/sounds"))
RATES = ("8000", "16000", "32000", "48000")


def media_dir_problems(folder: Path, user: str | None = None) -> list[str]:
    """Why FreeSWITCH (running as `user`, or as any other user) could not read the sounds in
    `folder`: each folder on the way must let it through, the folder be listed, each sound be
    readable."""
    try:
        who = _identity(user)
    except KeyError:
        return [f"there is no user {user!r} on this machine"]
    if not folder.is_dir():
        return [f"{folder} is not a directory (it is made at the first upload; make it now with "
                "mode 755)"]
    problems = []
    folder = folder.resolve()
    for step in [*reversed(folder.parents), folder]:
        if not _may(step.stat(), who, stat.S_IXOTH):
            problems.append(f"{step}: {_whom(user)} cannot go through it (mode "
                            f"{stat.filemode(step.stat().st_mode)}): chmod o+x, or give it to "
                            "FreeSWITCH's group")
    for sound in sorted(folder.glob("*.wav")):
        if not _may(sound.stat(), who, stat.S_IROTH):
            problems.append(f"{sound}: {_whom(user)} cannot read it (mode "
                            f"{stat.filemode(sound.stat().st_mode)}): chmod o+r")
    return problems


def say_sounds(sounds_dir: Path | None = None) -> tuple[bool, str]:
    """Whether the English prompts of lang/en.xml are installed, and a line that says so."""
    candidates = [sounds_dir] if sounds_dir is not None else list(SOUNDS_DIRS)
    for base in candidates:
        sound_set = base / SOUND_SET
        missing = [p for p in PROMPTS if not _prompt(sound_set, p)]
        if not missing:
            return True, (f"English sound files installed in {sound_set}: waiting callers hear "
                          "their place and wait")
        if sound_set.is_dir():
            return False, (f"English sound files incomplete in {sound_set} (missing "
                           f"{', '.join(missing)}): place and wait are skipped, silently")
    where = " or ".join(str(base / SOUND_SET) for base in candidates)
    return False, (f"no English sound files in {where}: place and wait are skipped, silently "
                   "(install freeswitch-sounds-en-us-callie, or give FreeSWITCH's sounds_dir "
                   "with --sounds-dir)")


def _prompt(sound_set: Path, prompt: str) -> bool:
    """A prompt as FreeSWITCH finds it: in its folder, or in a folder of its sample rate."""
    path = sound_set / prompt
    return path.is_file() or any((path.parent / rate / path.name).is_file() for rate in RATES)


def _identity(user: str | None) -> tuple[int, set[int]] | None:
    if user is None:
        return None
    entry = pwd.getpwnam(user)
    groups = {g.gr_gid for g in grp.getgrall() if user in g.gr_mem} | {entry.pw_gid}
    return entry.pw_uid, groups


def _may(info: os.stat_result, who: tuple[int, set[int]] | None, other_bit: int) -> bool:
    """May this user (None: a user who is neither the owner nor in the group) do it."""
    if who is None:
        return bool(info.st_mode & other_bit)
    uid, groups = who
    if uid == 0:
        return True
    if info.st_uid == uid:
        return bool(info.st_mode & (other_bit << 6))
    if info.st_gid in groups:
        return bool(info.st_mode & (other_bit << 3))
    return bool(info.st_mode & other_bit)


def _whom(user: str | None) -> str:
    return f"user {user}" if user else "other users (FreeSWITCH's)"
