"""What a waiting caller is told, switchboard → real ESL over TCP → simulator, on the manual
clock: the greeting before the music, the announcement's cadence, place and wait spoken, nothing
once an agent answered, and PLAYBACK_STOPs of stopped music never taken for an announcement's
end. The simulator plays a sound file for 3 s and queues broadcasts as FreeSWITCH does."""

from __future__ import annotations

import pytest

from callcenter.models import AgentStatus
from callcenter.sim import Behaviour
from callcenter.switchboard.queues.estimate import DEFAULT_HANDLE_S, spoken_minutes
from tests.switchboard.test_queues import (
    HOLD,
    agents,  # noqa: F401  (fixture)
    available,
    call_of,
    caller_enters,
    make_queue,
)

GREETING = "/srv/media/greeting.wav"
ANNOUNCEMENT = "/srv/media/announcement.wav"
MUSIC = "/srv/media/music.wav"


@pytest.fixture
def lined(rig, agents, database):  # noqa: F811
    """Queue `sales` with bob (1001) in it, registered, not yet Available; `setup(**settings)`
    makes the queue with those settings and returns the rig."""
    def setup(**settings):
        make_queue(database, tiers=[(agents["bob"], 1, 1)], **settings)
        rig.sim.register("1001")
        rig.board.roster.reload()
        rig.board.reload_queues()
        rig.settle()
        rig.link.commands.clear()
        return rig
    return setup


def playing(rig, leg: str) -> str | None:
    playback = rig.sim.channels[leg].playback
    return playback.path if playback is not None else None


def told(rig, leg: str, start: int = 0) -> list[str]:
    """The commands about what the caller hears, from `start` on: break, broadcasts."""
    return [c.replace(leg, "CALLER") for c in rig.link.commands[start:]
            if c.startswith(("uuid_break", "uuid_broadcast")) and leg in c]


def test_a_new_caller_hears_the_greeting_then_the_music(lined):
    rig = lined(greeting=GREETING, hold_music=HOLD)
    caller = caller_enters(rig)
    assert told(rig, caller) == [f"uuid_broadcast CALLER {GREETING} aleg",
                                 f"uuid_broadcast CALLER {HOLD} aleg"]
    assert playing(rig, caller) == GREETING
    rig.advance(3)                  # the greeting's end: the switch plays the music queued
    assert playing(rig, caller) == HOLD
    assert told(rig, caller)[2:] == []


def test_the_announcement_stops_the_music_every_n_seconds(lined):
    rig = lined(hold_music=HOLD, announcement=ANNOUNCEMENT, announce_seconds=30)
    caller = caller_enters(rig)
    assert told(rig, caller) == [f"uuid_broadcast CALLER {HOLD} aleg"]
    rig.advance(29.5)
    assert told(rig, caller)[1:] == []
    start = len(rig.link.commands)
    rig.advance(0.5)
    assert told(rig, caller, start) == ["uuid_break CALLER all",
                                        f"uuid_broadcast CALLER {ANNOUNCEMENT} aleg",
                                        f"uuid_broadcast CALLER {HOLD} aleg"]
    assert playing(rig, caller) == ANNOUNCEMENT
    rig.advance(3)
    assert playing(rig, caller) == HOLD
    for _ in range(6):              # up to 63 s after entry: the second one at 60 s only
        rig.advance(5)
    breaks = [c for c in told(rig, caller) if c.startswith("uuid_break")]
    assert len(breaks) == 2
    assert told(rig, caller).count(f"uuid_broadcast CALLER {ANNOUNCEMENT} aleg") == 2


def test_place_and_wait_are_spoken_from_handle_times_and_available_agents(lined, agents):  # noqa: F811
    rig = lined(hold_music=HOLD, announce_position=True, announce_wait=True,
                position_seconds=20)
    rig.sim.script("1001", Behaviour.answer(0))
    available(rig, agents["bob"])
    talking = caller_enters(rig, caller="15550000001")      # bob takes it and stays on it
    assert call_of(rig, talking).bridged_at is not None
    first = caller_enters(rig, caller="15550000002")
    second = caller_enters(rig, caller="15550000003")
    start = len(rig.link.commands)
    rig.advance(20)
    # One agent Available (on a call), no call handled yet: the default handle time.
    assert told(rig, first, start) == [
        "uuid_break CALLER all", "uuid_broadcast CALLER phrase:cc_queue_position:1 aleg",
        f"uuid_broadcast CALLER phrase:cc_queue_wait:{spoken_minutes(DEFAULT_HANDLE_S)} aleg",
        f"uuid_broadcast CALLER {HOLD} aleg"]
    assert told(rig, second, start) == [
        "uuid_break CALLER all", "uuid_broadcast CALLER phrase:cc_queue_position:2 aleg",
        f"uuid_broadcast CALLER phrase:cc_queue_wait:{spoken_minutes(2 * DEFAULT_HANDLE_S)} "
        "aleg", f"uuid_broadcast CALLER {HOLD} aleg"]
    assert playing(rig, second) == HOLD     # the phrases played (no sound files): music again

    # Bob goes On break: nobody Available, so no number for the wait; the place still.
    rig.board.set_status(agents["bob"], AgentStatus.ON_BREAK)
    rig.settle()
    start = len(rig.link.commands)
    rig.advance(20)
    assert told(rig, second, start) == [
        "uuid_break CALLER all", "uuid_broadcast CALLER phrase:cc_queue_position:2 aleg",
        f"uuid_broadcast CALLER {HOLD} aleg"]


