"""The CDR writer: one record from either path, one summary from all legs, idempotent upserts,
and two writers on one call."""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import delete, select, text

from callcenter import db as dbmod
from callcenter.cdr import (
    CdrError,
    LegRecord,
    json_cdr_text,
    raw_cdr,
    summarize,
    write_leg,
)
from callcenter.models import (
    Agent,
    Call,
    CallLeg,
    Direction,
    HangupBy,
    LegRole,
    Queue,
    Role,
)
from tests.cdrdocs import at, hangups, json_cdr, leg_doc, snapshot, web_call

CAPTURES = ["03-click-to-dial", "04a-busy", "04b-no-answer", "04c-reject-503",
            "04e-agent-killed-while-ringing", "04f-agent-killed-before-bridge", "05-inbound",
            "06-eavesdrop"]


def us(microseconds: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=microseconds)


# What the plain captures' legs add up to, worked out by hand from their variables.
EXPECTED = {
    "03-click-to-dial": dict(
        id="C3-plain", direction=Direction.OUTBOUND, created_at=us(1795245154326044),
        ringing_at=us(1795245154346038), answered_at=us(1795245156706045),
        bridged_at=us(1795245154706038), ended_at=us(1795245161566037), ring_seconds=2,
        talk_seconds=4, hold_seconds=1, hangup_cause="NORMAL_CLEARING",
        hangup_by=HangupBy.CUSTOMER),  # both legs end at the same microsecond: recv_bye wins
    "04a-busy": dict(
        id="C04a-plain", direction=Direction.OUTBOUND, created_at=us(1795245175726037),
        ringing_at=None, answered_at=None, bridged_at=None, ended_at=us(1795245178306094),
        ring_seconds=0, talk_seconds=0, hold_seconds=0, hangup_cause="USER_BUSY",
        hangup_by=HangupBy.CUSTOMER),
    "04b-no-answer": dict(
        id="C04b-plain", direction=Direction.OUTBOUND, created_at=us(1795245187786041),
        ringing_at=us(1795245187806039), answered_at=None, bridged_at=None,
        ended_at=us(1795245197026039), ring_seconds=7, talk_seconds=0, hold_seconds=0,
        hangup_cause="NO_ANSWER", hangup_by=HangupBy.SYSTEM),  # FreeSWITCH sent the CANCEL
}


WEB = "+web"    # a capture's legs as a website visitor's call (cdrdocs.web_call)


def events_of(capture: str):
    return web_call(capture[:-len(WEB)]) if capture.endswith(WEB) else hangups(capture)


def records(capture: str, path: str) -> list[LegRecord]:
    events = events_of(capture)
    if path == "esl":
        return [LegRecord.from_event(e) for e in events]
    return [LegRecord.from_json_cdr(json_cdr(e)) for e in events]


def aware(value):
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def call_row(database, call_id: str) -> dict:
    calls, _ = snapshot(database)
    (row,) = [c for c in calls if c["id"] == call_id]
    return {k: aware(v) for k, v in row.items()}


def write(database, *recs: LegRecord) -> None:
    for record in recs:
        with database.session() as session:
            write_leg(session, record)


# --- reading ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["plain", "json"])
@pytest.mark.parametrize("capture", CAPTURES + ["05-inbound+web"])
def test_both_paths_read_the_same_leg(capture, fmt):
    name, web, _ = capture.partition(WEB)
    events = events_of(f"{name}.{fmt}{web}")
    assert events
    if web:     # the visitor's leg, on the internal profile with no cc_role, is the customer's
        assert {(r.channel, r.role) for r in map(LegRecord.from_event, events)} == {
            ("web", LegRole.CUSTOMER), (None, LegRole.AGENT)}
    for event in events:
        from_event = LegRecord.from_event(event)
        document = json_cdr(event)
        from_json = LegRecord.from_json_cdr(document)
        assert from_json.raw == document and from_event.raw is None
        assert dataclasses.replace(from_json, raw=None) == from_event
        # Without encode-values FreeSWITCH writes the values as they are: same record.
        plain_values = LegRecord.from_json_cdr(json_cdr(event, encode_values=False))
        assert dataclasses.replace(plain_values, raw=None) == from_event
        assert from_event.uuid == event.uuid and from_event.call_id == event.get(
            "variable_cc_call_id")
        # The small document the ESL path keeps reads back as the same record.
        kept = LegRecord.from_json_cdr(from_event.as_json_cdr())
        assert dataclasses.replace(kept, raw=None) == from_event


