"""The only place ESL command strings are built.

Every builder returns the command text without the ``api ``/``bgapi `` prefix and without the
trailing blank line. Every value is checked against a strict pattern first; anything else is
refused with :class:`CommandError`, so no value can add an argument, a second application or a
``{var=...}`` block to a command.

How FreeSWITCH 1.10 reads what we send (src/switch_utils.c, mod_commands.c, switch_event.c):

- ESL cuts a command line at the first CR or LF.
- The api function splits its argument on spaces (``switch_separate_string``): a backslash
  escapes the next character, ``'`` toggles quoting, and each piece is then unescaped
  (``\\s`` becomes a space, ``\\'`` a quote, ...). A leading ``^^X`` switches the separator to X.
- ``originate`` parses ``{a=b,c=d}`` by splitting on ``,`` (``\\,`` keeps a comma) and then on
  the first ``=``, unescaping each piece again; the block ends at the matching ``}``.
- ``originate ... &app(arg)`` cuts the argument at the first ``)``.
- ``uuid_broadcast`` runs ``app::arg`` when the path holds ``::``; otherwise it plays the path.

So free text (a caller-ID name) travels with its spaces written ``\\s`` and, inside a ``{}``
block, its commas written ``\\,``; backslashes, quotes, brackets, ``$`` and control characters
are refused outright.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from types import MappingProxyType

from ..errors import InvalidInput

__all__ = [
    "NUMBER_PATTERN",
    "CommandError",
    "auto_answer_variables",
    "eavesdrop",
    "flush_inbound_reg",
    "gateway_endpoint",
    "global_getvar",
    "is_missing_channel",
    "is_ok",
    "loopback_endpoint",
    "originate",
    "quote_value",
    "setvar_value",
    "show_calls",
    "show_channels",
    "show_registrations",
    "sofia_status",
    "status",
    "user_endpoint",
    "uuid_answer",
    "uuid_break",
    "uuid_bridge",
    "uuid_broadcast",
    "uuid_hold",
    "uuid_kill",
    "uuid_record",
    "uuid_recv_dtmf",
    "uuid_send_dtmf",
    "uuid_setvar",
    "uuid_transfer",
    "valid_call_id",
    "valid_cause",
    "valid_digits",
    "valid_domain",
    "valid_endpoint",
    "valid_extension",
    "valid_file_path",
    "valid_gateway",
    "valid_media",
    "valid_name",
    "valid_number",
    "valid_uuid",
    "valid_variable_name",
]


class CommandError(InvalidInput):
    """A value refused for an ESL command; the message starts with the field's name."""

    def __init__(self, field: str, reason: str | None = None) -> None:
        super().__init__(reason or "", field=field)


def _refuse(field: str, rule: str, value: object) -> CommandError:
    if isinstance(value, str):
        shown = repr(value[:40]) + ("..." if len(value) > 40 else "")
    else:
        shown = type(value).__name__
    return CommandError(field, f"{rule} (got {shown})")


def _match(pattern: re.Pattern[str], value: object, field: str, rule: str) -> str:
    # fullmatch: `$` would let a trailing newline through.
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise _refuse(field, rule, value)
    return value


# ---------------------------------------------------------------- validators

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_NUMBER = re.compile(r"\+?[0-9]{3,20}")
# The same rule for the page's number fields (an HTML pattern attribute, matched whole).
NUMBER_PATTERN = _NUMBER.pattern
_EXTENSION = re.compile(r"[0-9]{2,10}")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_DOTTED_DIGITS = re.compile(r"[0-9.]+")
_IPV4 = re.compile(r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
                   r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])")
