"""Inbound queues end to end against a real FreeSWITCH 1.10 (skipped unless
CALLCENTER_TEST_FREESWITCH names its binary): a SIP caller dials a DID on the external profile
(port 5080, as the carrier would), the shipped dids.xml parks it with cc_queue, and
`callcenter serve` claims it, holds it and offers it to agent phones registered over UDP.
What the phones and the caller see in SIP, what a listening ESL connection sees FreeSWITCH do,
what the switchboard pushes to a supervisor's page and the CDR in the database are checked.

What the real switch does, as these tests saw it (FreeSWITCH 1.10.12; events/ESL frames by name,
CHANNEL_STATE/CALLSTATE left out; the whole list is kept in the run's log/events.txt):
- The caller parks unanswered: CHANNEL_PARK `Answer-State: ringing`, `variable_cc_queue`.
- `uuid_answer` on it: CHANNEL_PROGRESS_MEDIA (`Answer-State: early`, call state RINGING), then
  CHANNEL_ANSWER (`answered`, call state EARLY, `variable_endpoint_disposition: EARLY MEDIA`):
  the late-negotiated SDP pre-answers it first. The caller gets 200 OK and stays parked.
- `uuid_broadcast <caller> <tone> aleg` replies at once, but CHANNEL_EXECUTE(playback) and
  PLAYBACK_START come later, when the park loop takes the message; a `uuid_break` sent before
  that makes the playback start and complete at once, with no PLAYBACK_START/STOP.
- An auto-answering phone: the agent leg's CHANNEL_ANSWER (call state DOWN, no 180) comes
  before its CHANNEL_EXECUTE(park)/CHANNEL_PARK.
- `uuid_break` + `uuid_bridge <caller> <agent>`: caller PLAYBACK_STOP, EXECUTE_COMPLETE(playback),
  CHANNEL_UNPARK, EXECUTE_COMPLETE(park); the agent's UNPARK, EXECUTE_COMPLETE(park);
  EXECUTE(uuid_bridge) on both; one CHANNEL_BRIDGE, on the caller, `Other-Leg-Unique-ID` the
  agent. The caller's BYE then ends both legs (NORMAL_CLEARING; FreeSWITCH BYEs the agent).
- A caller who leaves while the agent's phone rings was answered on entry, so it sends BYE:
  caller CHANNEL_HANGUP NORMAL_CLEARING; the controller's `uuid_kill <agent> ORIGINATOR_CANCEL`
  hangs the ringing agent leg up (call state RINGING) and FreeSWITCH CANCELs the phone.
- Ring-all: on the first CHANNEL_ANSWER the controller kills the other ringing leg with
  LOSE_RACE (FreeSWITCH CANCELs that phone) before it sends `uuid_bridge`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from callcenter.accounts import create_user
from callcenter.audit import CLI
from callcenter.models import (
    Agent,
    Call,
    Offer,
    OfferOutcome,
    Outcome,
    Queue,
    QueueAgent,
    QueueStrategy,
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
SALES_DID = "5550100"          # the shipped dids.xml: sales
SUPPORT_DID = "5550101"        # added to this test's copy: support, ring-all
CALLER = "15557654321"
AGENTS = {"alice": "1077", "bob": "1078"}
AUTO_ANSWER = "<sip:127.0.0.1>;answer-after=0"


@dataclass
class Lab:
    run: Running
    phones: dict[str, UdpSip]
    agent_ids: dict[str, int]
    queue_ids: dict[str, int]
    observer: Observer
    binary: str

    @property
    def database(self):
        return self.run.database


def _seed(agent_ids: dict[str, int], queue_ids: dict[str, int]):
    def seed(s) -> None:
        create_user(s, "root", PASSWORD, Role.ADMIN, who=CLI)        # past the first-run page
        create_user(s, "sue", PASSWORD, Role.SUPERVISOR, who=CLI)
        for name, extension in AGENTS.items():
            user = create_user(s, name, PASSWORD, Role.AGENT, extension, who=CLI)
            s.flush()
            user.agent.wrapup_seconds = 0                   # free again as soon as a call ends
            agent_ids[name] = user.agent.id
        for name, strategy, members in (
                ("sales", QueueStrategy.LONGEST_IDLE_AGENT, ["alice"]),
                ("support", QueueStrategy.RING_ALL, ["alice", "bob"])):
            queue = Queue(name=name, strategy=strategy, wrapup_seconds=0, agent_ring_seconds=30)
            s.add(queue)
            s.flush()
            queue_ids[name] = queue.id
            for position, member in enumerate(members, 1):
                s.add(QueueAgent(queue_id=queue.id, agent_id=agent_ids[member], level=1,
                                 position=position))
    return seed


def _support_did(conf: Path) -> None:
    """A second inbound number, for the ring-all queue, in this test's copy of dids.xml."""
    dids = conf / "dids.xml"
    text = dids.read_text()
    assert "cc_queue=sales" in text and text.rstrip().endswith("</include>")
    extension = (
        f'<extension name="did-{SUPPORT_DID}"><condition field="destination_number" '
        f'expression="^{SUPPORT_DID}$"><action application="set" data="cc_queue=support"/>'
        '<action application="park"/></condition></extension>\n</include>\n')
    dids.write_text(text.rstrip()[:-len("</include>")] + extension)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    binary = freeswitch_binary()
    root = tmp_path_factory.mktemp("queues")
    agent_ids: dict[str, int] = {}
    queue_ids: dict[str, int] = {}
    phones: dict[str, UdpSip] = {}
    observer = None
    try:
        with running(root, binary, carrier_port=5094, seed=_seed(agent_ids, queue_ids),
                     edit_conf=_support_did) as run:
            observer = Observer(run.esl_port, ESL_PASSWORD)
            for name, extension in AGENTS.items():
                phones[name] = _agent_ready(run, name, extension)
            yield Lab(run, phones, agent_ids, queue_ids, observer, binary)
    finally:
        if observer is not None:
            observer.write(root / "log" / "events.txt")     # beside the two processes' logs
            observer.close()
        for phone in phones.values():
            phone.close()


