"""Sounds admins upload for queues (greetings, announcements, closed messages, hold music), kept in
CALLCENTER_MEDIA_DIR where FreeSWITCH reads them.

What is kept is what the shipped FreeSWITCH plays as it is (mod_sndfile, no MP3 module): WAV,
16-bit PCM, mono, at 8, 16 or 48 kHz. A WAV file in another shape is refused with what it is and
what is needed (converting it would hide a mistake, such as a stereo music file); an MP3 file is
decoded (miniaudio) to that shape at 8 kHz, the rate of the calls from the carrier, so the switch
resamples nothing. A file is stored only once every check passed, readable by every user (the
FreeSWITCH user is another one), under its own name with `.wav`.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

from .errors import Conflict, InvalidInput, NotFound

MAX_BYTES = 20 * 1024 * 1024
RATES = (8000, 16000, 48000)
MP3_RATE = 8000
_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_UPLOADED = re.compile(r"(?P<stem>[^/\\]*)\.(?P<ext>wav|mp3)", re.IGNORECASE)
FIELD = "sound"


@dataclass(frozen=True)
class Sound:
    name: str           # greeting.wav
    path: Path          # what a queue setting names
    seconds: float
    rate: int


# -- checking an upload -------------------------------------------------------------------------

def stored_name(uploaded: str) -> str:
    """The name a file is kept under: its own, with `.wav`. A name with a folder in it, or
    other characters than letters, digits, - and _, is refused rather than rewritten."""
    match = _UPLOADED.fullmatch(uploaded or "")
    if match is None:
        if "/" in (uploaded or "") or "\\" in (uploaded or ""):
            raise InvalidInput("the file's name must not hold a folder (no / or \\)", field=FIELD)
        raise InvalidInput("a .wav or .mp3 file is needed", field=FIELD)
    stem = match["stem"]
    if not _STEM.fullmatch(stem):
        raise InvalidInput(f"name the file with letters, digits, - and _ only, at most 64, "
                           f"then .wav or .mp3 (got {uploaded[:80]!r})", field=FIELD)
    return f"{stem}.wav"


def playable(data: bytes) -> bytes:
    """The file as FreeSWITCH will play it: a WAV of the right shape as it is, an MP3 decoded;
    anything else refused with what is wrong."""
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"the file is too big: at most {MAX_BYTES // (1024 * 1024)} MB",
                           field=FIELD)
    if not data:
        raise InvalidInput("the file is empty", field=FIELD)
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        _check_wav(data)
        return data
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return _from_mp3(data)
    raise InvalidInput("this is not a WAV or MP3 file", field=FIELD)


def _check_wav(data: bytes) -> None:
    try:
        with wave.open(io.BytesIO(data)) as sound:
            channels, width, rate = sound.getnchannels(), sound.getsampwidth(), \
                sound.getframerate()
            frames = sound.getnframes()
            body = sound.readframes(frames)
    except (wave.Error, EOFError) as exc:
        raise InvalidInput(f"this WAV file cannot be read ({exc}): a 16-bit PCM WAV is "
                           "needed", field=FIELD) from None
    needed = f"16-bit PCM, mono, at {', '.join(str(r) for r in RATES)} Hz"
    if (channels, width) != (1, 2) or rate not in RATES:
        raise InvalidInput(f"this WAV file is {width * 8}-bit, {channels} channel(s), {rate} Hz: "
                           f"FreeSWITCH needs {needed} (or upload an MP3, which is converted)",
                           field=FIELD)
    if frames == 0 or len(body) != frames * channels * width:
        raise InvalidInput("this WAV file is cut short or holds no sound", field=FIELD)


def _from_mp3(data: bytes) -> bytes:
    import miniaudio

    try:
        miniaudio.mp3_get_info(data)
        decoded = miniaudio.decode(data, miniaudio.SampleFormat.SIGNED16, nchannels=1,
                                   sample_rate=MP3_RATE)
    except miniaudio.DecodeError as exc:
        raise InvalidInput(f"this MP3 file cannot be decoded ({exc})", field=FIELD) from None
    if decoded.num_frames == 0:
        raise InvalidInput("this MP3 file holds no sound", field=FIELD)
    out = io.BytesIO()
    with wave.open(out, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(MP3_RATE)
        sound.writeframes(decoded.samples.tobytes())
    return out.getvalue()


# -- the media folder ---------------------------------------------------------------------------

def keep(media_dir: Path, name: str, data: bytes) -> Sound:
    """Keep a checked file (never over another one of that name), readable by FreeSWITCH."""
    media_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
    target = media_dir / name
    if target.exists():
        raise Conflict(f"a sound named {name} exists already: upload it under another name")
    handle, temporary = tempfile.mkstemp(dir=media_dir, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, 0o644)
        os.link(temporary, target)          # fails if the name was taken meanwhile
    except FileExistsError:
        raise Conflict(f"a sound named {name} exists already: upload it under another "
                       "name") from None
    finally:
        os.unlink(temporary)
    return _sound(target)


def sounds(media_dir: Path) -> list[Sound]:
    """Every sound kept, by name (a file that no longer reads is left out)."""
    if not media_dir.is_dir():
        return []
    found = []
    for path in sorted(media_dir.glob("*.wav")):
        try:
            found.append(_sound(path))
        except (OSError, wave.Error, EOFError):
            continue
    return found


def sound_path(media_dir: Path, name: str) -> Path:
    """The file of a kept sound, by its name (nothing outside the folder)."""
    stem, _, ext = name.rpartition(".")
    path = media_dir / name
    if ext != "wav" or not _STEM.fullmatch(stem) or not path.is_file():
        raise NotFound(f"there is no sound {name[:80]!r}")
    return path


def _sound(path: Path) -> Sound:
    with wave.open(str(path)) as sound:
        rate = sound.getframerate()
        return Sound(path.name, path, round(sound.getnframes() / rate, 1), rate)
