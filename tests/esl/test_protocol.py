"""callcenter.esl.protocol on the bytes a real FreeSWITCH 1.10.12 sent (tests/fixtures/esl)."""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from callcenter.esl import protocol
from callcenter.esl.protocol import (
    API_RESPONSE,
    AUTH_REQUEST,
    COMMAND_REPLY,
    DISCONNECT_NOTICE,
    EVENT_JSON,
    EVENT_PLAIN,
    Event,
    Frame,
    FrameParser,
    ProtocolError,
    encode_api_response,
    encode_auth_request,
    encode_command,
    encode_command_reply,
    encode_disconnect_notice,
    encode_event,
    parse_event,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "esl"
CAPTURES = sorted(path.name for path in FIXTURES.glob("*.esl"))
SCENARIOS = sorted({name.rsplit(".", 2)[0] for name in CAPTURES})
SMALL = 20_000  # captures up to this size are fed in every chunk size from 1 to 64
GOODBYE = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


@cache
def capture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@cache
def frames_of(name: str) -> tuple[Frame, ...]:
    parser = FrameParser()
    frames = tuple(parser.feed(capture(name)))
    assert parser.buffered == 0
    return frames


@cache
def events_of(scenario: str, fmt: str) -> tuple[Event, ...]:
    kind = EVENT_PLAIN if fmt == "plain" else EVENT_JSON
    return tuple(
        parse_event(f) for f in frames_of(f"{scenario}.{fmt}.esl") if f.content_type == kind
    )


def legs_of(scenario: str, fmt: str) -> dict[str, str]:
    """Leg label -> UUID, from the header of the recorder's .sent.txt."""
    text = (FIXTURES / f"{scenario}.{fmt}.sent.txt").read_text()
    line = next((ln for ln in text.splitlines() if ln.startswith("# legs/ids:")), "")
    return dict(re.findall(r"(\w+)=([0-9a-f]{8}-[0-9a-f-]{27})", line))


def raw_frames(data: bytes) -> list[bytes]:
    """The capture cut into frames by a splitter that shares nothing with FrameParser."""
    frames, pos = [], 0
    while pos < len(data):
        end = data.index(b"\n\n", pos) + 2
        length = re.search(rb"^Content-Length: (\d+)$", data[pos:end], re.MULTILINE)
        end += int(length.group(1)) if length else 0
        frames.append(data[pos:end])
        pos = end
    return frames


def feed_in_chunks(data: bytes, size: int, parser: FrameParser | None = None) -> list[Frame]:
    parser = parser or FrameParser()
    frames = []
    for start in range(0, len(data), size):
        frames += parser.feed(data[start : start + size])
    assert parser.buffered == 0
    return frames


# --- framing ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CAPTURES)
def test_capture_parses_into_the_frames_it_holds(name):
    data = capture(name)
    frames = frames_of(name)
    raw = raw_frames(data)
    assert len(frames) == len(raw) > 0
    assert frames[0] == Frame({"Content-Type": AUTH_REQUEST})
    for frame, chunk in zip(frames, raw, strict=True):
        assert chunk.endswith(frame.body)
        if frame.content_type in (EVENT_PLAIN, EVENT_JSON, API_RESPONSE, DISCONNECT_NOTICE):
            assert int(frame.headers["Content-Length"]) == len(frame.body)
        else:
            assert frame.body == b""


@pytest.mark.parametrize("name", CAPTURES)
def test_capture_fed_in_chunks_gives_the_same_frames(name):
    data = capture(name)
    whole = list(frames_of(name))
    if len(data) <= SMALL:
        sizes = list(range(1, 65))
    else:  # linear time per size, so a bounded set; size 1 on the click-to-dial pair only
        sizes = [2, 3, 7, 13, 64, 127]
        if name.startswith("03-"):
            sizes.append(1)
    sizes += [251, 509, 1021, 4093, 65536, len(data) - 1, len(data)]
    for size in sizes:
        assert feed_in_chunks(data, max(size, 1)) == whole, f"chunk size {size}"


def test_frames_split_at_every_byte_boundary():
    plain = frames_of("01-connect.plain.esl")
    raw = raw_frames(capture("01-connect.plain.esl"))
    picks = [
        next(i for i, f in enumerate(plain) if f.content_type == COMMAND_REPLY),
        next(i for i, f in enumerate(plain) if f.content_type == API_RESPONSE),
        next(i for i, f in enumerate(plain) if b"BACKGROUND_JOB" in f.body),  # inner body too
    ]
    data = b"".join(raw[i] for i in picks)
    expected = [plain[i] for i in picks]
    assert expected[2].body.count(b"Content-Length: ") == 1
    ends = [0, len(raw[picks[0]]), len(raw[picks[0]]) + len(raw[picks[1]])]
    for cut in range(len(data) + 1):
        parser = FrameParser()
        got = parser.feed(data[:cut])
        assert len(got) == sum(cut >= end for end in ends[1:]) + (cut == len(data))
        assert parser.buffered == (
            0 if cut == len(data) else cut - max(e for e in ends if e <= cut)
        )
        got += parser.feed(data[cut:])
        assert got == expected, f"cut at {cut}"
        assert parser.buffered == 0


def test_json_background_job_split_at_every_byte_boundary():
    name = "04d-agent-not-registered.json.esl"
    index = next(i for i, f in enumerate(frames_of(name)) if b"BACKGROUND_JOB" in f.body)
    data = raw_frames(capture(name))[index]
    for cut in range(len(data) + 1):
        parser = FrameParser()
        assert parser.feed(data[:cut]) + parser.feed(data[cut:]) == [frames_of(name)[index]]


def test_many_frames_in_one_read():
    reply = encode_command_reply("+OK")
    frames = FrameParser().feed(reply * 5000 + encode_api_response("+OK\n") * 5000)
    assert len(frames) == 10_000
    assert frames[0] == Frame({"Content-Type": COMMAND_REPLY, "Reply-Text": "+OK"})
    assert frames[-1].text == "+OK\n"


def test_stray_blank_lines_between_frames_are_skipped():
    frame = encode_api_response("+OK\n")
    parser = FrameParser()
    assert (
        parser.feed(b"\n" + frame + b"\n\n\n") + parser.feed(b"\n" + frame)
        == [Frame({"Content-Type": API_RESPONSE, "Content-Length": "4"}, b"+OK\n")] * 2
    )
    assert parser.buffered == 0


def test_truncated_frames_wait_for_the_rest():
    frame = raw_frames(capture("01-connect.plain.esl"))[4]  # the API event after `api status`
    head = frame.index(b"\n\n") + 2
    for cut in (1, head - 3, head - 1, head, head + 1, len(frame) - 1):
        parser = FrameParser()
        assert parser.feed(frame[:cut]) == []
        assert parser.buffered == cut
        (got,) = parser.feed(frame[cut:])
        assert parse_event(got).name == "API"
        assert parser.buffered == 0


def test_a_large_body_arriving_in_small_reads():
    body = "x" * 3_000_000
    frames = feed_in_chunks(encode_api_response(body), 1500)
    assert [f.text for f in frames] == [body]


def test_missing_content_length_is_an_error_where_a_body_is_required():
    for content_type in (EVENT_PLAIN, EVENT_JSON, API_RESPONSE):
        with pytest.raises(ProtocolError, match="without Content-Length"):
            FrameParser().feed(b"Content-Type: %s\n\nEvent-Name: API\n\n" % content_type.encode())
    # frames that never carry a body need none
    parser = FrameParser()
    assert parser.feed(b"Content-Type: command/reply\nReply-Text: +OK\n\n") == [
        Frame({"Content-Type": COMMAND_REPLY, "Reply-Text": "+OK"})
    ]


@pytest.mark.parametrize("value", ["abc", "-1", "+5", " 5", "5.0", "0x10", "", "\uff15", "9" * 40])
def test_bad_content_length_is_an_error(value):
    data = f"Content-Type: api/response\nContent-Length: {value}\n\n+OK".encode()
    with pytest.raises(ProtocolError, match="Content-Length"):
        FrameParser().feed(data)


def test_doubled_content_length():
    same = b"Content-Type: api/response\nContent-Length: 3\nContent-Length: 3\n\n+OK"
    assert FrameParser().feed(same)[0].body == b"+OK"
    different = b"Content-Type: api/response\nContent-Length: 3\nContent-Length: 4\n\n+OK\n"
    with pytest.raises(ProtocolError, match="two different Content-Length"):
        FrameParser().feed(different)


def test_header_and_body_limits():
    header = b"Content-Type: command/reply\nReply-Text: " + b"x" * 60  # 100 bytes exactly
    assert len(header) == 100
    assert len(FrameParser(max_header_bytes=100).feed(header + b"\n\n")) == 1
    with pytest.raises(ProtocolError, match="exceed"):
        FrameParser(max_header_bytes=99).feed(header + b"\n\n")
    parser = FrameParser(max_header_bytes=99)
    with pytest.raises(ProtocolError, match="no end of headers"):
        for byte in range(len(header)):  # caught as it grows, before any blank line
            parser.feed(header[byte : byte + 1])
    parser = FrameParser(max_body_bytes=10)
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        parser.feed(b"Content-Type: api/response\nContent-Length: 11\n\n")  # body not sent yet


def test_a_parser_stays_dead_after_an_error():
    parser = FrameParser()
    with pytest.raises(ProtocolError):
        parser.feed(b"garbage without a colon\n\n")
    with pytest.raises(ProtocolError, match="earlier error"):
        parser.feed(encode_command_reply("+OK"))


def test_error_messages_say_where():
    data = encode_command_reply("+OK") + b"Content-Type: api/response\nContent-Length: x\n\n"
    with pytest.raises(ProtocolError, match=f"frame at byte {len(encode_command_reply('+OK'))}"):
        feed_in_chunks(data, 7)


# --- events -------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_plain_and_json_runs_give_the_same_event_sequences(scenario):
    plain, json_ = events_of(scenario, "plain"), events_of(scenario, "json")
    legs_plain, legs_json = legs_of(scenario, "plain"), legs_of(scenario, "json")
    assert legs_plain.keys() == legs_json.keys()
    for label, uuid in legs_plain.items():
        from_plain = [e.key for e in plain if e.uuid == uuid]
        from_json = [e.key for e in json_ if e.uuid == legs_json[label]]
        if (scenario, label) == ("05-inbound", "AG"):
            # README: in the json run uuid_bridge reached AG before its park ran
            park = {"CHANNEL_EXECUTE", "CHANNEL_PARK", "CHANNEL_UNPARK", "CHANNEL_EXECUTE_COMPLETE"}
            park.add("CHANNEL_STATE")
            from_plain = [key for key in from_plain if key not in park]
            from_json = [key for key in from_json if key not in park]
        assert from_plain == from_json, label
    # events of no leg too, but for timers and the plain-only MESSAGE_QUERY (README)
    timers = {"HEARTBEAT", "RE_SCHEDULE", "MESSAGE_QUERY"}
    assert [e.key for e in plain if not e.uuid and e.name not in timers] == [
        e.key for e in json_ if not e.uuid and e.name not in timers
    ]


def test_channel_answer_has_the_same_headers_in_plain_and_json():
    for scenario in ("03-click-to-dial", "06-eavesdrop"):
        answers = {}
        for fmt in ("plain", "json"):
            leg = legs_of(scenario, fmt)["A"]
            answers[fmt] = next(
                e for e in events_of(scenario, fmt) if e.name == "CHANNEL_ANSWER" and e.uuid == leg
            )
        plain, json_ = answers["plain"], answers["json"]
        assert plain.headers.keys() == json_.headers.keys()
        assert len(plain.headers) > 100
        for stable in (
            "Call-Direction",
            "Answer-State",
            "Caller-Destination-Number",
            "Channel-Name",
        ):
            assert plain.get(stable) == json_.get(stable)
        assert plain.get("Answer-State") == "answered"
        assert plain.get("variable_sip_h_Call-Info") == "<sip:127.0.0.1>;answer-after=0"


@pytest.mark.parametrize("scenario", ["03-click-to-dial", "05-inbound", "02-registration"])
def test_an_event_crosses_between_plain_and_json_unchanged(scenario):
    for fmt, other in (("plain", "json"), ("json", "plain")):
        for event in events_of(scenario, fmt):
            (frame,) = FrameParser().feed(encode_event(event, other))
            assert parse_event(frame) == event


def test_background_job_results():
    for fmt in ("plain", "json"):
        (job,) = [
            e for e in events_of("04d-agent-not-registered", fmt) if e.name == "BACKGROUND_JOB"
        ]
        reply = next(
            f for f in frames_of(f"04d-agent-not-registered.{fmt}.esl") if "Job-UUID" in f.headers
        )
        assert reply.headers["Reply-Text"] == f"+OK Job-UUID: {job.job_uuid}"
        assert job.body == "-ERR USER_NOT_REGISTERED\n"
        assert "Content-Length" not in job.headers and "_body" not in job.headers
        assert job.get("Job-Command") == "originate"

        leg_a = legs_of("03-click-to-dial", fmt)["A"]
        jobs = [e for e in events_of("03-click-to-dial", fmt) if e.name == "BACKGROUND_JOB"]
        (agent_job,) = [j for j in jobs if f"origination_uuid={leg_a}" in j.get("Job-Command-Arg")]
        assert agent_job.body == f"+OK {leg_a}\n"

        (status,) = [e for e in events_of("01-connect", fmt) if e.name == "BACKGROUND_JOB"]
        assert status.body.startswith("UP 0 years") and status.body.endswith("8192K\n")


def test_event_properties():
    for fmt in ("plain", "json"):
        register = next(
            e for e in events_of("02-registration", fmt) if e.subclass == "sofia::register"
        )
        assert (register.name, register.key) == ("CUSTOM", "sofia::register")
        assert register.get("from-user") == "1000" and register.get("expires") == "300"
        assert register.uuid is None and register.job_uuid is None
        assert register.get("no-such-header", "x") == "x"
        answer = next(e for e in events_of("03-click-to-dial", fmt) if e.name == "CHANNEL_ANSWER")
        assert answer.key == "CHANNEL_ANSWER" and answer.subclass is None
        assert answer.uuid == legs_of("03-click-to-dial", fmt)["A"]
    assert Event({}).name == "" and Event({}).key == ""
    assert Event({"Event-Name": "CUSTOM"}).key == "CUSTOM"


@pytest.mark.parametrize("scenario", ["03-click-to-dial", "02-registration", "07-shutdown"])
def test_a_plain_event_decodes_only_what_is_read(scenario):
    frames = [f for f in frames_of(f"{scenario}.plain.esl") if f.content_type == EVENT_PLAIN]
    for frame in frames:
        lazy, decoded = parse_event(frame), parse_event(frame).headers
        assert (lazy.name, lazy.uuid, lazy.key) == (
            decoded.get("Event-Name", ""),
            decoded.get("Unique-ID"),
            decoded.get("Event-Subclass", decoded["Event-Name"])
            if decoded["Event-Name"] == "CUSTOM"
            else decoded["Event-Name"],
        )
        for name, value in decoded.items():
            assert lazy.get(name) == value, name
        assert lazy.get("Content-Length") is None and lazy.get("nope", "-") == "-"
        if lazy.body is None:
            assert lazy._headers is None  # still undecoded after all those reads
        assert lazy == Event(decoded, lazy.body) and lazy.headers == decoded


def test_a_header_read_again_is_not_searched_for_again(monkeypatch):
    # The link, the router and the handlers each read Event-Name: one search of the block.
    event = parse_event(Frame({"Content-Type": EVENT_PLAIN},
                              b"Event-Name: CHANNEL_ANSWER\nUnique-ID: u1\n\n"))
    searched = []
    find = protocol._find_value
    monkeypatch.setattr(protocol, "_find_value",
                        lambda block, name: searched.append(name) or find(block, name))
    reads = [(event.name, event.key, event.uuid, event.get("Nope", "-")) for _ in range(3)]
    assert reads == [("CHANNEL_ANSWER", "CHANNEL_ANSWER", "u1", "-")] * 3
    assert sorted(searched) == ["Event-Name", "Nope", "Unique-ID"]


def test_lazy_events_behave_like_plain_ones():
    body = b"Event-Name: CUSTOM\nEvent-Subclass: sofia%3A%3Aregister\nX: 1\nX: 2\n\n"
    event = parse_event(Frame({"Content-Type": EVENT_PLAIN}, body))
    assert (event.key, event.get("X")) == ("sofia::register", "2")  # the last line wins
    assert "sofia::register" in repr(event)
    event.headers["X"] = "3"
    assert event.get("X") == "3"
    event.headers = {"Event-Name": "API"}
    assert (event.name, event.get("X")) == ("API", None)
    with pytest.raises(TypeError):
        hash(event)
    assert event != {"Event-Name": "API"}


def test_odd_lines_are_judged_at_parse_time_not_when_read():
    def plain(block: bytes) -> Event:
        return parse_event(Frame({"Content-Type": EVENT_PLAIN}, block + b"\n\n"))

    with pytest.raises(ProtocolError, match="no ': '"):
        plain(b"Event-Name: X\nBad:line x")  # ':' and ' ' apart: no separator
    # names are taken as they are, even where the fast path cannot take them
    assert plain(b"Event-Name: X\nA%41: b").headers == {"Event-Name": "X", "A%41": "b"}
    assert plain(b"Event-Name: X\n\xff: b").get("\ufffd") == "b"
    assert plain(b"Event-Name: X\nA b: c").get("A b") == "c"


def test_values_are_decoded_one_at_a_time():
    body = b"Event-Name: CUSTOM\nX-Multi: a%0Ab%0A%0Ac\nX-Next: d%3A%20e\nX-Pct: 100%\n\n"
    event = parse_event(Frame({"Content-Type": EVENT_PLAIN}, body))
    assert event.headers == {
        "Event-Name": "CUSTOM",
        "X-Multi": "a\nb\n\nc",
        "X-Next": "d: e",
        "X-Pct": "100%",  # a '%' that starts no escape is kept
    }
    # the SDP FreeSWITCH put in a variable keeps its lines, in both formats
    for fmt in ("plain", "json"):
        answer = next(e for e in events_of("03-click-to-dial", fmt) if e.name == "CHANNEL_ANSWER")
        sdp = answer.get("variable_switch_r_sdp")
        assert sdp.startswith("v=0\r\no=") and sdp.count("\n") > 5
        assert answer.get("Event-Date-Local").count(" ") == 1  # a neighbour, decoded alone


def test_invalid_utf8_becomes_replacement_characters():
    plain = b"Event-Name: CUSTOM\nRaw: caf\xe9\nEscaped: caf%E9\nGood: caf%C3%A9\n\n"
    event = parse_event(Frame({"Content-Type": EVENT_PLAIN}, plain))
    assert (event.get("Raw"), event.get("Escaped"), event.get("Good")) == (
        "caf\ufffd",
        "caf\ufffd",
        "caf\u00e9",
    )
    json_body = b'{"Event-Name":"CUSTOM","Raw":"caf\xe9","_body":"\xff+OK"}'
    event = parse_event(Frame({"Content-Type": EVENT_JSON}, json_body))
    assert (event.get("Raw"), event.body) == ("caf\ufffd", "\ufffd+OK")
    job = b"Event-Name: BACKGROUND_JOB\nContent-Length: 4\n\n+OK\xff"
    assert parse_event(Frame({"Content-Type": EVENT_PLAIN}, job)).body == "+OK\ufffd"
    (frame,) = FrameParser().feed(b"Content-Type: api/response\nX: \xff\nContent-Length: 1\n\n\xfe")
    assert (frame.headers["X"], frame.text) == ("\ufffd", "\ufffd")


def test_undef_is_an_empty_value():
    event = parse_event(Frame({"Content-Type": EVENT_PLAIN}, b"Event-Name: X\nEmpty: _undef_\n\n"))
    assert event.get("Empty") == ""
    assert b"Empty: _undef_\n" in encode_event(event)
    literal = Event({"Event-Name": "X", "Literal": "_undef_"})
    (frame,) = FrameParser().feed(encode_event(literal))
    assert parse_event(frame) == literal


def test_json_arrays_read_as_freeswitch_writes_them_in_plain():
    body = json.dumps({"Event-Name": "X", "Two": ["a", "b"], "One": ["c"]}).encode()
    event = parse_event(Frame({"Content-Type": EVENT_JSON}, body))
    assert event.headers == {"Event-Name": "X", "Two": "ARRAY::a|:b", "One": "c"}
    assert b'"Two":["a","b"]' in encode_event(event, "json")


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        (EVENT_PLAIN, b"Event-Name: X\n", "no blank line"),
        (EVENT_PLAIN, b"Event-Name: X\nno separator\n\n", "line 2 has no ': '"),
        (EVENT_PLAIN, b"Event-Name: X\n\ntrailing", "no Content-Length"),
        (EVENT_PLAIN, b"Event-Name: X\nContent-Length: 5\n\n+OK\n", "says 5"),
        (EVENT_PLAIN, b"Event-Name: X\nContent-Length: 1\n\n", "says 1"),
        (EVENT_JSON, b'{"Event-Name":', "not valid JSON"),
        (EVENT_JSON, b'["Event-Name"]', "not an object"),
        (EVENT_JSON, b'{"Event-Name":7}', "not a string"),
        (EVENT_JSON, b'{"Event-Name":"X","_body":7}', "_body is not a string"),
        (EVENT_JSON, b"[" * 100_000, "not valid JSON"),
        (API_RESPONSE, b"+OK\n", "not an event frame"),
    ],
)
def test_malformed_events(content_type, body, message):
    with pytest.raises(ProtocolError, match=message):
        parse_event(Frame({"Content-Type": content_type}, body))


