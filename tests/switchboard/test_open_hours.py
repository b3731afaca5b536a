"""Open hours end to end (switchboard → ESL over TCP → simulator, on both databases): a caller
entering a closed queue is not queued — it hears the queue's message and is hung up with the
outcome closed, or is sent on to another queue or a number; an open queue queues as before;
a holiday closes it; callers already waiting when it closes are still served.

The clock stands at Monday 2026-01-12 12:00 UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from callcenter.clock import ManualClock
from callcenter.models import AgentStatus, Call, HangupBy, Outcome, TimeoutAction
from callcenter.sim.apps import DEFAULT_PLAY_S

from .test_queues import (
    CALLER,
    agents,
    available,
    call_of,
    call_row,
    caller_enters,
    make_queue,
)

__all__ = ["agents"]    # the fixture, shared with test_queues

MONDAY_NOON = datetime(2026, 1, 12, 12, 0, tzinfo=UTC)
MESSAGE = "/usr/share/freeswitch/sounds/closed.wav"
WEEKDAYS = "mon-fri 09:00-17:00"
SATURDAY = "sat 10:00-13:00"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=MONDAY_NOON.timestamp())


def outcomes(rig) -> dict[str, Outcome | None]:
    """Each call's outcome by caller number, from the CDR rows."""
    with rig.database.session() as session:
        return dict(session.execute(select(Call.customer_number, Call.outcome)).all())


def queue_of(rig, **settings) -> None:
    make_queue(rig.database, **settings)
    rig.board.reload_queues()
    rig.settle()


def test_a_closed_queue_plays_its_message_then_hangs_up_with_outcome_closed(rig, agents):
    queue_of(rig, open_hours=SATURDAY, closed_message=MESSAGE, tiers=[(agents["alice"], 1, 1)])
    available(rig, agents["alice"])
    caller = caller_enters(rig)
    call = call_of(rig, caller)
    assert f"uuid_broadcast {caller} {MESSAGE} aleg" in rig.link.commands
    assert not any(c.startswith("originate") for c in rig.link.commands)   # nobody rings
    assert rig.board.distributor.figures()["waiting"] == {"sales": 0}
    assert caller in rig.sim.channels and rig.sim.channels[caller].answered
    # Hung up when the message ends (its PLAYBACK_STOP), not at the backstop.
    rig.advance(DEFAULT_PLAY_S - 0.5)
    assert caller in rig.sim.channels
    rig.advance(1)
    assert caller not in rig.sim.channels
    row = call_row(rig, call.id)
    assert (row.outcome, row.hangup_by) == (Outcome.CLOSED, HangupBy.SYSTEM)
    assert row.queue_id is not None
    assert rig.board.distributor.counts["closed"] == 1


def test_a_closed_queue_without_a_message_hangs_up_at_once(rig):
    queue_of(rig, open_hours=SATURDAY, answer_on_entry=False)
    caller = caller_enters(rig)
    assert caller not in rig.sim.channels
    assert not any(c.startswith("uuid_broadcast") or c.startswith("uuid_answer")
                   for c in rig.link.commands)
    assert outcomes(rig) == {CALLER: Outcome.CLOSED}


def test_an_open_queue_queues_as_before(rig, agents):
    queue_of(rig, open_hours=f"{WEEKDAYS}; {SATURDAY}", closed_message=MESSAGE,
             tiers=[(agents["alice"], 1, 1)])
    caller = caller_enters(rig)
    assert rig.board.distributor.figures()["waiting"] == {"sales": 1}
    assert not any(MESSAGE in c for c in rig.link.commands)
    available(rig, agents["alice"])
    assert call_of(rig, caller).agent_id == agents["alice"]


def test_a_holiday_closes_the_queue(rig):
    queue_of(rig, open_hours=WEEKDAYS, holidays="2026-01-12 Staff day")
    caller = caller_enters(rig)
    assert caller not in rig.sim.channels
    assert outcomes(rig) == {CALLER: Outcome.CLOSED}


def test_hours_are_read_in_the_sites_timezone(rig):
    queue_of(rig, open_hours=WEEKDAYS)
    rig.board.distributor.timezone = ZoneInfo("Asia/Tokyo")    # 21:00 there
    caller = caller_enters(rig)
    assert caller not in rig.sim.channels
    assert outcomes(rig) == {CALLER: Outcome.CLOSED}
    rig.board.distributor.timezone = ZoneInfo("Europe/London")  # 12:00 there
    second = caller_enters(rig, caller="15550000002")
    assert second in rig.sim.channels
    assert rig.board.distributor.figures()["waiting"] == {"sales": 1}


def test_a_closed_queue_sends_callers_on_to_an_open_one(rig, agents):
    queue_of(rig, name="support", tiers=[(agents["bob"], 1, 1)])
    rig.sim.register("1001")
    rig.board.roster.reload()
    queue_of(rig, open_hours=SATURDAY, closed_action=TimeoutAction.QUEUE,
             closed_target="support", closed_message=MESSAGE)
    caller = caller_enters(rig)
    assert rig.board.distributor.figures()["waiting"] == {"sales": 0, "support": 1}
    assert not any(MESSAGE in c for c in rig.link.commands)
    available(rig, agents["bob"])
    call = call_of(rig, caller)
    assert call.agent_id == agents["bob"]
    rig.sim.far_end_hangs_up(caller)
    rig.settle()
    assert call_row(rig, call.id).outcome is Outcome.ANSWERED


def test_a_closed_queue_onward_to_a_closed_one_takes_that_ones_action(rig):
    queue_of(rig, name="night", open_hours=SATURDAY, closed_action=TimeoutAction.NUMBER,
             closed_target="15559990000")
    queue_of(rig, open_hours=SATURDAY, closed_action=TimeoutAction.QUEUE, closed_target="night")
    caller = caller_enters(rig)
    call = call_of(rig, caller)
    assert f"uuid_transfer {caller} 15559990000 XML default" in rig.link.commands
    assert f"uuid_setvar {caller} cc_call_id {call.id}" in rig.link.commands
    assert call.outcome is Outcome.CLOSED
    assert rig.board.distributor.figures()["waiting"] == {"sales": 0, "night": 0}


def test_callers_waiting_when_the_queue_closes_are_still_served(rig, agents):
    queue_of(rig, open_hours="mon 09:00-12:30", tiers=[(agents["alice"], 1, 1)],
             max_wait_seconds=0)
    caller = caller_enters(rig)
    rig.advance(45 * 60)                                    # 12:45: closed now
    assert caller in rig.sim.channels
    late = caller_enters(rig, caller="15550000002")
    assert late not in rig.sim.channels                     # a new caller is turned away
    rig.board.set_status(agents["alice"], AgentStatus.AVAILABLE)
    rig.settle()
    rig.advance(0)
    assert call_of(rig, caller).agent_id == agents["alice"]
