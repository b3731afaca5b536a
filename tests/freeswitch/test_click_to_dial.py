"""Click-to-dial end to end against a real FreeSWITCH 1.10 (skipped unless
CALLCENTER_TEST_FREESWITCH names its binary): the shipped tree with site.xml written by
`callcenter fs-config` (its carrier gateway pointed at a SIP UAS this test scripts),
`callcenter serve` as a subprocess on the event socket, the agent's phone registered over UDP
with its login's password and auto-answering, and the agent dialling through POST /api/calls.
What the agent's page hears on the live socket, what the phones see in SIP, and the CDR in the
database are checked."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from callcenter import db as dbmod
from callcenter.accounts import create_user
from callcenter.audit import CLI
from callcenter.cdr.documents import raw_cdr, raw_cdrs
from callcenter.models import Call, CallLeg, HangupBy, LegRole, Role
from tests.conftest import PASSWORD
from tests.freeswitch.controller import running, switch_clean
from tests.freeswitch.drained import Drained
from tests.freeswitch.sipudp import UdpSip
from tests.freeswitch.switch import freeswitch_binary
from tests.test_live_socket import Live, receive

pytestmark = pytest.mark.slow
EXTENSION = "1077"
NUMBER = "15551234567"
CALLER_ID = "15550001111"


@dataclass
class Lab:
    live: Live
    phone: UdpSip
    carrier: UdpSip
    switch: Drained
    server: Drained
    database: dbmod.Database
    agent_id: int
    binary: str
    esl_port: int


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    binary = freeswitch_binary()
    root = tmp_path_factory.mktemp("click-to-dial")
    agent_ids = []

    def seed(s):
        create_user(s, "root", PASSWORD, Role.ADMIN, who=CLI)      # past the first-run page
        user = create_user(s, "alice", PASSWORD, Role.AGENT, EXTENSION, who=CLI)
        s.flush()
        agent_ids.append(user.agent.id)

    carrier = UdpSip("carrier")
    phone = None
    try:
        with running(root, binary, carrier_port=carrier.port, seed=seed,
                     CALLCENTER_OUTBOUND_CALLER_ID=CALLER_ID) as run:
            live = run.live
            ws = live.connect(live.login("alice"))
            assert receive(ws)["type"] == "snapshot"
            softphone = get(live, "/api/softphone")
            phone = UdpSip(EXTENSION, softphone["password"], answer=True)
            registered = phone.register(120)
            assert registered.status == 200, registered.start
            # The switchboard learns of the registration from sofia::register.
            while not (message := receive(ws, 20))["type"] == "agent" \
                    or not message["agent"]["registered"]:
                pass
            ws.close()
            yield Lab(live, phone, carrier, run.switch, run.server, run.database, agent_ids[0],
                      binary, run.esl_port)
    finally:
        if phone is not None:
            phone.close()
        carrier.close()


def get(live: Live, path: str) -> dict:
    _cookie, opener, _token = live._log_in("alice")
    return json.loads(opener.open(live.base + path, timeout=10).read())


def page(lab: Lab):
    """A live socket as alice's agent page, past its snapshot."""
    ws = lab.live.connect(lab.live.login("alice"))
    assert receive(ws)["type"] == "snapshot"
    return ws


def wait_call(ws, call_id: str, progress: str, seen: list[str] | None = None) -> dict:
    while True:
        message = receive(ws, timeout=30)
        if message["type"] == "call" and message["call"]["id"] == call_id:
            if seen is not None:
                seen.append(message["call"]["progress"])
            if message["call"]["progress"] == progress:
                return message["call"]


def wait_bridged(ws, call_id: str, seen: list[str]) -> dict:
    while True:
        message = receive(ws, timeout=30)
        if message["type"] == "call" and message["call"]["id"] == call_id:
            seen.append(message["call"]["progress"])
            if message["call"]["bridged_at"] is not None:
                return message["call"]


def dial(lab: Lab) -> str:
    reply = lab.live.api("alice", "POST", "/api/calls", {"number": NUMBER})
    assert reply["call"]["number"] == NUMBER
    return reply["call"]["id"]


