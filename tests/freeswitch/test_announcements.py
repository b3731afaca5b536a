"""A queue's greeting and periodic announcement against a real FreeSWITCH 1.10 with the shipped
configuration (skipped unless CALLCENTER_TEST_FREESWITCH names its binary): a caller dials the
sales DID, nobody is there to answer, and `callcenter serve` tells it things while it waits.

What the real switch does, as this test saw it (FreeSWITCH 1.10.12, no sound files installed):
- Each uuid_broadcast is queued on the caller and played when the one before it ends: the
  greeting, then the tone (which loops until broken).
- `uuid_break <caller> all` + announcement + place + tone: PLAYBACK_STOP of the tone with
  `Playback-Status: break`, then PLAYBACK_START/STOP (`done`) of the announcement, then the
  place's `playback phrase:cc_queue_position:1` executes and completes at once with
  `FILE NOT FOUND` (no PLAYBACK_START/STOP: the prompts are missing; mod_sndfile logs a
  WARNING, nothing worse), then the tone plays again.
"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

import pytest

from callcenter.accounts import create_user
from callcenter.audit import CLI
from callcenter.models import Queue, Role
from tests.conftest import PASSWORD
from tests.freeswitch.controller import running, switch_clean
from tests.freeswitch.observer import Observer
from tests.freeswitch.sipudp import FREESWITCH_CARRIER_SIP, UdpSip
from tests.freeswitch.support import ESL_PASSWORD
from tests.freeswitch.switch import freeswitch_binary

pytestmark = pytest.mark.slow
SALES_DID = "5550100"
CALLER = "15557654321"
EVERY_S = 4       # below what the settings allow (15), to keep the test short


def tone_file(path: Path, seconds: float, freq: int) -> str:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"".join(struct.pack("<h", int(3000 * math.sin(2 * math.pi * freq * i
                                                                         / 8000)))
                                 for i in range(int(seconds * 8000))))
    path.chmod(0o644)
    return str(path)


def _music_after_two(events, announcement: str) -> bool:
    ends = [n for n, e in enumerate(events) if e.name == "PLAYBACK_STOP"
            and e.get("Playback-File-Path") == announcement]
    return len(ends) >= 2 and any(e.name == "PLAYBACK_START" and e.get("Playback-File-Type")
                                  == "tone_stream" for e in events[ends[1]:])


def test_the_greeting_then_every_few_seconds_the_announcement_and_the_place(tmp_path):
    binary = freeswitch_binary()
    media = tmp_path / "media"
    media.mkdir()
    greeting = tone_file(media / "greeting.wav", 0.5, 600)
    announcement = tone_file(media / "announcement.wav", 1.0, 300)

    def seed(s) -> None:
        create_user(s, "root", PASSWORD, Role.ADMIN, who=CLI)
        s.add(Queue(name="sales", greeting=greeting, announcement=announcement,
                    announce_seconds=EVERY_S, announce_position=True,
                    position_seconds=EVERY_S, max_wait_seconds=0))

    with running(tmp_path, binary, carrier_port=5096, seed=seed) as run:
        observer = Observer(run.esl_port, ESL_PASSWORD)
        try:
            with UdpSip(CALLER) as caller:
                outgoing = caller.call(SALES_DID, FREESWITCH_CARRIER_SIP)
                outgoing.wait_for(200)
                leg = observer.wait_event("the caller's park", lambda e: e.name ==
                                          "CHANNEL_PARK").uuid
                observer.wait_event("two announcements and the music after them",
                                    lambda _e: _music_after_two(observer.of_leg(leg),
                                                                announcement),
                                    timeout=3 * EVERY_S + 10)
                assert outgoing.bye().status == 200
                observer.wait_event("the caller's end", lambda e: e.name ==
                                    "CHANNEL_HANGUP_COMPLETE" and e.uuid == leg)
            events = observer.of_leg(leg)
            shown = [(e.name, e.get("Playback-File-Path") or e.get("Application-Data"),
                      e.get("Playback-Status") or e.get("Application-Response"))
                     for e in events if e.name in ("PLAYBACK_START", "PLAYBACK_STOP")
                     or (e.name == "CHANNEL_EXECUTE_COMPLETE"
                         and e.get("Application") == "playback")]
            tone = next(path for name, path, _ in shown if path.startswith("tone_stream://"))
            once = [("PLAYBACK_STOP", tone, "break"),
                    ("CHANNEL_EXECUTE_COMPLETE", tone, "FILE PLAYED"),
                    ("PLAYBACK_START", announcement, None),
                    ("PLAYBACK_STOP", announcement, "done"),
                    ("CHANNEL_EXECUTE_COMPLETE", announcement, "FILE PLAYED"),
                    ("CHANNEL_EXECUTE_COMPLETE", "phrase:cc_queue_position:1", "FILE NOT FOUND"),
                    ("PLAYBACK_START", tone, None)]
            assert shown[:7] == [
                ("PLAYBACK_START", greeting, None), ("PLAYBACK_STOP", greeting, "done"),
                ("CHANNEL_EXECUTE_COMPLETE", greeting, "FILE PLAYED"),
                ("PLAYBACK_START", tone, None), *once[:3]], shown
            assert shown[4:4 + 2 * len(once)] == once + once, shown
            # Announcement and place every EVERY_S seconds: the switch stamped them so.
            starts = [e for e in events if e.name == "PLAYBACK_START"
                      and e.get("Playback-File-Path") == announcement]
            gap = (int(starts[1].get("Event-Date-Timestamp"))
                   - int(starts[0].get("Event-Date-Timestamp"))) / 1e6
            assert EVERY_S - 0.5 < gap < EVERY_S + 1.5, gap
            switch_clean(run.switch, binary, run.esl_port, caller)
        finally:
            observer.write(tmp_path / "log" / "events.txt")
            observer.close()
