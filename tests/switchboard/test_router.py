"""The router, without sockets: events reach the owner of their call's kind after the common
features; an unknown leg is offered to claimers; an owner that raises is isolated."""

from __future__ import annotations

import logging

import pytest

from callcenter.esl.protocol import Event
from callcenter.models import Direction, LegRole
from callcenter.switchboard.legs import Call, CallKind, Happened, Legs
from callcenter.switchboard.router import Router


def event(name: str, uuid: str, **headers: str) -> Event:
    return Event({"Event-Name": name, "Unique-ID": uuid, **headers})


class Recorder:
    def __init__(self, keep: bool = False, fail: bool = False) -> None:
        self.seen: list[tuple[str, Happened]] = []
        self.keep, self.fail = keep, fail

    def on_leg(self, call, leg, happened, event):
        self.seen.append((leg.uuid, happened))
        if self.fail:
            raise RuntimeError("a bug in a feature")
        return self.keep


def a_call(legs: Legs) -> Call:
    call = legs.add_call(Call(id="c1", direction=Direction.OUTBOUND, agent_id=1,
                              number="15551234567", kind=CallKind.DIAL_OUT))
    legs.add_leg(call, "leg-a", LegRole.AGENT)
    return call


def route(router: Router, e: Event) -> None:
    applied = router.apply(e)
    if applied is not None:
        leg, happened = applied
        router.dispatch(router.legs.call_of(leg), leg, happened, e)


def test_common_features_see_an_event_first_and_may_keep_it():
    legs = Legs()
    router = Router(legs)
    common, after, owner = Recorder(keep=True), Recorder(), Recorder()
    router.add_common(common)
    router.add_common(after)
    router.add_owner(CallKind.DIAL_OUT, owner)
    a_call(legs)
    route(router, event("CHANNEL_ANSWER", "leg-a"))
    # Every feature sees it; the one keeping it keeps it from the owner only.
    assert common.seen == after.seen == [("leg-a", Happened.ANSWERED)] and owner.seen == []
    common.keep = False
    route(router, event("CHANNEL_HANGUP", "leg-a", **{"Hangup-Cause": "NORMAL_CLEARING"}))
    assert owner.seen == [("leg-a", Happened.HUNG_UP)]


def test_an_owner_that_raises_is_logged_counted_and_the_others_still_run(caplog):
    legs = Legs()
    router = Router(legs)
    broken, owner = Recorder(fail=True), Recorder()
    router.add_common(broken)
    router.add_owner(CallKind.DIAL_OUT, owner)
    a_call(legs)
    with caplog.at_level(logging.ERROR):
        route(router, event("CHANNEL_ANSWER", "leg-a"))
    assert owner.seen == [("leg-a", Happened.ANSWERED)] and router.failures == 1
    assert "a bug in a feature" in caplog.text


def test_an_unknown_leg_is_offered_to_claimers_and_then_routed_like_any_other():
    legs = Legs()
    router = Router(legs)
    owner = Recorder()
    router.add_owner(CallKind.DIAL_OUT, owner)
    offered: list[str] = []

    def uninterested(e):
        offered.append("uninterested")
        return None

    def claims_queued_callers(e):
        offered.append("queue")
        if e.get("variable_cc_queue") != "sales":
            return None
        call = legs.add_call(Call(id="in-1", direction=Direction.INBOUND, agent_id=None,
                                  number=e.get("Caller-Caller-ID-Number") or ""))
        legs.add_leg(call, e.uuid, LegRole.CUSTOMER)
        return call

    router.add_claimer(uninterested)
    router.add_claimer(claims_queued_callers)
    assert router.apply(event("CHANNEL_PARK", "stranger")) is None
    assert "stranger" not in legs.legs
    offered.clear()
    parked = event("CHANNEL_PARK", "caller-1", variable_cc_queue="sales",
                   **{"Caller-Caller-ID-Number": "15557654321"})
    leg, happened = router.apply(parked)
    assert offered == ["uninterested", "queue"]
    assert (leg.uuid, happened, legs.call_of(leg).id) == ("caller-1", Happened.PARKED, "in-1")
    # From now on the leg is known: no claimer is asked again.
    offered.clear()
    route(router, event("CHANNEL_HANGUP", "caller-1"))
    assert offered == [] and owner.seen == [("caller-1", Happened.HUNG_UP)]


def test_a_raising_claimer_does_not_stop_the_next(caplog):
    legs = Legs()
    router = Router(legs)

    def broken(e):
        raise KeyError("oops")

    def taker(e):
        call = legs.add_call(Call(id="in-2", direction=Direction.INBOUND, agent_id=None,
                                  number=""))
        legs.add_leg(call, e.uuid, LegRole.CUSTOMER)
        return call

    router.add_claimer(broken)
    router.add_claimer(taker)
    with caplog.at_level(logging.ERROR):
        assert router.apply(event("CHANNEL_PARK", "caller-2")) is not None
    assert router.failures == 1


class Ending:
    """A feature or owner that hears calls finish."""

    def __init__(self, fail: bool = False) -> None:
        self.ended: list[str] = []
        self.fail = fail

    def on_leg(self, call, leg, happened, event):
        return None

    def finished(self, call):
        self.ended.append(call.id)
        if self.fail:
            raise RuntimeError("a bug at the end")


def test_features_and_the_owner_hear_a_call_finish_each_isolated(caplog):
    legs = Legs()
    router = Router(legs)
    feature, owner = Ending(fail=True), Ending()
    router.add_common(feature)
    router.add_owner(CallKind.DIAL_OUT, owner)
    call = a_call(legs)
    with caplog.at_level(logging.ERROR):
        router.finished(call)
    assert feature.ended == owner.ended == ["c1"] and router.failures == 1
    assert "a bug at the end" in caplog.text
    assert router.adopt(call) is False      # an owner with no adopt hook adopts nothing


def test_one_owner_per_kind():
    router = Router(Legs())
    router.add_owner(CallKind.DIAL_OUT, Recorder())
    with pytest.raises(ValueError, match="already"):
        router.add_owner(CallKind.DIAL_OUT, Recorder())


def test_a_call_whose_owner_raises_still_finishes_with_its_cdr(rig, agent_id, monkeypatch):
    from callcenter.sim import Behaviour
    from tests.switchboard.conftest import NUMBER

    rig.sim.script(NUMBER, Behaviour.answer(0))
    call = rig.board.dial(agent_id, NUMBER)
    rig.settle()
    rig.advance(2)
    real = rig.board.dialer.on_leg

    def broken(call, leg, happened, event):
        if happened is Happened.HUNG_UP:
            raise RuntimeError("a bug in the dialer")
        return real(call, leg, happened, event)

    monkeypatch.setattr(rig.board.dialer, "on_leg", broken)
    rig.sim.far_end_hangs_up(call.customer_leg)
    rig.settle()
    assert rig.board.call(call.id) is None, "finished although its owner raised"
    assert rig.board.router.failures >= 1
    (row,), legs = rig.rows()
    assert row.ended_at is not None and all(leg.ended_at is not None for leg in legs)
