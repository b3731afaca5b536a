"""Recordings the simulator writes: real WAV files (8 kHz, 16-bit, stereo as FreeSWITCH's
record_stereo), silent, as long as the recording lasted on the simulator's clock."""

from __future__ import annotations

import os
import wave

RATE = 8000
CHANNELS = 2
WIDTH = 2
_CHUNK = RATE  # frames written per call: one second


def write_silence(path: str, frames: int) -> int:
    """Write a WAV of `frames` silent sample frames; return the file's size in bytes."""
    with wave.open(path, "wb") as out:
        out.setnchannels(CHANNELS)
        out.setsampwidth(WIDTH)
        out.setframerate(RATE)
        block = bytes(_CHUNK * CHANNELS * WIDTH)
        left = max(0, frames)
        while left > 0:
            n = min(left, _CHUNK)
            out.writeframes(block[: n * CHANNELS * WIDTH])
            left -= n
    return os.path.getsize(path)