def _agent_ready(run: Running, name: str, extension: str) -> UdpSip:
    """The agent's page open (kept open: the agent stays logged in), its phone registered with
    its login's password, and the agent Available: the switchboard says all three."""
    ws = run.live.connect(run.live.login(name))
    assert receive(ws)["type"] == "snapshot"
    _cookie, opener, _token = run.live._log_in(name)
    softphone = json.loads(opener.open(run.live.base + "/api/softphone", timeout=10).read())
    phone = UdpSip(extension, softphone["password"])
    registered = phone.register(300)
    assert registered.status == 200, registered.start
    while not (message := receive(ws, 20))["type"] == "agent" \
            or not message["agent"]["registered"]:
        pass
    shown = run.live.api(name, "PUT", "/api/agents/me/status", {"status": "available"})
    assert shown["agent"]["status"] == "available", shown
    return phone


class Page:
    """A supervisor's page (it hears every call and agent): every message it was pushed is
    kept, so a wait finds one that came before a message waited on earlier."""

    def __init__(self, lab: Lab) -> None:
        self.ws = lab.run.live.connect(lab.run.live.login("sue"))
        assert receive(self.ws)["type"] == "snapshot"
        self.history: list[dict] = []
        self.found = 0          # how many messages were kept up to the last one found

    def wait(self, kind: str, predicate, after: int = 0) -> dict:
        """The first pushed `kind` ("call" or "agent") that matches, kept (past the first
        `after`) or still to come."""
        seen = after
        while True:
            for n, message in enumerate(self.history[seen:], seen):
                if message["type"] == kind and predicate(message[kind]):
                    self.found = n + 1
                    return message[kind]
            seen = len(self.history)
            self.history.append(receive(self.ws, timeout=30))

    def call(self, predicate) -> dict:
        return self.wait("call", lambda c: c["kind"] == "queued" and predicate(c))

    def agent(self, agent_id: int, state: str, after: int = 0) -> dict:
        return self.wait("agent", lambda a: a["id"] == agent_id and a["state"] == state, after)


def finished_row(lab: Lab, call_id: str, timeout: float = 30) -> tuple[Call, list[Offer]]:
    """The CDR row once its outcome and end are written, with its offers (the writer commits
    behind the events: there is nothing to await but the row)."""
    deadline = time.monotonic() + timeout
    while True:
        with lab.database.session() as s:
            row = s.get(Call, call_id)
            if row is not None and row.outcome is not None and row.ended_at is not None:
                offers = s.scalars(select(Offer).where(Offer.call_id == call_id)
                                   .order_by(Offer.offered_at)).all()
                if all(offer.outcome is not None for offer in offers):
                    s.expunge_all()
                    return row, list(offers)
        assert time.monotonic() < deadline, f"{call_id} never finished:\n{lab.run.server.tail(40)}"
        time.sleep(0.2)  # polling the database: nothing signals a committed row