# --- encoders -----------------------------------------------------------------------------


def _plain_without_repeats(frame: bytes) -> bytes:
    """The frame as a dict-based Event can hold it: a repeated header name keeps the place of
    its first line and the value of its last (FreeSWITCH's JSON for the same event agrees)."""
    head, body = frame.split(b"\n\n", 1)
    block, blank, rest = body.partition(b"\n\n")
    lines: dict[bytes, bytes] = {}
    for line in block.split(b"\n"):
        name, _, value = line.partition(b": ")
        lines[name] = value
    payload = b"".join(n + b": " + v + b"\n" for n, v in lines.items()) + b"\n" + rest
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n%s" % (len(payload), payload)


def reencode(frame: Frame) -> bytes:
    kind = frame.content_type
    if kind in (EVENT_PLAIN, EVENT_JSON):
        return encode_event(parse_event(frame), "plain" if kind == EVENT_PLAIN else "json")
    if kind == API_RESPONSE:
        return encode_api_response(frame.text)
    if kind == DISCONNECT_NOTICE:
        return encode_disconnect_notice(frame.text)
    if kind == AUTH_REQUEST:
        return encode_auth_request()
    assert kind == COMMAND_REPLY
    extra = [(k, v) for k, v in frame.headers.items() if k not in ("Content-Type", "Reply-Text")]
    return encode_command_reply(frame.headers["Reply-Text"], extra)