# A leading '-' could read as a flag (uuid_transfer's -bleg), so names start with a word char.
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_CALL_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_FILE_PATH = re.compile(r"(?:/[A-Za-z0-9_.-]+)+")
_DIGITS = re.compile(r"[0-9*#A-D]{1,64}")
_CAUSE = re.compile(r"[A-Z_]{1,64}")
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
_SECONDS = re.compile(r"[1-9][0-9]{0,3}")
_BOOLEAN = re.compile(r"true|false")
# tone_stream://[v=-7;]%(on,off,freq[,freq...])[;loops=N]: teletone's own syntax, no spaces.
_TONE_STREAM = re.compile(
    r"tone_stream://(?:[A-Za-z]{1,8}=-?[0-9]{1,5};)*"
    r"%\([0-9]{1,5}(?:,[0-9]{1,5}){1,7}\)"
    r"(?:;%\([0-9]{1,5}(?:,[0-9]{1,5}){1,7}\))*"
    r"(?:;[A-Za-z]{1,8}=-?[0-9]{1,5})*"
)
_LOCAL_STREAM = re.compile(r"local_stream://[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


def valid_uuid(value: str, field: str = "uuid") -> str:
    """A channel UUID in canonical 8-4-4-4-12 hex form, returned lowercased."""
    return _match(_UUID, value, field, "a UUID in 8-4-4-4-12 hex form").lower()


def valid_number(value: str, field: str = "number") -> str:
    """A dialable number: optional leading +, then 3-20 digits."""
    return _match(_NUMBER, value, field, "only digits and an optional leading +, 3-20 digits")


def valid_extension(value: str, field: str = "extension") -> str:
    """A SIP user part of an agent's phone: 2-10 digits."""
    return _match(_EXTENSION, value, field, "only digits, 2-10 of them")


def valid_domain(value: str, field: str = "domain") -> str:
    """A hostname (letters, digits, '-', dot-separated labels) or an IPv4 literal."""
    rule = "a hostname or an IPv4 address"
    _match(_HOSTNAME, value, field, rule)
    if len(value) > 253 or (_DOTTED_DIGITS.fullmatch(value) and not _IPV4.fullmatch(value)):
        raise _refuse(field, rule, value)
    return value


def valid_name(value: str, field: str) -> str:
    """A queue, profile, gateway or dialplan-context name: letters, digits, '_', '.', '-'."""
    return _match(_NAME, value, field, "letters, digits, '_', '.', '-' (not first), 1-64")


def valid_gateway(value: str, field: str = "gateway") -> str:
    """A sofia gateway name."""
    return valid_name(value, field)


def valid_call_id(value: str, field: str = "cc_call_id") -> str:
    """Our call id as carried in the cc_call_id channel variable."""
    return _match(_CALL_ID, value, field, "letters, digits, '_', '.', '-', 1-64")


def valid_file_path(value: str, field: str = "file") -> str:
    """An absolute file path of letters, digits, '_', '.', '-' and '/', with no '..' part."""
    rule = "an absolute path of letters, digits, '_', '.', '-', without '..'"
    _match(_FILE_PATH, value, field, rule)
    if len(value) > 255 or any(part in (".", "..") for part in value.split("/")):
        raise _refuse(field, rule, value)
    return value


def valid_media(value: str, field: str = "path") -> str:
    """What uuid_broadcast may play: a file, a tone_stream:// tone or local_stream:// music."""
    if isinstance(value, str) and (_TONE_STREAM.fullmatch(value) or _LOCAL_STREAM.fullmatch(value)):
        return value
    if isinstance(value, str) and value.startswith("/"):
        return valid_file_path(value, field)
    raise _refuse(field, "an absolute file path, tone_stream://%(on,off,freq...)[;loops=N] "
                  "or local_stream://name", value)


def valid_digits(value: str, field: str = "dtmf") -> str:
    """DTMF digits: 0-9, '*', '#', A-D, 1-64 of them."""
    return _match(_DIGITS, value, field, "only 0-9, '*', '#', A-D, 1-64 of them")


def valid_cause(value: str) -> str:
    """A FreeSWITCH hangup cause name such as NORMAL_CLEARING."""
    return _match(_CAUSE, value, "cause", "upper-case letters and '_' (e.g. NORMAL_CLEARING)")


def valid_variable_name(value: str, field: str = "variable name") -> str:
    """A channel variable name; '-' is allowed for SIP headers such as sip_h_Call-Info."""
    return _match(_VARIABLE_NAME, value, field, "a letter or '_', then letters, digits, '_', '-'")


def _valid_seconds(value: str, field: str) -> str:
    if not _SECONDS.fullmatch(value) or int(value) > 3600:
        raise _refuse(field, "whole seconds, 1-3600", value)
    return value


# Free text: letters of any script, ASCII digits and a little punctuation. Everything a parser
# on the way treats specially (quotes, backslash, brackets, '$', '&', '|', ')', ...) is refused.
_TEXT_PUNCTUATION = frozenset(" .,-_@#/+*!?")
_TEXT_CATEGORIES = frozenset({"Lu", "Ll", "Lt", "Lo", "Mn", "Mc"})
_TEXT_RULE = "letters, digits, spaces and . , - _ @ # / + * ! ? only, 1-100 characters"


def _check_text(value: object, field: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 100:
        raise _refuse(field, _TEXT_RULE, value)
    for char in value:
        if not (char in _TEXT_PUNCTUATION or "0" <= char <= "9"
                or unicodedata.category(char) in _TEXT_CATEGORIES):
            raise _refuse(field, _TEXT_RULE, value)
    if value != value.strip(" "):
        # FreeSWITCH strips them when it parses the value.
        raise _refuse(field, "no leading or trailing spaces", value)
    return value


def passable_text(value: str, limit: int = 100) -> str:
    """Untrusted text (a carrier's caller ID: "anonymous", "+44 20 ...", anything) cut down to
    what free text may carry, at most `limit` characters; "" when nothing is left. For showing
    and tagging only: the original stays in the call's record."""
    kept = "".join(char for char in str(value)[:limit * 4]
                   if char in _TEXT_PUNCTUATION or "0" <= char <= "9"
                   or unicodedata.category(char) in _TEXT_CATEGORIES)
    return kept.strip(" ")[:limit].strip(" ")


def quote_value(value: str, field: str) -> str:
    """Free text escaped for a value inside an originate ``{var=value}`` block.

    Spaces become ``\\s`` (the api argument splitter turns it back into a space) and commas
    ``\\,`` (the ``{}`` parser keeps an escaped comma in the value)."""
    return _check_text(value, field).replace(" ", "\\s").replace(",", "\\,")


def setvar_value(value: str, field: str) -> str:
    """Free text escaped as the last argument of uuid_setvar: only spaces need ``\\s``."""
    return _check_text(value, field).replace(" ", "\\s")


# ------------------------------------------------------------- channel variables

def _auto_answer_rule(value: str, field: str) -> str:
    match = re.fullmatch(r"<sip:([^>]*)>;answer-after=0", value)
    if not match:
        raise _refuse(field, "only the auto-answer form <sip:DOMAIN>;answer-after=0", value)
    valid_domain(match.group(1), field)
    return value


_VariableRule = Callable[[str, str], str]

# Variables whose values we know; any other variable carries free text (quote_value).
_VARIABLE_RULES: dict[str, _VariableRule] = {
    "origination_caller_id_number": valid_number,
    "effective_caller_id_number": valid_number,
    "originate_timeout": _valid_seconds,
    "park_timeout": _valid_seconds,
    "call_timeout": _valid_seconds,
    "leg_timeout": _valid_seconds,
    "cc_call_id": valid_call_id,
    "cc_queue": valid_name,
    "sip_h_Call-Info": _auto_answer_rule,
    "ignore_early_media": lambda v, f: _match(_BOOLEAN, v, f, "true or false"),
    "hangup_after_bridge": lambda v, f: _match(_BOOLEAN, v, f, "true or false"),
    "park_after_bridge": lambda v, f: _match(_BOOLEAN, v, f, "true or false"),
}


def _variable_value(name: str, value: object, free_text: _VariableRule) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # timeouts are handy as ints
    if not isinstance(value, str):
        raise _refuse(name, "text", value)
    return _VARIABLE_RULES.get(name, free_text)(value, name)


def auto_answer_variables(domain: str) -> dict[str, str]:
    """The SIP header that makes the agent's softphone answer by itself."""
    return {"sip_h_Call-Info": f"<sip:{valid_domain(domain)}>;answer-after=0"}


# ------------------------------------------------------------------- endpoints

def user_endpoint(extension: str, domain: str | None = None) -> str:
    """``user/1000@example.com``; without a domain FreeSWITCH uses its default domain."""
    ext = valid_extension(extension)
    return f"user/{ext}@{valid_domain(domain)}" if domain is not None else f"user/{ext}"


def gateway_endpoint(gateway: str, number: str) -> str:
    """``sofia/gateway/carrier/15551234567``: a customer through a carrier gateway."""
    return f"sofia/gateway/{valid_gateway(gateway)}/{valid_number(number)}"


def loopback_endpoint(number: str, context: str = "default") -> str:
    """``loopback/5550100/default``: a leg that runs our own dialplan."""
    return f"loopback/{valid_number(number)}/{valid_name(context, 'context')}"


def valid_endpoint(value: str, field: str = "endpoint") -> str:
    """One of the endpoint forms the builders above produce, each part re-checked."""
    rule = "user/EXT[@DOMAIN], sofia/gateway/NAME/NUMBER or loopback/NUMBER/CONTEXT"
    if not isinstance(value, str):
        raise _refuse(field, rule, value)
    parts = value.split("/")
    try:
        if len(parts) == 2 and parts[0] == "user":
            ext, at, domain = parts[1].partition("@")
            return user_endpoint(ext, domain if at else None)
        if len(parts) == 4 and parts[:2] == ["sofia", "gateway"]:
            return gateway_endpoint(parts[2], parts[3])
        if len(parts) == 3 and parts[0] == "loopback":
            return loopback_endpoint(parts[1], parts[2])
    except CommandError as exc:
        raise CommandError(field, f"{exc.field}: {exc.reason}") from None
    raise _refuse(field, rule, value)


# ------------------------------------------------------------------- originate

def _no_argument(value: str, field: str) -> str:
    if value != "":
        raise _refuse(field, "this application takes no argument", value)
    return value


# Applications a new leg may run, each with the rule for its argument. None of the rules lets
# ')' through: originate cuts the argument there and runs the rest as nothing.
_APPLICATIONS: dict[str, _VariableRule] = {
    "park": _no_argument,
    "echo": _no_argument,
    "eavesdrop": valid_uuid,
    "playback": valid_file_path,
    "conference": valid_name,
}

_NO_VARIABLES: Mapping[str, str] = MappingProxyType({})


def originate(leg_uuid: str, endpoint: str, variables: Mapping[str, str] = _NO_VARIABLES, *,
              app: str = "park", app_arg: str = "") -> str:
    """``originate {origination_uuid=U,k=v,...}ENDPOINT &app(arg)``.

    We choose the leg's UUID so its events can be matched before the reply arrives."""
    pairs = [f"origination_uuid={valid_uuid(leg_uuid, 'leg uuid')}"]
    for name, value in (variables or {}).items():
        valid_variable_name(name)
        if name == "origination_uuid":
            raise CommandError(name, "set through leg_uuid, not as a variable")
        pairs.append(f"{name}={_variable_value(name, value, quote_value)}")
    if not isinstance(app, str) or app not in _APPLICATIONS:
        raise _refuse("app", "one of " + ", ".join(sorted(_APPLICATIONS)), app)
    argument = _APPLICATIONS[app](app_arg, f"{app} argument")
    if set(argument) & set(") \t\r\n\x00"):  # the per-app rules already refuse these
        raise _refuse(f"{app} argument", "no ')', spaces or control characters", argument)
    return f"originate {{{','.join(pairs)}}}{valid_endpoint(endpoint)} &{app}({argument})"


def eavesdrop(leg_uuid: str, endpoint: str, target_uuid: str,
              variables: Mapping[str, str] = _NO_VARIABLES) -> str:
    """A supervisor leg that listens in on ``target_uuid``."""
    return originate(leg_uuid, endpoint, variables, app="eavesdrop",
                     app_arg=valid_uuid(target_uuid, "target uuid"))


# --------------------------------------------------------------- uuid_* commands

def uuid_answer(uuid: str) -> str:
    return f"uuid_answer {valid_uuid(uuid)}"


def uuid_bridge(a: str, b: str) -> str:
    """Bridge two legs; FreeSWITCH reports CHANNEL_BRIDGE on the first."""
    first, second = valid_uuid(a, "first uuid"), valid_uuid(b, "second uuid")
    if first == second:
        raise CommandError("second uuid", "a leg cannot be bridged to itself")
    return f"uuid_bridge {first} {second}"


def uuid_kill(uuid: str, cause: str | None = "NORMAL_CLEARING") -> str:
    """Hang a leg up; ``cause=None`` leaves the cause to FreeSWITCH (NORMAL_CLEARING)."""
    if cause is None:
        return f"uuid_kill {valid_uuid(uuid)}"
    return f"uuid_kill {valid_uuid(uuid)} {valid_cause(cause)}"


def uuid_park(uuid: str) -> str:
    """Take a leg out of its bridge (or what it runs) and park it; its bridged partner parks
    too if it has park_after_bridge=true, and is hung up otherwise."""
    return f"uuid_park {valid_uuid(uuid)}"


def uuid_hold(uuid: str, off: bool = False) -> str:
    return f"uuid_hold off {valid_uuid(uuid)}" if off else f"uuid_hold {valid_uuid(uuid)}"


_DESTINATION = re.compile(r"[A-Za-z0-9_+*#][A-Za-z0-9_+*#.-]{0,63}")
_DIALPLANS = frozenset({"XML"})  # 'inline' would run applications named in the destination


def uuid_transfer(uuid: str, destination: str, *, bleg: bool = False, dialplan: str = "XML",
                  context: str = "default") -> str:
    """Send a leg (or, with ``bleg``, its bridged partner) to a dialplan extension."""
    leg = valid_uuid(uuid)
    dest = _match(_DESTINATION, destination, "destination",
                  "letters, digits, '_', '+', '*', '#', '.', '-' (not first), 1-64")
    if not isinstance(dialplan, str) or dialplan not in _DIALPLANS:
        raise _refuse("dialplan", "XML", dialplan)
    flag = "-bleg " if bleg else ""
    return f"uuid_transfer {leg} {flag}{dest} {dialplan} {valid_name(context, 'context')}"


def uuid_transfer_to_room(uuid: str, room: str, profile: str, *, both: bool = False) -> str:
    """Send a leg (with ``both``, its bridged partner too) into a mod_conference room. The
    inline dialplan runs one application, `conference`; when it returns (the leg is kicked or
    the room ends) the leg has nothing left to run and is hung up."""
    leg = valid_uuid(uuid)
    flag = "-both " if both else ""
    return (f"uuid_transfer {leg} {flag}conference:{valid_name(room, 'room')}"
            f"@{valid_name(profile, 'profile')} inline")


_BROADCAST_LEGS = frozenset({"aleg", "bleg", "both", "holdb"})


def uuid_broadcast(uuid: str, path: str, leg: str = "aleg") -> str:
    """Play a file or tone to a leg (ringback, hold music) without leaving park."""
    if not isinstance(leg, str) or leg not in _BROADCAST_LEGS:
        raise _refuse("leg", "aleg, bleg, both or holdb", leg)
    return f"uuid_broadcast {valid_uuid(uuid)} {valid_media(path)} {leg}"


_PHRASE_MACRO = re.compile(r"[a-z][a-z0-9_]{0,31}")


def uuid_broadcast_phrase(uuid: str, macro: str, number: int) -> str:
    """Speak a number to a leg through a phrase macro of the configuration (its say actions
    use the say module): `phrase:<macro>:<number>` plays like a file, queued after what the
    leg is playing, and a missing sound file is skipped rather than failing the call."""
    _match(_PHRASE_MACRO, macro, "macro", "a phrase macro name: a-z, 0-9 and _")
    if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= 999_999:
        raise _refuse("number", "a whole number from 0 to 999999", number)
    return f"uuid_broadcast {valid_uuid(uuid)} phrase:{macro}:{number} aleg"


def uuid_break(uuid: str, all_: bool = True) -> str:
    """Stop what is playing on a leg (``all`` also drops what is queued)."""
    return f"uuid_break {valid_uuid(uuid)} all" if all_ else f"uuid_break {valid_uuid(uuid)}"


def uuid_record(uuid: str, action: str, path: str) -> str:
    if action not in ("start", "stop"):
        raise _refuse("action", "start or stop", action)
    return f"uuid_record {valid_uuid(uuid)} {action} {valid_file_path(path, 'recording path')}"


def uuid_setvar(uuid: str, name: str, value: str) -> str:
    """Set a channel variable, e.g. tag an inbound caller with ``cc_call_id``."""
    var = valid_variable_name(name)
    return f"uuid_setvar {valid_uuid(uuid)} {var} {_variable_value(var, value, setvar_value)}"


def uuid_getvar(uuid: str, name: str) -> str:
    """Read a channel variable (a parked caller's cc_queue after a restart); FreeSWITCH answers
    the value, or ``_undef_`` when it is not set."""
    return f"uuid_getvar {valid_uuid(uuid)} {valid_variable_name(name)}"


def uuid_send_dtmf(uuid: str, digits: str) -> str:
    return f"uuid_send_dtmf {valid_uuid(uuid)} {valid_digits(digits)}"


def uuid_recv_dtmf(uuid: str, digits: str) -> str:
    """Digits the leg acts on as if its own phone sent them (an eavesdropping leg reads them
    as its mode keys)."""
    return f"uuid_recv_dtmf {valid_uuid(uuid)} {valid_digits(digits)}"


# ------------------------------------------------------------ status and sofia

def show_channels() -> str:
    return "show channels as json"


def show_calls() -> str:
    return "show calls as json"


def global_getvar(name: str) -> str:
    """A global variable's value (`core_uuid`: this FreeSWITCH run's identity; a restart
    changes it)."""
    return f"global_getvar {valid_variable_name(name)}"


def show_registrations() -> str:
    return "show registrations as json"


def sofia_status() -> str:
    return "sofia status"


def status() -> str:
    return "status"


def flush_inbound_reg(profile: str, user: str, domain: str) -> str:
    """Drop a phone's registration so it must register again (e.g. after a password change)."""
    return (f"sofia profile {valid_name(profile, 'profile')} flush_inbound_reg "
            f"{valid_extension(user, 'user')}@{valid_domain(domain)}")


# ------------------------------------------------------------ reply interpretation

def is_ok(reply: str) -> bool:
    """True for an api/bgapi success: the reply or job result starts with ``+OK``."""
    return reply.lstrip().startswith("+OK")


# What mod_commands (FreeSWITCH 1.10) answers when the UUID names no live channel:
#   "-ERR No such channel!"            uuid_kill, uuid_setvar, uuid_break, uuid_transfer, ...
#   "-ERR No such channel <uuid>!"     uuid_deflect, uuid_redirect, uuid_send_text, ...
#   "-ERR Invalid uuid"                uuid_bridge (either leg gone)
#   "-ERR invalid uuid"                uuid_broadcast
#   "-ERR Cannot locate session!"      uuid_record, uuid_send_dtmf, uuid_displace, ...
#   "-ERR Cannot find session with uuid <uuid>"   uuid_limit, uuid_limit_release
#   "-ERR No such session" / "-ERR no such session"   uuid_flush_dtmf, uuid_zombie_exec
#   "-ERR Unable to find session for UUID"        uuid_send_message
# uuid_hold ("-ERR Operation failed") and uuid_answer ("-ERROR") say the same for a gone
# channel as for other failures, so those replies are not counted here.
_MISSING_CHANNEL = re.compile(
    r"-ERR (?:No such channel(?: \S+)?!|Invalid uuid|Cannot locate session!"
    r"|Cannot find session with uuid\b|No such session|Unable to find session for UUID)",
    re.IGNORECASE,
)


def is_missing_channel(reply: str) -> bool:
    """True when the command failed only because the channel is already gone."""
    return bool(_MISSING_CHANNEL.match(reply.lstrip()))
