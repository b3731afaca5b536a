"""Leg and call state from events, without sockets: every captured call flow (real FreeSWITCH
1.10.12 frames, both event formats) fed to `Legs`, in the captured order and in reverse (each
event only moves a leg forward, so the order never matters)."""

from __future__ import annotations

import pytest

from callcenter.models import Direction, LegRole
from callcenter.switchboard.legs import Call, Legs
from tests.sim.replay import capture_events, read_sent

ROLES = {"A": LegRole.AGENT, "AG": LegRole.AGENT, "B": LegRole.CUSTOMER,
         "caller": LegRole.CUSTOMER, "S": LegRole.SUPERVISOR}

# What each capture did to its legs (../shared/esl/README.md): flags and cause at the end.
EXPECTED = {
    "03-click-to-dial": {
        "A": dict(answered=True, was_bridged=True, cause="NORMAL_CLEARING"),
        "B": dict(answered=True, was_bridged=True, cause="NORMAL_CLEARING", sip_status=200)},
    "04a-busy": {
        "A": dict(answered=True, was_bridged=False),
        "B": dict(answered=False, was_bridged=False, cause="USER_BUSY", sip_status=486,
                  sip_reason="Busy Here")},
    "04b-no-answer": {
        "B": dict(answered=False, ringing=True, cause="NO_ANSWER")},
    "04c-reject-503": {
        "B": dict(answered=False, cause="NORMAL_TEMPORARY_FAILURE", sip_status=503,
                  sip_reason="Service Unavailable")},
    "04e-agent-killed-while-ringing": {
        "A": dict(cause="NORMAL_CLEARING"),
        "B": dict(answered=False, early_media=True, was_bridged=True,
                  cause="ORIGINATOR_CANCEL")},
    "04f-agent-killed-before-bridge": {
        "B": dict(answered=False, ringing=True, was_bridged=False, cause="NORMAL_CLEARING")},
    "05-inbound": {"caller": dict(was_bridged=True), "AG": dict(answered=True,
                                                                 was_bridged=True)},
    "06-eavesdrop": {"A": dict(was_bridged=True), "B": dict(was_bridged=True),
                     "S": dict(answered=True)},
}

FIELDS = ("seen", "ringing", "early_media", "answered", "was_bridged", "hung_up", "completed",
          "cause", "sip_status", "sip_reason")


def play(name: str, fmt: str, reverse: bool = False) -> dict[str, dict]:
    sent = read_sent(name, fmt)
    legs = Legs()
    call = legs.add_call(Call(id=sent.call_id or "c", direction=Direction.OUTBOUND, agent_id=1,
                              number="15551234567"))
    for role, uuid in sent.legs.items():
        legs.add_leg(call, uuid, ROLES[role])
    events = capture_events(name, fmt)
    for event in reversed(events) if reverse else events:
        legs.apply(event)
    return {role: {name: getattr(legs.legs[uuid], name) for name in FIELDS}
            for role, uuid in sent.legs.items()}


@pytest.mark.parametrize("fmt", ["plain", "json"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_captured_flow_leaves_its_legs_as_freeswitch_did(name, fmt):
    final = play(name, fmt)
    for role, state in final.items():
        assert state["seen"] and state["hung_up"] and state["completed"], (role, state)
    for role, expected in EXPECTED[name].items():
        assert {key: final[role][key] for key in expected} == expected, role


@pytest.mark.parametrize("fmt", ["plain", "json"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_order_events_arrive_in_never_changes_what_a_leg_did(name, fmt):
    forward, backward = play(name, fmt), play(name, fmt, reverse=True)
    # Ringing and early media are rungs of a ladder a later answer makes moot (an answered
    # leg ignores a late 180), so only where each leg ended up is compared.
    flags = ("seen", "answered", "was_bridged", "hung_up", "completed", "cause", "sip_status")
    for role in forward:
        assert {f: backward[role][f] for f in flags} == {f: forward[role][f] for f in flags}, role


def test_an_agent_that_never_registered_has_no_events():
    sent = read_sent("04d-agent-not-registered", "plain")
    final = play("04d-agent-not-registered", "plain")
    assert set(final) == set(sent.legs) and not final["A"]["seen"]
