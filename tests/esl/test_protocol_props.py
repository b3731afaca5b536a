"""Properties of callcenter.esl.protocol: round trips, the fast header path, and fuzzing."""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callcenter.esl import protocol
from callcenter.esl.protocol import (
    EVENT_JSON,
    EVENT_PLAIN,
    Event,
    Frame,
    FrameParser,
    ProtocolError,
    encode_event,
    parse_event,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "esl"
# Derandomized: every run tries the same examples, so CI never turns red by luck.
PROPS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

# Values that poke at the encoding: escapes, placeholders, separators, non-ASCII.
TRICKY = [
    "",
    "_undef_",
    "%",
    "%0A",
    "%zz",
    "100%",
    "a%20b",
    "\n",
    "\r\n",
    ": ",
    "é",
    "\x00",
    "\x01",
]
TRICKY += ["ARRAY::a|:b", "ARRAY::x", "ARRAY::|:", "=41", "\\", '"', "\u2028", "😀"]
values = st.one_of(st.text(max_size=40), st.sampled_from(TRICKY))
any_names = st.text(max_size=20).filter(lambda name: name not in ("Content-Length", "_body"))
plain_names = any_names.filter(lambda name: "\n" not in name and ": " not in name)
bodies = st.one_of(
    st.none(), st.text(max_size=60), st.sampled_from(["+OK x\n", "-ERR X\n", "\n\n"])
)


def round_trip(event: Event, fmt: str) -> Event:
    data = encode_event(event, fmt)
    parser = FrameParser()
    (frame,) = parser.feed(data)
    assert parser.buffered == 0
    assert frame.content_type == (EVENT_PLAIN if fmt == "plain" else EVENT_JSON)
    return parse_event(frame)


@PROPS
@given(st.dictionaries(plain_names, values, max_size=8), bodies)
def test_plain_round_trip(headers, body):
    event = Event(headers, body)
    assert round_trip(event, "plain") == Event(headers, body or None)  # "" is no body


@PROPS
@given(st.dictionaries(any_names, values, max_size=8), bodies)
def test_json_round_trip(headers, body):
    assert round_trip(Event(headers, body), "json") == Event(headers, body or None)


@PROPS
@given(st.dictionaries(plain_names, values, max_size=8), bodies)
def test_plain_and_json_forms_are_equal(headers, body):
    event = Event(headers, body)
    assert round_trip(event, "plain") == round_trip(event, "json")


# --- the fast header path agrees with the slow one ---------------------------------------

PIECES = ["a", "Z", "0", "-", "%", "%0A", "%0a", "%41", "%e9", "%C3%A9", "%zz", "%\r", ":", " "]
PIECES += [": ", "\n", "\r", "=", "=41", "\x01", "%01", "_undef_", "%5Fundef_", "é"]
blocks = st.lists(st.sampled_from(PIECES), min_size=1, max_size=30).map("".join).map(str.encode)
safe_names = st.text("abcXYZ09-_", min_size=1, max_size=12)


def decoded_every_way(block: bytes) -> dict[str, str] | None:
    """The fast path's headers, checked against a lazy event's one-by-one reading."""
    shaped = protocol._shaped(block)
    if shaped is None:
        return None
    headers = protocol._decode_shaped(shaped)
    lazy = Event._undecoded(shaped)
    for name, value in headers.items():
        assert lazy.get(name) == value
    assert lazy.get("no such header", "-") == "-"
    assert lazy._headers is None  # reading one value does not decode them all
    assert lazy.headers == headers
    return headers


@PROPS
@given(blocks)
def test_fast_header_parse_agrees_with_the_slow_one(block):
    try:
        slow = protocol._parse_lines_slowly(block, "test")
    except ProtocolError:
        assert protocol._shaped(block) is None  # malformed is never taken for shaped
        return
    fast = decoded_every_way(block)
    assert fast is None or fast == slow


@PROPS
@given(st.lists(st.tuples(safe_names, values), min_size=1, max_size=12))
def test_fast_header_parse_takes_what_freeswitch_writes(pairs):
    block = "\n".join(f"{name}: {protocol._url_encode(value)}" for name, value in pairs).encode()
    expected = {name: value for name, value in pairs}
    assert protocol._parse_lines_slowly(block, "test") == expected
    assert decoded_every_way(block) == expected


# --- fuzzing: nothing but ProtocolError ever escapes -------------------------------------


def consume(data: bytes, rng: random.Random) -> int:
    """Feed data in random chunks and decode every event; returns the events decoded."""
    parser = FrameParser(
        max_header_bytes=rng.choice([60, 65536, 65536]),
        max_body_bytes=rng.choice([600, 64 * 1024 * 1024, 64 * 1024 * 1024]),
    )
    decoded = pos = 0
    try:
        while pos < len(data):
            size = rng.choice([1, 2, 7, 64, 1500, 65536])
            for frame in parser.feed(data[pos : pos + size]):
                assert isinstance(frame.text, str) and isinstance(frame.content_type, str)
                try:
                    event = parse_event(frame)
                except ProtocolError:
                    continue
                assert isinstance(event.key, str)
                assert all(type(v) is str for v in event.headers.values())
                decoded += 1
            pos += size
    except ProtocolError:
        try:
            parser.feed(b"x")
        except ProtocolError:
            return decoded
        raise AssertionError("a parser kept going after an error") from None
    return decoded


def mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not buf:
            break
        at = rng.randrange(len(buf))
        kind = rng.randrange(7)
        if kind == 0:
            buf[at] = rng.randrange(256)
        elif kind == 1:
            buf[at:at] = rng.choice([b"\n", b"\n\n", b"%", b": ", b"\xff", b"Content-Length: 9\n"])
        elif kind == 2:
            del buf[at : at + rng.randint(1, 200)]
        elif kind == 3:
            buf[at:at] = buf[at : at + rng.randint(1, 400)]
        elif kind == 4:
            digit = buf.find(b"Content-Length: ", at)
            if 0 <= digit < len(buf) - 16:
                buf[digit + 16] = rng.choice(b"0123456789-x ")
        elif kind == 5:
            buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 30)))
        else:
            del buf[at:]
    return bytes(buf)


