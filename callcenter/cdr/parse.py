"""Reading a leg's CDR, from either path: a CHANNEL_HANGUP_COMPLETE event or a mod_json_cdr
document. Both carry the same channel variables, so both become the same `LegRecord`.

What a record says comes from the channel variables the switchboard sets on every leg
(`cc_call_id`, `cc_role`, `cc_agent_id`, `cc_direction`, `cc_customer_number`, `cc_caller_id`,
`cc_queue`, and `cc_hangup_by` just before it hangs a leg up for someone; `cc_channel`, which the
guest directory sets on a website visitor's leg) and from FreeSWITCH's
own (`*_uepoch` times, `billsec`, `hold_accum_seconds`, `hangup_cause`,
`sip_hangup_disposition`). Where ours are missing (older captures, a leg tagged late):
- role: a leg on the `sofia/internal/` profile or dialled as `user/...` is an agent's, unless
  it is a website visitor's (cc_channel web), any other the customer's;
- direction: `cc_queue` means inbound; a customer leg's own FreeSWITCH direction tells too (an
  inbound caller is FreeSWITCH-inbound, a customer we dialled is FreeSWITCH-outbound); an agent
  leg alone cannot tell.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, unquote_plus

from ..models import CHANNELS, WEB, Direction, HangupBy, LegRole

if TYPE_CHECKING:
    from ..esl.protocol import Event

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UUID = re.compile(r"[A-Za-z0-9-]{1,36}")
_MAX_UEPOCH_DIGITS = 17  # about the year 5000: anything longer is garbage, not a time
ESL_SOURCE = "esl"
# Lengths of the columns the cc_* values land in: a longer value is refused, not cut.
_LIMITS = {"cc_call_id": 64, "cc_customer_number": 32, "cc_caller_id": 32, "cc_queue": 64}


class CdrError(ValueError):
    """A CDR that cannot be read; the message names what is wrong with it."""


@dataclass(frozen=True)
class LegRecord:
    """One leg's final account, from either path."""

    uuid: str
    call_id: str | None                # None: not a call-center leg
    role: LegRole
    agent_id: int | None = None
    direction: Direction | None = None
    customer_number: str = ""
    caller_id: str = ""
    queue_name: str | None = None
    channel: str | None = None         # cc_channel: "web" on a website visitor's leg
    channel_name: str = ""
    started: datetime | None = None
    progress: datetime | None = None   # first ringing or early media
    answered: datetime | None = None
    bridged: datetime | None = None
    ended: datetime | None = None
    billsec: int = 0
    hold_seconds: int = 0
    hangup_cause: str | None = None
    hangup_disposition: str | None = None
    hangup_by_hint: HangupBy | None = None
    transfer: str | None = None        # cc_transfer: the leg's part in a blind transfer
    offer: bool = False                # cc_offer: a queue offered the call on this leg
    raw: str | None = None             # the JSON document, on the JSON path only

    @classmethod
    def from_event(cls, event: Event) -> LegRecord:
        """From a CHANNEL_HANGUP_COMPLETE `callcenter.esl.protocol.Event`."""
        name = event.get("Event-Name")
        if name != "CHANNEL_HANGUP_COMPLETE":
            raise CdrError(f"a CDR comes from CHANNEL_HANGUP_COMPLETE, not {name or 'nothing'}")

        def variable(key: str) -> str | None:
            return event.get("variable_" + key)

        return _read(variable,
                     uuid=event.get("Unique-ID") or variable("uuid"),
                     channel_name=event.get("Channel-Name") or variable("channel_name"),
                     channel_direction=variable("direction") or event.get("Call-Direction"),
                     cause=variable("hangup_cause") or event.get("Hangup-Cause"),
                     raw=None)

    @classmethod
    def from_json_cdr(cls, document: str | bytes) -> LegRecord:
        """From a mod_json_cdr document (variable values URL-encoded or not)."""
        text = _text(document)
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise CdrError(f"the CDR is not JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise CdrError(f"the CDR is a JSON {type(doc).__name__}, not an object")
        variables = doc.get("variables")
        if not isinstance(variables, dict):
            raise CdrError('the CDR has no "variables" object')

        def variable(key: str) -> str | None:
            value = variables.get(key)
            if value is None:
                return None
            if not isinstance(value, str):
                raise CdrError(f"variable {key} is a JSON {type(value).__name__}, not a string")
            # mod_json_cdr URL-encodes values by default (encode-values); decoding a value it
            # left plain changes nothing unless it holds a '%', which ours never do.
            return unquote(value)

        profile = _caller_profile(doc)
        channel_data = doc.get("channel_data")
        channel_data = channel_data if isinstance(channel_data, dict) else {}
        return _read(variable,
                     uuid=variable("uuid") or _str(profile.get("uuid")),
                     channel_name=variable("channel_name") or _str(profile.get("chan_name")),
                     channel_direction=variable("direction") or _str(channel_data.get("direction")),
                     cause=variable("hangup_cause"),
                     raw=text)

    @property
    def beside(self) -> bool:
        """A leg put beside the call that never joined it or left it before the end: a
        transfer's (cc_transfer `joining` or `left`), or a queue's offer no agent took. It did
        not end the call, and its agent is not the call's."""
        return self.transfer in ("joining", "left") or (self.offer and self.bridged is None)

    def as_json_cdr(self) -> str:
        """The record as a small document of mod_json_cdr's shape that reads back the same."""
        values: dict[str, str | None] = {
            "uuid": self.uuid, "cc_call_id": self.call_id, "cc_role": self.role.value,
            "cc_agent_id": None if self.agent_id is None else str(self.agent_id),
            "cc_direction": self.direction.value if self.direction else None,
            "cc_customer_number": self.customer_number, "cc_caller_id": self.caller_id,
            "cc_queue": self.queue_name, "cc_channel": self.channel,
            "channel_name": self.channel_name,
            "start_uepoch": _uepoch(self.started), "progress_uepoch": _uepoch(self.progress),
            "answer_uepoch": _uepoch(self.answered), "bridge_uepoch": _uepoch(self.bridged),
            "end_uepoch": _uepoch(self.ended), "billsec": str(self.billsec),
            "hold_accum_seconds": str(self.hold_seconds), "hangup_cause": self.hangup_cause,
            "sip_hangup_disposition": self.hangup_disposition,
            "cc_hangup_by": self.hangup_by_hint.value if self.hangup_by_hint else None,
            "cc_transfer": self.transfer, "cc_offer": "1" if self.offer else None,
        }
        variables = {k: quote(v, safe="") for k, v in values.items() if v}
        return json.dumps({"cc_source": ESL_SOURCE, "variables": variables},
                          separators=(",", ":"))


# --- reading ---------------------------------------------------------------------------------


def _read(variable: Callable[[str], str | None], *, uuid: str | None, channel_name: str | None,
          channel_direction: str | None, cause: str | None, raw: str | None) -> LegRecord:
    if not uuid:
        raise CdrError("the CDR names no leg (no uuid)")
    if not _UUID.fullmatch(uuid):
        raise CdrError(f"leg uuid {uuid[:60]!r} is not a FreeSWITCH UUID")

    def fail(message: str) -> CdrError:
        return CdrError(f"CDR of leg {uuid}: {message}")

    def ours(key: str) -> str:
        value = (variable(key) or "").strip()
        if len(value) > _LIMITS.get(key, 64):
            raise fail(f"{key} is longer than {_LIMITS.get(key, 64)} characters: {value[:80]!r}")
        return value

    def choice(key: str, kind: type):
        value = ours(key)
        if not value:
            return None
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(m.value for m in kind)
            raise fail(f"{key} {value!r} is not one of {allowed}") from None

    def time(key: str) -> datetime | None:
        value = (variable(key) or "0").strip()
        if not value.isascii() or not value.isdigit() or len(value) > _MAX_UEPOCH_DIGITS:
            raise fail(f"{key} {value[:40]!r} is not a time in microseconds since 1970")
        return None if int(value) == 0 else EPOCH + timedelta(microseconds=int(value))

    def count(key: str) -> int:
        value = (variable(key) or "0").strip()
        if not value.isascii() or not value.isdigit() or len(value) > 9:
            raise fail(f"{key} {value[:40]!r} is not a number of seconds")
        return int(value)

    agent_text = ours("cc_agent_id")
    if agent_text and not (agent_text.isascii() and agent_text.isdigit() and len(agent_text) < 10):
        raise fail(f"cc_agent_id {agent_text!r} is not an agent id")
    channel_name = (channel_name or "")[:255]
    queue_name = ours("cc_queue") or None
    role = choice("cc_role", LegRole) or _infer_role(channel_name, variable)
    direction = choice("cc_direction", Direction)
    channel = ours("cc_channel") or None
    if channel is not None and channel not in CHANNELS:
        raise fail(f"cc_channel {channel!r} is not one of {', '.join(CHANNELS)}")
    if direction is None and queue_name:
        direction = Direction.INBOUND
    elif direction is None and role is LegRole.CUSTOMER and channel_direction in ("inbound",
                                                                                  "outbound"):
        direction = Direction(channel_direction)
    progress = [t for t in (time("progress_uepoch"), time("progress_media_uepoch")) if t]
    return LegRecord(
        uuid=uuid,
        call_id=ours("cc_call_id") or None,
        role=role,
        agent_id=int(agent_text) if agent_text else None,
        direction=direction,
        customer_number=ours("cc_customer_number"),
        caller_id=ours("cc_caller_id"),
        queue_name=queue_name,
        channel=channel,
        channel_name=channel_name,
        started=time("start_uepoch"),
        progress=min(progress) if progress else None,
        answered=time("answer_uepoch"),
        bridged=time("bridge_uepoch"),
        ended=time("end_uepoch"),
        billsec=count("billsec"),
        hold_seconds=count("hold_accum_seconds"),
        hangup_cause=(cause or "").strip()[:64] or None,
        hangup_disposition=(variable("sip_hangup_disposition") or "").strip() or None,
        hangup_by_hint=choice("cc_hangup_by", HangupBy),
        transfer=ours("cc_transfer") or None,
        offer=ours("cc_offer") == "1",
        raw=raw,
    )


def _infer_role(channel_name: str, variable: Callable[[str], str | None]) -> LegRole:
    """No cc_role: agents' phones register on the internal profile and are dialled as user/;
    a website visitor's browser comes in on the internal profile too, but its leg says web."""
    if variable("cc_channel") == WEB:
        return LegRole.CUSTOMER
    if (channel_name.startswith("sofia/internal/") or variable("originate_endpoint") == "user"
            or variable("dialed_user")):
        return LegRole.AGENT
    return LegRole.CUSTOMER


def _text(document: str | bytes) -> str:
    if isinstance(document, str):
        return document
    try:
        return bytes(document).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CdrError(f"the CDR is not UTF-8 text: {exc}") from None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _caller_profile(doc: dict) -> dict:
    # mod_json_cdr adds "callflow" once per caller profile under the same key; JSON parsers keep
    # the last, some writers make it a list. Only a fallback for uuid and channel name.
    callflow = doc.get("callflow")
    if isinstance(callflow, list):
        callflow = callflow[0] if callflow else None
    profile = callflow.get("caller_profile") if isinstance(callflow, dict) else None
    return profile if isinstance(profile, dict) else {}


def _uepoch(when: datetime | None) -> str | None:
    return None if when is None else str((when - EPOCH) // timedelta(microseconds=1))


def json_cdr_text(data: bytes | str) -> str:
    """The JSON document in what mod_json_cdr posts or leaves in its err-log-dir: raw JSON
    (`encode=false`), `cdr=<url-encoded JSON>` / url-encoded JSON (`encode=true`), or
    `cdr=<base64>` / base64 (`encode=base64`)."""
    text = _text(data).strip()
    if text.startswith("cdr="):
        text = text[4:]
    if text.startswith("%"):
        text = unquote_plus(text).strip()
    elif text and not text.startswith(("{", "[")):
        try:
            text = base64.b64decode(text.replace("\n", ""), validate=True).decode().strip()
        except (binascii.Error, ValueError):
            text = ""
        if not text.startswith("{"):
            raise CdrError("the CDR is neither JSON nor URL-encoded or base64 JSON")
    if not text:
        raise CdrError("the CDR is empty")
    return text

