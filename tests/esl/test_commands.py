"""Command builders: exact texts, refusal of every injection, and FreeSWITCH's own parsing.

`fs_separate` / `fs_originate` below model how FreeSWITCH 1.10 splits an api argument
(switch_separate_string and its unescaping) and reads an originate `{var=value}` block, so the
tests can check what FreeSWITCH would actually see, not just the string we built.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callcenter.esl import commands as c
from callcenter.esl.commands import CommandError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "esl"
U1 = "b3e87bde-e8a1-4b53-914c-7510438f0a9a"
U2 = "6e662c44-09d2-4db9-aae7-27302366a333"

# ------------------------------------------------------------ FreeSWITCH model

_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "s": " "}


def fs_cleanup(piece: str, delim: str) -> str:
    """cleanup_separated_string: drop leading/trailing spaces and quotes, undo escapes."""
    i = 0
    while i < len(piece) and piece[i] == " ":
        i += 1
    out: list[str] = []
    end: int | None = None
    inside = False
    while i < len(piece):
        ch = piece[i]
        nxt = piece[i + 1] if i + 1 < len(piece) else ""
        if ch == "\\" and nxt and (nxt in "'\"\\" or (delim and nxt == delim) or nxt in _UNESCAPE):
            out.append(_UNESCAPE.get(nxt, nxt) if nxt not in "'\"\\" and nxt != delim else nxt)
            end = len(out)
            i += 2
            continue
        if ch == "'" and (inside or "'" in piece[i + 1 :]):
            inside = not inside
            if inside:
                end = len(out)
        else:
            out.append(ch)
            if ch != " " or inside:
                end = len(out)
        i += 1
    return "".join(out[:end] if end is not None else out)


def fs_separate(buf: str, delim: str, arraylen: int) -> list[str]:
    """switch_separate_string, including the `^^X` separator switch."""
    if buf.startswith("^^") and len(buf) >= 4:
        delim, buf = buf[2], buf[3:]
    bounds: list[list[int]] = []
    i, n, inside = 0, len(buf), False
    state = "start"
    # Like the C loop, stop as soon as the last piece has begun: it runs to the end.
    while i < n and len(bounds) < arraylen:
        if state == "start":
            bounds.append([i, n])
            state = "skip" if delim == " " else "find"
            continue
        ch = buf[i]
        if state == "skip" or state == "skip_end":
            if ch == " ":
                i += 1
            else:
                state = "find" if state == "skip" else "start"
            continue
        if ch == "\\":
            i += 1
        elif ch == "'" and (delim == " " or inside or "'" in buf[i + 1 :]):
            inside = not inside
        elif ch == delim and not inside:
            bounds[-1][1] = i
            state = "skip_end" if delim == " " else "start"
        i += 1
    return [fs_cleanup(buf[a:b], "" if delim == " " else delim) for a, b in bounds]


def fs_end_paren(s: str, open_: str, close: str) -> int | None:
    depth = 0
    for i, ch in enumerate(s):
        if ch == open_:
            depth += 1
        elif ch == close:
            depth -= 1
            if depth == 0:
                return i
    return None


def fs_originate(arg: str) -> tuple[dict[str, str], str, str, str | None, int]:
    """What `originate <arg>` hands to the dialer: variables, endpoint, app, app argument."""
    argv = fs_separate(arg, " ", 10)
    data, variables = argv[0], {}
    while data.startswith("{"):
        end = fs_end_paren(data, "{", "}")
        assert end is not None, "unterminated {} block"
        block, data = data[1:end], data[end + 1 :]
        sep = ","
        if block.startswith("^^"):
            sep, block = block[2], block[3:]
        for piece in fs_separate(block, sep, 1024):
            pair = fs_separate(piece, "=", 2)
            if len(pair) == 2:
                variables[pair[0]] = pair[1]
    exten = argv[1] if len(argv) > 1 else ""
    app, app_arg = exten[1:].split(")")[0], None
    if "(" in app:
        app, app_arg = app.split("(", 1)
    return variables, data, app, app_arg, len(argv)


def test_model_reads_the_fixture_originate_like_freeswitch():
    variables, endpoint, app, arg, argc = fs_originate(
        "{origination_uuid=" + U1 + ",sip_h_Call-Info=<sip:127.0.0.1>;answer-after=0,"
        "cc_call_id=C3}user/1000 &eavesdrop(" + U2 + ")"
    )
    assert variables == {
        "origination_uuid": U1,
        "cc_call_id": "C3",
        "sip_h_Call-Info": "<sip:127.0.0.1>;answer-after=0",
    }
    assert (endpoint, app, arg, argc) == ("user/1000", "eavesdrop", U2, 2)
    # The model knows the tricks the builders must keep out:
    assert fs_originate("{a=1,b=2}user/1 &park()")[0] == {"a": "1", "b": "2"}
    assert fs_originate("{^^:a=1,2:b=3}user/1 &park()")[0] == {"a": "1,2", "b": "3"}
    assert fs_originate("{a='x y'}user/1 &park()")[0] == {"a": "x y"}
    assert fs_originate("{a=x}user/1 &playback(%(1,2);x)")[3] == "%(1,2"
    assert fs_separate("uuid a\\sb c", " ", 3) == ["uuid", "a b", "c"]


# ------------------------------------------------------------ fixtures, byte for byte


def _sent_commands() -> list[str]:
    sent = []
    for path in sorted(FIXTURES.glob("*.sent.txt")):
        for line in path.read_text().splitlines():
            match = re.search(r"\bSEND\s+(b'(?:[^'\\]|\\.)*')", line)
            if match:
                frame = ast.literal_eval(match.group(1)).decode()
                assert frame.endswith("\n\n")
                sent.append(frame[:-2])
    return sent


def _endpoint_from(text: str) -> str:
    parts = text.split("/")
    if parts[0] == "user":
        return c.user_endpoint(parts[1])
    assert parts[:2] == ["sofia", "gateway"]
    return c.gateway_endpoint(parts[2], parts[3])


def _rebuild(command: str) -> str:
    """Build the same command again through the builders, from its parsed values."""
    word, _, rest = command.partition(" ")
    args = rest.split(" ")
    if word == "originate":
        m = re.fullmatch(r"\{([^}]*)\}(\S+) &(\w+)\((.*)\)", rest)
        assert m, command
        pairs = dict(p.split("=", 1) for p in m[1].split(","))
        leg = pairs.pop("origination_uuid")
        variables: dict[str, str] = {}
        for name, value in pairs.items():
            if name == "sip_h_Call-Info":
                domain = re.fullmatch(r"<sip:(.*)>;answer-after=0", value)[1]
                variables.update(c.auto_answer_variables(domain))
            else:
                variables[name] = value
        endpoint = _endpoint_from(m[2])
        if m[3] == "eavesdrop":
            return "originate " + c.eavesdrop(leg, endpoint, m[4], variables)[10:]
        return c.originate(leg, endpoint, variables, app=m[3], app_arg=m[4])
    builders: dict[str, Callable[[], str]] = {
        "uuid_bridge": lambda: c.uuid_bridge(*args),
        "uuid_kill": lambda: c.uuid_kill(args[0], args[1] if len(args) > 1 else None),
        "uuid_hold": lambda: c.uuid_hold(args[-1], off=args[0] == "off"),
        "uuid_record": lambda: c.uuid_record(*args),
        "uuid_setvar": lambda: c.uuid_setvar(*args),
        "uuid_broadcast": lambda: c.uuid_broadcast(*args),
        "uuid_break": lambda: c.uuid_break(args[0], all_=args[1:] == ["all"]),
        "show": lambda: {
            "channels": c.show_channels,
            "calls": c.show_calls,
            "registrations": c.show_registrations,
        }[args[0]](),
        "status": c.status,
    }
    return builders[word]()


def test_builders_reproduce_every_command_sent_to_the_real_freeswitch():
    kinds = set()
    for frame in _sent_commands():
        prefix, _, command = frame.partition(" ")
        if prefix not in ("api", "bgapi") or command == "foobar":
            continue  # auth, event subscription, exit and the deliberate unknown command
        assert _rebuild(command) == command
        kinds.add(command.split(" ")[0])
    assert kinds == {
        "originate",
        "uuid_bridge",
        "uuid_kill",
        "uuid_hold",
        "uuid_record",
        "uuid_setvar",
        "uuid_broadcast",
        "uuid_break",
        "show",
        "status",
    }


def test_click_to_dial_commands_as_captured():
    agent = c.originate(
        U1,
        c.user_endpoint("1000"),
        {
            "cc_call_id": "C3-plain",
            **c.auto_answer_variables("127.0.0.1"),
            "origination_caller_id_number": "5550100",
        },
    )
    assert agent == (
        "originate {origination_uuid=b3e87bde-e8a1-4b53-914c-7510438f0a9a,cc_call_id=C3-plain,"
        "sip_h_Call-Info=<sip:127.0.0.1>;answer-after=0,origination_caller_id_number=5550100}"
        "user/1000 &park()"
    )
    customer = c.originate(
        U2,
        c.gateway_endpoint("carrier", "15551234567"),
        {"cc_call_id": "C3-plain", "originate_timeout": "30"},
    )
    assert customer == (
        "originate {origination_uuid=6e662c44-09d2-4db9-aae7-27302366a333,cc_call_id=C3-plain,"
        "originate_timeout=30}sofia/gateway/carrier/15551234567 &park()"
    )
    assert c.uuid_broadcast(U1, "tone_stream://%(2000,4000,440,480);loops=-1") == (
        f"uuid_broadcast {U1} tone_stream://%(2000,4000,440,480);loops=-1 aleg"
    )


# ------------------------------------------------------------ exact texts

BUILT = [
    (lambda: c.user_endpoint("1000", "example.com"), "user/1000@example.com"),
    (lambda: c.user_endpoint("1000"), "user/1000"),
    (lambda: c.gateway_endpoint("carrier", "+15551234567"), "sofia/gateway/carrier/+15551234567"),
    (lambda: c.loopback_endpoint("5550100"), "loopback/5550100/default"),
    (lambda: c.loopback_endpoint("5550100", "public"), "loopback/5550100/public"),
    (
        lambda: c.originate(U1.upper(), "user/1000@10.0.0.5"),
        f"originate {{origination_uuid={U1}}}user/1000@10.0.0.5 &park()",
    ),
    (
        lambda: c.originate(
            U1, "user/1000", {"park_timeout": 120, "cc_queue": "sales"}, app="echo"
        ),
        f"originate {{origination_uuid={U1},park_timeout=120,cc_queue=sales}}user/1000 &echo()",
    ),
    (
        lambda: c.originate(
            U1, "loopback/5550100/default", app="playback", app_arg="/usr/share/sounds/welcome.wav"
        ),
        f"originate {{origination_uuid={U1}}}loopback/5550100/default"
        " &playback(/usr/share/sounds/welcome.wav)",
    ),
    (
        lambda: c.originate(U1, "user/1000", {"origination_caller_id_name": "Acme Sales, Inc."}),
        f"originate {{origination_uuid={U1},origination_caller_id_name=Acme\\sSales\\,\\sInc.}}"
        "user/1000 &park()",
    ),
    (
        lambda: c.eavesdrop(U1, "user/1002", U2, {"cc_call_id": "C6"}),
        f"originate {{origination_uuid={U1},cc_call_id=C6}}user/1002 &eavesdrop({U2})",
    ),
    (
        lambda: c.auto_answer_variables("pbx.example.com"),
        {"sip_h_Call-Info": "<sip:pbx.example.com>;answer-after=0"},
    ),
    (lambda: c.uuid_answer(U1), f"uuid_answer {U1}"),
    (lambda: c.uuid_bridge(U1, U2), f"uuid_bridge {U1} {U2}"),
    (lambda: c.uuid_kill(U1), f"uuid_kill {U1} NORMAL_CLEARING"),
    (lambda: c.uuid_kill(U1, "USER_BUSY"), f"uuid_kill {U1} USER_BUSY"),
    (lambda: c.uuid_kill(U1, None), f"uuid_kill {U1}"),
    (lambda: c.uuid_hold(U1), f"uuid_hold {U1}"),
    (lambda: c.uuid_hold(U1, off=True), f"uuid_hold off {U1}"),
    (lambda: c.uuid_transfer(U1, "5000"), f"uuid_transfer {U1} 5000 XML default"),
    (
        lambda: c.uuid_transfer(U1, "sales", bleg=True, context="public"),
        f"uuid_transfer {U1} -bleg sales XML public",
    ),
    (
        lambda: c.uuid_broadcast(U1, "/var/sounds/moh.wav", "both"),
        f"uuid_broadcast {U1} /var/sounds/moh.wav both",
    ),
    (
        lambda: c.uuid_broadcast(U1, "local_stream://moh", "holdb"),
        f"uuid_broadcast {U1} local_stream://moh holdb",
    ),
    (lambda: c.uuid_break(U1), f"uuid_break {U1} all"),
    (lambda: c.uuid_break(U1, all_=False), f"uuid_break {U1}"),
    (
        lambda: c.uuid_record(U1, "start", "/var/tmp/rec-1.wav"),
        f"uuid_record {U1} start /var/tmp/rec-1.wav",
    ),
    (lambda: c.uuid_setvar(U1, "cc_call_id", "C5-plain"), f"uuid_setvar {U1} cc_call_id C5-plain"),
    (
        lambda: c.uuid_setvar(U1, "cc_note", "vip, call back"),
        f"uuid_setvar {U1} cc_note vip,\\scall\\sback",
    ),
    (lambda: c.uuid_send_dtmf(U1, "123#*A"), f"uuid_send_dtmf {U1} 123#*A"),
    (c.show_channels, "show channels as json"),
    (c.show_calls, "show calls as json"),
    (c.show_registrations, "show registrations as json"),
    (c.sofia_status, "sofia status"),
    (c.status, "status"),
    (
        lambda: c.flush_inbound_reg("internal", "1000", "127.0.0.1"),
        "sofia profile internal flush_inbound_reg 1000@127.0.0.1",
    ),
]


@pytest.mark.parametrize(("build", "expected"), BUILT)
def test_builder_output(build, expected):
    assert build() == expected


def test_free_text_reaches_freeswitch_unchanged():
    name = "Acme Sales, Inc. #2"
    variables, endpoint, app, arg, argc = fs_originate(
        c.originate(U1, "user/1000", {"origination_caller_id_name": name})[len("originate ") :]
    )
    assert variables == {"origination_uuid": U1, "origination_caller_id_name": name}
    assert (endpoint, app, arg, argc) == ("user/1000", "park", "", 2)
    argv = fs_separate(c.uuid_setvar(U1, "cc_note", name)[len("uuid_setvar ") :], " ", 3)
    assert argv == [U1, "cc_note", name]


VALIDATED_OK = [
    (c.valid_uuid, U1.upper(), U1),
    (c.valid_number, "+15551234567", "+15551234567"),
    (c.valid_extension, "1000", "1000"),
    (c.valid_domain, "127.0.0.1", "127.0.0.1"),
    (c.valid_domain, "pbx-1.example.com", "pbx-1.example.com"),
    (c.valid_gateway, "carrier_2.eu-west", "carrier_2.eu-west"),
    (lambda v: c.valid_name(v, "queue"), "sales", "sales"),
    (c.valid_file_path, "/var/tmp/rec-C3.wav", "/var/tmp/rec-C3.wav"),
    (c.valid_digits, "0123456789*#ABCD", "0123456789*#ABCD"),
    (c.valid_cause, "NORMAL_CLEARING", "NORMAL_CLEARING"),
    (lambda v: c.quote_value(v, "name"), "José Müller", "José\\sMüller"),
]


@pytest.mark.parametrize(("check", "value", "cleaned"), VALIDATED_OK)
def test_validators_accept_and_clean(check, value, cleaned):
    assert check(value) == cleaned


REFUSED = [
    (c.valid_number, "12", "number"),
    (c.valid_number, "+" + "1" * 21, "number"),
    (c.valid_number, "++123", "number"),
    (c.valid_number, "１２３", "number"),
    (c.valid_extension, "1", "extension"),
    (c.valid_extension, "12345678901", "extension"),
    (c.valid_domain, "256.1.1.1", "domain"),
    (c.valid_domain, "-a.com", "domain"),
    (c.valid_domain, "a..com", "domain"),
    (c.valid_domain, "a" * 64 + ".com", "domain"),
    (c.valid_gateway, "-bleg", "gateway"),
    (c.valid_file_path, "rec.wav", "file"),
    (c.valid_file_path, "/var/../etc/passwd", "file"),
    (c.valid_file_path, "/var//x", "file"),
    (c.valid_file_path, "/var/./x", "file"),
    (c.valid_file_path, "/" + "a" * 300, "file"),
    (c.valid_digits, "12e", "dtmf"),
    (c.valid_cause, "normal_clearing", "cause"),
    (c.valid_uuid, U1[:-1], "uuid"),
    (c.valid_uuid, 12345, "uuid"),
    (lambda v: c.valid_media(v), "system::rm", "path"),
    (lambda v: c.valid_media(v), "tone_stream://%(1,2,3);loops=-1)", "path"),
    (lambda v: c.valid_media(v), "file_string:///a.wav!/b.wav", "path"),
    (lambda v: c.quote_value(v, "name"), " padded", "name"),
    (lambda v: c.quote_value(v, "name"), "O'Brien", "name"),
    (lambda v: c.quote_value(v, "name"), "${system(id)}", "name"),
    (lambda v: c.quote_value(v, "name"), "a\\,b", "name"),
    (lambda v: c.quote_value(v, "name"), "x" * 101, "name"),
    (lambda v: c.uuid_bridge(U1, v), U1, "second uuid"),
    (lambda v: c.uuid_record(U1, v, "/a.wav"), "mask", "action"),
    (lambda v: c.uuid_transfer(U1, "5000", dialplan=v), "inline", "dialplan"),
    (lambda v: c.uuid_transfer(U1, v), "-both", "destination"),
    (lambda v: c.uuid_broadcast(U1, "/a.wav", v), "alegx", "leg"),
    (lambda v: c.originate(U1, "user/1000", app=v), "bridge", "app"),
    (lambda v: c.originate(U1, "user/1000", app_arg=v), "x", "park argument"),
    # FreeSWITCH would cut this at the first ')' and play nothing (see the captures' README).
    (
        lambda v: c.originate(U1, "user/1000", app="playback", app_arg=v),
        "tone_stream://%(200,100,440);loops=-1",
        "playback argument",
    ),
    (lambda v: c.originate(U1, "user/1000", {"origination_uuid": v}), U2, "origination_uuid"),
    (lambda v: c.originate(U1, "user/1000", {"park_timeout": v}), "0", "park_timeout"),
    (lambda v: c.originate(U1, "user/1000", {"park_timeout": v}), "3601", "park_timeout"),
    (lambda v: c.originate(U1, "user/1000", {"park_timeout": v}), True, "park_timeout"),
    (
        lambda v: c.originate(U1, "user/1000", {"sip_h_Call-Info": v}),
        "<sip:a.com>;answer-after=0;x=1",
        "sip_h_Call-Info",
    ),
    (
        lambda v: c.originate(U1, "user/1000", {"ignore_early_media": v}),
        "yes",
        "ignore_early_media",
    ),
    (lambda v: c.originate(U1, v), "sofia/internal/1000@a.com", "endpoint"),
    (lambda v: c.originate(U1, v), "user/1000@", "endpoint"),
    (lambda v: c.originate(U1, v), "loopback/5550100", "endpoint"),
]


@pytest.mark.parametrize(("check", "value", "field"), REFUSED)
def test_refusals_name_the_field(check, value, field):
    with pytest.raises(CommandError) as caught:
        check(value)
    assert caught.value.field == field
    assert str(caught.value).startswith(field + ": ")
    assert isinstance(caught.value, ValueError)


# ------------------------------------------------------------ injection corpus

INJECTIONS = [
    "&",
    "&park()",
    "{",
    "}",
    "{origination_uuid=x}",
    "[",
    "]",
    ",",
    ",foo=bar",
    "'",
    "^^:",
    "|",
    ")",
    " ",
    " &echo()",
    "\n",
    "\r",
    "\r\napi fsctl shutdown",
    "\t",
    "\x00",
    "%0A",
    "\\",
    "\\s",
    "$",
    "${uuid}",
    "::",
    ";",
    "=",
    '"',
    "<",
    ">",
    "(",
    "\uff06",
    "\uff0c",
    "\uff5b",
    "\u2028",
    "\u2029",
    "\u00a0",
    "\u200b",
    "\u02bc",
    "\u2019",
    "\uff11",
    "\u0661",
    "\u2024",
    "\ufe50",
]
LOOKALIKE_LETTERS = ["\u0430", "\uff41"]  # Cyrillic a, fullwidth a: letters, fine in free text
TOO_LONG = "9" * 5000
FREE_TEXT_ESCAPED = {" ", ","}  # free text carries these, escaped


def _free(builder: Callable[[str], object]) -> tuple[Callable[[str], object], bool]:
    return builder, True


def _strict(builder: Callable[[str], object]) -> tuple[Callable[[str], object], bool]:
    return builder, False


# (field named in the error, good value, builder with the value in that place, free text?)
PARAMETERS: list[tuple[str, str, Callable[[str], object], bool]] = [
    ("uuid", U1, *_strict(c.valid_uuid)),
    ("number", "5551234", *_strict(c.valid_number)),
    ("extension", "1000", *_strict(c.valid_extension)),
    ("domain", "example.com", *_strict(c.valid_domain)),
    ("gateway", "carrier", *_strict(c.valid_gateway)),
    ("queue", "sales", *_strict(lambda v: c.valid_name(v, "queue"))),
    ("file", "/var/tmp/a.wav", *_strict(c.valid_file_path)),
    ("dtmf", "123", *_strict(c.valid_digits)),
    ("cause", "USER_BUSY", *_strict(c.valid_cause)),
    ("name", "Acme", *_free(lambda v: c.quote_value(v, "name"))),
    ("extension", "1000", *_strict(lambda v: c.user_endpoint(v, "example.com"))),
    ("domain", "example.com", *_strict(lambda v: c.user_endpoint("1000", v))),
    ("gateway", "carrier", *_strict(lambda v: c.gateway_endpoint(v, "5551234"))),
    ("number", "5551234", *_strict(lambda v: c.gateway_endpoint("carrier", v))),
    ("number", "5550100", *_strict(lambda v: c.loopback_endpoint(v))),
    ("context", "default", *_strict(lambda v: c.loopback_endpoint("5550100", v))),
    ("domain", "example.com", *_strict(c.auto_answer_variables)),
    ("leg uuid", U1, *_strict(lambda v: c.originate(v, "user/1000"))),
    ("endpoint", "user/1000", *_strict(lambda v: c.originate(U1, v))),
    ("variable name", "cc_queue", *_strict(lambda v: c.originate(U1, "user/1000", {v: "x"}))),
    (
        "origination_caller_id_number",
        "5550100",
        *_strict(lambda v: c.originate(U1, "user/1000", {"origination_caller_id_number": v})),
    ),
    (
        "origination_caller_id_name",
        "Acme",
        *_free(lambda v: c.originate(U1, "user/1000", {"origination_caller_id_name": v})),
    ),
    ("cc_note", "Acme", *_free(lambda v: c.originate(U1, "user/1000", {"cc_note": v}))),
    (
        "originate_timeout",
        "30",
        *_strict(lambda v: c.originate(U1, "user/1000", {"originate_timeout": v})),
    ),
    ("park_timeout", "30", *_strict(lambda v: c.originate(U1, "user/1000", {"park_timeout": v}))),
    ("cc_call_id", "C1", *_strict(lambda v: c.originate(U1, "user/1000", {"cc_call_id": v}))),
    ("cc_queue", "sales", *_strict(lambda v: c.originate(U1, "user/1000", {"cc_queue": v}))),
    (
        "sip_h_Call-Info",
        "<sip:a.com>;answer-after=0",
        *_strict(lambda v: c.originate(U1, "user/1000", {"sip_h_Call-Info": v})),
    ),
    ("app", "park", *_strict(lambda v: c.originate(U1, "user/1000", app=v))),
    (
        "eavesdrop argument",
        U2,
        *_strict(lambda v: c.originate(U1, "user/1000", app="eavesdrop", app_arg=v)),
    ),
    (
        "playback argument",
        "/a.wav",
        *_strict(lambda v: c.originate(U1, "user/1000", app="playback", app_arg=v)),
    ),
    ("target uuid", U2, *_strict(lambda v: c.eavesdrop(U1, "user/1002", v))),
    ("uuid", U1, *_strict(c.uuid_answer)),
    ("first uuid", U1, *_strict(lambda v: c.uuid_bridge(v, U2))),
    ("second uuid", U2, *_strict(lambda v: c.uuid_bridge(U1, v))),
    ("uuid", U1, *_strict(c.uuid_kill)),
    ("cause", "NORMAL_CLEARING", *_strict(lambda v: c.uuid_kill(U1, v))),
    ("uuid", U1, *_strict(c.uuid_hold)),
    ("uuid", U1, *_strict(lambda v: c.uuid_transfer(v, "5000"))),
    ("destination", "5000", *_strict(lambda v: c.uuid_transfer(U1, v))),
    ("dialplan", "XML", *_strict(lambda v: c.uuid_transfer(U1, "5000", dialplan=v))),
    ("context", "default", *_strict(lambda v: c.uuid_transfer(U1, "5000", context=v))),
    ("uuid", U1, *_strict(lambda v: c.uuid_broadcast(v, "/a.wav"))),
    ("path", "/a.wav", *_strict(lambda v: c.uuid_broadcast(U1, v))),
    (
        "path",
        "tone_stream://%(2000,4000,440,480);loops=-1",
        *_strict(lambda v: c.uuid_broadcast(U1, v)),
    ),
    ("path", "local_stream://moh", *_strict(lambda v: c.uuid_broadcast(U1, v))),
    ("leg", "aleg", *_strict(lambda v: c.uuid_broadcast(U1, "/a.wav", v))),
    ("uuid", U1, *_strict(c.uuid_break)),
    ("uuid", U1, *_strict(lambda v: c.uuid_record(v, "start", "/a.wav"))),
    ("action", "start", *_strict(lambda v: c.uuid_record(U1, v, "/a.wav"))),
    ("recording path", "/a.wav", *_strict(lambda v: c.uuid_record(U1, "start", v))),
    ("uuid", U1, *_strict(lambda v: c.uuid_setvar(v, "cc_queue", "sales"))),
    ("variable name", "cc_queue", *_strict(lambda v: c.uuid_setvar(U1, v, "sales"))),
    ("cc_call_id", "C1", *_strict(lambda v: c.uuid_setvar(U1, "cc_call_id", v))),
    ("cc_note", "Acme", *_free(lambda v: c.uuid_setvar(U1, "cc_note", v))),
    ("uuid", U1, *_strict(lambda v: c.uuid_send_dtmf(v, "1"))),
    ("dtmf", "1", *_strict(lambda v: c.uuid_send_dtmf(U1, v))),
    ("profile", "internal", *_strict(lambda v: c.flush_inbound_reg(v, "1000", "a.com"))),
    ("user", "1000", *_strict(lambda v: c.flush_inbound_reg("internal", v, "a.com"))),
    ("domain", "a.com", *_strict(lambda v: c.flush_inbound_reg("internal", "1000", v))),
]
PARAMETER_IDS = [f"{i}-{p[0]}" for i, p in enumerate(PARAMETERS)]


@pytest.mark.parametrize(("field", "good", "build", "free"), PARAMETERS, ids=PARAMETER_IDS)
def test_injection_corpus_is_refused_everywhere(field, good, build, free):
    build(good)  # the good value itself is accepted
    candidates = ["", TOO_LONG, good + TOO_LONG]
    for bad in INJECTIONS + ([] if free else LOOKALIKE_LETTERS):
        if free and bad in FREE_TEXT_ESCAPED:
            continue
        candidates += [bad, good + bad, good[:1] + bad + good[1:]]
    for value in candidates:
        with pytest.raises(CommandError) as caught:
            build(value)
        assert caught.value.field == field, (value, str(caught.value))
        assert str(caught.value).startswith(field + ": ")


def test_free_text_escapes_what_it_does_not_refuse():
    for value in ("a b", "a,b", "a , b", "a  b"):
        built = c.quote_value(value, "name")
        assert " " not in built and "," not in built.replace("\\,", "")
        assert fs_separate("{x=" + built + "}", " ", 10) == [
            "{x=" + value.replace(",", "\\,") + "}"
        ]


# ------------------------------------------------------------ property: any string

ALPHABET = st.sampled_from(
    list("0123456789aZ_+-.,:/@#*!? &{}[]()'\"\\^|$=;<>%\n\r\t\x00\u2028\uff0c\u00e9")
)
ANY_TEXT = st.one_of(st.text(ALPHABET, max_size=30), st.text(max_size=30))


def near(seed: str) -> st.SearchStrategy[str]:
    """The seed with a few characters inserted: mostly still valid, sometimes an attack."""

    def insert(edits: list[tuple[int, str]]) -> str:
        value = seed
        for position, char in edits:
            at = position % (len(value) + 1)
            value = value[:at] + char + value[at:]
        return value

    return st.lists(st.tuples(st.integers(0, 99), ALPHABET), max_size=3).map(insert)


# (case, a valid value, builder with the value in one place, tokens the command must have)
PROPERTY_CASES: list[tuple[str, str, Callable[[str], str], int]] = [
    ("number", "5551234", lambda v: c.originate(U1, c.gateway_endpoint("carrier", v)), 3),
    ("extension", "1000", lambda v: c.originate(U1, c.user_endpoint(v, "a.com")), 3),
    ("domain", "a.example.com", lambda v: c.originate(U1, c.user_endpoint("1000", v)), 3),
    ("loopback", "default", lambda v: c.originate(U1, c.loopback_endpoint("5550100", v)), 3),
    ("endpoint", "user/1000@a.com", lambda v: c.originate(U1, v), 3),
    (
        "caller name",
        "Acme Sales, Inc.",
        lambda v: c.originate(U1, "user/1000", {"origination_caller_id_name": v}),
        3,
    ),
    ("variable name", "cc_note", lambda v: c.originate(U1, "user/1000", {v: "x"}), 3),
    ("call id", "C3-plain", lambda v: c.originate(U1, "user/1000", {"cc_call_id": v}), 3),
    ("app arg", "/var/a.wav", lambda v: c.originate(U1, "user/1000", app="playback", app_arg=v), 3),
    ("setvar value", "vip, call back", lambda v: c.uuid_setvar(U1, "cc_note", v), 4),
    ("setvar name", "cc_note", lambda v: c.uuid_setvar(U1, v, "x"), 4),
    ("kill cause", "USER_BUSY", lambda v: c.uuid_kill(U1, v), 3),
    ("transfer", "5000", lambda v: c.uuid_transfer(U1, v, context=v), 5),
    (
        "broadcast",
        "tone_stream://%(2000,4000,440,480);loops=-1",
        lambda v: c.uuid_broadcast(U1, v),
        4,
    ),
    ("record", "/var/tmp/rec-1.wav", lambda v: c.uuid_record(U1, "start", v), 4),
    ("dtmf", "123#", lambda v: c.uuid_send_dtmf(U1, v), 3),
    ("flush", "internal", lambda v: c.flush_inbound_reg(v, "1000", "a.com"), 5),
]


@pytest.mark.parametrize(
    ("name", "seed", "build", "tokens"), PROPERTY_CASES, ids=[p[0] for p in PROPERTY_CASES]
)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_string_is_refused_or_stays_in_its_place(name, seed, build, tokens, data):
    value = data.draw(st.one_of(ANY_TEXT, near(seed)), label="value")
    try:
        command = build(value)
    except CommandError:
        return
    assert not set(command) & {"\n", "\r", "\x00"}
    words = command.split(" ")
    assert len(words) == tokens and all(words), command
    argv = fs_separate(command.partition(" ")[2], " ", 10)
    assert len(argv) == tokens - 1, command
    if words[0] == "originate":
        variables, _, app, _, argc = fs_originate(command.partition(" ")[2])
        assert argc == 2 and variables["origination_uuid"] == U1
        carries_variable = name in ("caller name", "variable name", "call id")
        assert len(variables) == (2 if carries_variable else 1), command
        assert app in ("park", "playback")
        if name == "caller name":
            assert variables["origination_caller_id_name"] == value
        if name == "variable name":
            assert variables[value] == "x"
    if name == "setvar value":
        assert argv[2] == value


# ------------------------------------------------------------ replies

MISSING = [
    "-ERR No such channel!\n",
    f"-ERR No such channel {U1}!\n",
    "-ERR Invalid uuid\n",
    "-ERR invalid uuid\n",
    "-ERR Cannot locate session!\n",
    f"-ERR Cannot find session with uuid {U1}\n",
    "-ERR No such session\n",
    "-ERR no such session\n",
    "-ERR Unable to find session for UUID\n",
]
NOT_MISSING = [
    "+OK\n",
    "+OK Success\n",
    f"+OK {U2}\n",
    "-ERR Operation failed\n",
    "-ERROR\n",
    "-ERR USER_BUSY\n",
    "-ERR NO_ANSWER\n",
    "-ERR ORIGINATOR_CANCEL\n",
    "-ERR foobar Command not found!\n",
    "-USAGE: <uuid> [cause]\n",
    "",
    "-ERR\n",
]


@pytest.mark.parametrize("reply", MISSING)
def test_gone_channel_replies(reply):
    assert c.is_missing_channel(reply)
    assert not c.is_ok(reply)


@pytest.mark.parametrize("reply", NOT_MISSING)
def test_other_replies_are_not_a_gone_channel(reply):
    assert not c.is_missing_channel(reply)


@pytest.mark.parametrize(
    ("reply", "ok"),
    [
        ("+OK\n", True),
        ("+OK Job-UUID: 7f4db78a-17d7-11dd-b7a0-db4edd065621", True),
        (f"+OK {U2}\n", True),
        ("+OK Message sent\n", True),
        ("-ERR USER_BUSY\n", False),
        ("-ERR invalid\n", False),
        ("", False),
        ("-USAGE: x\n", False),
    ],
)
def test_is_ok(reply, ok):
    assert c.is_ok(reply) is ok
