"""Calls from a website through the switchboard (switchboard/web_calls.py): a guest's call parked
with cc_queue, cc_channel=web and its token enters the widget's queue like a DID call, reaches an
agent with the visitor's fields and page on the offer and the call, gets channel web on its
CDR, is hung up at the widget's maximum length, and its status follows it (waiting, place in
line, connected, ended)."""

from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from callcenter.audit import CLI
from callcenter.models import Call, GuestCall, Queue
from callcenter.web.api import cdr_message
from callcenter.widgets import credentials
from callcenter.widgets import settings as rules
from tests.switchboard.test_queues import (
    CALLER,
    available,
    call_of,
    call_row,
    caller_enters,
    make_queue,
    restart,
)

SITE = "https://shop.example.com"


@pytest.fixture
def agents(make_user, database, agent_id) -> dict[str, int]:
    """alice (the rig's, on break) and bob (1001): agent ids by name."""
    from callcenter.models import Agent
    user_id = make_user("bob", extension="1001")
    with database.session() as session:
        return {"alice": agent_id,
                "bob": session.scalar(select(Agent.id).where(Agent.user_id == user_id))}


@pytest.fixture
def web(rig, agents, database, monkeypatch):
    """Queue sales with bob; a widget on it (max 300 s); `enter()` sends a visitor's call in."""
    make_queue(database, tiers=[(agents["bob"], 1, 1)])
    rig.sim.register("1001")
    with database.session() as s:
        rules.add_widget(s, {"name": "Shop", "queue": "sales", "allowed_origins": SITE,
                             "field_name": "on", "calls_per_address_hour": "10",
                             "concurrent_calls": "5", "max_call_seconds": "300",
                             "active": "on"}, who=CLI)
        s.commit()
    rig.board.roster.reload()
    rig.board.reload_queues()
    rig.settle()
    switch = rig.sim.switch
    dialplan = switch.run_dialplan

    def enter(fields=None, widget=None, video=False):
        with database.session() as s:
            row = rules.all_widgets(s)[0]
            minted = credentials.mint(s, row.id, "guests.127.0.0.1", rig.clock, address="192.0.2.1",
                                      video=video, fields=fields or {"name": "Ann"},
                                      page_url=f"{SITE}/shoes", page_title="Shoes")
            s.commit()
            # The guest's INVITE uses the credential (the directory's lookup): the call's start.
            assert credentials.use(s, minted.user, f"sip-{minted.token}", rig.clock) is not None
            s.commit()
            public_id = widget or row.public_id

        def guest_dialplan(ch, exten):      # what the directory's entry sets on the channel
            for name, value in (("cc_channel", "web"), ("cc_widget", public_id),
                                ("cc_guest", minted.token)):
                ch.set_var(name, value)
            dialplan(ch, exten)

        monkeypatch.setattr(switch, "run_dialplan", guest_dialplan)
        leg = caller_enters(rig, caller=minted.user)
        monkeypatch.setattr(switch, "run_dialplan", dialplan)
        return minted.token, leg

    return enter


def test_a_website_call_waits_reaches_an_agent_and_is_web_on_the_cdr(rig, agents, web,
                                                                      database):
    token, leg = web()
    call = call_of(rig, leg)
    assert call is not None and call.channel == "web"
    message = call.as_message()
    assert message["channel"] == "web" and message["queue"] == "sales"
    assert message["visitor"]["fields"] == {"name": "Ann"}
    assert message["visitor"]["page_url"] == f"{SITE}/shoes"
    assert message["visitor"]["page_title"] == "Shoes"
    assert rig.board.guest_status(token) == {"state": "waiting", "position": 1,
                                             "waited_seconds": 0}
    rig.advance(7)
    assert rig.board.guest_status(token)["waited_seconds"] == 7

    available(rig, agents["bob"])
    assert call.agent_id == agents["bob"] and call.bridged_at is not None
    offers = [m for m, _ in rig.hub.messages if m.get("type") == "offer"]
    assert offers and offers[0]["offer"]["channel"] == "web"
    assert offers[0]["offer"]["visitor"]["fields"] == {"name": "Ann"}
    assert rig.board.guest_status(token)["state"] == "connected"

    rig.sim.far_end_hangs_up(leg)
    rig.settle()
    assert rig.board.guest_status(token)["state"] == "ended"
    rig.board.store.flush(5)
    row = call_row(rig, call.id)
    assert row.channel == "web" and row.queue_id is not None and row.agent_id == agents["bob"]
    assert cdr_message(row)["channel"] == "web"
    with database.session() as s:
        assert s.get(GuestCall, token).call_id == call.id


