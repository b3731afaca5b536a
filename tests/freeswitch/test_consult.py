"""Consult (warm transfer) against a real FreeSWITCH 1.10 (skipped unless
CALLCENTER_TEST_FREESWITCH names its binary): alice dials a customer (the scripted carrier),
consults bob through POST /api/calls/<id>/consult, then completes or cancels; bob's phone may
refuse. Both agent phones register over UDP and auto-answer. What the phones see in SIP (no leg
gets a BYE when its partner changes), what a listening ESL connection sees FreeSWITCH do (the
customer parks and hears the hold tone; the bridges), and that no channel is left behind are
checked.

What the real switch did (FreeSWITCH 1.10.12), as these tests saw it:
- `uuid_park <customer>` with park_after_bridge=true on both legs: CHANNEL_UNBRIDGE, then both
  legs CHANNEL_PARK; nobody is hung up. `uuid_broadcast` then plays the tone to the customer.
- `uuid_bridge <agent> <target>` from park: one CHANNEL_BRIDGE on the agent's leg.
- Complete: `uuid_bridge <target> <customer>` takes the target from the agent's bridge; the
  agent's leg (park_after_bridge) parks and the controller's uuid_kill BYEs its phone.
- Cancel: `uuid_kill <target>`; the agent's leg parks, is bridged back to the customer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from callcenter.accounts import create_user
from callcenter.audit import CLI
from callcenter.models import Role
from tests.conftest import PASSWORD
from tests.freeswitch.controller import Running, running, switch_clean
from tests.freeswitch.observer import Observer
from tests.freeswitch.sipudp import UdpSip
from tests.freeswitch.support import ESL_PASSWORD
from tests.freeswitch.switch import freeswitch_binary
from tests.test_live_socket import receive

pytestmark = pytest.mark.slow
AGENTS = {"alice": "1077", "bob": "1078"}
NUMBER = "15551234567"


@dataclass
class Lab:
    run: Running
    phones: dict[str, UdpSip]
    carrier: UdpSip
    agent_ids: dict[str, int]
    observer: Observer
    binary: str


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    binary = freeswitch_binary()
    root = tmp_path_factory.mktemp("consult")
    agent_ids: dict[str, int] = {}

    def seed(s):
        create_user(s, "root", PASSWORD, Role.ADMIN, who=CLI)
        for name, extension in AGENTS.items():
            user = create_user(s, name, PASSWORD, Role.AGENT, extension, who=CLI)
            s.flush()
            user.agent.wrapup_seconds = 0
            agent_ids[name] = user.agent.id

    carrier = UdpSip("carrier")
    phones: dict[str, UdpSip] = {}
    observer = None
    try:
        with running(root, binary, carrier_port=carrier.port, seed=seed,
                     CALLCENTER_OUTBOUND_CALLER_ID="15550001111") as run:
            for name, extension in AGENTS.items():
                ws = run.live.connect(run.live.login(name))
                assert receive(ws)["type"] == "snapshot"
                softphone = get(run.live, name, "/api/softphone")
                phones[name] = UdpSip(extension, softphone["password"], answer=True)
                assert phones[name].register(120).status == 200
                while not (m := receive(ws, 20))["type"] == "agent" \
                        or not m["agent"]["registered"]:
                    pass
                ws.close()
            run.live.api("bob", "PUT", "/api/agents/me/status", {"status": "available"})
            observer = Observer(run.esl_port, ESL_PASSWORD)
            yield Lab(run, phones, carrier, agent_ids, observer, binary)
            observer.write(root / "log" / "events.txt")
    finally:
        if observer is not None:
            observer.close()
        for phone in phones.values():
            phone.close()
        carrier.close()


def get(live, name: str, path: str) -> dict:
    _cookie, opener, _token = live._log_in(name)
    return json.loads(opener.open(live.base + path, timeout=10).read())


class Page:
    """alice's live socket: every call message kept."""

    def __init__(self, lab: Lab, name: str = "alice") -> None:
        self.ws = lab.run.live.connect(lab.run.live.login(name))
        assert receive(self.ws)["type"] == "snapshot"

    def call(self, call_id: str, predicate, timeout: float = 30) -> dict:
        while True:
            message = receive(self.ws, timeout)
            if message["type"] == "call" and message["call"]["id"] == call_id \
                    and predicate(message["call"]):
                return message["call"]


def talking(lab: Lab, page: Page):
    """alice's call to the customer, answered and bridged: (call id, alice's dialog, the
    customer's dialog)."""
    reply = lab.run.live.api("alice", "POST", "/api/calls", {"number": NUMBER})
    call_id = reply["call"]["id"]
    alice = lab.phones["alice"].next_invite()
    assert alice.acked.wait(10)
    customer = lab.carrier.next_invite()
    customer.respond(200, sdp=True)
    assert customer.acked.wait(10)
    page.call(call_id, lambda c: c["bridged_at"] is not None)
    return call_id, alice, customer