def agent_state(lab: Lab, name: str) -> str:
    with lab.database.session() as s:
        return s.scalar(select(Agent.state).where(Agent.id == lab.agent_ids[name])).value


def names(events) -> list[str]:
    return [e.name if e.name != "CHANNEL_EXECUTE" else f"EXECUTE({e.get('Application')})"
            for e in events]


def clean(lab: Lab, caller: UdpSip) -> None:
    switch_clean(lab.run.switch, lab.binary, lab.run.esl_port, caller, *lab.phones.values())


def test_a_caller_is_answered_held_offered_bridged_and_recorded(lab):
    page = Page(lab)
    alice = lab.phones["alice"]
    alice.answer = True                      # the phone honours answer-after=0
    with UdpSip(CALLER) as caller:
        outgoing = caller.call(SALES_DID, FREESWITCH_CARRIER_SIP)
        answered = outgoing.wait_for(200)    # answered on entry: the caller hears hold music
        assert "application/sdp" in answered.header("content-type")
        waiting = page.call(lambda c: c["number"] == CALLER)
        call_id = waiting["id"]
        assert waiting["direction"] == "inbound"

        offer = alice.next_invite()
        assert offer.invite.header("call-info") == AUTO_ANSWER
        assert CALLER in offer.invite.header("from")
        assert offer.acked.wait(10), "FreeSWITCH never ACKed the agent phone's 200"
        bridged = page.call(lambda c: c["id"] == call_id and c["bridged_at"])
        assert (bridged["agent_id"], bridged["progress"]) == (lab.agent_ids["alice"], "answered")

        # The real switch: parked unanswered, answered by uuid_answer, the tone played on it,
        # bridged with the event on the caller's leg.
        leg = lab.observer.wait_event("caller's park", lambda e: e.name == "CHANNEL_PARK" and
                                      e.get("Caller-Destination-Number") == SALES_DID).uuid
        bridge = lab.observer.wait_event("bridge", lambda e: e.name == "CHANNEL_BRIDGE"
                                         and e.uuid == leg)
        assert bridge.get("Other-Leg-Unique-ID") == offer_leg(lab, call_id)
        events = lab.observer.of_leg(leg)
        park = next(e for e in events if e.name == "CHANNEL_PARK")
        assert park.get("Answer-State") == "ringing" and park.get("variable_cc_queue") == "sales"
        order = names(events)
        assert order.index("CHANNEL_PARK") < order.index("CHANNEL_ANSWER") \
            < order.index("EXECUTE(playback)") < order.index("CHANNEL_BRIDGE"), order
        # uuid_answer pre-answers first (the late-negotiated SDP), then answers.
        assert order[order.index("CHANNEL_ANSWER") - 1] == "CHANNEL_PROGRESS_MEDIA", order
        answer = next(e for e in events if e.name == "CHANNEL_ANSWER")
        assert answer.get("variable_endpoint_disposition") == "EARLY MEDIA"
        # ... which the switchboard takes for no progress of a queued call: it waited, was
        # offered, then an agent answered.
        steps = [m["call"]["progress"] for m in page.history
                 if m["type"] == "call" and m["call"]["id"] == call_id]
        assert list(dict.fromkeys(steps)) == ["waiting", "offered", "answered"], steps

        assert outgoing.bye().status == 200
        assert offer.ended.wait(10) and offer.ended_by == "bye"
        ended = page.call(lambda c: c["id"] == call_id and c["progress"] == "ended")
        assert (ended["outcome"], ended["hangup_by"]) == ("answered", "customer"), ended

    row, offers = finished_row(lab, call_id)
    assert (row.outcome, row.queue_id, row.agent_id) == (
        Outcome.ANSWERED, lab.queue_ids["sales"], lab.agent_ids["alice"])
    assert row.customer_number == CALLER and row.caller_id == SALES_DID
    assert row.entered_at and row.connected_at and row.connected_at >= row.entered_at
    assert row.answered_at and row.bridged_at and row.ended_at >= row.bridged_at
    assert [(o.agent_id, o.outcome) for o in offers] == [
        (lab.agent_ids["alice"], OfferOutcome.ANSWERED)]
    clean(lab, caller)


def offer_leg(lab: Lab, call_id: str, name: str = "alice") -> str:
    """The agent leg the controller originated to offer the call to that agent."""
    with lab.database.session() as s:
        return s.scalars(select(Offer.leg_uuid).where(
            Offer.call_id == call_id, Offer.agent_id == lab.agent_ids[name])).one()