def test_a_phone_call_stays_phone(rig, agents, web):
    leg = caller_enters(rig, caller=CALLER)
    call = call_of(rig, leg)
    assert call.channel == "phone" and call.as_message()["visitor"] is None
    rig.board.store.flush(5)
    assert call_row(rig, call.id).channel == "phone"


def test_the_second_caller_is_told_its_place(rig, agents, web):
    first, _ = web()
    second, _ = web()
    assert rig.board.guest_status(first)["position"] == 1
    assert rig.board.guest_status(second)["position"] == 2


def test_a_website_call_ends_at_the_widget_s_maximum_length(rig, agents, web):
    token, leg = web()
    available(rig, agents["bob"])
    call = call_of(rig, leg)
    assert call.bridged_at is not None
    rig.advance(299)
    assert not call.ended and f"uuid_kill {leg} ALLOTTED_TIMEOUT" not in rig.link.commands
    rig.advance(1)
    rig.settle()
    assert f"uuid_kill {leg} ALLOTTED_TIMEOUT" in rig.link.commands
    rig.settle()
    assert call.ended and rig.board.guest_status(token)["state"] == "ended"
    assert rig.board.web_calls.counts["too_long"] == 1


def test_an_unknown_widget_gets_no_limit_but_still_enters_its_queue(rig, agents, web):
    token, leg = web(widget="not-a-widget")
    call = call_of(rig, leg)
    assert call.channel == "web" and rig.board.guest_status(token)["state"] == "waiting"
    rig.advance(3600)
    assert f"uuid_kill {leg} ALLOTTED_TIMEOUT" not in rig.link.commands


def test_queue_staffed_follows_available_agents(rig, agents, web, database):
    assert rig.board.queue_staffed("sales") is False
    available(rig, agents["bob"])
    assert rig.board.queue_staffed("sales") is True
    assert rig.board.queue_staffed("nosuchqueue") is False
    with database.session() as s:
        assert s.scalar(select(Queue.name)) == "sales"
        assert s.scalar(select(Call.id)) is None


def test_a_visitor_s_video_call_offers_the_agent_video_too(rig, agents, web):
    _, audio_leg = web()
    available(rig, agents["bob"])
    (audio_offer,) = [c for c in rig.link.commands if c.startswith("originate")]
    assert "absolute_codec_string" not in audio_offer
    rig.sim.far_end_hangs_up(audio_leg)
    rig.settle()
    rig.advance(60)         # bob's wrap-up
    rig.link.commands.clear()
    _, video_leg = web(video=True)
    assert call_of(rig, video_leg).as_message()["visitor"]["video"] is True
    available(rig, agents["bob"])
    (video_offer,) = [c for c in rig.link.commands if c.startswith("originate")]
    assert "absolute_codec_string=OPUS\\,PCMU\\,VP8" in video_offer


def test_a_visitor_still_waiting_at_the_maximum_length_times_out(rig, agents, web):
    token, leg = web()
    call = call_of(rig, leg)
    rig.advance(300)
    rig.settle()
    assert f"uuid_kill {leg} ALLOTTED_TIMEOUT" in rig.link.commands
    assert call.ended and rig.board.guest_status(token)["state"] == "ended"
    rig.board.store.flush(5)
    row = call_row(rig, call.id)
    assert row.outcome.value == "timed_out" and row.hangup_by.value == "system"


# -- a controller restart mid-call ---------------------------------------------------------------


def killed_at_max_length(rig, leg) -> bool:
    return f"uuid_kill {leg} ALLOTTED_TIMEOUT" in rig.link.commands


def test_a_waiting_visitor_keeps_its_status_and_maximum_length_across_a_restart(rig, agents,
                                                                                 web):
    token, leg = web(fields={"name": "Ann", "topic": "Shoes"})
    call_id = call_of(rig, leg).id
    rig.advance(100)
    fresh = restart(rig)
    try:
        call = call_of(fresh, leg)
        assert call is not None and call.id == call_id and call.channel == "web"
        assert call.as_message()["visitor"]["fields"] == {"name": "Ann", "topic": "Shoes"}
        assert fresh.board.guest_status(token) == {"state": "waiting", "position": 1,
                                                   "waited_seconds": 100}
        fresh.advance(199)          # 299 s since the call started, not since the restart
        assert not killed_at_max_length(fresh, leg)
        fresh.advance(1)
        assert killed_at_max_length(fresh, leg)
        assert call.ended and fresh.board.guest_status(token)["state"] == "ended"
        fresh.board.store.flush(5)
        assert call_row(fresh, call_id).outcome.value == "timed_out"
    finally:
        fresh.link.stop()
        fresh.board.stop()


