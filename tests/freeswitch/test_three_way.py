"""Three-way calls against a real FreeSWITCH 1.10 with mod_conference (skipped unless
CALLCENTER_TEST_FREESWITCH names its binary): alice dials the customer, consults bob, then
POST /api/calls/<id>/consult/three-way. Each phone sends silence or a 1 kHz tone and measures
what FreeSWITCH sends it (test_supervision.Media): in turn each one speaks, and the other two
must hear it while it hears silence (a conference sends no one its own voice); with everyone
silent nobody hears anything (no hold music). Then alice's phone hangs up: the customer and bob
still hear each other and the call is bob's. Then the customer hangs up: bob's phone gets its
BYE and no channel is left behind. The conference::maintenance events are written to the log
folder (conference-events.txt), for the simulator to follow.
"""

from __future__ import annotations

import time

import pytest

from tests.freeswitch.observer import Observer
from tests.freeswitch.sipudp import media_address
from tests.freeswitch.support import ESL_PASSWORD
from tests.freeswitch.test_consult import Page, clean, consult_bob, lab, talking  # noqa: F401
from tests.freeswitch.test_supervision import SILENCE, TONE, Media

pytestmark = pytest.mark.slow
LOUD = 1000          # median mean-absolute sample: the tone is ~7600, silence ~0-8


def heard(speaker: Media | None, listeners: dict[str, Media]) -> dict[str, float]:
    """`speaker` sends the tone (the others, or all, silence): each phone's median loudness."""
    for media in listeners.values():
        media.payload = TONE if media is speaker else SILENCE
    time.sleep(0.4)                  # RTP is a clock: let the new mix reach the phones
    since = time.monotonic()
    time.sleep(1.0)
    return {name: media.loudness(since) for name, media in listeners.items()}


def test_three_way_everyone_hears_everyone_and_either_may_leave(lab):  # noqa: F811
    conference = Observer(lab.run.esl_port, ESL_PASSWORD, more="CUSTOM conference::maintenance")
    page = Page(lab)
    call_id, alice, customer = talking(lab, page)
    bob = consult_bob(lab, page, call_id)
    media = {name: Media(dialog.endpoint.rtp, media_address(dialog.invite.body), SILENCE)
             for name, dialog in (("alice", alice), ("customer", customer), ("bob", bob))}
    try:
        lab.run.live.api("alice", "POST", f"/api/calls/{call_id}/consult/three-way", {})
        page.call(call_id, lambda c: (c["consult"] or {}).get("state") == "three_way")
        room = f"cc-{call_id}"
        for _ in range(3):
            conference.wait_event("three members", lambda e: e.get("Action") == "add-member"
                                  and e.get("Conference-Name") == room
                                  and e.get("Conference-Size") == "3")
        quiet = heard(None, media)
        print("everyone silent:", quiet)
        assert max(quiet.values()) < LOUD, "no hold music in the room"
        for speaker in media:
            levels = heard(media[speaker], media)
            print(f"{speaker} speaks:", levels)
            assert levels[speaker] < LOUD, f"{speaker} does not hear itself"
            assert all(level > LOUD for name, level in levels.items() if name != speaker), \
                f"everyone hears {speaker}"
        assert not any(d.ended.is_set() for d in (alice, customer, bob))

        alice.bye()                                  # the first agent leaves
        bobs = page.call(call_id, lambda c: c["agent_id"] == lab.agent_ids["bob"])
        assert bobs["progress"] != "ended"
        two = {name: media[name] for name in ("customer", "bob")}
        for speaker in two:
            levels = heard(two[speaker], two)
            print(f"after alice left, {speaker} speaks:", levels)
            assert all(level > LOUD for name, level in levels.items() if name != speaker)
        assert not customer.ended.is_set() and not bob.ended.is_set()

        assert customer.bye().status == 200          # the customer leaves: the call ends
        assert bob.ended.wait(10) and bob.ended_by == "bye"
        conference.wait_event("the room's end", lambda e: e.get("Action") ==
                              "conference-destroy" and e.get("Conference-Name") == room)
    finally:
        for one in media.values():
            one.stopped = True
        events = [e for e in conference.events if e.get("Event-Subclass")]
        (lab.run.conf.parent / "log" / "conference-events.txt").write_text("\n".join(
            " ".join(f"{k}={v}" for k, v in e.headers.items()
                     if not k.startswith("variable_")) for e in events) + "\n")
        conference.close()
    clean(lab)


def test_three_way_from_swapped_the_target_then_the_agent_leave(lab):  # noqa: F811
    """From `swapped` (alice talks to the customer, bob waits with music): bob's phone hangs up,
    alice and the customer still hear each other; alice leaves from the page and, with no agent
    left, the customer is hung up."""
    page = Page(lab)
    call_id, alice, customer = talking(lab, page)
    bob = consult_bob(lab, page, call_id)
    lab.run.live.api("alice", "POST", f"/api/calls/{call_id}/consult/swap", {})
    page.call(call_id, lambda c: (c["consult"] or {}).get("state") == "swapped")
    media = {name: Media(dialog.endpoint.rtp, media_address(dialog.invite.body), SILENCE)
             for name, dialog in (("alice", alice), ("customer", customer), ("bob", bob))}
    try:
        lab.run.live.api("alice", "POST", f"/api/calls/{call_id}/consult/three-way", {})
        page.call(call_id, lambda c: (c["consult"] or {}).get("state") == "three_way")
        levels = heard(media["bob"], media)
        print("bob speaks:", levels)
        assert levels["alice"] > LOUD and levels["customer"] > LOUD and levels["bob"] < LOUD
        quiet = heard(None, media)
        assert max(quiet.values()) < LOUD, "bob's hold music stopped"

        bob.bye()                                    # the target leaves
        two = {name: media[name] for name in ("alice", "customer")}
        for speaker in two:
            levels = heard(two[speaker], two)
            print(f"after bob left, {speaker} speaks:", levels)
            assert all(level > LOUD for name, level in levels.items() if name != speaker)
        assert not alice.ended.is_set() and not customer.ended.is_set()

        lab.run.live.api("alice", "POST", f"/api/calls/{call_id}/consult/leave", {})
        assert alice.ended.wait(10) and alice.ended_by == "bye"
        assert customer.ended.wait(10) and customer.ended_by == "bye", \
            "no agent left: the customer is hung up"
        ended = page.call(call_id, lambda c: c["progress"] == "ended")
        assert ended["agent_id"] == lab.agent_ids["alice"]
    finally:
        for one in media.values():
            one.stopped = True
    clean(lab)