@pytest.mark.parametrize("name", CAPTURES)
def test_reencoding_reproduces_the_captured_bytes(name):
    repeats: Counter[str] = Counter()
    for frame, raw in zip(frames_of(name), raw_frames(capture(name)), strict=True):
        again = reencode(frame)
        if again == raw:
            continue
        # Only events repeating a header name differ: a dict holds each name once.
        event = parse_event(frame)
        repeats[event.name] += 1
        if frame.content_type == EVENT_PLAIN:
            assert again == _plain_without_repeats(raw)
        else:
            pairs = json.loads(raw.split(b"\n\n", 1)[1], object_pairs_hook=lambda p: p)
            assert len({k for k, _ in pairs}) < len(pairs)
            assert json.loads(again.split(b"\n\n", 1)[1]) == dict(pairs)
    assert set(repeats) <= {"CODEC", "PRIVATE_COMMAND", "CHANNEL_HANGUP_COMPLETE"}


def test_freeswitch_url_encoding():
    event = Event({"A": "a b:c%d\ne", "B": "!$'()*,-./_~09AZaz", "C": 'é\x7f"#&+;<=>?@[\\]^`{|}'})
    encoded = encode_event(event)
    assert b"A: a%20b%3Ac%25d%0Ae\n" in encoded
    assert b"B: !$'()*,-./_~09AZaz\n" in encoded
    assert b"C: %C3%A9%7F%22%23%26%2B%3B%3C%3D%3E%3F%40%5B%5C%5D%5E%60%7B%7C%7D\n" in encoded


