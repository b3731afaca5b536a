"""The Event Socket wire format: bytes in, frames and events out, and back again.

Pure code, no sockets and no gevent: the connection layer feeds received bytes to a
:class:`FrameParser`, turns event frames into :class:`Event` with :func:`parse_event`, and
builds what it sends with :func:`encode_command`. The simulator serves the other encoders,
which copy FreeSWITCH 1.10's frames byte for byte.

Wire shape (tests/fixtures/esl/ holds real captures): a frame is header lines, a blank line,
then exactly ``Content-Length`` bytes. A ``text/event-plain`` body is URL-encoded
``Name: value`` lines and a blank line, then, if the event has a body (BACKGROUND_JOB), an
inner ``Content-Length: N`` as the last header, a blank line and N bytes. A
``text/event-json`` body is one JSON object of strings with the body in ``"_body"``.

Text decoding (one rule everywhere): bytes are UTF-8, and anything that is not valid UTF-8
becomes U+FFFD rather than dropping the event or raising. A header value is URL-decoded on
its own, after the lines are split, so an encoded newline (``%0A``) stays inside its value.
"""

from __future__ import annotations

import json
import re
from binascii import a2b_qp
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import unquote_to_bytes

__all__ = [
    "API_RESPONSE",
    "AUTH_REQUEST",
    "COMMAND_REPLY",
    "DISCONNECT_NOTICE",
    "EVENT_JSON",
    "EVENT_PLAIN",
    "Event",
    "Frame",
    "FrameParser",
    "ProtocolError",
    "encode_api_response",
    "encode_auth_request",
    "encode_command",
    "encode_command_reply",
    "encode_disconnect_notice",
    "encode_event",
    "parse_event",
]

AUTH_REQUEST = "auth/request"
COMMAND_REPLY = "command/reply"
API_RESPONSE = "api/response"
EVENT_PLAIN = "text/event-plain"
EVENT_JSON = "text/event-json"
DISCONNECT_NOTICE = "text/disconnect-notice"

# Frames FreeSWITCH always sends with a body: without a Content-Length we cannot know where
# the next frame starts, so its absence is an error rather than an empty body.
_BODY_REQUIRED = frozenset(
    {EVENT_PLAIN, EVENT_JSON, "text/event-xml", API_RESPONSE, "log/data", "text/rude-rejection"}
)
_MAX_LENGTH_DIGITS = 18  # beyond any sane limit, and keeps int() away from huge strings

# FreeSWITCH writes an empty header value as this placeholder (switch_event_serialize).
_UNDEF = "_undef_"


class ProtocolError(Exception):
    """Malformed Event Socket data; the message says what was wrong and where."""


@dataclass(slots=True)
class Frame:
    """One outer frame: its header lines (values URL-decoded) and its body bytes."""

    headers: dict[str, str]
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    @property
    def text(self) -> str:
        """The body as text (api/response output, disconnect notice), U+FFFD for bad UTF-8."""
        return self.body.decode("utf-8", "replace")