def test_a_captured_leg_reads_in_full():
    customer, agent = (LegRecord.from_event(e) for e in hangups("03-click-to-dial.plain"))
    assert customer == LegRecord(
        uuid="6e662c44-09d2-4db9-aae7-27302366a333", call_id="C3-plain", role=LegRole.CUSTOMER,
        direction=Direction.OUTBOUND, channel_name="sofia/external/15551234567",
        started=us(1795245154346038), progress=us(1795245154346038),
        answered=us(1795245156706045), bridged=us(1795245154706038), ended=us(1795245161566037),
        billsec=5, hold_seconds=1, hangup_cause="NORMAL_CLEARING", hangup_disposition="recv_bye")
    # An agent leg alone cannot tell the call's direction.
    assert (agent.role, agent.direction, agent.channel_name, agent.hangup_disposition) == (
        LegRole.AGENT, None, "sofia/internal/1000@127.0.0.1:5091", "send_bye")


def test_roles_without_cc_role_follow_the_channel():
    roles = {r.channel_name.split("@")[0]: r.role
             for c in ("05-inbound.plain", "06-eavesdrop.plain") for r in records(c, "esl")}
    assert roles == {"sofia/external/15551234567": LegRole.CUSTOMER,
                     "sofia/internal/1000": LegRole.AGENT, "sofia/internal/1002": LegRole.AGENT}
    inbound = records("05-inbound.plain", "esl")
    assert [(r.role, r.direction, r.queue_name) for r in inbound] == [
        (LegRole.CUSTOMER, Direction.INBOUND, "sales"), (LegRole.AGENT, None, None)]
    # A leg dialled as user/ on another profile is still an agent's; cc_role beats it all.
    doc = leg_doc("5b0c6d4e-0000-4000-8000-000000000001", "X", start=0, end=1,
                  channel="sofia/wss/1000@example")
    assert LegRecord.from_json_cdr(doc).role is LegRole.CUSTOMER
    variables = json.loads(doc)
    variables["variables"]["originate_endpoint"] = "user"
    assert LegRecord.from_json_cdr(json.dumps(variables)).role is LegRole.AGENT
    supervisor = leg_doc("5b0c6d4e-0000-4000-8000-000000000002", "X", start=0, end=1,
                         channel="sofia/internal/1002@x", role="supervisor")
    assert LegRecord.from_json_cdr(supervisor).role is LegRole.SUPERVISOR


def test_every_cc_variable_is_read():
    doc = leg_doc("5b0c6d4e-0000-4000-8000-000000000003", "call-1", start=0, end=9, answer=2,
                  role="agent", agent_id="7", direction="inbound", customer_number="+15551234567",
                  caller_id="5550100", queue="sales", hangup_by="agent")
    doc = json.loads(doc)
    doc["variables"]["cc_channel"] = "web"
    record = LegRecord.from_json_cdr(json.dumps(doc))
    assert (record.call_id, record.role, record.agent_id, record.direction,
            record.customer_number, record.caller_id, record.queue_name,
            record.hangup_by_hint, record.billsec, record.channel) == (
        "call-1", LegRole.AGENT, 7, Direction.INBOUND, "+15551234567", "5550100", "sales",
        HangupBy.AGENT, 7, "web")


UUID = "5b0c6d4e-0000-4000-8000-0000000000ff"


def _with(**variables) -> str:
    doc = json.loads(leg_doc(UUID, "call-1", start=0, end=1))
    doc["variables"].update(variables)
    return json.dumps(doc)