def consult_bob(lab: Lab, page: Page, call_id: str):
    lab.run.live.api("alice", "POST", f"/api/calls/{call_id}/consult",
                     {"agent_id": lab.agent_ids["bob"]})
    bob = lab.phones["bob"].next_invite()
    assert bob.acked.wait(10)
    page.call(call_id, lambda c: (c["consult"] or {}).get("state") == "consulting")
    return bob


def legs(lab: Lab, call_id: str) -> dict[str, str]:
    """Leg uuid by role word (customer/agent), from the switch's own events."""
    creates = [e for e in lab.observer.events if e.name == "CHANNEL_CREATE"
               and e.get("variable_cc_call_id") == call_id]
    return {e.uuid: e.get("variable_cc_role") for e in creates}


def clean(lab: Lab) -> None:
    switch_clean(lab.run.switch, lab.binary, lab.run.esl_port, lab.carrier,
                 *lab.phones.values())


def test_consult_then_complete(lab):
    page = Page(lab)
    call_id, alice, customer = talking(lab, page)
    bob = consult_bob(lab, page, call_id)
    customer_leg = lab.observer.wait_event(
        "customer's park", lambda e: e.name == "CHANNEL_PARK" and e.get("Channel-Name", "")
        .startswith("sofia/external/")).uuid
    lab.observer.wait_event("hold tone", lambda e: e.name == "PLAYBACK_START"
                            and e.uuid == customer_leg)
    assert not customer.ended.is_set() and not alice.ended.is_set(), \
        "no leg hung up when its partner changed"

    lab.run.live.api("alice", "POST", f"/api/calls/{call_id}/consult/complete", {})
    done = page.call(call_id, lambda c: c["consult"]["state"] == "completed")
    assert done["agent_id"] == lab.agent_ids["bob"]
    assert alice.ended.wait(10) and alice.ended_by == "bye", "alice's phone is hung up"
    bridge = lab.observer.wait_event("customer's bridge to bob", lambda e: (
        e.name == "CHANNEL_BRIDGE" and e.get("Other-Leg-Unique-ID") == customer_leg))
    assert legs(lab, call_id)[bridge.uuid] == "agent"
    assert not customer.ended.is_set() and not bob.ended.is_set()

    bob_page = Page(lab, "bob")            # the call is bob's now: his page hears its end
    assert customer.bye().status == 200
    assert bob.ended.wait(10) and bob.ended_by == "bye"
    ended = bob_page.call(call_id, lambda c: c["progress"] == "ended")
    assert (ended["agent_id"], ended["hangup_by"]) == (lab.agent_ids["bob"], "customer")
    clean(lab)


@pytest.mark.parametrize("how", ["cancel", "bob refuses"])
def test_consult_cancelled_or_refused_brings_the_agent_back(lab, how):
    page = Page(lab)
    call_id, alice, customer = talking(lab, page)
    if how == "cancel":
        bob = consult_bob(lab, page, call_id)
        lab.run.live.api("alice", "POST", f"/api/calls/{call_id}/consult/cancel", {})
        assert bob.ended.wait(10) and bob.ended_by == "bye"
        state = "cancelled"
    else:
        lab.phones["bob"].answer = False
        try:
            lab.run.live.api("alice", "POST", f"/api/calls/{call_id}/consult",
                             {"agent_id": lab.agent_ids["bob"]})
            bob = lab.phones["bob"].next_invite()
            bob.respond(486)
        finally:
            lab.phones["bob"].answer = True
        state = "failed"
    page.call(call_id, lambda c: (c["consult"] or {}).get("state") == state)
    roles = legs(lab, call_id)
    first_bridge = lab.observer.wait_event("the first bridge", lambda e: (
        e.name == "CHANNEL_BRIDGE" and roles.get(e.get("Other-Leg-Unique-ID")) == "customer"))
    alice_leg = first_bridge.uuid
    rebridged = lab.observer.wait_event("alice back with the customer", lambda e: (
        e.name == "CHANNEL_BRIDGE" and e.get("variable_cc_call_id") == call_id
        and legs(lab, call_id).get(e.get("Other-Leg-Unique-ID")) == "customer"
        and e.uuid == alice_leg and e is not first_bridge), timeout=20)
    assert rebridged.uuid == alice_leg
    assert not customer.ended.is_set() and not alice.ended.is_set()
    assert customer.bye().status == 200
    assert alice.ended.wait(10) and alice.ended_by == "bye"
    clean(lab)