def test_encoders_refuse_what_would_garble_a_frame():
    for fmt in ("plain", "json"):
        with pytest.raises(ValueError, match="frames the event body"):
            encode_event(Event({"Content-Length": "3"}), fmt)
    with pytest.raises(ValueError, match="frames the event body"):
        encode_event(Event({"_body": "x"}), "json")
    for name in ("a\nb", "a: b"):
        with pytest.raises(ValueError, match="plain format"):
            encode_event(Event({name: "x"}))
        assert parse_event(FrameParser().feed(encode_event(Event({name: "x"}), "json"))[0])
    with pytest.raises(ValueError, match="'plain' or 'json'"):
        encode_event(Event({}), "xml")


def test_other_frames_in_freeswitch_shape():
    assert encode_auth_request() == b"Content-Type: auth/request\n\n"
    assert encode_command_reply("+OK Job-UUID: 42", [("Job-UUID", "42")]) == (
        b"Content-Type: command/reply\nReply-Text: +OK Job-UUID: 42\nJob-UUID: 42\n\n"
    )
    assert encode_api_response("+OK\n") == b"Content-Type: api/response\nContent-Length: 4\n\n+OK\n"
    notice = encode_disconnect_notice(GOODBYE)
    assert (
        notice == b"Content-Type: text/disconnect-notice\nContent-Length: 67\n\n" + GOODBYE.encode()
    )
    assert raw_frames(capture("01-connect.plain.esl"))[-1] == notice
    shutdown = frames_of("07-shutdown.json.esl")[-1]
    assert (shutdown.content_type, shutdown.text) == (
        DISCONNECT_NOTICE,
        "The system is being shut down.\n",
    )
    with pytest.raises(ValueError, match="line break"):
        encode_command_reply("+OK\n")
    with pytest.raises(ValueError, match="line break"):
        encode_command_reply("+OK", [("Job-UUID", "1\r\n2")])


def test_commands():
    assert encode_command("api status") == b"api status\n\n"
    assert encode_command("bgapi originate x &park()", [("Job-UUID", "abc")]) == (
        b"bgapi originate x &park()\nJob-UUID: abc\n\n"
    )
    assert encode_command("api show calls as json").endswith(b"json\n\n")
    for command, headers in [
        ("api status\n\napi fsctl shutdown", ()),
        ("api status\r", ()),
        ("", ()),
        ("   ", ()),
        ("bgapi status", [("Job-UUID", "a\nb")]),
        ("bgapi status", [("Job\nUUID", "a")]),
        ("bgapi status", [("Job-UUID: x", "a")]),
        ("bgapi status", [("", "a")]),
    ]:
        with pytest.raises(ValueError):
            encode_command(command, headers)