@pytest.mark.parametrize("document, message", [
    ("{not json", "the CDR is not JSON"),
    ("[1, 2]", "is a JSON list, not an object"),
    ('{"variables": "x"}', 'no "variables" object'),
    ('{"channel_data": {}}', 'no "variables" object'),
    ('{"variables": {"cc_call_id": "x"}}', "names no leg"),
    ('{"variables": {"uuid": "a b;c"}}', "is not a FreeSWITCH UUID"),
    (_with(start_uepoch="yesterday"), "start_uepoch 'yesterday' is not a time in microseconds"),
    (_with(end_uepoch="-5"), "end_uepoch '-5' is not a time"),
    (_with(answer_uepoch="9" * 30), "answer_uepoch"),
    (_with(billsec="1.5"), "billsec '1.5' is not a number of seconds"),
    (_with(cc_role="boss"), "cc_role 'boss' is not one of customer, agent, supervisor"),
    (_with(cc_direction="sideways"), "cc_direction 'sideways' is not one of"),
    (_with(cc_hangup_by="nobody"), "cc_hangup_by 'nobody' is not one of customer, agent, system"),
    (_with(cc_channel="fax"), "cc_channel 'fax' is not one of phone, web"),
    (_with(cc_agent_id="alice"), "cc_agent_id 'alice' is not an agent id"),
    (_with(cc_customer_number="1" * 33), "cc_customer_number is longer than 32 characters"),
    (_with(cc_call_id="c" * 65), "cc_call_id is longer than 64 characters"),
    (_with(cc_queue=["sales"]), "variable cc_queue is a JSON list, not a string"),
    (b'{"variables": {"uuid": "\xff"}}', "not UTF-8"),
])
def test_malformed_documents_name_the_problem(document, message):
    with pytest.raises(CdrError) as caught:
        LegRecord.from_json_cdr(document)
    assert message in str(caught.value)


def test_only_hangup_complete_makes_a_record():
    event = hangups("03-click-to-dial.plain")[0]
    event.headers = {**event.headers, "Event-Name": "CHANNEL_HANGUP"}
    with pytest.raises(CdrError, match="not CHANNEL_HANGUP$"):
        LegRecord.from_event(event)


def test_every_form_mod_json_cdr_posts_or_files_is_unwrapped():
    document = leg_doc(UUID, "call-1", start=0, end=1)
    b64 = base64.b64encode(document.encode()).decode()
    for form in (document, document + "\n", "cdr=" + quote(document, safe=""),
                 quote(document, safe="") + "\n", "cdr=" + b64, b64 + "\n"):
        assert json_cdr_text(form.encode()) == document
    for junk, message in ((b"", "empty"), (b"cdr=", "empty"), (b"hello there", "neither JSON"),
                          (b"abcd", "neither JSON")):
        with pytest.raises(CdrError, match=message):
            json_cdr_text(junk)


# --- the summary -----------------------------------------------------------------------------


def _leg(role: LegRole, uuid: str, **kw) -> LegRecord:
    return LegRecord(uuid=uuid, call_id="c", role=role, **kw)


def test_summary_rules():
    customer = _leg(LegRole.CUSTOMER, "b", started=at(1), progress=at(2), answered=at(5),
                    bridged=at(3), ended=at(20.9), hangup_cause="NORMAL_CLEARING",
                    hangup_disposition="send_bye", hold_seconds=3)
    agent = _leg(LegRole.AGENT, "a", started=at(0), answered=at(0.5), bridged=at(3),
                 ended=at(20.9), hangup_cause="NORMAL_CLEARING", hangup_disposition="recv_bye",
                 hold_seconds=1)
    summary = summarize(None, [agent, customer])
    assert summary == summarize(None, [customer, agent])  # order of arrival never matters
    assert (summary.created_at, summary.ringing_at, summary.answered_at, summary.bridged_at,
            summary.ended_at) == (at(0), at(2), at(5), at(3), at(20.9))
    assert (summary.ring_seconds, summary.talk_seconds, summary.hold_seconds) == (4, 15, 3)
    # Same instant: the leg whose far end hung up (the agent's softphone sent BYE) came first.
    assert summary.hangup_by is HangupBy.AGENT
    # The controller's own word beats inference, from any leg.
    hinted = dataclasses.replace(customer, hangup_by_hint=HangupBy.SYSTEM)
    assert summarize(None, [agent, hinted]).hangup_by is HangupBy.SYSTEM
    # A supervisor who listened in changes nothing: not who hung up, not the times.
    supervisor = _leg(LegRole.SUPERVISOR, "s", started=at(-10), ended=at(1),
                      hangup_disposition="recv_bye")
    assert summarize(None, [supervisor, agent, customer]) == summary
    late = dataclasses.replace(supervisor, ended=at(60), hangup_by_hint=HangupBy.SYSTEM)
    assert summarize(None, [late, agent, customer]) == summary