class Event:
    """One FreeSWITCH event, the same whether it came as plain or json.

    ``headers`` maps names to decoded values; ``body`` is the event's body (the
    BACKGROUND_JOB result such as ``"+OK <uuid>\\n"``), or None when it has none; an empty
    body is None too, as plain cannot tell them apart. The inner Content-Length is not kept:
    it only framed the body.

    A plain event from :func:`parse_event` decodes lazily: its shape was checked (so the
    event is known to be well formed), ``get`` and the properties decode just the value
    they read, and the first use of ``headers`` decodes them all. Handlers that look at a
    few headers of the many a CHANNEL event carries never pay for the rest. A value read is
    kept: the link, the router and each handler read Event-Name and Unique-ID again, and a
    search of the block costs as much as a few dozen dictionary lookups.
    """

    __slots__ = ("_headers", "_lines", "_read", "body")

    def __init__(self, headers: dict[str, str], body: str | None = None) -> None:
        self._headers: dict[str, str] | None = headers
        self._lines: _ShapedLines | None = None
        self._read: dict[str, str | None] = {}
        self.body = body

    @classmethod
    def _undecoded(cls, lines: _ShapedLines) -> Event:
        event = cls.__new__(cls)
        event._headers = None
        event._lines = lines
        event._read = {}
        event.body = None
        return event

    @property
    def headers(self) -> dict[str, str]:
        headers = self._headers
        if headers is None:
            headers = self._headers = _decode_shaped(self._lines)
            self._lines = None
        return headers

    @headers.setter
    def headers(self, headers: dict[str, str]) -> None:
        self._headers = headers
        self._lines = None

    def get(self, header: str, default: str | None = None) -> str | None:
        headers = self._headers
        if headers is None:
            read = self._read
            if header in read:
                value = read[header]
            else:
                value = read[header] = _find_value(self._lines.block, header)
            return default if value is None else value
        return headers.get(header, default)

    @property
    def name(self) -> str:
        return self.get("Event-Name", "")

    @property
    def subclass(self) -> str | None:
        return self.get("Event-Subclass")

    @property
    def key(self) -> str:
        """What handlers register on: the subclass of a CUSTOM event, else the event name."""
        name = self.get("Event-Name", "")
        if name == "CUSTOM":
            return self.get("Event-Subclass", name)
        return name

    @property
    def uuid(self) -> str | None:
        return self.get("Unique-ID")

    @property
    def job_uuid(self) -> str | None:
        return self.get("Job-UUID")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return self.body == other.body and self.headers == other.headers

    __hash__ = None  # type: ignore[assignment]  # mutable, so not hashable

    def __repr__(self) -> str:
        return f"Event(headers={self.headers!r}, body={self.body!r})"


# --- decoding header lines ---------------------------------------------------------------
#
# One rule, two implementations. The rule: split the block into lines, split each line at
# its first ": " into name and value, then decode the value alone: FreeSWITCH's "_undef_"
# placeholder becomes "", anything else is percent-decoded (%XX in either case; a '%' that
# starts no escape stays as it is) and read as UTF-8 with U+FFFD for invalid bytes. Names
# are taken as they are: FreeSWITCH never encodes them.


def _unquote(value: str) -> str:
    return unquote_to_bytes(value).decode("utf-8", "replace")


def _decode_value(value: str) -> str:
    if value == _UNDEF:
        return ""
    return _unquote(value) if "%" in value else value


