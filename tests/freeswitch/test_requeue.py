"""Transfer to a queue against a real FreeSWITCH 1.10 (skipped unless CALLCENTER_TEST_FREESWITCH
names its binary): a SIP caller dials the sales DID, alice's phone answers the offer, alice sends
the caller back into sales (POST /api/calls/<id>/transfer-queue), bob is offered the call and
answers. What the phones and the caller see in SIP (nobody but alice gets a BYE), what a
listening ESL connection sees FreeSWITCH do (the caller parks and hears the queue's tone while it
waits again), the CDR (one call id, every leg in it, both agents in call_agents) and that no
channel is left behind are checked.

What the real switch did (FreeSWITCH 1.10.12), as this test saw it (the run's log/events.txt):
- `uuid_setvar <caller> park_after_bridge true`, `uuid_park <caller>`, then the controller's
  `uuid_kill <alice>`: alice's CHANNEL_HANGUP may come first, then the caller's CHANNEL_UNBRIDGE
  and CHANNEL_PARK; the caller is not hung up, and FreeSWITCH BYEs alice's phone.
- `uuid_broadcast <caller> <tone> aleg` on that park: PLAYBACK_START on the caller.
- bob's answer (CHANNEL_ANSWER before its CHANNEL_PARK): `uuid_break` and `uuid_bridge <caller>
  <bob>` from park, one CHANNEL_BRIDGE on the caller. Before the fix the controller never sent
  that bridge (the call's first bridge counted as done) and bob sat in silence.
- The caller's BYE: FreeSWITCH hangs bob's leg up itself (no uuid_kill), the CDR follows.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from callcenter.accounts import create_user
from callcenter.audit import CLI
from callcenter.models import (
    AgentLeft,
    Call,
    CallAgent,
    CallLeg,
    Outcome,
    Queue,
    QueueAgent,
    QueueStrategy,
    Role,
)
from tests.conftest import PASSWORD
from tests.freeswitch.controller import running, switch_clean
from tests.freeswitch.observer import Observer
from tests.freeswitch.sipudp import FREESWITCH_CARRIER_SIP, UdpSip
from tests.freeswitch.support import ESL_PASSWORD
from tests.freeswitch.switch import freeswitch_binary
from tests.freeswitch.test_queues import AGENTS, CALLER, SALES_DID, Lab, Page, _agent_ready

pytestmark = pytest.mark.slow


def _seed(agent_ids: dict[str, int], queue_ids: dict[str, int]):
    """Queue sales (longest idle) with alice and bob; alice wraps up a minute after a call, so
    the caller she sends back is not offered to her again."""
    def seed(s) -> None:
        create_user(s, "root", PASSWORD, Role.ADMIN, who=CLI)
        create_user(s, "sue", PASSWORD, Role.SUPERVISOR, who=CLI)
        for name, extension in AGENTS.items():
            user = create_user(s, name, PASSWORD, Role.AGENT, extension, who=CLI)
            s.flush()
            user.agent.wrapup_seconds = 60 if name == "alice" else 0
            agent_ids[name] = user.agent.id
        queue = Queue(name="sales", strategy=QueueStrategy.LONGEST_IDLE_AGENT,
                      agent_ring_seconds=30)
        s.add(queue)
        s.flush()
        queue_ids["sales"] = queue.id
        for position, name in enumerate(AGENTS, 1):
            s.add(QueueAgent(queue_id=queue.id, agent_id=agent_ids[name], level=1,
                             position=position))
    return seed


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    binary = freeswitch_binary()
    root = tmp_path_factory.mktemp("requeue")
    agent_ids: dict[str, int] = {}
    queue_ids: dict[str, int] = {}
    phones: dict[str, UdpSip] = {}
    observer = None
    try:
        with running(root, binary, carrier_port=5094,
                     seed=_seed(agent_ids, queue_ids)) as run:
            observer = Observer(run.esl_port, ESL_PASSWORD)
            phones["alice"] = _agent_ready(run, "alice", AGENTS["alice"])
            yield Lab(run, phones, agent_ids, queue_ids, observer, binary)
    finally:
        if observer is not None:
            observer.write(root / "log" / "events.txt")
            observer.close()
        for phone in phones.values():
            phone.close()


def handlers_of(lab: Lab, call_id: str, count: int, timeout: float = 30) -> list[CallAgent]:
    """The call's call_agents rows once `count` of them are written with how each left (the
    writer commits behind the events: there is nothing to await but the rows)."""
    deadline = time.monotonic() + timeout
    while True:
        with lab.database.session() as s:
            rows = s.scalars(select(CallAgent).where(CallAgent.call_id == call_id)
                             .order_by(CallAgent.joined_at)).all()
            if len(rows) == count and all(row.left_how is not None for row in rows):
                s.expunge_all()
                return list(rows)
        assert time.monotonic() < deadline, f"{call_id}: {len(rows)} parts written"
        time.sleep(0.2)  # polling the database: nothing signals a committed row


def test_alice_sends_the_caller_back_to_the_queue_and_bob_takes_it(lab):
    page = Page(lab)
    alice = lab.phones["alice"]
    alice.answer = True
    with UdpSip(CALLER) as caller:
        outgoing = caller.call(SALES_DID, FREESWITCH_CARRIER_SIP)
        outgoing.wait_for(200)
        call_id = page.call(lambda c: c["number"] == CALLER)["id"]
        first = alice.next_invite()
        assert first.acked.wait(10)
        page.call(lambda c: c["id"] == call_id and c["bridged_at"]
                  and c["agent_id"] == lab.agent_ids["alice"])
        caller_leg = lab.observer.wait_event("caller's park", lambda e: (
            e.name == "CHANNEL_PARK" and e.get("Caller-Destination-Number") == SALES_DID)).uuid
        lab.observer.wait_event("the first bridge", lambda e: (
            e.name == "CHANNEL_BRIDGE" and e.uuid == caller_leg))
        before = len(lab.observer.of_leg(caller_leg))

        reply = lab.run.live.api("alice", "POST", f"/api/calls/{call_id}/transfer-queue",
                                 {"queue": "sales"})
        assert (reply["call"]["queue"], reply["call"]["progress"]) == ("sales", "waiting")
        assert first.ended.wait(10) and first.ended_by == "bye", "alice's phone is hung up"
        page.call(lambda c: c["id"] == call_id and c["progress"] == "waiting"
                  and c["agent_id"] is None)

        def again(name):
            return lambda e: e.uuid == caller_leg and e.name == name \
                and lab.observer.of_leg(caller_leg).index(e) >= before
        lab.observer.wait_event("the caller parks again", again("CHANNEL_PARK"))
        lab.observer.wait_event("the queue's tone while it waits", again("PLAYBACK_START"))
        assert not outgoing.ended.is_set(), "the caller stays when its agent leaves"

        lab.phones["bob"] = bob_phone = _agent_ready(lab.run, "bob", AGENTS["bob"])
        bob_phone.answer = True
        second = bob_phone.next_invite()
        assert second.acked.wait(10)
        page.call(lambda c: c["id"] == call_id and c["agent_id"] == lab.agent_ids["bob"]
                  and c["progress"] == "answered")
        lab.observer.wait_event("the caller bridged to bob", lambda e: (
            again("CHANNEL_BRIDGE")(e) and e.get("Other-Leg-Unique-ID") != first_leg(lab,
                                                                                      call_id)))
        assert not outgoing.ended.is_set() and not second.ended.is_set()

        assert outgoing.bye().status == 200
        assert second.ended.wait(10) and second.ended_by == "bye"
        ended = page.call(lambda c: c["id"] == call_id and c["progress"] == "ended")
        assert (ended["outcome"], ended["hangup_by"], ended["agent_id"]) == (
            "answered", "customer", lab.agent_ids["bob"])

    alice_part, bob_part = handlers_of(lab, call_id, 2)
    assert (alice_part.agent_id, alice_part.left_how) == (lab.agent_ids["alice"],
                                                          AgentLeft.REQUEUED)
    assert (bob_part.agent_id, bob_part.left_how) == (lab.agent_ids["bob"],
                                                      AgentLeft.CUSTOMER_HUNG_UP)
    assert alice_part.talk_seconds > 0 and bob_part.talk_seconds > 0
    assert alice_part.left_at <= bob_part.joined_at
    with lab.database.session() as s:
        deadline = time.monotonic() + 30
        while (row := s.get(Call, call_id)).ended_at is None and time.monotonic() < deadline:
            s.expire_all()
            time.sleep(0.2)  # polling the database: nothing signals a committed row
        assert (row.outcome, row.agent_id, row.queue_id) == (
            Outcome.ANSWERED, lab.agent_ids["bob"], lab.queue_ids["sales"])
        legs = s.scalars(select(CallLeg).where(CallLeg.call_id == call_id)).all()
        assert sorted(leg.role.value for leg in legs) == ["agent", "agent", "customer"]
        assert {leg.uuid for leg in legs} >= {alice_part.leg_uuid, bob_part.leg_uuid,
                                              caller_leg}
    switch_clean(lab.run.switch, lab.binary, lab.run.esl_port, caller, *lab.phones.values())


def first_leg(lab: Lab, call_id: str) -> str:
    """alice's leg: the first agent leg FreeSWITCH created for the call."""
    return next(e.uuid for e in lab.observer.events if e.name == "CHANNEL_CREATE"
                and e.get("variable_cc_call_id") == call_id
                and e.get("variable_cc_role") == "agent")