def test_summary_edges():
    # The call's own creation time counts when it is earlier; times the wrong way round give
    # zero, not negative seconds; a customer that never answered talked for nothing.
    own = type("Own", (), {"created_at": at(-5),
                           "direction": Direction.INBOUND})()
    odd = _leg(LegRole.CUSTOMER, "b", started=at(10), answered=at(9), bridged=at(8),
               ended=at(7), hangup_cause="X")
    summary = summarize(own, [odd])
    assert (summary.created_at, summary.ring_seconds, summary.talk_seconds) == (at(-5), 0, 0)
    assert summary.direction is Direction.INBOUND  # no leg said otherwise
    early = _leg(LegRole.CUSTOMER, "b", started=at(0), progress=at(1), bridged=at(2),
                 ended=at(30), hangup_cause="ORIGINATOR_CANCEL", hangup_disposition="send_cancel")
    assert (summarize(None, [early]).talk_seconds, summarize(None, [early]).ring_seconds) == (0, 30)
    # Legs with no end yet: nothing ended, nobody hung up; no customer leg: no cause from it.
    live = _leg(LegRole.AGENT, "a", started=at(0))
    summary = summarize(None, [live])
    assert (summary.ended_at, summary.hangup_by, summary.hangup_cause) == (None, None, None)
    gone = _leg(LegRole.AGENT, "a", started=at(0), ended=at(4), hangup_cause="NO_ANSWER",
                hangup_disposition="send_cancel")
    assert summarize(None, [gone]).hangup_cause == "NO_ANSWER"


# --- writing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["esl", "json"])
@pytest.mark.parametrize("capture", sorted(EXPECTED))
def test_each_path_alone_writes_the_full_cdr(database, capture, path):
    recs = records(f"{capture}.plain", path)
    write(database, *recs)
    row = call_row(database, EXPECTED[capture]["id"])
    assert {k: row[k] for k in EXPECTED[capture]} == EXPECTED[capture]
    # Nothing was known about the call but what the legs said.
    assert (row["agent_id"], row["queue_id"], row["customer_number"], row["disposition"]) == (
        None, None, "", None)
    _, legs = snapshot(database)
    assert sorted(leg["uuid"] for leg in legs) == sorted(r.uuid for r in recs)
    by_uuid = {leg["uuid"]: leg for leg in legs}
    for record in recs:
        leg = by_uuid[record.uuid]
        assert (leg["call_id"], leg["role"], leg["channel_name"], aware(leg["created_at"]),
                aware(leg["answered_at"]), aware(leg["ended_at"]), leg["hangup_cause"]) == (
            record.call_id, record.role, record.channel_name, record.started, record.answered,
            record.ended, record.hangup_cause)
        kept = LegRecord.from_json_cdr(leg["raw_cdr"])
        assert dataclasses.replace(kept, raw=None) == dataclasses.replace(record, raw=None)
        if path == "json":
            assert leg["raw_cdr"] == record.raw


@pytest.mark.parametrize("path", ["esl", "json"])
@pytest.mark.parametrize("capture", ["05-inbound.plain", "05-inbound.json"])
def test_each_path_alone_says_a_website_call_came_by_web(database, capture, path):
    write(database, *records(capture + WEB, path))
    (web,), _ = snapshot(database)
    assert web["channel"] == "web"
    with database.session() as session:     # the same legs as a phone call: phone
        session.execute(delete(CallLeg))
        session.execute(delete(Call))
    write(database, *records(capture, path))
    (phone,), _ = snapshot(database)
    assert phone["channel"] == "phone"
    # Otherwise the same call: the visitor's leg counts as the customer's (times, cause).
    assert {**web, "channel": "phone"} == phone