def cdr_with_switch_documents(lab: Lab, call_id: str, timeout: float = 30) -> Call:
    """The Call row once FreeSWITCH's own json_cdr document has replaced the ESL-built record of
    both legs (the posts come after the hangup events; there is nothing to await but the row)."""
    deadline = time.monotonic() + timeout
    while True:
        with lab.database.session() as s:
            row = s.get(Call, call_id)
            legs = list(row.legs) if row is not None else []
            filed = raw_cdrs(s, call_id=call_id)
            if len(legs) == 2 and all(filed.get(leg.uuid) and "cc_source" not in json.loads(
                    filed[leg.uuid]) for leg in legs):
                s.expunge_all()
                return row
        assert time.monotonic() < deadline, (
            f"json_cdr documents never landed on {call_id}: "
            f"{[(leg.role, filed.get(leg.uuid, '')[:80]) for leg in legs]}\n"
            f"{lab.server.tail(30)}")
        time.sleep(0.2)  # polling the database: nothing signals a committed row


def count_rows(lab: Lab, call_id: str) -> tuple[int, int]:
    with lab.database.session() as s:
        calls = s.scalar(select(func.count()).select_from(Call).where(Call.id == call_id))
        legs = s.scalar(select(func.count()).select_from(CallLeg)
                        .where(CallLeg.call_id == call_id))
        return calls, legs


def test_busy_customer_ends_the_call_and_the_agent_leg(lab):
    ws = page(lab)
    call_id = dial(lab)
    agent = lab.phone.next_invite()
    assert agent.acked.wait(10)
    customer = lab.carrier.next_invite()
    customer.respond(486)
    assert customer.acked.wait(10), "FreeSWITCH never ACKed the 486"
    ended = wait_call(ws, call_id, "ended")
    assert (ended["outcome"], ended["cause"]) == ("busy", "USER_BUSY"), ended
    # The agent's leg was parked, not bridged: the controller hangs it up.
    assert agent.ended.wait(10) and agent.ended_by == "bye"

    row = cdr_with_switch_documents(lab, call_id)
    assert count_rows(lab, call_id) == (1, 2)
    assert row.hangup_cause == "USER_BUSY" and row.talk_seconds == 0
    assert row.answered_at is None and row.bridged_at is None
    customer_leg = next(leg for leg in row.legs if leg.role is LegRole.CUSTOMER)
    with lab.database.session() as s:
        document = json.loads(raw_cdr(s, customer_leg.uuid))
    assert document["variables"]["sip_term_status"] == "486"
    assert_switch_clean(lab)


@pytest.mark.parametrize("ringing", [False, True], ids=["183-200", "180-183-200"])
def test_answered_call_is_bridged_and_the_customers_bye_ends_both_legs(lab, ringing):
    ws = page(lab)
    call_id = dial(lab)

    agent = lab.phone.next_invite()
    assert agent.invite.header("call-info") == "<sip:127.0.0.1>;answer-after=0"
    assert agent.acked.wait(10), "FreeSWITCH never ACKed the agent phone's 200"
    customer = lab.carrier.next_invite()
    assert customer.invite.start.startswith(f"INVITE sip:{NUMBER}@127.0.0.1:{lab.carrier.port}")
    assert CALLER_ID in customer.invite.header("from")

    seen: list[str] = []
    if ringing:       # 180 first: the controller plays ringback to the agent until media
        customer.respond(180)
        wait_call(ws, call_id, "ringing", seen)
    customer.respond(183, sdp=True)
    wait_call(ws, call_id, "early_media", seen)
    customer.respond(200, sdp=True)
    answered = wait_call(ws, call_id, "answered", seen)
    assert answered["outcome"] is None
    assert customer.acked.wait(10), "FreeSWITCH never ACKed the carrier's 200"
    if answered["bridged_at"] is None:  # the bridge may land after the answer is pushed
        answered = wait_bridged(ws, call_id, seen)
    shown = get(lab.live, f"/api/calls/{call_id}")["call"]
    assert shown["progress"] == "answered" and shown["bridged_at"] is not None, shown

    # Talk for a while on purpose: the CDR's talk seconds must count it.
    time.sleep(2.2)
    assert customer.bye().status == 200
    assert lab.phone.dialogs[agent.call_id].ended.wait(10), "the agent's phone got no BYE"
    assert agent.ended_by == "bye"
    ended = wait_call(ws, call_id, "ended", seen)
    assert (ended["outcome"], ended["cause"], ended["hangup_by"]) == (
        "answered", "NORMAL_CLEARING", "customer"), ended
    steps = list(dict.fromkeys(seen))        # first sighting of each step, in order
    assert [p for p in steps if p not in ("dialing_agent", "dialing")] == [
        *(["ringing"] if ringing else []), "early_media", "answered", "ended"], seen

    row = cdr_with_switch_documents(lab, call_id)
    assert count_rows(lab, call_id) == (1, 2)
    assert (row.agent_id, row.customer_number, row.caller_id) == (lab.agent_id, NUMBER, CALLER_ID)
    assert (row.hangup_cause, row.hangup_by) == ("NORMAL_CLEARING", HangupBy.CUSTOMER)
    assert row.answered_at and row.bridged_at and row.ended_at
    talked = (row.ended_at - row.answered_at).total_seconds()
    assert 2 <= row.talk_seconds <= talked + 1, (row.talk_seconds, talked)
    roles = {leg.role: leg for leg in row.legs}
    assert set(roles) == {LegRole.AGENT, LegRole.CUSTOMER}
    assert roles[LegRole.AGENT].channel_name.startswith("sofia/internal/")
    assert roles[LegRole.CUSTOMER].channel_name.startswith("sofia/external/")
    with lab.database.session() as s:
        filed = raw_cdrs(s, call_id=call_id)
    for leg in row.legs:
        assert leg.hangup_cause == "NORMAL_CLEARING"
        document = json.loads(filed[leg.uuid])
        assert document["variables"]["cc_call_id"] == call_id
    assert json.loads(filed[roles[LegRole.CUSTOMER].uuid])["variables"][
        "sip_hangup_disposition"] == "recv_bye"
    listed = get(lab.live, "/api/calls?mine=1")["calls"]
    assert [c["id"] for c in listed].count(call_id) == 1
    assert_switch_clean(lab)


