"""The dispositions an agent may file: the admins' global list and the call's queue's, held in
the running switchboard (no database read per call) and read again when the admin page changes
them; a code not in the list and missing required notes are refused, naming the field; with
no list, free text as before."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from callcenter.errors import InvalidInput
from callcenter.models import Disposition
from callcenter.switchboard.disposition import Choice, Dispositions
from callcenter.switchboard.legs import Legs
from tests.switchboard.test_api_controls import end, login, talking  # noqa: F401 - fixture
from tests.switchboard.test_queues import (
    available,
    call_of,
    call_row,
    caller_enters,
    make_queue,
)

SALE = Choice("sale", "Sale", False, None)
REFUND = Choice("refund", "Refund", True, None)
UPGRADE = Choice("upgrade", "Upgrade", False, 7)      # queue 7's own
OTHER_QUEUE = Choice("churn", "Churn", True, 8)


class Written:
    """Stands in for the switchboard's writer: what would go to the call row."""

    def __init__(self) -> None:
        self.values: list[tuple[str, dict]] = []

    def call_values(self, call_id: str, **values) -> None:
        self.values.append((call_id, values))


def dispositions(choices: list[Choice]) -> tuple[Dispositions, Written]:
    written = Written()
    held = Dispositions(legs=Legs(), roster=None, persist=written, load=lambda: list(choices))
    held.reload()
    return held, written


def test_a_calls_list_is_the_global_one_then_its_queues():
    held, _ = dispositions([SALE, UPGRADE, REFUND, OTHER_QUEUE])
    assert held.choices(7) == (SALE, REFUND, UPGRADE)
    assert held.choices(None) == (SALE, REFUND)          # a dial-out: the global list only
    assert held.choices(8) == (SALE, REFUND, OTHER_QUEUE)
    assert held.choices(99) == (SALE, REFUND)


def test_a_code_outside_the_calls_list_is_refused_naming_the_field():
    held, written = dispositions([SALE, UPGRADE])
    with pytest.raises(InvalidInput) as refused:
        held.dispose("c1", None, "upgrade", None)          # queue 7's, but no queue here
    assert refused.value.field == "disposition" and "'sale'" in refused.value.reason
    with pytest.raises(InvalidInput):
        held.dispose("c1", None, "Sale", None)             # the label is not the code
    assert written.values == []
    assert held.dispose("c1", None, "upgrade", None, queue_id=7) == ("upgrade", None)
    assert written.values == [("c1", {"disposition": "upgrade", "notes": None})]


def test_required_notes_are_required():
    held, written = dispositions([REFUND])
    for notes in (None, "", "   "):
        with pytest.raises(InvalidInput) as refused:
            held.dispose("c1", None, "refund", notes)
        assert refused.value.field == "notes" and "Refund" in refused.value.reason
    assert written.values == []
    assert held.dispose("c1", None, "refund", " card charged twice ") == (
        "refund", "card charged twice")


def test_with_no_list_any_outcome_text_is_filed():
    held, written = dispositions([])
    assert held.dispose("c1", None, "promised to think", None) == ("promised to think", None)
    # Only queue lists, and a call of another queue: nothing applies, free text too.
    held, _ = dispositions([OTHER_QUEUE])
    assert held.dispose("c2", None, "anything", None, queue_id=7) == ("anything", None)


def test_the_list_is_read_once_and_again_on_reload():
    reads = []
    lists = [[SALE], [SALE, REFUND]]

    def load():
        reads.append(1)
        return lists[len(reads) - 1]

    held = Dispositions(legs=Legs(), roster=None, persist=Written(), load=load)
    held.reload()
    for _ in range(3):
        held.dispose("c", None, "sale", None)
    assert len(reads) == 1 and held.choices(None) == (SALE,)
    held.reload()
    assert held.choices(None) == (SALE, REFUND)


# -- in the running switchboard, through the admin page and the API --------------------------

def test_admin_changes_reach_the_running_switchboard_at_once(rig, admin_post, login,  # noqa: F811
                                                             database):
    alice = login("alice")
    call = talking(rig, alice)
    end(rig, call)
    path = f"/api/calls/{call.id}/disposition"
    assert alice("GET", f"/api/calls/{call.id}/dispositions").json == {"dispositions": []}
    admin_post("/admin/dispositions", code="refund", label="Refund", queue="",
               requires_notes="1")
    assert alice("GET", f"/api/calls/{call.id}/dispositions").json == {"dispositions": [
        {"code": "refund", "label": "Refund", "requires_notes": True}]}
    refused = alice("POST", path, {"disposition": "sale"})
    assert refused.status_code == 422 and refused.json["field"] == "disposition"
    refused = alice("POST", path, {"disposition": "refund"})
    assert refused.status_code == 422 and refused.json["field"] == "notes"
    assert alice("POST", path, {"disposition": "refund", "notes": "charged twice"}
                 ).status_code == 200
    # Deactivated: gone from the list, so free text again.
    with database.session() as s:
        row = s.scalars(select(Disposition)).one()
        row_id, version = row.id, row.version
    admin_post(f"/admin/dispositions/{row_id}/active", active="0", version=str(version))
    assert alice("GET", f"/api/calls/{call.id}/dispositions").json == {"dispositions": []}
    assert alice("POST", path, {"disposition": "sale"}).status_code == 200


def test_a_queued_call_offers_its_queues_list(rig, admin_post, login, make_user,  # noqa: F811
                                              database, agent_id):
    make_queue(database, name="sales", tiers=[(agent_id, 1, 1)])
    make_queue(database, name="support")
    rig.board.reload_queues()
    admin_post("/admin/dispositions", code="sale", label="Sale", queue="")
    admin_post("/admin/dispositions", code="upgrade", label="Upgrade", queue="sales")
    admin_post("/admin/dispositions", code="fixed", label="Fixed", queue="support")
    alice = login("alice")
    available(rig, agent_id)
    caller = caller_enters(rig)
    call = call_of(rig, caller)
    assert call.agent_id == agent_id and call.progress.value == "answered"
    codes = [c["code"] for c in alice("GET", f"/api/calls/{call.id}/dispositions").json[
        "dispositions"]]
    assert codes == ["sale", "upgrade"]
    rig.sim.far_end_hangs_up(caller)
    rig.settle()
    assert rig.board.call(call.id) is None        # forgotten: its record names the queue
    codes = [c["code"] for c in alice("GET", f"/api/calls/{call.id}/dispositions").json[
        "dispositions"]]
    assert codes == ["sale", "upgrade"]
    assert alice("POST", f"/api/calls/{call.id}/disposition",
                 {"disposition": "fixed"}).status_code == 422
    assert alice("POST", f"/api/calls/{call.id}/disposition",
                 {"disposition": "upgrade"}).status_code == 200
    rig.settle()
    assert call_row(rig, call.id).disposition == "upgrade"


def test_an_agent_may_not_read_the_list_of_someone_elses_call(rig, login, make_user):  # noqa: F811
    alice = login("alice")
    call = talking(rig, alice)
    end(rig, call)
    make_user("bob", extension="1001")
    bob = login("bob")
    assert bob("GET", f"/api/calls/{call.id}/dispositions").status_code == 403
    assert bob("GET", "/api/calls/nope/dispositions").status_code == 404