def test_the_switchboard_s_web_stands_when_the_legs_do_not_say(database):
    with database.session() as session:
        session.add(Call(id="C5-plain", direction=Direction.INBOUND, channel="web",
                         created_at=at(-3)))
    write(database, *records("05-inbound.plain", "json"))
    assert call_row(database, "C5-plain")["channel"] == "web"


@pytest.mark.parametrize("capture", ["03-click-to-dial.plain", "05-inbound.json",
                                     "04e-agent-killed-while-ringing.plain",
                                     "05-inbound.plain+web", "05-inbound.json+web"])
def test_both_paths_in_any_order_give_the_same_rows(database, capture):
    esl, js = records(capture, "esl"), records(capture, "json")
    orders = [esl + js, js + esl, [esl[1], js[0], js[1], esl[0]], js[::-1] + esl[::-1]]
    results = []
    for order in orders:
        with database.session() as session:
            session.execute(delete(CallLeg))
            session.execute(delete(Call))
        write(database, *order)
        write(database, *order)  # and the whole lot replayed
        results.append(snapshot(database))
    calls, legs = results[0]
    assert len(calls) == 1 and len(legs) == 2
    assert calls[0]["channel"] == ("web" if capture.endswith(WEB) else "phone")
    assert all(result == results[0] for result in results[1:])
    # FreeSWITCH's own document is what every leg keeps.
    assert sorted(leg["raw_cdr"] for leg in legs) == sorted(r.raw for r in js)


def test_replay_is_idempotent(database):
    recs = records("03-click-to-dial.json", "json")
    write(database, *recs)
    once = snapshot(database)
    write(database, *recs)
    write(database, recs[0])
    assert snapshot(database) == once


def test_several_calls_in_one_pass_give_the_rows_of_one_at_a_time_in_fewer_statements(
        database):
    # The switchboard's writer hands a batch of ended calls to write_legs at once.
    from sqlalchemy import event as sa_event

    from callcenter.cdr import write_legs

    captures = ["03-click-to-dial.plain", "04a-busy.plain", "05-inbound.plain",
                "06-eavesdrop.plain"]
    legs = [record for capture in captures for path in ("esl", "json")
            for record in records(capture, path)]
    write(database, *legs)
    one_at_a_time = snapshot(database)
    statements: list[str] = []
    sa_event.listen(database.engine, "before_cursor_execute",
                    lambda *args: statements.append(args[2]))

    def one_pass(recs) -> int:
        with database.session() as session:
            session.execute(delete(CallLeg))
            session.execute(delete(Call))
        statements.clear()
        with database.session() as session:
            write_legs(session, recs)
        return len(statements)

    together = one_pass(legs)
    assert snapshot(database) == one_at_a_time
    apart = [one_pass([leg for leg in legs if leg.call_id == call_id])
             for call_id in dict.fromkeys(leg.call_id for leg in legs)]
    assert len(apart) == len(captures)
    # One insert, select and update per table for all the calls, not per call (only an
    # agent's or queue's lookup is per call).
    assert together <= max(apart) + 2 * len(apart) < sum(apart)


def test_an_event_never_erases_the_stored_document(database):
    (customer, agent) = records("04a-busy.plain", "json")
    write(database, customer)
    write(database, LegRecord.from_event(hangups("04a-busy.plain")[0]))
    with database.session() as session:
        assert raw_cdr(session, customer.uuid) == customer.raw


@pytest.fixture
def agent_and_queue(make_user, database):
    make_user("alice", Role.AGENT, "1000")
    with database.session() as session:
        agent = session.scalar(select(Agent))
        queue = Queue(name="sales")
        session.add(queue)
        session.flush()
        return agent.id, queue.id


def _inbound(agent_id: int, hangup_by: str | None = None) -> list[LegRecord]:
    cc = dict(direction="inbound", customer_number="+15551234567", caller_id="5550100",
              queue="sales")
    customer = leg_doc("0a000000-0000-4000-8000-000000000001", "in-1", start=0, progress=0.1,
                       answer=12, bridge=12, end=70, cause="NORMAL_CLEARING",
                       disposition="recv_bye", role="customer", **cc)
    agent = leg_doc("0a000000-0000-4000-8000-000000000002", "in-1", start=10, answer=12,
                    bridge=12, end=70, hold=4, disposition="send_bye", role="agent",
                    agent_id=str(agent_id), channel="sofia/internal/1000@10.0.0.5", **cc,
                    **({"hangup_by": hangup_by} if hangup_by else {}))
    return [LegRecord.from_json_cdr(customer), LegRecord.from_json_cdr(agent)]


