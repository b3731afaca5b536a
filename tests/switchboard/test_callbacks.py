"""Callbacks that keep the caller's place, end to end (switchboard → ESL over TCP → simulator, on
both databases): a waiting caller presses its queue's key (a DTMF event, as FreeSWITCH sends it
for an RFC 2833 key), hears the confirmation and is hung up with the outcome
callback_requested; the request waits in line at the caller's entry time, is offered to an agent
in turn, and the agent who answers dials the caller back through the gateway; an unreachable
customer is tried again after the delay, then the request has failed; an anonymous caller is
told no; requests survive a restart, can be cancelled, and a closed queue can take them.

The clock stands at Monday 2026-01-12 12:00 UTC."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from callcenter.clock import ManualClock
from callcenter.errors import Conflict, NotFound
from callcenter.models import (
    AgentStatus,
    AuditEntry,
    Call,
    CallbackState,
    Direction,
    HangupBy,
    Offer,
    OfferOutcome,
    Outcome,
    TimeoutAction,
    User,
)
from callcenter.models import Callback as CallbackRow
from callcenter.sim import Behaviour
from callcenter.sim.apps import DEFAULT_PLAY_S
from callcenter.switchboard.queues.callbacks import CHECK_S, dialable

from .conftest import connect_board
from .test_queues import CALLER, agents, available, call_of, call_row, caller_enters, make_queue

__all__ = ["agents"]    # the fixture, shared with test_queues

MONDAY_NOON = datetime(2026, 1, 12, 12, 0, tzinfo=UTC)
CONFIRM = "/usr/share/freeswitch/sounds/callback-confirmed.wav"
UNAVAILABLE = "/usr/share/freeswitch/sounds/callback-unavailable.wav"
LATER = "15550000002"
HOLD = "tone_stream://%(400,200,523,659);%(400,3000,587,698);loops=-1"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=MONDAY_NOON.timestamp())


def callback_queue(rig, agents, names=("alice",), **settings) -> None:
    settings.setdefault("callback_key", "9")
    make_queue(rig.database, tiers=[(agents[n], 1, p) for p, n in enumerate(names, 1)],
               **settings)
    for extension in ("1001", "1002"):
        rig.sim.register(extension)
    rig.board.roster.reload()
    rig.board.reload_queues()
    rig.settle()


def press(rig, leg: str, key: str = "9") -> None:
    assert rig.sim.press(leg, key)
    rig.settle()


def requests(rig) -> list[CallbackRow]:
    with rig.database.session() as session:
        rows = session.scalars(select(CallbackRow).order_by(CallbackRow.requested_at)).all()
        session.expunge_all()
        return rows


def gateway_originates(rig) -> list[str]:
    return [c for c in rig.link.commands if c.startswith("originate")
            and "sofia/gateway/carrier/" in c]


def agent_originates(rig, extension: str) -> list[str]:
    return [c for c in rig.link.commands if c.startswith("originate")
            and f"user/{extension}@" in c]


def test_pressing_the_key_hangs_up_with_a_request_at_the_callers_place(rig, agents):
    callback_queue(rig, agents, callback_confirm_message=CONFIRM)
    caller = caller_enters(rig)
    call = call_of(rig, caller)
    entered = call.features["queue"].entered
    rig.advance(30)
    start = len(rig.link.commands)
    press(rig, caller, "5")                      # not the queue's key: nothing happens
    assert rig.link.commands[start:] == [] and caller in rig.sim.channels

    press(rig, caller)
    # The hold music stops, the confirmation plays; the caller is hung up when it ends.
    assert rig.link.commands[start:start + 2] == [
        f"uuid_break {caller} all", f"uuid_broadcast {caller} {CONFIRM} aleg"]
    assert caller in rig.sim.channels
    rig.advance(DEFAULT_PLAY_S + 0.5)
    assert caller not in rig.sim.channels
    row = call_row(rig, call.id)
    assert (row.outcome, row.hangup_by) == (Outcome.CALLBACK_REQUESTED, HangupBy.SYSTEM)
    assert row.wait_seconds == 30 and row.left_at is not None
    (request,) = requests(rig)
    assert (request.call_id, request.number, request.state) == (
        call.id, CALLER, CallbackState.WAITING)
    assert request.caller_name == "Customer"
    assert request.entered_at.timestamp() == pytest.approx(entered)   # the caller's place
    assert request.requested_at.timestamp() == pytest.approx(entered + 30)
    assert request.queue_id == row.queue_id and request.attempts == 0
    # In line, in the caller's stead; supervisors hear of it.
    line = list(rig.board.distributor.lines["sales"])
    assert [c.kind.value for c in line] == ["callback"]
    assert line[0].features["queue"].entered == entered
    # The queue's live row says that place is a callback request, not a caller on the line.
    (kept,) = rig.board.queue_rows.row("sales")["callers"]
    assert (kept["call_id"], kept["entered"], kept["callback"]) == (line[0].id, entered, True)
    pushed = [(m["callback"], to) for m, to in rig.hub.messages if m["type"] == "callback"]
    assert pushed[0][0]["state"] == "waiting" and pushed[0][1] is None    # supervisors
    assert rig.board.snapshot(None)["callbacks"][0]["id"] == request.id
    assert rig.board.snapshot(agents["alice"])["callbacks"] == []


def test_without_a_confirmation_the_caller_is_hung_up_at_once(rig, agents):
    callback_queue(rig, agents)
    caller = caller_enters(rig)
    press(rig, caller)
    assert caller not in rig.sim.channels
    assert call_row(rig, requests(rig)[0].call_id).outcome is Outcome.CALLBACK_REQUESTED


def test_a_request_is_offered_in_turn_before_later_callers_and_dialled_back(rig, agents):
    callback_queue(rig, agents)
    first = caller_enters(rig)
    first_call = call_of(rig, first)
    rig.advance(10)
    later = caller_enters(rig, caller=LATER)
    rig.advance(10)
    press(rig, first)
    assert first not in rig.sim.channels

    available(rig, agents["alice"])
    # The callback (entered first) is offered before the caller who came later.
    (offer,) = agent_originates(rig, "1000")
    assert f"origination_caller_id_number={CALLER}" in offer
    assert "cc_direction=outbound" in offer
    cards = [m["offer"] for m, to in rig.hub.messages if m["type"] == "offer"]
    assert cards[0]["callback"] is True and cards[0]["queue"] == "sales"
    assert cards[0]["waited"] == pytest.approx(20, abs=0.5)   # from the caller's place
    # Her softphone answers by itself: the customer's number is dialled through the gateway,
    # with the outbound caller ID, as click-to-dial does.
    (dial,) = gateway_originates(rig)
    assert f"sofia/gateway/carrier/{CALLER}" in dial and "origination_caller_id_number=5550100" \
        in dial
    rig.advance(2)                                # the customer answers after 1.5 s
    (attempt_call,) = [c for c in rig.board.legs.calls.values() if c.kind.value == "callback"]
    assert attempt_call.bridged_at is not None and attempt_call.agent_id == agents["alice"]
    assert rig.board.agent(agents["alice"]).state.value == "in_call"
    assert call_of(rig, later).progress.value == "waiting"     # still in line behind it
    (request,) = requests(rig)
    assert (request.state, request.attempts, request.agent_id) == (
        CallbackState.DIALING, 1, agents["alice"])

    customer = attempt_call.customer_leg
    rig.sim.far_end_hangs_up(customer)
    rig.settle()
    row = call_row(rig, attempt_call.id)
    assert (row.direction, row.outcome, row.queue_id, row.agent_id) == (
        Direction.OUTBOUND, Outcome.ANSWERED, call_row(rig, first_call.id).queue_id,
        agents["alice"])
    assert row.customer_number == CALLER
    (request,) = requests(rig)
    assert (request.state, request.last_result, request.callback_call_id) == (
        CallbackState.DONE, "answered", attempt_call.id)
    assert request.done_at is not None
    with rig.database.session() as session:
        offered = session.scalars(select(Offer).where(Offer.call_id == attempt_call.id)).all()
        assert [o.outcome for o in offered] == [OfferOutcome.ANSWERED]


def test_an_unreachable_customer_is_retried_after_the_delay_then_the_request_fails(rig, agents):
    callback_queue(rig, agents, callback_retries=1, callback_retry_delay_seconds=60)
    rig.sim.script(CALLER, Behaviour.busy())
    caller = caller_enters(rig)
    press(rig, caller)
    available(rig, agents["alice"])
    assert len(gateway_originates(rig)) == 1
    (request,) = requests(rig)
    assert (request.state, request.attempts, request.last_result) == (
        CallbackState.WAITING, 1, "busy")
    assert request.next_attempt_at.timestamp() == pytest.approx(rig.clock.now() + 60, abs=1)
    first_attempt = request.callback_call_id
    assert call_row(rig, first_attempt).outcome is Outcome.BUSY

    rig.advance(15)                    # alice's wrap-up is over; the delay is not
    assert len(gateway_originates(rig)) == 1
    for _ in range(int(60 / CHECK_S) + 1):
        rig.advance(CHECK_S)
    assert len(gateway_originates(rig)) == 2       # tried again, at its place in line
    (request,) = requests(rig)
    assert (request.state, request.attempts, request.last_result) == (
        CallbackState.FAILED, 2, "busy")
    assert request.callback_call_id != first_attempt and request.done_at is not None
    assert rig.board.figures()["callbacks"]["failed"] == 1
    assert list(rig.board.distributor.lines["sales"]) == []
    rig.advance(120)
    assert len(gateway_originates(rig)) == 2       # never again


def test_a_missed_offer_is_no_attempt_the_request_waits_for_the_next_agent(rig, agents):
    callback_queue(rig, agents, names=("alice", "bob"), callback_retries=0)
    rig.sim.script("1000", Behaviour.reject("CALL_REJECTED"))
    caller = caller_enters(rig)
    press(rig, caller)
    available(rig, agents["alice"])
    assert len(agent_originates(rig, "1000")) == 1 and gateway_originates(rig) == []
    (request,) = requests(rig)
    assert (request.state, request.attempts) == (CallbackState.WAITING, 0)
    available(rig, agents["bob"])
    assert len(gateway_originates(rig)) == 1       # bob took it and dialled
    rig.advance(2)
    (request,) = requests(rig)
    assert (request.state, request.attempts, request.agent_id) == (
        CallbackState.DIALING, 1, agents["bob"])


@pytest.mark.parametrize("number", ["anonymous", ""])
def test_a_caller_who_cannot_be_called_back_is_told_and_keeps_waiting(rig, agents, number):
    callback_queue(rig, agents, callback_unavailable_message=UNAVAILABLE)
    caller = caller_enters(rig, caller=number)
    start = len(rig.link.commands)
    press(rig, caller)
    assert rig.link.commands[start:] == [
        f"uuid_break {caller} all", f"uuid_broadcast {caller} {UNAVAILABLE} aleg",
        f"uuid_broadcast {caller} {HOLD} aleg"]
    assert caller in rig.sim.channels and requests(rig) == []
    assert call_of(rig, caller).progress.value == "waiting"
    available(rig, agents["alice"])
    assert call_of(rig, caller).agent_id == agents["alice"]     # served as a caller


def test_without_an_unavailable_message_the_key_is_ignored(rig, agents):
    callback_queue(rig, agents)
    caller = caller_enters(rig, caller="anonymous")
    start = len(rig.link.commands)
    press(rig, caller)
    assert rig.link.commands[start:] == [] and requests(rig) == []
    assert rig.board.figures()["callbacks"]["unavailable"] == 1


def test_dialable_numbers_are_the_dialers():
    assert dialable("+15557654321") == "+15557654321"
    assert dialable(" 5551234 ") == "5551234"
    for number in ("anonymous", "", "12", "555 1234", "5551234;x=1", "Restricted"):
        assert dialable(number) is None


def test_a_restart_reads_waiting_requests_back_into_their_lines(rig, agents, database, clock):
    callback_queue(rig, agents)
    first = caller_enters(rig)
    entered = call_of(rig, first).features["queue"].entered
    rig.advance(5)
    later = caller_enters(rig, caller=LATER)
    press(rig, first)
    rig.board.stop()
    rig.link.stop()

    again = connect_board(rig.sim, clock, database)
    try:
        again.settle()
        line = list(again.board.distributor.lines["sales"])
        # The request at the caller's place, before the caller who came later (found again).
        assert [c.kind.value for c in line] == ["callback", "queued"]
        assert line[0].features["queue"].entered == entered
        assert line[1].customer_leg == later
        available(again, agents["alice"])
        offer = [c for c in again.link.commands if c.startswith("originate")][0]
        assert f"origination_caller_id_number={CALLER}" in offer
    finally:
        again.link.stop()
        again.board.stop()


def test_a_supervisor_cancels_a_waiting_request(rig, agents):
    callback_queue(rig, agents)
    caller = caller_enters(rig)
    press(rig, caller)
    (request,) = requests(rig)
    was, shown = rig.board.cancel_callback(request.id)
    assert (was, shown["state"]) == ("waiting", "cancelled")
    rig.settle()
    (request,) = requests(rig)
    assert request.state is CallbackState.CANCELLED and request.done_at is not None
    assert list(rig.board.distributor.lines["sales"]) == []
    available(rig, agents["alice"])
    assert agent_originates(rig, "1000") == []
    with pytest.raises(Conflict):
        rig.board.cancel_callback(request.id)
    with pytest.raises(NotFound):
        rig.board.cancel_callback("no-such-request")


def test_cancelling_a_request_while_it_rings_an_agent_stops_her_phone(rig, agents):
    callback_queue(rig, agents)
    rig.sim.script("1000", Behaviour.ringing())
    caller = caller_enters(rig)
    press(rig, caller)
    available(rig, agents["alice"])
    (offer,) = agent_originates(rig, "1000")
    assert rig.board.agent(agents["alice"]).state.value == "ringing"
    (request,) = requests(rig)
    assert rig.board.cancel_callback(request.id)[0] == "offered"
    rig.settle()
    assert rig.board.agent(agents["alice"]).state.value == "idle"
    (request,) = requests(rig)
    assert request.state is CallbackState.CANCELLED
    assert call_row(rig, request.callback_call_id).outcome is Outcome.CANCELLED
    rig.advance(30)
    assert len(agent_originates(rig, "1000")) == 1 and gateway_originates(rig) == []


def test_a_closed_queue_takes_a_callback_request_served_once_it_opens(rig, agents):
    callback_queue(rig, agents, open_hours="mon-fri 13:00-17:00",
                   closed_action=TimeoutAction.CALLBACK, callback_confirm_message=CONFIRM)
    available(rig, agents["alice"])
    caller = caller_enters(rig)
    assert f"uuid_broadcast {caller} {CONFIRM} aleg" in rig.link.commands
    rig.advance(DEFAULT_PLAY_S + 0.5)
    assert caller not in rig.sim.channels
    (request,) = requests(rig)
    assert call_row(rig, request.call_id).outcome is Outcome.CALLBACK_REQUESTED
    assert request.entered_at == request.requested_at
    assert agent_originates(rig, "1000") == []       # closed: not offered
    for _ in range(int(3600 / CHECK_S) - 2):
        rig.clock.advance(CHECK_S)
    rig.settle()
    assert agent_originates(rig, "1000") == []       # 12:59:50
    rig.advance(3 * CHECK_S)
    assert len(agent_originates(rig, "1000")) == 1   # open at 13:00: alice rings with it


def test_a_closed_queue_hangs_up_a_caller_who_cannot_be_called_back(rig, agents):
    callback_queue(rig, agents, open_hours="sat 10:00-13:00",
                   closed_action=TimeoutAction.CALLBACK)
    caller = caller_enters(rig, caller="anonymous")
    assert caller not in rig.sim.channels and requests(rig) == []
    with rig.database.session() as session:
        assert session.scalar(select(Call.outcome)) is Outcome.CLOSED


def test_agents_on_break_leave_requests_waiting(rig, agents):
    callback_queue(rig, agents)
    caller = caller_enters(rig)
    press(rig, caller)
    rig.board.set_status(agents["alice"], AgentStatus.ON_BREAK)
    rig.advance(60)
    assert agent_originates(rig, "1000") == []
    assert requests(rig)[0].state is CallbackState.WAITING


@pytest.fixture
def supervisor(rig, settings, database, admin, make_user):
    """A test client logged in as sue (a supervisor), on an app wired to the rig's switchboard;
    returns (client, CSRF token)."""
    from callcenter.app import create_app
    from callcenter.models import Role
    from tests.conftest import AuthActions

    make_user("sue", Role.SUPERVISOR)
    app = create_app(settings, database, rig.board, rig.hub)
    app.config["TESTING"] = True
    client = app.test_client()
    auth = AuthActions(client)
    auth.login("sue")
    return client, auth.csrf("/")


def cancel_audits(rig) -> list[tuple]:
    with rig.database.session() as session:
        return [(e.user_id, e.actor, e.action, e.target, json.loads(e.before),
                 json.loads(e.after))
                for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
                if e.action == "callback.cancel"]


def test_supervisors_list_and_cancel_requests_over_the_api(rig, agents, supervisor):
    client, token = supervisor
    callback_queue(rig, agents)
    first = caller_enters(rig)
    rig.advance(5)
    second = caller_enters(rig, caller=LATER)
    press(rig, second)
    press(rig, first)
    listed = client.get("/api/callbacks").get_json()
    assert [c["number"] for c in listed["waiting"]] == [CALLER, LATER]    # in line order
    assert listed["waiting"][0]["waited"] >= 5 and listed["recent"] == []
    target = listed["waiting"][1]["id"]

    assert client.post(f"/api/callbacks/{target}/cancel").status_code == 400   # no CSRF token
    assert cancel_audits(rig) == []
    reply = client.post(f"/api/callbacks/{target}/cancel", headers={"X-CSRF-Token": token})
    assert reply.status_code == 200 and reply.get_json()["callback"]["state"] == "cancelled"
    with rig.database.session() as session:
        sue = session.scalar(select(User.id).where(User.username == "sue"))
    assert cancel_audits(rig) == [(sue, "sue", "callback.cancel",
                                   f"callback {target} (sales, {LATER})",
                                   {"state": "waiting"}, {"state": "cancelled"})]
    rig.settle()
    listed = client.get("/api/callbacks").get_json()
    assert [c["number"] for c in listed["waiting"]] == [CALLER]
    assert [(c["id"], c["state"]) for c in listed["recent"]] == [(target, "cancelled")]
    again = client.post(f"/api/callbacks/{target}/cancel", headers={"X-CSRF-Token": token})
    assert again.status_code == 409 and "cancelled" in again.get_json()["error"]
    missing = client.post("/api/callbacks/nope/cancel", headers={"X-CSRF-Token": token})
    assert missing.status_code == 404

    # A finished request memory no longer holds is still listed, from its row.
    rig.board.callbacks.recent.clear()
    listed = client.get("/api/callbacks").get_json()
    assert [(c["id"], c["state"]) for c in listed["recent"]] == [(target, "cancelled")]
    assert client.post(f"/api/callbacks/{target}/cancel",
                       headers={"X-CSRF-Token": token}).status_code == 409
    assert len(cancel_audits(rig)) == 1, "a refused cancel writes no audit row"


def test_the_simulators_key_is_a_dtmf_event_as_freeswitch_sends_it(rig, agents):
    """As tests/freeswitch/test_callbacks.py saw the real switch send it: the channel's headers
    (no variables), then digit, duration in samples, source."""
    callback_queue(rig, agents)
    seen = []
    rig.link.on("DTMF", seen.append)
    caller = caller_enters(rig)
    press(rig, caller, "#")
    (event,) = seen
    assert event.uuid == caller and event.get("Channel-Name", "").startswith("sofia/external/")
    assert list(event.headers)[-3:] == ["DTMF-Digit", "DTMF-Duration", "DTMF-Source"]
    assert [event.get(n) for n in ("DTMF-Digit", "DTMF-Source")] == ["#", "RTP"]
    assert int(event.get("DTMF-Duration")) > 0
    assert not any(name.startswith("variable_") for name in event.headers)
    assert not rig.sim.press(caller, "x") and not rig.sim.press("no-such-leg", "1")


def test_a_sim_caller_presses_its_key_after_its_delay(rig, agents):
    callback_queue(rig, agents)
    caller = rig.sim.inject_inbound("5550100", CALLER, "sales",
                                    behaviour=Behaviour().then_press("9", 12))
    rig.settle()
    rig.advance(11)
    assert caller in rig.sim.channels and requests(rig) == []
    rig.advance(1)
    assert caller not in rig.sim.channels
    (request,) = requests(rig)
    assert request.state is CallbackState.WAITING
    with pytest.raises(ValueError):
        Behaviour().then_press("99", 1)


def test_a_callback_talking_through_a_restart_is_done_not_dialled_again(rig, agents, database,
                                                                        clock):
    callback_queue(rig, agents)
    caller = caller_enters(rig)
    press(rig, caller)
    available(rig, agents["alice"])
    rig.advance(2)                                 # the customer answered: they talk
    (request,) = requests(rig)
    assert request.state is CallbackState.DIALING
    rig.board.stop()
    rig.link.stop()

    again = connect_board(rig.sim, clock, database)
    try:
        again.settle()
        (request,) = requests(again)
        assert (request.state, request.last_result) == (CallbackState.DONE, "answered")
        assert list(again.board.distributor.lines["sales"]) == []
        again.advance(600)
        assert [c for c in again.link.commands if "sofia/gateway/" in c] == []
    finally:
        again.link.stop()
        again.board.stop()