def test_a_caller_who_hangs_up_while_the_agent_rings_takes_the_offer_along(lab):
    page = Page(lab)
    alice = lab.phones["alice"]
    alice.answer = False                     # rings, never picks up
    with UdpSip(CALLER) as caller:
        outgoing = caller.call(SALES_DID, FREESWITCH_CARRIER_SIP)
        outgoing.wait_for(200)
        waiting = page.call(lambda c: c["number"] == CALLER and c["progress"] != "ended")
        call_id = waiting["id"]
        offer = alice.next_invite()
        offer.respond(180)
        page.agent(lab.agent_ids["alice"], "ringing")
        rang = page.found

        assert outgoing.bye().status == 200
        # The agent's leg goes with the caller: FreeSWITCH CANCELs the phone at once.
        assert offer.ended.wait(5), "the agent's phone kept ringing after the caller left"
        assert offer.ended_by == "cancel"
        ended = page.call(lambda c: c["id"] == call_id and c["progress"] == "ended")
        assert ended["outcome"] == "abandoned" and ended["agent_id"] is None, ended
        page.agent(lab.agent_ids["alice"], "idle", after=rang)

    row, offers = finished_row(lab, call_id)
    assert (row.outcome, row.queue_id, row.agent_id) == (
        Outcome.ABANDONED, lab.queue_ids["sales"], None)
    assert row.connected_at is None and row.left_at is not None
    assert [(o.agent_id, o.outcome) for o in offers] == [
        (lab.agent_ids["alice"], OfferOutcome.CANCELLED)]
    assert agent_state(lab, "alice") == "idle"
    clean(lab, caller)


def test_ring_all_rings_both_phones_bridges_the_first_and_cancels_the_other(lab):
    page = Page(lab)
    for phone in lab.phones.values():
        phone.answer = False
    with UdpSip(CALLER) as caller:
        outgoing = caller.call(SUPPORT_DID, FREESWITCH_CARRIER_SIP)
        outgoing.wait_for(200)
        waiting = page.call(lambda c: c["number"] == CALLER and c["progress"] != "ended")
        call_id = waiting["id"]
        offers = {name: phone.next_invite() for name, phone in lab.phones.items()}
        for name, offer in offers.items():
            # Ring-all never auto-answers: the agent chooses to pick up.
            assert offer.invite.header("call-info") == "", (name, offer.invite.headers)
            offer.respond(180)
        for agent_id in lab.agent_ids.values():
            page.agent(agent_id, "ringing")

        offers["bob"].respond(200, sdp=True)
        assert offers["bob"].acked.wait(10)
        assert offers["alice"].ended.wait(5), "alice's phone kept ringing after bob answered"
        assert offers["alice"].ended_by == "cancel"
        bridged = page.call(lambda c: c["id"] == call_id and c["bridged_at"])
        assert bridged["agent_id"] == lab.agent_ids["bob"]
        leg = lab.observer.wait_event("caller's park", lambda e: e.name == "CHANNEL_PARK" and
                                      e.get("Caller-Destination-Number") == SUPPORT_DID).uuid
        lab.observer.wait_event("bridge", lambda e: e.name == "CHANNEL_BRIDGE" and e.uuid == leg)

        assert outgoing.bye().status == 200
        assert offers["bob"].ended.wait(10) and offers["bob"].ended_by == "bye"
        page.call(lambda c: c["id"] == call_id and c["progress"] == "ended")
        lab.observer.wait_event("caller's end", lambda e: e.name == "CHANNEL_DESTROY"
                                and e.uuid == leg)
        # Exactly one bridge, reported on the caller, to bob's leg.
        bridges = [e for e in lab.observer.events if e.name == "CHANNEL_BRIDGE"
                   and leg in (e.uuid, e.get("Other-Leg-Unique-ID"))]
        assert [e.get("Other-Leg-Unique-ID") for e in bridges] == [
            offer_leg(lab, call_id, "bob")], names(bridges)

    row, offer_rows = finished_row(lab, call_id)
    assert (row.outcome, row.queue_id, row.agent_id) == (
        Outcome.ANSWERED, lab.queue_ids["support"], lab.agent_ids["bob"])
    assert {o.agent_id: o.outcome for o in offer_rows} == {
        lab.agent_ids["bob"]: OfferOutcome.ANSWERED,
        lab.agent_ids["alice"]: OfferOutcome.LOST_RACE}
    assert agent_state(lab, "alice") == "idle"
    clean(lab, caller)