def test_every_cc_variable_lands_in_the_cdr(database, agent_and_queue):
    agent_id, queue_id = agent_and_queue
    write(database, *_inbound(agent_id, hangup_by="agent"))
    row = call_row(database, "in-1")
    assert {k: row[k] for k in ("direction", "agent_id", "queue_id", "customer_number",
                                "caller_id", "created_at", "ringing_at", "answered_at",
                                "bridged_at", "ended_at", "ring_seconds", "talk_seconds",
                                "hold_seconds", "hangup_cause", "hangup_by")} == dict(
        direction=Direction.INBOUND, agent_id=agent_id, queue_id=queue_id,
        customer_number="+15551234567", caller_id="5550100", created_at=at(0),
        ringing_at=at(0.1), answered_at=at(12), bridged_at=at(12), ended_at=at(70),
        ring_seconds=12, talk_seconds=58, hold_seconds=4, hangup_cause="NORMAL_CLEARING",
        hangup_by=HangupBy.AGENT)  # the controller's word beats the customer's BYE


def test_what_the_switchboard_wrote_is_kept(database, agent_and_queue):
    agent_id, _ = agent_and_queue
    with database.session() as session:
        session.add(Call(id="in-1", direction=Direction.INBOUND, agent_id=None,
                         customer_number="+15550000000", caller_id="", created_at=at(-3),
                         disposition="sale", notes="call back friday",
                         recording_path="/rec/in-1.wav"))
    write(database, *_inbound(agent_id))
    row = call_row(database, "in-1")
    assert (row["customer_number"], row["disposition"], row["notes"], row["recording_path"],
            row["created_at"]) == ("+15550000000", "sale", "call back friday", "/rec/in-1.wav",
                                   at(-3))
    # What it left empty, the legs filled in; the summary is the legs'.
    assert (row["agent_id"], row["caller_id"], row["hangup_by"]) == (
        agent_id, "5550100", HangupBy.CUSTOMER)


def test_a_deleted_agent_or_unknown_queue_leaves_the_field_empty(database):
    write(database, *_inbound(agent_id=4242))
    row = call_row(database, "in-1")
    assert (row["agent_id"], row["queue_id"], row["talk_seconds"]) == (None, None, 58)


def test_a_leg_that_is_not_ours_writes_nothing(database):
    foreign = LegRecord.from_json_cdr(leg_doc(UUID, None, start=0, end=1))
    with database.session() as session:
        assert write_leg(session, foreign) is None
    assert snapshot(database) == ([], [])


def test_a_known_leg_without_its_tag_still_lands_in_its_call(database):
    # An inbound caller hung up before `uuid_setvar cc_call_id` reached it: the switchboard
    # had written its leg row, so its CDR still finds the call.
    with database.session() as session:
        session.add(Call(id="in-2", direction=Direction.INBOUND, created_at=at(0)))
        session.add(CallLeg(uuid=UUID, call_id="in-2", role=LegRole.CUSTOMER, created_at=at(0)))
    untagged = LegRecord.from_json_cdr(leg_doc(UUID, None, start=0, end=4, progress=1,
                                               cause="NORMAL_CLEARING", disposition="recv_bye"))
    with database.session() as session:
        assert write_leg(session, untagged).id == "in-2"
    row = call_row(database, "in-2")
    assert (row["ended_at"], row["ring_seconds"], row["hangup_by"]) == (
        at(4), 4, HangupBy.CUSTOMER)


def test_the_writer_leaves_the_commit_to_its_caller(database):
    customer, _ = records("03-click-to-dial.plain", "esl")
    session = database.sessions()
    write_leg(session, customer)
    session.rollback()
    session.close()
    assert snapshot(database) == ([], [])


