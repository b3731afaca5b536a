"""The Event Socket server: authentication, subscriptions, filters, api/bgapi framing."""

from __future__ import annotations

import json

from callcenter.esl.protocol import encode_event, parse_event
from tests.sim.conftest import PASSWORD
from tests.sim.esl_client import RawClient

GOODBYE = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


def test_wrong_password_is_refused_then_disconnected(sim):
    raw = RawClient(sim.port)
    raw.send("auth not-the-password")
    raw.wait_for(raw.eof.is_set, "EOF")
    assert bytes(raw.raw) == (
        b"Content-Type: auth/request\n\n"
        b"Content-Type: command/reply\nReply-Text: -ERR invalid\n\n"
        b"Content-Type: text/disconnect-notice\nContent-Length: 67\n\n" + GOODBYE)


def test_commands_before_auth_are_refused_but_the_connection_stays(sim):
    raw = RawClient(sim.port)
    count = raw.send("api status")
    reply = raw.wait_for(lambda: raw.frames[count:], "a reply")[0]
    assert reply.headers == {"Content-Type": "command/reply",
                             "Reply-Text": "-ERR command not found"}
    assert raw.command(f"auth {PASSWORD}").headers["Reply-Text"] == "+OK accepted"
    raw.close()


def test_exit_says_bye_then_disconnects(client):
    count = client.send("exit")
    client.wait_for(client.eof.is_set, "EOF")
    assert client.raw.endswith(
        b"Content-Type: command/reply\nReply-Text: +OK bye\n\n"
        b"Content-Type: text/disconnect-notice\nContent-Length: 67\n\n" + GOODBYE)
    assert len(client.frames) == count + 2


def test_api_response_has_the_exact_length_and_is_followed_by_its_api_event(sim, client):
    count = len(client.frames)
    reply = client.command("api show channels as json")
    assert reply.text == '{"row_count": 0}\n'
    client.sync()
    api = [parse_event(f) for f in client.frames[count:] if f.headers["Content-Type"]
           == "text/event-plain"]
    assert [(e.name, e.get("API-Command"), e.get("API-Command-Argument")) for e in api] == [
        ("API", "show", "channels as json")]
    start = bytes(client.raw).index(b"Content-Type: api/response")
    assert bytes(client.raw)[start:].startswith(
        b'Content-Type: api/response\nContent-Length: 17\n\n{"row_count": 0}\n')
    assert client.api("foobar") == "-ERR foobar Command not found!\n"
    assert client.command("foobar").headers["Reply-Text"] == "-ERR command not found"


def test_bgapi_honours_the_clients_job_uuid(client):
    job = "0f0f0f0f-1111-2222-3333-444444444444"
    reply = client.command("bgapi status", [("Job-UUID", job)])
    assert reply.headers["Reply-Text"] == f"+OK Job-UUID: {job}"
    assert reply.headers["Job-UUID"] == job
    event = client.wait_event(lambda e: e.name == "BACKGROUND_JOB", "BACKGROUND_JOB")
    assert event.get("Job-UUID") == job
    assert event.get("Job-Command") == "status"
    assert "Job-Command-Arg" not in event.headers
    assert event.body.startswith("UP ")
    # The inner body is framed by its own Content-Length, as FreeSWITCH frames it.
    frame = next(f for f in client.frames if b"BACKGROUND_JOB" in f.body)
    head, _, body = frame.body.partition(b"\n\n")
    assert head.endswith(b"Content-Length: %d" % len(body))


def test_bgapi_without_job_uuid_makes_one_and_reports_arguments(client):
    reply = client.command("bgapi uuid_kill no-such-leg")
    job = reply.headers["Job-UUID"]
    event = client.wait_event(lambda e: e.job_uuid == job, "BACKGROUND_JOB")
    assert event.get("Job-Command-Arg") == "no-such-leg"
    assert event.body == "-ERR No such channel!\n"


def test_json_events_are_framed_like_freeswitchs(sim):
    raw = RawClient(sim.port, PASSWORD)
    assert raw.command("event json BACKGROUND_JOB").headers["Reply-Text"] == \
        "+OK event listener enabled json"
    raw.command("bgapi status")
    raw.wait_for(lambda: any(f.headers["Content-Type"] == "text/event-json"
                             for f in raw.frames), "a json event")
    frame = next(f for f in raw.frames if f.headers["Content-Type"] == "text/event-json")
    obj = json.loads(frame.body)
    assert list(obj)[-2:] == ["Content-Length", "_body"]
    assert obj["Content-Length"] == str(len(obj["_body"].encode()))
    assert encode_event(parse_event(frame), "json").endswith(frame.body)
    raw.close()


def test_subscription_names_and_custom_subclasses(sim):
    raw = RawClient(sim.port, PASSWORD)
    raw.command("event plain CHANNEL_PARK CUSTOM sofia::register")
    sim.register("1001")
    sim.unregister("1001")
    sim.inject_inbound("5550100", "15550001", "sales")
    raw.sync()
    assert [(e.name, e.subclass) for e in raw.events()] == [
        ("CUSTOM", "sofia::register"), ("CHANNEL_PARK", None)]
    assert raw.command("nixevent CHANNEL_PARK").headers["Reply-Text"] == "+OK events nixed"
    sim.inject_inbound("5550100", "15550002", "sales")
    raw.sync()
    assert len(raw.events()) == 2
    assert raw.command("noevents").headers["Reply-Text"] == \
        "+OK no longer listening for events"
    assert raw.command("noevents").headers["Reply-Text"] == "-ERR not listening for events"
    assert raw.command("event plain").headers["Reply-Text"] == "-ERR no keywords supplied"
    raw.close()


def test_filters_pass_only_matching_events(sim, client):
    caller = sim.inject_inbound("5550100", "15550001", "sales")
    reply = client.command(f"filter Unique-ID {caller}")
    assert reply.headers["Reply-Text"] == f"+OK filter added. [Unique-ID]=[{caller}]"
    count = len(client.frames)
    sim.inject_inbound("5550100", "15550002", "sales")
    client.api(f"uuid_kill {caller}")
    client.sync()
    events = [parse_event(f) for f in client.frames[count:]
              if f.headers["Content-Type"] == "text/event-plain"]
    assert events and {e.uuid for e in events} == {caller}
    reply = client.command("filter delete all")
    assert reply.headers["Reply-Text"].startswith("+OK filter deleted.")


def test_two_clients_both_get_events_and_closing_one_leaves_the_other(sim, client):
    other = RawClient(sim.port, PASSWORD)
    other.command("event json CHANNEL_PARK")
    other.close()
    uuid = sim.inject_inbound("5550100", "15550001", "sales")
    client.wait_event(lambda e: e.name == "CHANNEL_PARK" and e.uuid == uuid, "CHANNEL_PARK")
