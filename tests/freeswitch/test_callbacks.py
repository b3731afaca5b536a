"""Callbacks against a real FreeSWITCH 1.10 (skipped unless CALLCENTER_TEST_FREESWITCH names its
binary): a SIP caller dials the sales DID on the external profile, waits hearing hold music and
presses 9; `callcenter serve` hangs it up with a callback request at its place, offers the
request to an agent's phone when she is Available, and her answer dials the caller's number
through the carrier gateway and bridges the two.

What the real switch does, as this test saw it (FreeSWITCH 1.10.12; the run's log/events.txt
keeps every event):
- The key goes as RFC 2833 telephone events (payload type 101, which the caller's SDP offers and
  FreeSWITCH's answer keeps) in RTP to the address of FreeSWITCH's answer: a few packets of the
  event, then its end three times. No SIP INFO is needed.
- A parked caller hearing hold music through `uuid_broadcast` (playback inside park) produces a
  DTMF event on its leg when the key ends: `DTMF-Digit: 9`, `DTMF-Duration` in samples (the
  event's own duration, 1280 for 160 ms), `DTMF-Source: RTP`, and the channel's headers (no
  variables: DTMF is not among the events switch_channel_event_set_extended_data fills).
- `uuid_break <caller> all` stops the hold music (PLAYBACK_STOP "break"); the confirmation's
  `uuid_broadcast` then plays to its end (PLAYBACK_STOP "done"), and the controller hangs up.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from callcenter.accounts import create_user
from callcenter.audit import CLI
from callcenter.models import (
    DEFAULT_HOLD_MUSIC,
    Call,
    Callback,
    CallbackState,
    Direction,
    Outcome,
    Queue,
    QueueAgent,
    Role,
)
from tests.conftest import PASSWORD
from tests.freeswitch.controller import Running, running, switch_clean
from tests.freeswitch.observer import Observer
from tests.freeswitch.sipudp import FREESWITCH_CARRIER_SIP, UdpSip
from tests.freeswitch.support import ESL_PASSWORD
from tests.freeswitch.switch import freeswitch_binary
from tests.test_live_socket import receive

pytestmark = pytest.mark.slow
SALES_DID = "5550100"
CALLER = "15557654321"
ALICE = "1077"
CONFIRM = "tone_stream://%(300,0,660)"      # ends by itself: a short beep
HOLD_MUSIC = DEFAULT_HOLD_MUSIC


@dataclass
class Lab:
    run: Running
    phone: UdpSip
    carrier: UdpSip
    agent_id: int
    observer: Observer
    binary: str


def _seed(ids: dict[str, int]):
    def seed(s) -> None:
        create_user(s, "root", PASSWORD, Role.ADMIN, who=CLI)
        create_user(s, "sue", PASSWORD, Role.SUPERVISOR, who=CLI)
        user = create_user(s, "alice", PASSWORD, Role.AGENT, ALICE, who=CLI)
        s.flush()
        user.agent.wrapup_seconds = 0
        ids["alice"] = user.agent.id
        queue = Queue(name="sales", wrapup_seconds=0, agent_ring_seconds=30, callback_key="9",
                      callback_confirm_message=CONFIRM)
        s.add(queue)
        s.flush()
        s.add(QueueAgent(queue_id=queue.id, agent_id=user.agent.id, level=1, position=1))
    return seed


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    binary = freeswitch_binary()
    root = tmp_path_factory.mktemp("callbacks")
    ids: dict[str, int] = {}
    carrier = UdpSip("carrier")
    phone = observer = None
    try:
        with running(root, binary, carrier_port=carrier.port, seed=_seed(ids)) as run:
            observer = Observer(run.esl_port, ESL_PASSWORD, more="DTMF")
            ws = run.live.connect(run.live.login("alice"))      # her page, kept open
            assert receive(ws)["type"] == "snapshot"
            _cookie, opener, _token = run.live._log_in("alice")
            softphone = json.loads(opener.open(run.live.base + "/api/softphone",
                                               timeout=10).read())
            phone = UdpSip(ALICE, softphone["password"], answer=True)
            assert phone.register(300).status == 200
            while not (message := receive(ws, 20))["type"] == "agent" \
                    or not message["agent"]["registered"]:
                pass
            yield Lab(run, phone, carrier, ids["alice"], observer, binary)
    finally:
        if observer is not None:
            observer.write(root / "log" / "events.txt")
            observer.close()
        if phone is not None:
            phone.close()
        carrier.close()


def supervisor_page(lab: Lab):
    ws = lab.run.live.connect(lab.run.live.login("sue"))
    assert receive(ws)["type"] == "snapshot"
    return ws


def wait_message(ws, predicate, timeout: float = 30) -> dict:
    while True:
        message = receive(ws, timeout=timeout)
        if predicate(message):
            return message


def request_row(lab: Lab, state: CallbackState, timeout: float = 30) -> Callback:
    """The request's row once it reads `state` (the writer commits behind the events)."""
    deadline = time.monotonic() + timeout
    while True:
        with lab.run.database.session() as s:
            row = s.scalars(select(Callback)).first()
            if row is not None and row.state is state:
                s.expunge_all()
                return row
        assert time.monotonic() < deadline, f"no request {state}:\n{lab.run.server.tail(40)}"
        time.sleep(0.2)  # polling the database: nothing signals a committed row


