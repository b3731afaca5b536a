"""Queue edits on the admin's Queues pages reach the running switchboard at once: after each
commit the board reloads its queues, so the next caller is distributed by the new settings."""

from __future__ import annotations

import pytest

from callcenter import queue_config
from callcenter.audit import CLI
from callcenter.models import AgentState, AgentStatus
from tests.switchboard.test_admin_edits import page_form, user_id
from tests.switchboard.test_queues import call_of, caller_enters, originates
from tests.test_queue_pages import every_setting


def shown_version(database, name: str = "sales") -> str:
    """The version a queue's settings form shows now."""
    with database.session() as s:
        return str(queue_config.queue_named(s, name).version)


@pytest.fixture
def sales(rig, database, agent_id):
    """Queue `sales` with no agent yet, known to the running distributor; alice (1000)
    registered and Available."""
    with database.session() as s:
        queue_config.create_queue(s, "sales", who=CLI)
    rig.board.reload_queues()
    rig.board.set_status(agent_id, AgentStatus.AVAILABLE)
    rig.settle()
    rig.link.commands.clear()
    return rig


def test_an_agent_added_on_the_page_takes_the_next_caller(sales, admin_post):
    rig = sales
    caller_enters(rig)
    assert originates(rig) == []                 # nobody is in the queue: the caller waits
    admin_post("/admin/queues/sales/tiers", agent="alice")
    rig.settle()
    rig.advance(0)
    (originate,) = originates(rig)
    assert "user/1000@127.0.0.1" in originate and "cc_queue=sales" in originate


def test_saved_settings_are_the_distributors_at_once(sales, admin_post):
    rig = sales
    admin_post("/admin/queues/sales", **every_setting(agent_ring="45", priority="7"),
               version=shown_version(rig.database))
    seen = rig.board.distributor.queues["sales"]
    assert (seen.agent_ring, seen.priority, seen.timeout_target) == (45, 7, "5551234")
    admin_post("/admin/queues", name="support", strategy="ring_all")
    assert rig.board.distributor.queues["support"].strategy.value == "ring_all"


def test_saving_an_agent_on_a_call_changes_its_next_wrap_up_and_leaves_the_call_alone(
        sales, admin_post, database, agent_id):
    rig = sales
    form = page_form(database, "alice", wrapup_seconds="0", auto_answer=None)   # shown before
    admin_post("/admin/queues/sales/tiers", agent="alice")
    caller = caller_enters(rig)
    rig.settle()
    rig.advance(0)
    call = call_of(rig, caller)
    alice = rig.board.agent(agent_id)
    assert alice.state is AgentState.IN_CALL and alice.wrapup_seconds == 10
    sent = len(rig.link.commands)
    # The roster wrote alice's state changes meanwhile: the form shown before still saves.
    admin_post(f"/admin/users/{user_id(database, 'alice')}", **form)
    rig.settle()
    assert (alice.wrapup_seconds, alice.offers.auto_answer) == (0, False)
    assert alice.state is AgentState.IN_CALL and call.progress.value == "answered"
    assert not [c for c in rig.link.commands[sent:] if c.startswith(("uuid_kill", "uuid_break"))]
    rig.sim.far_end_hangs_up(caller)
    rig.settle()
    assert alice.state is AgentState.IDLE       # no wrap-up any more

