"""The in-call controls, dispositions and the call list through the JSON API, against a real
switchboard and simulator: status codes, error bodies, what reached FreeSWITCH (nothing, when
the request was refused) and what landed in the CDR."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from callcenter.app import create_app
from callcenter.models import Agent, AgentState, AgentStatus, Role
from callcenter.models import Call as CallRow
from callcenter.sim import Behaviour
from callcenter.switchboard.recording import recording_now
from tests.conftest import AuthActions
from tests.switchboard.conftest import NUMBER
from tests.switchboard.test_queues import make_queue


@pytest.fixture
def login(rig, settings, database, admin):
    """login(username) -> request(method, path, json=None): a logged-in client with CSRF."""
    app = create_app(settings, database, rig.board, rig.hub)
    app.config["TESTING"] = True

    def as_user(username):
        client = app.test_client()
        auth = AuthActions(client)
        auth.login(username)
        token = auth.csrf("/")     # every role's home page carries it

        def request(method, path, json=None, data=None):
            return client.open(path, method=method, json=json, data=data,
                               headers={"X-CSRF-Token": token})
        return request

    return as_user


@pytest.fixture
def alice(login):
    return login("alice")


@pytest.fixture
def bob(rig, make_user, database):
    user_id = make_user("bob", extension="1001")
    with database.session() as session:
        bob_id = session.scalar(select(Agent.id).where(Agent.user_id == user_id))
    rig.board.agent(bob_id)
    rig.sim.register("1001")
    rig.board.set_status(bob_id, AgentStatus.AVAILABLE)
    rig.settle()
    return bob_id


@pytest.fixture
def supervisor(login, make_user):
    make_user("sue", Role.SUPERVISOR)
    return login("sue")


def talking(rig, api):
    rig.sim.script(NUMBER, Behaviour.answer(0))
    reply = api("POST", "/api/calls", {"number": NUMBER})
    assert reply.status_code == 201, reply.json
    rig.settle()
    call = rig.board.call(reply.json["call"]["id"])
    assert call.progress.value == "answered"
    rig.link.commands.clear()
    return call


def end(rig, call):
    rig.sim.far_end_hangs_up(call.customer_leg)
    rig.settle()
    assert rig.board.call(call.id) is None


def test_hold_unhold_dtmf_and_record_through_the_api(rig, alice, agent_id, tmp_path):
    rig.board.recording.recordings_dir = tmp_path
    call = talking(rig, alice)
    agent, customer = call.agent_leg, call.customer_leg
    reply = alice("POST", f"/api/calls/{call.id}/hold")
    assert reply.status_code == 200 and reply.json["call"]["id"] == call.id
    rig.settle()
    assert alice("GET", f"/api/calls/{call.id}").json["call"]["held"] is True
    assert alice("POST", f"/api/calls/{call.id}/hold").status_code == 409
    rig.advance(2)
    assert alice("POST", f"/api/calls/{call.id}/unhold").status_code == 200
    rig.settle()
    assert alice("GET", f"/api/calls/{call.id}").json["call"]["held"] is False
    assert alice("POST", f"/api/calls/{call.id}/dtmf", {"digits": "42#"}).status_code == 200
    started = alice("POST", f"/api/calls/{call.id}/record", {"action": "start"})
    assert started.status_code == 200
    path = started.json["call"]["recording"]
    assert path.startswith(f"{tmp_path}/") and path.endswith(f"/{call.id}.wav")
    rig.advance(1)
    stopped = alice("POST", f"/api/calls/{call.id}/record", {"action": "stop"})
    assert stopped.status_code == 200 and stopped.json["call"]["recording"] is None
    assert rig.commands() == [f"uuid_hold {agent}", f"uuid_hold off {agent}",
                              f"uuid_send_dtmf {customer} 42#",
                              f"uuid_record {agent} start {path}",
                              f"uuid_record {agent} stop {path}"]
    end(rig, call)
    ended = alice("GET", f"/api/calls/{call.id}").json["call"]
    assert (ended["hold_seconds"], ended["recording"]) == (2, path)


@pytest.mark.parametrize("path,body", [
    ("hold", None), ("unhold", None), ("dtmf", {"digits": "1"}), ("record", {"action": "start"}),
    ("transfer", {"number": "15559876543"}), ("hangup", None),
    ("consult", {"number": "15559876543"}), ("consult/cancel", None),
])
def test_controls_on_an_ended_call_are_409_and_unknown_calls_404(rig, alice, path, body):
    call = talking(rig, alice)
    end(rig, call)
    sent = len(rig.commands())
    reply = alice("POST", f"/api/calls/{call.id}/{path}", body)
    assert reply.status_code == 409 and reply.json == {"error": "this call has already ended"}
    missing = alice("POST", f"/api/calls/no-such-call/{path}", body)
    assert missing.status_code == 404 and missing.json == {"error": "no such call"}
    assert len(rig.commands()) == sent


@pytest.mark.parametrize("path,body", [
    ("hold", None), ("unhold", None), ("dtmf", {"digits": "1"}), ("record", {"action": "start"}),
    ("transfer", {"number": "15559876543"}), ("disposition", {"disposition": "sale"}),
])
def test_someone_elses_call_is_403(rig, alice, login, bob, path, body):
    call = talking(rig, alice)
    reply = login("bob")("POST", f"/api/calls/{call.id}/{path}", body)
    assert reply.status_code == 403 and reply.json["error"] == "this is not your call"
    assert rig.commands() == [] and not call.held and call.transfer is None
    end(rig, call)  # ended, it is still not bob's
    assert login("bob")("POST", f"/api/calls/{call.id}/{path}", body).status_code == 403


def test_a_supervisor_may_use_an_agents_controls(rig, alice, supervisor):
    call = talking(rig, alice)
    assert supervisor("POST", f"/api/calls/{call.id}/hold").status_code == 200
    assert rig.commands() == [f"uuid_hold {call.agent_leg}"]


@pytest.mark.parametrize("path,body,field", [
    ("dtmf", {"digits": "12ab"}, "digits"),
    ("dtmf", {"digits": "1;uuid_kill"}, "digits"),
    ("dtmf", {"digits": 12}, "digits"),
    ("dtmf", {}, "digits"),
    ("dtmf", [1], "body"),
    ("record", {"action": "pause"}, "action"),
    ("record", {}, "action"),
    ("transfer", {}, "number"),
    ("transfer", {"number": "15559876543", "agent_id": 2}, "number"),
    ("transfer", {"number": "15559876543&park()"}, "number"),
    ("transfer", {"number": "{var=x}15559876543"}, "number"),
    ("transfer", {"number": 15559876543}, "number"),
    ("transfer", {"agent_id": "2"}, "agent_id"),
    ("transfer", {"agent_id": True}, "agent_id"),
    ("transfer", {"agent_id": 999}, "agent_id"),
    ("consult", {}, "number"),
    ("consult", {"number": "15559876543&park()"}, "number"),
    ("consult", {"extension": 1001}, "extension"),
    ("consult", {"extension": "4242"}, "extension"),
    ("consult", {"agent_id": 999}, "agent_id"),
    ("consult/transfer", None, "step"),
])
def test_bad_input_is_422_naming_the_field_and_sends_nothing(rig, alice, path, body, field):
    call = talking(rig, alice)
    reply = alice("POST", f"/api/calls/{call.id}/{path}", body)
    assert reply.status_code == 422, reply.json
    assert reply.json["field"] == field and field in reply.json["error"]
    assert rig.commands() == [] and call.transfer is None and recording_now(call) is None


def test_switch_unreachable_is_503(rig, alice):
    call = talking(rig, alice)
    rig.sim.stop()
    rig.link._link.stop()
    reply = alice("POST", f"/api/calls/{call.id}/hold")
    assert reply.status_code == 503 and "unreachable" in reply.json["error"]
    assert not call.held


def test_transfer_through_the_api_then_both_agents_file_dispositions(rig, alice, login, bob,
                                                                     agent_id):
    call = talking(rig, alice)
    reply = alice("POST", f"/api/calls/{call.id}/transfer", {"agent_id": bob})
    assert reply.status_code == 202 and reply.json["call"]["transfer"]["state"] == "dialing"
    rig.settle()
    assert (call.agent_id, call.transfer.state) == (bob, "done")
    # Alice's part is over: she wraps up and files hers while the call goes on with bob.
    assert alice("POST", f"/api/calls/{call.id}/hold").status_code == 403
    filed = alice("POST", f"/api/calls/{call.id}/disposition", {"disposition": "transferred"})
    assert filed.status_code == 200 and filed.json["call"]["disposition"] == "transferred"
    assert rig.board.agent(agent_id).state is AgentState.IDLE
    bobs = login("bob")
    early = bobs("POST", f"/api/calls/{call.id}/disposition", {"disposition": "sale"})
    assert early.status_code == 409 and "still in progress" in early.json["error"]
    end(rig, call)
    assert bobs("POST", f"/api/calls/{call.id}/disposition",
                {"disposition": "sale", "notes": "two seats"}).status_code == 200
    rig.settle()
    assert rig.board.agent(bob).state is AgentState.IDLE
    row = bobs("GET", f"/api/calls/{call.id}").json["call"]
    assert (row["agent_id"], row["disposition"], row["notes"]) == (bob, "sale", "two seats")


def test_a_transfer_to_a_deactivated_agent_is_refused(rig, alice, login, bob, agent_id,
                                                      settings, database):
    bobs = login("bob")                                       # bob's page: a login, a phone
    assert bobs("GET", "/api/softphone").status_code == 200
    assert bobs("PUT", "/api/agents/me/status", {"status": "available"}).status_code == 200
    call = talking(rig, alice)
    with database.session() as session:
        bob_user = session.scalar(select(Agent.user_id).where(Agent.id == bob))
    root = login("root")
    done = root("POST", f"/admin/users/{bob_user}/active", data={"active": "0"})
    assert done.status_code == 302
    rig.settle()
    assert rig.commands() == ["sofia profile internal flush_inbound_reg 1001@127.0.0.1"]
    assert rig.board.agent(bob).status is AgentStatus.LOGGED_OUT
    assert bobs("GET", "/api/softphone").status_code == 401
    refused = alice("POST", f"/api/calls/{call.id}/transfer", {"agent_id": bob})
    assert refused.status_code == 409 and refused.json["error"] == "bob's account is deactivated"
    assert rig.commands() == ["sofia profile internal flush_inbound_reg 1001@127.0.0.1"]
    assert call.transfer is None and call.agent_id == agent_id


def test_disposition_rules(rig, alice, supervisor, database):
    call = talking(rig, alice)
    live = alice("POST", f"/api/calls/{call.id}/disposition", {"disposition": "sale"})
    assert live.status_code == 409
    end(rig, call)
    bad = alice("POST", f"/api/calls/{call.id}/disposition", {"disposition": "x" * 65})
    assert bad.status_code == 422 and bad.json["field"] == "disposition"
    assert alice("POST", "/api/calls/nope/disposition", {"disposition": "a"}).status_code == 404
    assert alice("POST", f"/api/calls/{call.id}/disposition",
                 {"disposition": "no sale", "notes": "call back\nnext week"}).status_code == 200
    fixed = supervisor("POST", f"/api/calls/{call.id}/disposition", {"disposition": "callback"})
    assert fixed.status_code == 200
    rig.settle()
    with database.session() as session:
        row = session.get(CallRow, call.id)
        assert (row.disposition, row.notes) == ("callback", None)


def test_my_calls_newest_first_paged(rig, alice, login, bob, supervisor):
    ids = []
    for _ in range(3):
        call = talking(rig, alice)
        ids.append(call.id)
        end(rig, call)
        rig.advance(10)
    bobs_call = talking(rig, login("bob"))
    live = talking(rig, alice)
    ids.append(live.id)
    page = alice("GET", "/api/calls?mine=1&limit=3")
    assert page.status_code == 200
    assert [c["id"] for c in page.json["calls"]] == ids[::-1][:3]
    assert page.json["calls"][0]["progress"] == "answered"
    assert page.json["calls"][1]["progress"] == "ended"
    rest = alice("GET", f"/api/calls?mine=1&limit=3&before={page.json['next']}")
    assert [c["id"] for c in rest.json["calls"]] == [ids[0]] and rest.json["next"] is None
    assert [c["id"] for c in alice("GET", "/api/calls?mine=1").json["calls"]] == ids[::-1]
    everyone = supervisor("GET", "/api/calls?limit=100").json["calls"]
    assert {c["id"] for c in everyone} == {*ids, bobs_call.id}
    assert [c["id"] for c in login("bob")("GET", "/api/calls?mine=1").json["calls"]] == [
        bobs_call.id]
    for query, field in (("mine=1&limit=0", "limit"), ("mine=1&limit=101", "limit"),
                         ("mine=1&limit=ten", "limit"), ("mine=yes", "mine"),
                         ("mine=1&before=nope", "before")):
        refused = alice("GET", f"/api/calls?{query}")
        assert refused.status_code == 422 and refused.json["field"] == field, query
    # An agent asking for everyone's calls gets its own: the records search scopes it.
    everything = alice("GET", "/api/calls?limit=100")
    assert everything.status_code == 200
    assert [c["id"] for c in everything.json["calls"]] == ids[::-1]


def test_consult_by_extension_then_complete_through_the_api(rig, alice, login, bob, agent_id):
    call = talking(rig, alice)
    reply = alice("POST", f"/api/calls/{call.id}/consult", {"extension": "1001"})
    assert reply.status_code == 202 and reply.json["call"]["consult"]["state"] == "dialing"
    rig.settle()
    shown = alice("GET", f"/api/calls/{call.id}").json["call"]["consult"]
    assert (shown["state"], shown["on_hold"], shown["agent_id"]) == ("consulting", "customer", bob)
    assert alice("POST", f"/api/calls/{call.id}/hold").status_code == 409
    assert alice("POST", f"/api/calls/{call.id}/consult/complete").status_code == 202
    rig.settle()
    assert (call.agent_id, call.as_message()["consult"]["state"]) == (bob, "completed")
    assert alice("POST", f"/api/calls/{call.id}/hold").status_code == 403, "bob's call now"
    end(rig, call)


def test_transfer_to_a_queue_through_the_api_and_the_page_s_picker(rig, alice, database,
                                                                     agent_id):
    make_queue(database, name="sales")
    rig.board.reload_queues()
    page = alice("GET", "/agent")
    assert page.status_code == 200 and b'<select id="transfer-queue">' in page.data
    assert b"<option>sales</option>" in page.data
    call = talking(rig, alice)
    missing = alice("POST", f"/api/calls/{call.id}/transfer-queue", {})
    assert missing.status_code == 422 and missing.json["field"] == "queue"
    unknown = alice("POST", f"/api/calls/{call.id}/transfer-queue", {"queue": "nowhere"})
    assert unknown.status_code == 409 and "no queue named" in unknown.json["error"]
    assert call.agent_id == agent_id
    sent = alice("POST", f"/api/calls/{call.id}/transfer-queue", {"queue": "sales"})
    assert sent.status_code == 200 and sent.json["call"]["progress"] == "waiting"
    rig.settle()
    assert rig.board.agent(agent_id).state is AgentState.WRAP_UP
    assert [c.id for c in rig.board.distributor.lines["sales"]] == [call.id]
    assert rig.sim.channels[call.customer_leg].parked
