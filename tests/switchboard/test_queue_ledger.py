"""The distributor's memory of each agent: today's figures roll over at midnight UTC, and the
delays after a declined, busy or missed offer, and the missed offers in a row."""

from __future__ import annotations

from callcenter.models import AgentState, AgentStatus, OfferOutcome
from callcenter.switchboard.agents import AgentView, OfferSettings
from callcenter.switchboard.queues.ledger import Ledger

MIDNIGHT = 1_795_046_400.0   # 2026-11-18T00:00:00Z


def agent(**settings) -> AgentView:
    return AgentView(id=7, extension="1007", name="gina", status=AgentStatus.AVAILABLE,
                     state=AgentState.IDLE, wrapup_seconds=0, always_record=False,
                     offers=OfferSettings(**settings))


def test_todays_calls_and_talk_time_start_again_at_midnight_utc():
    ledger = Ledger()
    ledger.talked(7, 30.0, ledger.day_of(MIDNIGHT - 60))
    ledger.talked(7, 12.5, ledger.day_of(MIDNIGHT - 1))
    today = ledger.today(7, ledger.day_of(MIDNIGHT - 1))
    assert (today.calls, today.talk_seconds) == (2, 42.5)
    tomorrow = ledger.today(7, ledger.day_of(MIDNIGHT))
    assert (tomorrow.calls, tomorrow.talk_seconds) == (0, 0.0)


def test_each_way_of_not_taking_an_offer_has_its_own_delay():
    ledger, gina = Ledger(), agent(reject_delay=5, busy_delay=30, no_answer_delay=12)
    ledger.offer_ended(gina, OfferOutcome.DECLINED, 100.0)
    assert not ledger.ready(7, 104.9) and ledger.ready(7, 105.0)
    ledger.busy(gina, 200.0)
    assert not ledger.ready(7, 229.9) and ledger.ready(7, 230.0)
    ledger.offer_ended(gina, OfferOutcome.MISSED, 300.0)
    assert not ledger.ready(7, 311.9) and ledger.ready(7, 312.0)
    # The caller leaving or another agent answering first costs the agent nothing.
    ledger.offer_ended(gina, OfferOutcome.CANCELLED, 400.0)
    ledger.offer_ended(gina, OfferOutcome.LOST_RACE, 400.0)
    assert ledger.ready(7, 400.0)


def test_missed_offers_in_a_row_until_an_answer_or_a_fresh_start():
    ledger, gina = Ledger(), agent(max_no_answer=3, no_answer_delay=0)
    assert not ledger.offer_ended(gina, OfferOutcome.MISSED, 1.0)
    assert not ledger.offer_ended(gina, OfferOutcome.MISSED, 2.0)
    ledger.answered(7)                                   # an answer ends the run
    assert not ledger.offer_ended(gina, OfferOutcome.MISSED, 3.0)
    assert not ledger.offer_ended(gina, OfferOutcome.MISSED, 4.0)
    assert ledger.offer_ended(gina, OfferOutcome.MISSED, 5.0)   # the third in a row
    ledger.back_from_break(7)
    assert not ledger.offer_ended(gina, OfferOutcome.MISSED, 6.0)
    # max_no_answer 0: never put On break.
    assert not Ledger().offer_ended(agent(max_no_answer=0), OfferOutcome.MISSED, 1.0)