def _parse_lines_slowly(block: bytes, what: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for number, line in enumerate(block.decode("utf-8", "replace").split("\n"), 1):
        name, sep, value = line.partition(": ")
        if not sep:
            raise ProtocolError(f"{what}: header line {number} has no ': ': {line[:80]!r}")
        headers[name] = _decode_value(value)
    return headers


# The fast path gives the same result in a handful of C calls, for blocks shaped the way
# FreeSWITCH writes them: ASCII; in each line exactly one ':' and one ' ', together the ": "
# separator (URL-encoding removes both from values); no '%' in a name; no raw '=' or '\r'.
# Checking the shape costs a translate, a compare and a search. Decoding then costs one
# translate that deletes ':' and turns ' ' and newlines into _SEP and '%' into '=', one
# quoted-printable decode (percent-decoding under another name, given the shape) for every
# value at once, and one split into name, value, name, value... An encoded newline (%0A)
# stays inside its value, as _SEP separates the pieces; a value that decodes to _SEP, or an
# escape that is not %XX, makes the counts disagree and the block take the slow path.
_SEP = "\x01"
_SHAPE_CHARS = b"%: \n\r="
_NOT_SHAPE = bytes(sorted(set(range(256)) - set(_SHAPE_CHARS)))
_BARE_SHAPES = b": \n" * 8192  # what is left of 8192 well-shaped lines without their '%'
_COLON_APART = re.compile(rb":[^ ]")
_TO_QP = bytes.maketrans(b" \n%", (_SEP * 2).encode("ascii") + b"=")


class _ShapedLines(NamedTuple):
    block: bytes
    lines: int
    escapes: int  # '%' in the block, each of which should start a %XX


def _shaped(block: bytes) -> _ShapedLines | None:
    """The block with what decoding it needs, if it is shaped for the fast path."""
    if not block.isascii():
        return None
    shape = block.translate(None, _NOT_SHAPE)  # what is left of each line: ": %%%"
    bare = shape.translate(None, b"%")
    if (
        len(bare) % 3 != 2
        or not _BARE_SHAPES.startswith(bare)
        or shape[:1] == b"%"  # a '%' before the ':' of a line: in a name
        or b"\n%" in shape
        or _COLON_APART.search(block)
    ):
        return None
    return _ShapedLines(block, (len(bare) + 1) // 3, len(shape) - len(bare))


def _decode_shaped(shaped: _ShapedLines) -> dict[str, str]:
    block, lines, escapes = shaped
    qp = block.translate(_TO_QP, b":")
    raw = a2b_qp(qp) if escapes else qp
    if len(raw) == len(qp) - 2 * escapes:  # each well-formed %XX shrinks by two bytes
        pieces = raw.decode("utf-8", "replace").split(_SEP)
        if len(pieces) == 2 * lines:
            pairs = iter(pieces)
            headers = dict(zip(pairs, pairs, strict=True))
            if _UNDEF in headers.values():
                _restore_empty_values(block, headers)
            return headers
    return _parse_lines_slowly(block, "header lines")  # cannot fail: every line has ": "


def _find_value(block: bytes, name: str) -> str | None:
    """One header of a shaped block, decoded as _decode_shaped would: its last line wins."""
    if not name.isascii():
        return None  # a shaped block is ASCII
    line = b"\n" + name.encode("ascii") + b": "
    at = block.rfind(line)
    if at >= 0:
        start = at + len(line)
    elif block.startswith(line[1:]):
        start = len(line) - 1
    else:
        return None
    end = block.find(b"\n", start)
    raw = block[start:end] if end >= 0 else block[start:]
    if raw == b"_undef_":
        return ""
    escapes = raw.count(b"%")
    if escapes:  # as in _decode_shaped; a stray '%' leaves it to the slow decoder
        value = a2b_qp(raw.replace(b"%", b"="))
        if len(value) == len(raw) - 2 * escapes:
            return value.decode("utf-8", "replace")
        return _unquote(raw.decode("ascii"))
    return raw.decode("ascii")


def _restore_empty_values(block: bytes, headers: dict[str, str]) -> None:
    # A value reading "_undef_" is empty if FreeSWITCH wrote the placeholder, and literal if
    # it came escaped (our encoder writes "%5Fundef_"): the undecoded line tells which.
    for name, value in headers.items():
        if value == _UNDEF:
            headers[name] = _find_value(block, name)


def _parse_lines(block: bytes, what: str) -> dict[str, str]:
    """Header lines to a dict; a repeated name keeps its last value, as in FreeSWITCH's
    JSON form of the same event."""
    shaped = _shaped(block)
    return _parse_lines_slowly(block, what) if shaped is None else _decode_shaped(shaped)


def _parse_length(value: str, what: str) -> int:
    if not (value.isascii() and value.isdigit()):
        raise ProtocolError(f"{what}: Content-Length {value[:40]!r} is not a non-negative integer")
    if len(value) > _MAX_LENGTH_DIGITS:
        raise ProtocolError(f"{what}: Content-Length {value[:40]!r} is absurdly large")
    return int(value)


# --- frames ------------------------------------------------------------------------------


def _parse_frame_headers(block: bytes, where: int) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.decode("utf-8", "replace").split("\n"):
        name, sep, value = line.partition(": ")
        if not sep:
            raise ProtocolError(f"frame at byte {where}: header line has no ': ': {line[:80]!r}")
        value = _decode_value(value)
        if name == "Content-Length" and headers.get(name, value) != value:
            raise ProtocolError(
                f"frame at byte {where}: two different Content-Length headers "
                f"({headers[name][:20]!r} and {value[:20]!r})"
            )
        headers[name] = value
    return headers


class FrameParser:
    """Incremental frame parser: feed it bytes as they arrive, get complete frames back.

    Bytes are kept, not copied, while a frame is incomplete (a list of chunks joined once
    the frame can be completed), so a large body arriving in many reads costs linear time.
    After a ProtocolError the stream position is lost: every later feed() raises too.
    """

    __slots__ = (
        "max_header_bytes",
        "max_body_bytes",
        "_held",
        "_held_len",
        "_pending",
        "_pending_head_len",
        "_need",
        "_fed",
        "_error",
    )

    def __init__(
        self, max_header_bytes: int = 65536, max_body_bytes: int = 64 * 1024 * 1024
    ) -> None:
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self._held: list[bytes] = []  # received bytes of the incomplete frame
        self._held_len = 0
        self._pending: dict[str, str] | None = None  # headers of a frame awaiting its body
        self._pending_head_len = 0
        self._need = 0  # body bytes the pending frame needs
        self._fed = 0  # bytes fed so far, to say where an error is
        self._error: ProtocolError | None = None

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return self._held_len + self._pending_head_len

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes; return the frames they complete, in order."""
        if self._error is not None:
            raise ProtocolError(f"parser stopped by an earlier error: {self._error}")
        if not data:
            return []
        self._fed += len(data)
        held = self._held
        if self._pending is not None:
            held.append(data)
            self._held_len += len(data)
            if self._held_len < self._need:
                return []
            data = b"".join(held)
        elif held:
            # The held bytes hold no blank line; only this chunk can complete the headers.
            if b"\n\n" not in data and not (data[0] == 10 and held[-1][-1] == 10):
                held.append(data)
                self._held_len += len(data)
                self._check_partial_head(self._held_len, data[-1] == 10)
                return []
            held.append(data)
            data = b"".join(held)
        self._held = []
        self._held_len = 0
        try:
            return self._parse(data)
        except ProtocolError as exc:
            self._error = exc
            self._held, self._held_len, self._pending, self._pending_head_len = [], 0, None, 0
            raise

    def _check_partial_head(self, size: int, ends_with_newline: bool) -> None:
        # The header block may end just before a trailing newline, so that byte may not count.
        if size - ends_with_newline > self.max_header_bytes:
            raise ProtocolError(
                f"frame at byte {self._fed - size}: no end of headers within "
                f"{self.max_header_bytes} bytes"
            )

    def _parse(self, data: bytes) -> list[Frame]:
        frames: list[Frame] = []
        pos = 0
        end = len(data)
        base = self._fed - end  # stream offset of data[0]
        if self._pending is not None:
            frames.append(Frame(self._pending, data[: self._need]))
            pos = self._need
            self._pending = None
            self._pending_head_len = 0
        find = data.find
        max_header = self.max_header_bytes
        while pos < end:
            if data[pos] == 10:  # a stray blank line between frames carries nothing
                pos += 1
                continue
            sep = find(b"\n\n", pos)
            if sep < 0:
                self._check_partial_head(end - pos, data[-1] == 10)
                self._held = [data[pos:]]
                self._held_len = end - pos
                break
            if sep - pos > max_header:
                raise ProtocolError(
                    f"frame at byte {base + pos}: headers of {sep - pos} bytes exceed "
                    f"the limit of {max_header}"
                )
            headers = _parse_frame_headers(data[pos:sep], base + pos)
            length = self._body_length(headers, base + pos)
            start = sep + 2
            stop = start + length
            if stop > end:
                self._pending = headers
                self._pending_head_len = start - pos
                self._need = length
                self._held = [data[start:]]
                self._held_len = end - start
                break
            frames.append(Frame(headers, data[start:stop]))
            pos = stop
        return frames

    def _body_length(self, headers: dict[str, str], where: int) -> int:
        value = headers.get("Content-Length")
        if value is None:
            content_type = headers.get("Content-Type", "")
            if content_type in _BODY_REQUIRED or content_type.startswith("text/event-"):
                raise ProtocolError(
                    f"frame at byte {where}: {content_type} frame without Content-Length"
                )
            return 0
        length = _parse_length(value, f"frame at byte {where}")
        if length > self.max_body_bytes:
            raise ProtocolError(
                f"frame at byte {where}: body of {length} bytes exceeds the limit of "
                f"{self.max_body_bytes}"
            )
        return length


# --- events ------------------------------------------------------------------------------


def parse_event(frame: Frame) -> Event:
    """Turn a text/event-plain or text/event-json frame into a normalised Event."""
    content_type = frame.headers.get("Content-Type", "")
    if content_type == EVENT_PLAIN:
        return _parse_plain_event(frame.body)
    if content_type == EVENT_JSON:
        return _parse_json_event(frame.body)
    raise ProtocolError(f"not an event frame: Content-Type {content_type!r}")


def _parse_plain_event(body: bytes) -> Event:
    if body[-2:] == b"\n\n":
        # Most events have no body, so their header block is all but the final blank line;
        # a shaped block has no blank line, which proves it. Decoding waits for a reader.
        shaped = _shaped(body[:-2])
        if shaped is not None and _find_value(shaped.block, "Content-Length") is None:
            return Event._undecoded(shaped)
    if body[:1] == b"\n":  # an event without headers
        block, rest = b"", body[1:]
    else:
        sep = body.find(b"\n\n")
        if sep < 0:
            raise ProtocolError("text/event-plain body has no blank line after its headers")
        block, rest = body[:sep], body[sep + 2 :]
    headers = _parse_lines(block, "text/event-plain") if block else {}
    length = headers.pop("Content-Length", None)
    if length is None:
        if rest:
            raise ProtocolError(
                f"text/event-plain: {len(rest)} bytes after the headers but no Content-Length"
            )
        return Event(headers)
    if _parse_length(length, "text/event-plain") != len(rest):
        raise ProtocolError(
            f"text/event-plain: event body is {len(rest)} bytes, its Content-Length says {length}"
        )
    return Event(headers, rest.decode("utf-8", "replace") or None)


def _parse_json_event(body: bytes) -> Event:
    try:
        try:
            obj = json.loads(body)
        except UnicodeDecodeError:  # invalid UTF-8 inside a string: keep the event
            obj = json.loads(body.decode("utf-8", "replace"))
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"text/event-json body is not valid JSON: {exc}") from None
    if type(obj) is not dict:
        raise ProtocolError(f"text/event-json body is a JSON {type(obj).__name__}, not an object")
    text = obj.pop("_body", None)
    obj.pop("Content-Length", None)
    if text is not None and type(text) is not str:
        raise ProtocolError("text/event-json: _body is not a string")
    try:
        "".join(obj.values())  # the quickest proof that every value is a string
    except TypeError:
        obj = _json_values_to_text(obj)
    return Event(obj, text or None)


def _json_values_to_text(obj: dict) -> dict[str, str]:
    # A header FreeSWITCH holds as an array is a JSON array; its plain form is one string,
    # "ARRAY::a|:b" (switch_event.c), and a one-element array is just that element.
    headers: dict[str, str] = {}
    for name, value in obj.items():
        if type(value) is str:
            headers[name] = value
        elif type(value) is list and value and all(type(item) is str for item in value):
            headers[name] = value[0] if len(value) == 1 else "ARRAY::" + "|:".join(value)
        else:
            raise ProtocolError(
                f"text/event-json: header {name[:60]!r} is a JSON {type(value).__name__}, "
                f"not a string"
            )
    return headers


# --- encoders ----------------------------------------------------------------------------

# switch_url_encode leaves printable ASCII alone except SWITCH_URL_UNSAFE
# ("\r\n #%&+:;<=>?@[\]^`{|}" and '"'); everything else becomes %XX in upper-case hex.
_URL_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!$'()*,-./_~")
_URL_ENCODE = [chr(byte) if byte in _URL_SAFE else f"%{byte:02X}" for byte in range(256)]
_URL_UNSAFE = re.compile(r"[^A-Za-z0-9!$'()*,\-./_~]")
# Events repeat most values (host, addresses, caller ids, dates within a second), so the
# simulator's encoding is mostly lookups; the cache is simply dropped when it grows too big.
_ENCODED: dict[str, str] = {}
_ENCODED_MAX = 16384


def _url_encode(value: str) -> str:
    encoded = _ENCODED.get(value)
    if encoded is None:
        if len(_ENCODED) >= _ENCODED_MAX:
            _ENCODED.clear()
        encoded = _ENCODED[value] = _url_encode_uncached(value)
    return encoded


def _url_encode_uncached(value: str) -> str:
    # Unlike FreeSWITCH (which leaves an existing "%XX" alone, so such a value comes back
    # changed), '%' is always encoded: what we encode decodes to exactly the same value.
    if not value:
        return _UNDEF
    if value == _UNDEF:
        return "%5Fundef_"  # decodes to "_undef_" without being read as the placeholder
    if _URL_UNSAFE.search(value) is None:
        return value
    return value.encode("utf-8").decode("latin-1").translate(_URL_ENCODE)


def _reject_header_names(headers: dict[str, str], fmt: str) -> None:
    """ValueError for a name the format cannot carry, so it never garbles the frame."""
    reserved = ("Content-Length", "_body") if fmt == "json" else ("Content-Length",)
    for name in reserved:
        if name in headers:
            raise ValueError(f"{name!r} frames the event body; it cannot be an event header")
    if fmt == "plain":
        names = "\n".join(headers)  # one check for all names, the loop only to name the culprit
        if ": " in names or names.count("\n") != len(headers) - 1:
            for name in headers:
                if "\n" in name or ": " in name:
                    raise ValueError(f"header name {name!r} cannot be sent in plain format")


def _plain_payload(event: Event) -> bytes:
    encode = _url_encode
    head = "".join([f"{name}: {encode(value)}\n" for name, value in event.headers.items()])
    if event.body:
        body = event.body.encode("utf-8")
        return b"%sContent-Length: %d\n\n%s" % (head.encode("utf-8"), len(body), body)
    return head.encode("utf-8") + b"\n"  # FreeSWITCH too writes an empty body as none


def _json_payload(event: Event) -> bytes:
    obj: dict[str, str | list[str]] = dict(event.headers)
    if "ARRAY::" in "".join(obj.values()):
        for name, value in obj.items():
            if value.startswith("ARRAY::") and "|:" in value:  # see _json_values_to_text
                obj[name] = value[7:].split("|:")
    if event.body is not None:
        obj["Content-Length"] = str(len(event.body.encode("utf-8")))
        obj["_body"] = event.body
    # cJSON escapes exactly what json does with ensure_ascii off; neither adds spaces.
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def encode_event(event: Event, fmt: str = "plain") -> bytes:
    """The whole frame FreeSWITCH sends for this event in format "plain" or "json".

    Raises ValueError for a header the format cannot carry: "Content-Length" (and "_body" in
    json), or in plain a name holding a newline or ": ".
    """
    if fmt == "plain":
        _reject_header_names(event.headers, fmt)
        payload, content_type = _plain_payload(event), b"text/event-plain"
    elif fmt == "json":
        _reject_header_names(event.headers, fmt)
        payload, content_type = _json_payload(event), b"text/event-json"
    else:
        raise ValueError(f"event format must be 'plain' or 'json', not {fmt!r}")
    return b"Content-Length: %d\nContent-Type: %s\n\n%s" % (len(payload), content_type, payload)


def _check_line(text: str, what: str) -> None:
    if "\n" in text or "\r" in text:
        raise ValueError(f"{what} must not contain a line break: {text[:80]!r}")


def _check_header(name: str, value: str) -> None:
    if not name or ":" in name or " " in name:
        raise ValueError(f"invalid header name {name!r}")
    _check_line(name, "header name")
    _check_line(value, f"header {name}")


def encode_auth_request() -> bytes:
    """What FreeSWITCH sends first on every inbound connection."""
    return b"Content-Type: auth/request\n\n"


def encode_command_reply(reply_text: str, extra: Iterable[tuple[str, str]] = ()) -> bytes:
    """A command/reply frame, e.g. ("+OK Job-UUID: <id>", [("Job-UUID", id)]).

    Like FreeSWITCH, the values are sent as they are (not URL-encoded).
    """
    _check_line(reply_text, "reply text")
    parts = [f"Content-Type: command/reply\nReply-Text: {reply_text}\n"]
    for name, value in extra:
        _check_header(name, value)
        parts.append(f"{name}: {value}\n")
    parts.append("\n")
    return "".join(parts).encode("utf-8")


def _encode_body_frame(content_type: str, body: str) -> bytes:
    data = body.encode("utf-8")
    return b"Content-Type: %s\nContent-Length: %d\n\n%s" % (
        content_type.encode("ascii"),
        len(data),
        data,
    )


def encode_api_response(body: str) -> bytes:
    """The reply to ``api``: Content-Type first, then Content-Length, then the output."""
    return _encode_body_frame(API_RESPONSE, body)


def encode_disconnect_notice(body: str) -> bytes:
    """Sent before FreeSWITCH closes the connection (exit, bad auth, shutdown)."""
    return _encode_body_frame(DISCONNECT_NOTICE, body)


def encode_command(command: str, headers: Iterable[tuple[str, str]] = ()) -> bytes:
    """What a client sends: ``api status\\n\\n`` or ``bgapi ...\\nJob-UUID: <id>\\n\\n``.

    Raises ValueError for an empty command or a line break in the command or a header:
    one would end the command early and let the rest run as another command.
    """
    _check_line(command, "command")
    if not command.strip():
        raise ValueError("empty command")
    parts = [command, "\n"]
    for name, value in headers:
        _check_header(name, value)
        parts.append(f"{name}: {value}\n")
    parts.append("\n")
    return "".join(parts).encode("utf-8")
