"""A supervisor moves a waiting caller (distributor.py move_caller, offer_now), end to end over
real ESL to the simulator: the ringing offers stop, the caller hears the target queue's music and
keeps its entry time, or the chosen agent's phone rings by the normal offer path; the CDR row
names the queue that served it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from callcenter.errors import InvalidInput
from callcenter.models import AgentStatus, OfferOutcome, Queue
from callcenter.sim import Behaviour
from callcenter.switchboard.queues.distributor import CallerError
from tests.switchboard.test_queues import (
    agents,  # noqa: F401  (a fixture)
    available,
    call_of,
    call_row,
    caller_enters,
    make_queue,
    offers,
    originates,
)
from tests.switchboard.test_supervision import login  # noqa: F401  (a fixture)


@pytest.fixture
def lines(rig, agents, database):  # noqa: F811
    """sales (alice), vip (bob, carol, with its own music); bob and carol registered."""
    make_queue(database, tiers=[(agents["alice"], 1, 1)])
    make_queue(database, name="vip", hold_music="local_stream://vip",
               tiers=[(agents["bob"], 1, 1), (agents["carol"], 1, 2)])
    for extension in ("1001", "1002"):
        rig.sim.register(extension)
    rig.board.roster.reload()
    rig.board.reload_queues()
    rig.settle()
    rig.link.commands.clear()
    return rig


def queue_id(rig, name):
    with rig.database.session() as session:
        return session.scalar(select(Queue.id).where(Queue.name == name))


def test_a_ringing_caller_moved_to_another_queue_keeps_its_entry_time(lines, agents):  # noqa: F811
    rig = lines
    rig.sim.script("1000", Behaviour.ringing())
    available(rig, agents["alice"])
    caller = caller_enters(rig)
    call = call_of(rig, caller)
    rig.advance(8)
    (offer,) = call.features["queue"].offers       # still ringing (the queue rings 15 s)
    rig.link.commands.clear()

    call_again, left = rig.board.move_caller(call.id, "vip")
    rig.settle()
    assert call_again is call and left == "sales"
    assert f"uuid_kill {offer} ORIGINATOR_CANCEL" in rig.link.commands
    assert any(c.startswith(f"uuid_broadcast {caller} ") and "local_stream://vip" in c
               for c in rig.link.commands), rig.link.commands
    assert [o.outcome for o in offers(rig)] == [OfferOutcome.CANCELLED]
    waiting = call.features["queue"]
    assert waiting.queue == "vip" and rig.board.agent(agents["alice"]).state.value == "idle"

    rig.link.commands.clear()
    available(rig, agents["bob"])
    assert call.agent_id == agents["bob"]
    assert any("user/1001" in o for o in originates(rig))
    row = call_row(rig, call.id)
    assert row.queue_id == queue_id(rig, "vip") and row.wait_seconds == 8    # from entry


def test_a_caller_offered_now_rings_the_chosen_agent_alone(lines, agents):  # noqa: F811
    rig = lines
    rig.sim.script("1001", Behaviour.ringing())
    available(rig, agents["bob"], agents["carol"])
    caller = caller_enters(rig, queue="vip")      # rings bob, the longest idle
    call = call_of(rig, caller)
    (first,) = call.features["queue"].offers
    rig.link.commands.clear()

    rig.board.offer_caller(call.id, agents["carol"])
    rig.settle()
    rig.advance(0)
    assert f"uuid_kill {first} ORIGINATOR_CANCEL" in rig.link.commands
    (originate,) = originates(rig)
    assert "user/1002@" in originate and "cc_offer=1" in originate and "cc_queue=vip" in originate
    assert call.agent_id == agents["carol"]
    assert [(o.agent_id, o.outcome) for o in offers(rig)] == [
        (agents["bob"], OfferOutcome.CANCELLED), (agents["carol"], OfferOutcome.ANSWERED)]
    assert call_row(rig, call.id).queue_id == queue_id(rig, "vip")


def test_offering_to_an_agent_not_free_is_refused_and_changes_nothing(lines, agents):  # noqa: F811
    rig = lines
    rig.sim.script("1000", Behaviour.ringing())
    available(rig, agents["alice"])
    caller = caller_enters(rig)
    call = call_of(rig, caller)
    (offer,) = call.features["queue"].offers
    rig.board.set_status(agents["bob"], AgentStatus.ON_BREAK)
    rig.link.commands.clear()

    with pytest.raises(CallerError, match="bob is not free"):
        rig.board.offer_caller(call.id, agents["bob"])
    with pytest.raises(InvalidInput, match="no queue"):
        rig.board.move_caller(call.id, "nosuch")
    with pytest.raises(CallerError, match="already in sales"):
        rig.board.move_caller(call.id, "sales")
    assert rig.link.commands == [] and list(call.features["queue"].offers) == [offer]


def test_a_caller_no_longer_waiting_cannot_be_moved(lines, agents):  # noqa: F811
    rig = lines
    available(rig, agents["alice"])
    call = call_of(rig, caller_enters(rig))
    assert call.agent_id == agents["alice"]          # answered: out of the line
    with pytest.raises(CallerError, match="no longer waiting"):
        rig.board.move_caller(call.id, "vip")
    with pytest.raises(CallerError, match="no longer waiting"):
        rig.board.offer_caller(call.id, agents["bob"])


def test_api_move_and_offer_with_audit(lines, agents, login, make_user,  # noqa: F811
                                       database):
    rig = lines
    from callcenter.models import AuditEntry, Role

    make_user("sue", Role.SUPERVISOR)
    as_sue = login("sue")
    call = call_of(rig, caller_enters(rig))
    path = f"/api/supervisor/calls/{call.id}"
    assert login("alice")("POST", f"{path}/move", {"queue": "vip"}).status_code == 403
    reply = as_sue("POST", f"{path}/move", {"queue": ""})
    assert reply.status_code == 422 and reply.get_json()["field"] == "queue"
    reply = as_sue("POST", f"{path}/move", {"queue": "vip"})
    assert reply.status_code == 200, reply.get_json()
    assert call.features["queue"].queue == "vip"

    reply = as_sue("POST", f"{path}/offer", {"agent_id": agents["bob"]})   # bob: On break
    assert reply.status_code == 409 and "not free" in reply.get_json()["error"]
    assert as_sue("POST", f"{path}/offer", {"agent_id": "bob"}).status_code == 422
    rig.sim.script("1000", Behaviour.ringing())
    available(rig, agents["alice"])       # free, but not in vip's tiers: only if chosen
    assert not call.features["queue"].offers
    reply = as_sue("POST", f"{path}/offer", {"agent_id": agents["alice"]})
    assert reply.status_code == 200, reply.get_json()
    assert list(call.features["queue"].offers.values()) == [agents["alice"]]
    with database.session() as s:
        rows = [(r.actor, r.action, r.target, r.after) for r in s.scalars(
            select(AuditEntry).where(AuditEntry.action.like("call.%")).order_by(AuditEntry.id))]
    assert rows == [("sue", "call.move", f"call {call.id}", '{"from":"sales","to":"vip"}'),
                    ("sue", "call.offer", f"call {call.id}", '{"agent":"1000"}')]