def test_fuzzed_captures_raise_nothing_but_protocol_error():
    rng = random.Random(20261121)
    captures = []
    for path in sorted(FIXTURES.glob("*.esl")):
        data = path.read_bytes()
        frames = FrameParser().feed(data)
        sizes = [len(encode_frame_again(frame)) for frame in frames]
        captures.append((data, sizes))
    decoded = 0
    for _ in range(500):
        data, sizes = rng.choice(captures)
        first = rng.randrange(len(sizes))  # a window of whole frames, then damaged
        start = sum(sizes[:first])
        window = data[start : start + sum(sizes[first : first + rng.randint(1, 12)])]
        decoded += consume(mutate(window, rng), rng)
    assert decoded > 200  # the damage left plenty of events to decode


def encode_frame_again(frame: Frame) -> bytes:
    """A frame's length on the wire: headers as received, a blank line, the body."""
    head = "".join(f"{name}: {value}\n" for name, value in frame.headers.items())
    return head.encode() + b"\n" + frame.body


@PROPS
@given(st.binary(max_size=600), st.randoms(use_true_random=False))
def test_random_bytes_raise_nothing_but_protocol_error(data, rng):
    consume(b"Content-Type: api/response\nContent-Length: 3\n\n+OK" + data, rng)


@PROPS
@given(st.binary(max_size=300), st.sampled_from([EVENT_PLAIN, EVENT_JSON]))
def test_random_event_bodies_raise_nothing_but_protocol_error(body, content_type):
    try:
        event = parse_event(Frame({"Content-Type": content_type}, body))
    except ProtocolError:
        return
    assert all(type(name) is str and type(v) is str for name, v in event.headers.items())