def test_a_connected_visitor_keeps_its_status_and_maximum_length_across_a_restart(rig, agents,
                                                                                   web):
    token, leg = web()
    rig.advance(25)                 # in line until Bob is free
    available(rig, agents["bob"])
    call_id = call_of(rig, leg).id
    rig.advance(95)
    fresh = restart(rig)
    try:
        call = call_of(fresh, leg)
        assert call is not None and call.id == call_id and call.channel == "web"
        assert call.as_message()["visitor"]["page_url"] == f"{SITE}/shoes"
        assert fresh.board.guest_status(token) == {"state": "connected", "position": None,
                                                   "waited_seconds": 25}
        fresh.advance(179)
        assert not killed_at_max_length(fresh, leg)
        fresh.advance(1)
        assert killed_at_max_length(fresh, leg)
        fresh.settle()      # the hangup's events
        assert fresh.board.guest_status(token)["state"] == "ended"
    finally:
        fresh.link.stop()
        fresh.board.stop()


@pytest.mark.parametrize("connected", [False, True], ids=["waiting", "connected"])
def test_a_visitor_past_its_maximum_length_when_the_controller_returns_is_ended_at_once(
        rig, agents, web, connected):
    token, leg = web()
    if connected:
        available(rig, agents["bob"])
    rig.link.stop()
    rig.board.stop()
    rig.clock.advance(400)      # the controller was away past the widget's 300 s
    from tests.switchboard.conftest import connect_board
    fresh = connect_board(rig.sim, rig.clock, rig.database)
    try:
        fresh.settle()
        fresh.advance(0)
        assert killed_at_max_length(fresh, leg)
        fresh.settle()      # the hangup's events
        assert fresh.board.guest_status(token)["state"] == "ended"
    finally:
        fresh.link.stop()
        fresh.board.stop()


@contextlib.contextmanager
def refused():
    raise OperationalError("SELECT", {}, Exception("database is locked"))
    yield


class HangUps:
    """The Calls a WebCalls needs, as far as its maximum length goes: a clock and hang_up."""

    def __init__(self, clock) -> None:
        self.clock = clock
        self.hung_up: list[tuple[str, str]] = []

    def hang_up(self, leg: str, cause: str) -> None:
        self.hung_up.append((leg, cause))


def test_a_rebuilt_call_s_maximum_length_runs_from_the_credential_s_use(database, clock):
    from callcenter.models import Direction
    from callcenter.switchboard.legs import Call as LiveCall
    from callcenter.switchboard.web_calls import WebCalls

    make_queue(database)
    with database.session() as s:
        widget = rules.add_widget(s, {"name": "Shop", "queue": "sales", "allowed_origins": SITE,
                                      "calls_per_address_hour": "10", "concurrent_calls": "5",
                                      "max_call_seconds": "300", "active": "on"}, who=CLI)
        s.flush()
        minted = credentials.mint(s, widget.id, "guests.example.com", clock, address="192.0.2.1",
                                  video=False, fields={"name": "Ann"}, page_url=SITE,
                                  page_title="")
        s.commit()
        clock.advance(10)       # the INVITE comes: the call starts
        credentials.use(s, minted.user, "sip-1", clock).call_id = "call-1"
        s.commit()
    started = clock.now()
    clock.advance(200)          # the controller restarts and rebuilds the call now
    calls = HangUps(clock)
    web = WebCalls(calls=calls, persist=None, sessions=database.session, lines=dict)
    web.reload()
    call = LiveCall(id="call-1", direction=Direction.INBOUND, agent_id=None, number="",
                    created=started + 1, customer_leg="visitor-leg")
    web.rebuilt(call)
    assert call.channel == "web" and call.features["visitor"].fields == {"name": "Ann"}
    assert call.features["visitor"].waited_seconds is None          # no call row yet
    assert web.status(minted.token) is not None
    # The database failing as the wait is read: the call is the visitor's all the same.
    # The visitor's row, the call's wait, then the widgets' lengths.
    answers = iter([database.session, refused, database.session])
    other = WebCalls(calls=HangUps(clock), persist=None, sessions=lambda: next(answers)(),
                     lines=dict)
    again = LiveCall(id="call-1", direction=Direction.INBOUND, agent_id=None, number="",
                     created=started + 1, customer_leg="visitor-leg")
    other.rebuilt(again)
    assert again.channel == "web" and again.features["visitor"].waited_seconds is None
    again.cancel_timers()
    clock.advance(99)
    assert calls.hung_up == []
    clock.advance(1)            # 300 s after the INVITE, not 300 s after the rebuild
    assert calls.hung_up == [("visitor-leg", "ALLOTTED_TIMEOUT")]
