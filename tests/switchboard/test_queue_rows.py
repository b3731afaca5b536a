"""Each queue's live row on the live socket: computed by the switchboard, published when it
changes, coalesced per hub turn (switchboard -> ESL -> simulator); today's figures read back."""

from __future__ import annotations

from callcenter.live import Audience
from callcenter.models import AgentState, AgentStatus
from callcenter.switchboard.agents import AgentView
from callcenter.switchboard.queue_rows import agent_counts
from tests.switchboard import test_queues
from tests.switchboard.test_queues import available, call_of, caller_enters

agents, queued = test_queues.agents, test_queues.queued


def rows_sent(rig, name="sales"):
    return [m["queue"] for m, _ in rig.hub.topical if m["type"] == "queue"
            and m["queue"]["name"] == name]


def test_a_queue_row_follows_callers_entering_being_offered_and_answered(queued, agents):
    rig = queued
    rig.hub.topical.clear()
    first = caller_enters(rig, "15550000001")
    rig.clock.advance(3)
    caller_enters(rig, "15550000002")
    row = rows_sent(rig)[-1]
    # alice is On break; bob and carol never logged in, so they are not counted.
    assert row["waiting"] == 2 and row["agents"] == {
        "available": 0, "on_call": 0, "wrap_up": 0, "on_break": 1}
    entered = [c["entered"] for c in row["callers"]]
    assert row["oldest_entered"] == entered[0] == entered[1] - 3
    assert [c["call_id"] for c in row["callers"]] == [call_of(rig, first).id,
                                                      row["callers"][1]["call_id"]]
    assert not any(c["offered"] or c["callback"] for c in row["callers"])
    assert "15550000001" not in str(row), "a row never carries a caller's number"
    _, topics = rig.hub.topical[-1]
    assert topics == (f"queue:{row['id']}",)

    available(rig, agents["alice"])
    rows = rows_sent(rig)
    # alice answered the first caller (auto-answer): one waits, one agent on a call.
    assert rows[-1]["waiting"] == 1 and rows[-1]["agents"]["on_call"] == 1
    assert rows[-1]["oldest_entered"] == entered[1]
    assert any(r["waiting"] == 2 and r["callers"][0]["offered"] for r in rows), \
        "the row said the first caller's offer was ringing"


def test_many_changes_in_one_turn_are_one_row(queued, agents):
    rig = queued
    rig.hub.topical.clear()
    for agent_id in agents.values():          # three agent changes before the hub turns
        rig.board.set_status(agent_id, AgentStatus.AVAILABLE)
    rig.settle()
    rows = rows_sent(rig)
    assert len(rows) == 1 and rows[0]["agents"]["available"] == 3
    rig.board.queue_rows._refreshed()          # nothing changed: nothing is sent
    rig.settle()
    assert len(rows_sent(rig)) == 1


def test_an_abandoning_caller_leaves_the_row_and_is_counted(queued, agents):
    rig = queued
    caller = caller_enters(rig)
    assert rows_sent(rig)[-1]["waiting"] == 1
    rig.sim.far_end_hangs_up(caller)
    rig.settle()
    assert rows_sent(rig)[-1]["waiting"] == 0
    assert rows_sent(rig)[-1]["oldest_entered"] is None
    assert rig.board.store.flush(5)
    figures = rig.board.today()             # callcenter/figures, read back from the rows
    sales = next(q for q in figures["queues"] if q["queue"] == "sales")
    assert (sales["offered"], sales["abandoned"], sales["answered"]) == (1, 1, 0)
    assert figures["totals"]["abandoned"] == 1 and sales["service_level"] is None
    assert set(figures) == {"day", "timezone", "computed_at", "queues", "totals", "agents",
                            "intervals", "repairs"}


def test_snapshot_sections_by_audience(queued, agents):
    rig = queued
    caller_enters(rig)
    queues = rig.hub.sections["queues"]
    row = queues(Audience(frozenset({"all"})))[0]
    assert row["name"] == "sales" and row["waiting"] == 1
    assert queues(Audience(frozenset({f"queue:{row['id']}"}))) == [row]
    assert queues(Audience(frozenset({"queue:999"}))) == []
    assert queues(Audience(frozenset({"agent:1"}))) is None
    assert row["thresholds"] == {"waiting": [5, 10], "longest_wait_s": [60, 180],
                                 "service_level": [0.8, 0.6]}


def view(agent_id, status, state):
    return AgentView(id=agent_id, extension=str(1000 + agent_id), name=f"a{agent_id}",
                     status=status, state=state, wrapup_seconds=0, always_record=False)


def test_agent_counts_spread_logged_in_agents():
    a, s = AgentStatus, AgentState
    spread = [view(1, a.AVAILABLE, s.IDLE), view(2, a.AVAILABLE, s.IN_CALL),
              view(3, a.ON_BREAK, s.RINGING), view(4, a.AVAILABLE, s.WRAP_UP),
              view(5, a.ON_BREAK, s.IDLE), view(6, a.LOGGED_OUT, s.IDLE)]
    assert agent_counts(spread) == {"available": 1, "on_call": 2, "wrap_up": 1, "on_break": 1}
