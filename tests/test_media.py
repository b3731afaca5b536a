"""Uploaded sounds: what FreeSWITCH plays as it is is kept as it is, an MP3 is converted, and
anything else is refused with what is wrong and nothing stored."""

from __future__ import annotations

import io
import math
import stat
import struct
import wave

import lameenc
import pytest

from callcenter import media
from callcenter.errors import Conflict, InvalidInput, NotFound


def wav_bytes(seconds=0.5, rate=8000, channels=1, width=2) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as sound:
        sound.setnchannels(channels)
        sound.setsampwidth(width)
        sound.setframerate(rate)
        frames = int(seconds * rate)
        if width == 2:
            one = [struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
                   for i in range(frames)]
            sound.writeframes(b"".join(s * channels for s in one))
        else:
            sound.writeframes(bytes(frames * channels * width))
    return out.getvalue()


def mp3_bytes(seconds=1.0, rate=44100, channels=2) -> bytes:
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(64)
    encoder.set_in_sample_rate(rate)
    encoder.set_channels(channels)
    encoder.set_quality(7)
    pcm = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
                   * channels for i in range(int(seconds * rate)))
    return bytes(encoder.encode(pcm) + encoder.flush())


@pytest.mark.parametrize("rate", media.RATES)
def test_a_mono_16_bit_wav_at_a_playable_rate_is_kept_as_it_is(rate):
    data = wav_bytes(rate=rate)
    assert media.playable(data) == data


def test_an_mp3_becomes_a_mono_16_bit_wav_at_8_khz_as_long_as_it_was():
    out = media.playable(mp3_bytes(seconds=1.0))
    with wave.open(io.BytesIO(out)) as sound:
        assert (sound.getnchannels(), sound.getsampwidth(), sound.getframerate()) == (
            1, 2, media.MP3_RATE)
        assert 0.95 <= sound.getnframes() / media.MP3_RATE <= 1.15


@pytest.mark.parametrize("data,words", [
    (wav_bytes(channels=2), "2 channel(s)"),
    (wav_bytes(rate=44100), "44100 Hz"),
    (wav_bytes(rate=22050), "22050 Hz"),
    (wav_bytes(width=1), "8-bit"),
    (wav_bytes()[:200], "cut short"),
    (wav_bytes()[:30], "cannot be read"),
    (b"RIFF\x10\x00\x00\x00WAVEfmt garbage garbage", "cannot be read"),
    (b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 500, "cannot be decoded"),
    (b"\xff\xfb" + b"\x13" * 300, "cannot be decoded"),
    (b"<html>not a sound</html>", "not a WAV or MP3"),
    (b"", "empty"),
])
def test_a_file_freeswitch_cannot_play_is_refused_saying_why(data, words):
    with pytest.raises(InvalidInput) as refused:
        media.playable(data)
    assert words in refused.value.reason and refused.value.field == "sound"


def test_a_file_too_big_is_refused(monkeypatch):
    monkeypatch.setattr(media, "MAX_BYTES", 1000)
    with pytest.raises(InvalidInput, match="too big"):
        media.playable(wav_bytes())


@pytest.mark.parametrize("uploaded,kept", [
    ("greeting.wav", "greeting.wav"), ("Hold-Music_2.MP3", "Hold-Music_2.wav"),
    ("x.WAV", "x.wav")])
def test_names_are_kept_with_wav(uploaded, kept):
    assert media.stored_name(uploaded) == kept


@pytest.mark.parametrize("uploaded,words", [
    ("../etc/passwd.wav", "folder"), ("/tmp/x.wav", "folder"), ("a\\b.wav", "folder"),
    ("..wav", "letters, digits"), (".hidden.wav", "letters, digits"),
    ("my greeting.wav", "letters, digits"), ("é.wav", "letters, digits"),
    ("x" * 65 + ".wav", "letters, digits"), ("notes.txt", ".wav or .mp3"), ("", ".wav or .mp3"),
    ("greeting", ".wav or .mp3")])
def test_names_with_path_tricks_or_odd_characters_are_refused(uploaded, words):
    with pytest.raises(InvalidInput) as refused:
        media.stored_name(uploaded)
    assert words in refused.value.reason


def test_a_stored_sound_is_readable_by_freeswitch_and_never_overwritten(tmp_path):
    folder = tmp_path / "media"
    sound = media.keep(folder, "greeting.wav", wav_bytes(seconds=2.0, rate=16000))
    assert (sound.name, sound.path, sound.seconds, sound.rate) == (
        "greeting.wav", folder / "greeting.wav", 2.0, 16000)
    assert stat.S_IMODE(sound.path.stat().st_mode) == 0o644
    assert stat.S_IMODE(folder.stat().st_mode) & 0o005 == 0o005
    with pytest.raises(Conflict):
        media.keep(folder, "greeting.wav", wav_bytes())
    assert sound.path.read_bytes() == wav_bytes(seconds=2.0, rate=16000)
    assert [s.name for s in media.sounds(folder)] == ["greeting.wav"]
    assert sorted(p.name for p in folder.iterdir()) == ["greeting.wav"]   # no leftovers


def test_a_sound_is_found_by_its_name_only_inside_the_folder(tmp_path):
    folder = tmp_path / "media"
    media.keep(folder, "a.wav", wav_bytes())
    (tmp_path / "secret.wav").write_bytes(wav_bytes())
    assert media.sound_path(folder, "a.wav") == folder / "a.wav"
    for name in ("../secret.wav", "b.wav", "a.mp3", ".a.wav"):
        with pytest.raises(NotFound):
            media.sound_path(folder, name)
    assert media.sounds(tmp_path / "nothing-yet") == []