def test_a_ringing_offer_changes_nothing_and_nothing_is_told_once_an_agent_answered(
        lined, agents):  # noqa: F811
    rig = lined(hold_music=HOLD, announcement=ANNOUNCEMENT, announce_seconds=15,
                announce_position=True, position_seconds=15, agent_ring_seconds=60)
    rig.sim.script("1001", Behaviour.answer(20_000))       # bob's phone rings 20 s
    caller = caller_enters(rig)
    available(rig, agents["bob"])
    call = call_of(rig, caller)
    assert call.progress.value == "offered"
    start = len(rig.link.commands)
    rig.advance(15)                 # bob's phone rings: the caller is told all the same
    assert told(rig, caller, start) == [
        "uuid_break CALLER all", f"uuid_broadcast CALLER {ANNOUNCEMENT} aleg",
        "uuid_broadcast CALLER phrase:cc_queue_position:1 aleg",
        f"uuid_broadcast CALLER {HOLD} aleg"]
    rig.advance(5)                  # bob answers at 20 s, during the music
    assert call.bridged_at is not None
    bridged = next(n for n, c in enumerate(rig.link.commands) if c.startswith("uuid_bridge"))
    # The bridge starts by dropping whatever is queued on the caller.
    assert rig.link.commands[bridged - 1] == f"uuid_break {caller} all"
    for _ in range(12):
        rig.advance(5)
    assert told(rig, caller, bridged) == []
    assert playing(rig, caller) is None


def test_a_due_place_waits_for_the_end_of_the_greeting(lined):
    # The place every 2 s (below what the settings allow, to fall inside the 3 s greeting).
    rig = lined(hold_music=HOLD, greeting=GREETING, announce_position=True, position_seconds=2)
    caller = caller_enters(rig)
    start = len(rig.link.commands)
    rig.advance(2)
    assert told(rig, caller, start) == []   # the greeting still plays: not cut short
    assert playing(rig, caller) == GREETING
    rig.advance(1)                          # its end: the place, then the music
    assert told(rig, caller, start) == [
        "uuid_break CALLER all", "uuid_broadcast CALLER phrase:cc_queue_position:1 aleg",
        f"uuid_broadcast CALLER {HOLD} aleg"]
    assert playing(rig, caller) == HOLD


def test_music_stopped_for_an_announcement_is_neither_replayed_nor_taken_for_its_end(lined):
    # A music file (3 s in the simulator) ends by itself and is played again; the announcement
    # at 16 s stops it (PLAYBACK_STOP, status break); the place, due at 18 s (set below what
    # the settings allow), waits for the announcement's own end at 19 s.
    rig = lined(hold_music=MUSIC, announcement=ANNOUNCEMENT, announce_seconds=16,
                announce_position=True, position_seconds=18)
    caller = caller_enters(rig)
    for _ in range(5):
        rig.advance(3)
    assert told(rig, caller) == [f"uuid_broadcast CALLER {MUSIC} aleg"] * 6
    start = len(rig.link.commands)
    rig.advance(1)
    assert told(rig, caller, start) == ["uuid_break CALLER all",
                                        f"uuid_broadcast CALLER {ANNOUNCEMENT} aleg",
                                        f"uuid_broadcast CALLER {MUSIC} aleg"]
    assert playing(rig, caller) == ANNOUNCEMENT
    start = len(rig.link.commands)
    rig.advance(2)                  # 18 s: the place is due, the announcement still plays
    assert told(rig, caller, start) == []
    rig.advance(1)
    assert told(rig, caller, start) == [
        "uuid_break CALLER all", "uuid_broadcast CALLER phrase:cc_queue_position:1 aleg",
        f"uuid_broadcast CALLER {MUSIC} aleg"]
    assert playing(rig, caller) == MUSIC


def test_the_wait_follows_the_queue_s_handled_calls(lined, agents):  # noqa: F811
    # Bob talks 90 s to a first caller and wraps up 30 s: the queue's handle time is 120 s.
    rig = lined(hold_music=HOLD, announce_wait=True, position_seconds=20, wrapup_seconds=30)
    rig.sim.script("1001", Behaviour.answer(0))
    available(rig, agents["bob"])
    first = caller_enters(rig, caller="15550000001")
    assert call_of(rig, first).bridged_at is not None
    second = caller_enters(rig, caller="15550000002")
    third = caller_enters(rig, caller="15550000003")
    rig.advance(20)         # no call handled yet: the default handle time
    assert f"uuid_broadcast CALLER phrase:cc_queue_wait:{spoken_minutes(DEFAULT_HANDLE_S)} " \
           "aleg" in told(rig, second)
    rig.advance(70)
    assert rig.sim.far_end_hangs_up(first)
    rig.settle()
    start = len(rig.link.commands)
    rig.advance(10)         # 100 s: bob wraps up until 120 s, the two still wait
    assert told(rig, second, start)[1:2] == ["uuid_broadcast CALLER phrase:cc_queue_wait:2 aleg"]
    assert told(rig, third, start)[1:2] == ["uuid_broadcast CALLER phrase:cc_queue_wait:4 aleg"]
