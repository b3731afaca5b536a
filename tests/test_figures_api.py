"""GET /api/figures: supervisors and admins get the day's figures (the shape the dashboard is
built to), agents 403, a bad day 400 with a clear message; on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from callcenter.models import Agent, AgentLeft, Call, CallAgent, Direction, Outcome, Queue, Role

pytestmark = pytest.mark.both_databases

QUEUE_KEYS = {"queue", "offered", "answered", "abandoned", "short_abandoned", "timed_out",
              "overflowed", "callbacks_requested", "abandon_rate", "service_level",
              "service_level_seconds", "asa_s", "aht_s"}


def add_history(database, now: datetime) -> None:
    """Queue sales with one call answered after 12 s and one abandoned after 30 s, on now's
    (UTC) day, ending by now."""
    start = max(now - timedelta(minutes=30), now.replace(hour=0, minute=0, second=1))
    with database.session() as s:
        queue = Queue(name="sales", service_level_seconds=20)
        s.add(queue)
        s.flush()
        s.add_all([
            Call(id="c1", direction=Direction.INBOUND, queue_id=queue.id, created_at=start,
                 entered_at=start, connected_at=start + timedelta(seconds=12),
                 left_at=start + timedelta(seconds=12), ended_at=start + timedelta(seconds=72),
                 talk_seconds=60, outcome=Outcome.ANSWERED),
            Call(id="c2", direction=Direction.INBOUND, queue_id=queue.id, created_at=start,
                 entered_at=start, left_at=start + timedelta(seconds=30),
                 ended_at=start + timedelta(seconds=30), outcome=Outcome.ABANDONED)])


@pytest.fixture
def history(database):
    """That history today: the API counts the real clock's day."""
    now = datetime.now(UTC).replace(microsecond=0)
    add_history(database, now)
    return now


def test_a_supervisor_gets_today_s_figures(client, auth, admin, make_user, history):
    make_user("sue", Role.SUPERVISOR)
    auth.login("sue")
    reply = client.get("/api/figures")
    assert reply.status_code == 200
    body = reply.get_json()
    assert set(body) == {"day", "timezone", "computed_at", "queues", "totals", "agents",
                         "intervals"}
    assert body["day"] == history.date().isoformat() and body["timezone"] == "UTC"
    [sales] = body["queues"]
    assert set(sales) == QUEUE_KEYS and set(body["totals"]) == QUEUE_KEYS - {
        "queue", "service_level_seconds"}
    assert (sales["offered"], sales["answered"], sales["abandoned"]) == (2, 1, 1)
    assert (sales["service_level"], sales["abandon_rate"], sales["asa_s"], sales["aht_s"]) == (
        0.5, 0.5, 12.0, 60.0)
    assert {agent["agent_id"] for agent in body["agents"]} == set()
    assert body["intervals"][0]["queue"] is None and body["intervals"][0]["start"].endswith(
        "T00:00:00+00:00")
    assert set(body["intervals"][0]) == {"start", "queue", "offered", "answered", "abandoned",
                                         "service_level", "peak_waiting"}
    yesterday = (history - timedelta(days=1)).date().isoformat()
    earlier = client.get(f"/api/figures?day={yesterday}").get_json()
    assert earlier["day"] == yesterday and earlier["queues"][0]["offered"] == 0
    assert len(earlier["intervals"]) == 96, "a day gone by: all its intervals"


@pytest.mark.parametrize("day", ["yesterday", "2026-13-01", "20260310", "2026-3-1", "0001-01-01",
                                 ""])
def test_a_bad_day_is_400_with_a_clear_message(client, auth, admin, day):
    auth.login(admin)
    reply = client.get(f"/api/figures?day={day}")
    assert reply.status_code == 400
    assert reply.get_json()["field"] == "day" and "YYYY-MM-DD" in reply.get_json()["error"] \
        or "between" in reply.get_json()["error"]


def test_agents_may_not_read_the_figures(client, auth, admin, make_user):
    make_user("alice", extension="1000")
    auth.login("alice")
    assert client.get("/api/figures").status_code == 403


def test_a_transferred_call_counts_for_each_agent_who_handled_it(client, auth, admin, make_user,
                                                                  database, history):
    """c1 (answered by alice, transferred to bob: bob is the call's agent) is split between
    them: alice 40 s of talk and 10 s of wrap-up, bob 20 s of talk and 15 s of wrap-up."""
    agent_ids = []
    for name in ("alice", "bob"):
        user_id = make_user(name)
        with database.session() as s:
            agent_ids.append(s.scalar(select(Agent.id).where(Agent.user_id == user_id)))
    alice, bob = agent_ids
    start = max(history - timedelta(minutes=1), history.replace(hour=0, minute=0, second=1))
    with database.session() as s:
        s.get(Call, "c1").agent_id = bob
        s.add_all([
            CallAgent(leg_uuid="leg-alice", call_id="c1", agent_id=alice, joined_at=start,
                      left_at=start + timedelta(seconds=40), talk_seconds=40, hold_seconds=5,
                      wrapup_seconds=10, left_how=AgentLeft.TRANSFERRED),
            CallAgent(leg_uuid="leg-bob", call_id="c1", agent_id=bob,
                      joined_at=start + timedelta(seconds=40),
                      left_at=start + timedelta(seconds=60), talk_seconds=20, hold_seconds=0,
                      wrapup_seconds=15, left_how=AgentLeft.CUSTOMER_HUNG_UP)])
    make_user("sue", Role.SUPERVISOR)
    auth.login("sue")
    rows = {row["agent_id"]: row for row in client.get("/api/figures").get_json()["agents"]}
    assert {agent_id: (row["handled"], row["talk_s"], row["hold_s"], row["wrapup_s"],
                       row["aht_s"]) for agent_id, row in rows.items()} == {
        alice: (1, 40.0, 5.0, 10.0, 50.0), bob: (1, 20.0, 0.0, 15.0, 35.0)}