def assert_switch_clean(lab: Lab) -> None:
    """No channel left behind and nothing the switch itself found wrong."""
    switch_clean(lab.switch, lab.binary, lab.esl_port, lab.phone, lab.carrier)


def recordings_of(lab: Lab, call_id: str, count: int, timeout: float = 30) -> list:
    """The call's recordings rows once `count` of them are stopped (RECORD_STOP written)."""
    from callcenter.models import Recording

    deadline = time.monotonic() + timeout
    while True:
        with lab.database.session() as s:
            rows = s.scalars(select(Recording).where(Recording.call_id == call_id)
                             .order_by(Recording.id)).all()
            if len(rows) == count and all(r.ended_at and r.bytes is not None for r in rows):
                s.expunge_all()
                return rows
        assert time.monotonic() < deadline, f"recordings of {call_id}: {rows}"
        time.sleep(0.2)  # polling the database: nothing signals a committed row


def test_a_recorded_call_gets_its_recordings_rows_and_plays_by_range(lab):
    import os
    import urllib.request

    ws = page(lab)
    call_id = dial(lab)
    agent = lab.phone.next_invite()
    assert agent.acked.wait(10)
    customer = lab.carrier.next_invite()
    customer.respond(200, sdp=True)
    answered = wait_call(ws, call_id, "answered")
    if answered["bridged_at"] is None:
        wait_bridged(ws, call_id, [])
    lab.live.api("alice", "POST", f"/api/calls/{call_id}/record", {"action": "start"})
    time.sleep(1.2)   # recording for a while on purpose: its length is measured
    lab.live.api("alice", "POST", f"/api/calls/{call_id}/record", {"action": "stop"})
    lab.live.api("alice", "POST", f"/api/calls/{call_id}/record", {"action": "start"})
    time.sleep(0.6)
    assert customer.bye().status == 200      # the second ends with the agent's leg
    wait_call(ws, call_id, "ended")
    first, second = recordings_of(lab, call_id, 2)
    assert first.path.endswith(f"/{call_id}.wav") and second.path.endswith(f"/{call_id}-2.wav")
    assert first.leg_uuid == second.leg_uuid
    assert 1.0 <= first.seconds <= 3 and 0.4 <= second.seconds <= 2, (first.seconds,
                                                                        second.seconds)
    assert (first.bytes, second.bytes) == (os.path.getsize(first.path),
                                           os.path.getsize(second.path))
    assert first.started_at < first.ended_at <= second.started_at < second.ended_at
    _cookie, opener, _token = lab.live._log_in("alice")
    ranged = opener.open(urllib.request.Request(  # noqa: S310 - loopback
        f"{lab.live.base}/recordings/{first.id}", headers={"Range": "bytes=0-43"}), timeout=10)
    assert ranged.status == 206 and ranged.read()[:4] == b"RIFF"
    assert_switch_clean(lab)
