"""Queue edits on the admin's Queues pages reach the running switchboard at once: after each
commit the board reloads its queues, so the next caller is distributed by the new settings."""

from __future__ import annotations

import pytest

from callcenter import queue_config
from callcenter.audit import CLI
from callcenter.models import AgentStatus
from tests.switchboard.test_queues import caller_enters, originates
from tests.test_queue_pages import every_setting


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
    admin_post("/admin/queues/sales", **every_setting(agent_ring="45", priority="7"))
    seen = rig.board.distributor.queues["sales"]
    assert (seen.agent_ring, seen.priority, seen.timeout_target) == (45, 7, "5551234")
    admin_post("/admin/queues", name="support", strategy="ring_all")
    assert rig.board.distributor.queues["support"].strategy.value == "ring_all"