# --- two writers, one call (PostgreSQL: real row locks) ---------------------------------------


def _wait_until_blocked(engine, deadline: float = 10.0) -> None:
    """A second session is waiting on a row lock: PostgreSQL says so (nothing to await)."""
    end = time.monotonic() + deadline
    # Autocommit: inside one transaction pg_stat_activity would be the same snapshot each time.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        while time.monotonic() < end:
            waiting = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()")).scalar()
            if waiting:
                return
            time.sleep(0.01)
    raise AssertionError("the second writer never waited for the first")


@pytest.mark.parametrize("call_exists", [False, True])
def test_two_writers_on_one_call_both_count(postgres_url, call_exists):
    dbmod.upgrade(postgres_url)
    database = dbmod.Database(postgres_url)
    try:
        customer, agent = records("03-click-to-dial.plain", "json")
        if call_exists:  # the switchboard wrote the call when the agent pressed Dial
            with database.session() as session:
                session.add(Call(id="C3-plain", direction=Direction.OUTBOUND,
                                 created_at=us(1795245154000000)))
        first = database.sessions()
        write_leg(first, customer)  # holds its rows, uncommitted
        done = threading.Event()
        failure: list[BaseException] = []

        def second_writer():
            try:
                with database.session() as session:
                    write_leg(session, agent)
            except BaseException as exc:  # pragma: no cover - reported below
                failure.append(exc)
            finally:
                done.set()

        thread = threading.Thread(target=second_writer)
        thread.start()
        _wait_until_blocked(database.engine)
        assert not done.is_set()
        first.commit()
        first.close()
        assert done.wait(10)
        thread.join()
        assert not failure, failure
        row = call_row(database, "C3-plain")
        # The second writer saw the first one's leg: the summary is of both.
        expected = dict(EXPECTED["03-click-to-dial"])
        if call_exists:
            expected["created_at"] = us(1795245154000000)
        assert {k: row[k] for k in expected} == expected
        _, legs = snapshot(database)
        assert sorted(leg["uuid"] for leg in legs) == sorted([customer.uuid, agent.uuid])
    finally:
        database.dispose()


def test_the_same_leg_by_both_paths_at_once(postgres_url):
    dbmod.upgrade(postgres_url)
    database = dbmod.Database(postgres_url)
    try:
        by_event = records("04b-no-answer.plain", "esl")[0]
        by_post = records("04b-no-answer.plain", "json")[0]
        first = database.sessions()
        write_leg(first, by_event)
        thread = threading.Thread(target=write, args=(database, by_post))
        thread.start()
        _wait_until_blocked(database.engine)
        first.commit()
        first.close()
        thread.join(10)
        assert not thread.is_alive()
        calls, legs = snapshot(database)
        assert len(calls) == 1 and [leg["raw_cdr"] for leg in legs] == [by_post.raw]
    finally:
        database.dispose()


def test_one_leg_one_story_event_then_first_document(database):
    """The hangup event builds the leg's record, FreeSWITCH's first document fills its raw CDR
    and refines its times; a later, different document changes nothing anywhere."""
    def customer(end: float, cause: str = "NORMAL_CLEARING") -> str:
        return leg_doc(UUID, "call-1", start=0, progress=1, answer=2, bridge=2, end=end,
                       cause=cause, disposition="recv_bye", role="customer")

    by_event = dataclasses.replace(LegRecord.from_json_cdr(customer(10)), raw=None)
    write(database, by_event)
    assert call_row(database, "call-1")["ended_at"] == at(10)
    first, later = customer(10.5), customer(70, cause="MEDIA_TIMEOUT")
    write(database, LegRecord.from_json_cdr(first))
    write(database, LegRecord.from_json_cdr(later))
    write(database, by_event)  # the event replayed after the documents: nothing either
    row = call_row(database, "call-1")
    (leg,) = snapshot(database)[1]
    assert leg["raw_cdr"] == first
    assert (aware(leg["ended_at"]), leg["hangup_cause"]) == (at(10.5), "NORMAL_CLEARING")
    assert (row["ended_at"], row["talk_seconds"], row["hangup_cause"]) == (
        at(10.5), 8, "NORMAL_CLEARING")