def call_row(lab: Lab, call_id: str, timeout: float = 30) -> Call:
    deadline = time.monotonic() + timeout
    while True:
        with lab.run.database.session() as s:
            row = s.get(Call, call_id)
            if row is not None and row.outcome is not None and row.ended_at is not None:
                s.expunge_all()
                return row
        assert time.monotonic() < deadline, f"{call_id} never finished"
        time.sleep(0.2)  # polling the database: nothing signals a committed row


def test_a_waiting_callers_key_makes_a_callback_dialled_when_an_agent_is_free(lab):
    page = supervisor_page(lab)
    with UdpSip(CALLER) as caller:
        outgoing = caller.call(SALES_DID, FREESWITCH_CARRIER_SIP)
        outgoing.wait_for(200)
        park = lab.observer.wait_event("caller's park", lambda e: e.name == "CHANNEL_PARK"
                                       and e.get("Caller-Destination-Number") == SALES_DID)
        leg = park.uuid
        # Parked, hearing the hold music the controller broadcast.
        lab.observer.wait_event("hold music", lambda e: e.name == "PLAYBACK_START"
                                and e.uuid == leg)
        outgoing.press("9")
        dtmf = lab.observer.wait_event("the key", lambda e: e.name == "DTMF" and e.uuid == leg)
        # As the simulator sends it: the channel's headers, then digit, duration, source.
        assert list(dtmf.headers)[-3:] == ["DTMF-Digit", "DTMF-Duration", "DTMF-Source"]
        assert [dtmf.get(name) for name in ("DTMF-Digit", "DTMF-Duration", "DTMF-Source")] \
            == ["9", "1280", "RTP"], dtmf.headers
        assert dtmf.get("Channel-Name", "").startswith("sofia/external/")
        assert not any(name.startswith("variable_") for name in dtmf.headers)
        # The confirmation plays to its end, then FreeSWITCH hangs the caller up (BYE).
        lab.observer.wait_event("confirmation", lambda e: e.name == "PLAYBACK_STOP"
                                and e.uuid == leg and e.get("Playback-Status") == "done"
                                and e.get("Playback-File-Path") == CONFIRM)
        # The hold music was broken off first (uuid_break ... all), then the beep played.
        stops = [(e.get("Playback-File-Path"), e.get("Playback-Status"))
                 for e in lab.observer.of_leg(leg) if e.name == "PLAYBACK_STOP"]
        assert stops[-2:] == [(HOLD_MUSIC, "break"), (CONFIRM, "done")], stops
        assert outgoing.ended.wait(10) and outgoing.ended_by == "bye"
        lab.observer.wait_event("caller's end", lambda e: e.name == "CHANNEL_DESTROY"
                                and e.uuid == leg)
    shown = wait_message(page, lambda m: m["type"] == "callback")["callback"]
    assert (shown["number"], shown["state"], shown["queue"]) == (CALLER, "waiting", "sales")
    request = request_row(lab, CallbackState.WAITING)
    assert call_row(lab, request.call_id).outcome is Outcome.CALLBACK_REQUESTED

    # Alice becomes Available: her phone is offered the request and answers by itself; the
    # caller's number is dialled through the carrier.
    assert lab.run.live.api("alice", "PUT", "/api/agents/me/status",
                            {"status": "available"})["agent"]["status"] == "available"
    offer = lab.phone.next_invite()
    assert CALLER in offer.invite.header("from")
    customer = lab.carrier.next_invite()
    assert customer.invite.start.startswith(f"INVITE sip:{CALLER}@127.0.0.1:{lab.carrier.port}")
    customer.respond(180)
    customer.respond(200, sdp=True)
    assert customer.acked.wait(10), "FreeSWITCH never ACKed the customer's 200"
    lab.observer.wait_event("bridge", lambda e: e.name == "CHANNEL_BRIDGE"
                            and offer_leg(e, offer))
    assert customer.bye().status == 200
    assert offer.ended.wait(10)
    done = request_row(lab, CallbackState.DONE)
    assert (done.attempts, done.last_result, done.agent_id) == (1, "answered", lab.agent_id)
    row = call_row(lab, done.callback_call_id)
    assert (row.direction, row.outcome, row.agent_id, row.customer_number) == (
        Direction.OUTBOUND, Outcome.ANSWERED, lab.agent_id, CALLER)
    assert row.queue_id is not None and row.bridged_at is not None
    _cookie, opener, _token = lab.run.live._log_in("sue")
    listed = json.loads(opener.open(lab.run.live.base + "/api/callbacks", timeout=10).read())
    assert listed["waiting"] == [] and listed["recent"][0]["state"] == "done"
    switch_clean(lab.run.switch, lab.binary, lab.run.esl_port, lab.phone, lab.carrier)


def offer_leg(event, offer) -> bool:
    """The bridge event names the agent's leg (the one the offer's INVITE created) on one side;
    any bridge will do here, as the lab has no other call."""
    return bool(event.get("Other-Leg-Unique-ID"))
