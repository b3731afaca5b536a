"""CDRs for tests: the captures' CHANNEL_HANGUP_COMPLETE events, the json_cdr documents
FreeSWITCH would have posted for the same legs, synthetic legs with every cc_* variable, and a
snapshot of the CDR tables to compare."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import inspect, select

from callcenter.esl.protocol import Event, FrameParser, parse_event
from callcenter.models import Call, CallLeg

CAPTURES = Path(__file__).parent / "fixtures" / "esl"


def hangups(capture: str) -> list[Event]:
    """Every CHANNEL_HANGUP_COMPLETE in a capture such as "03-click-to-dial.plain", in order."""
    frames = FrameParser().feed((CAPTURES / f"{capture}.esl").read_bytes())
    events = [parse_event(f) for f in frames if f.content_type.startswith("text/event-")]
    return [e for e in events if e.name == "CHANNEL_HANGUP_COMPLETE"]


def web_call(capture: str) -> list[Event]:
    """A capture's legs as a website visitor's call: its inbound caller's leg comes in on the
    internal profile, as a guest's browser does, and carries what the guest directory sets on it
    (cc_channel=web, cc_widget, cc_guest)."""
    events = hangups(capture)
    guest = "sofia/internal/g0123456789abcdef0123@guests.example.com"
    for event in events:
        if event.get("Call-Direction") == "inbound":
            event.headers = {**event.headers, "Channel-Name": guest,
                             "variable_channel_name": guest, "variable_cc_channel": "web",
                             "variable_cc_widget": "w8Jd0Qx2", "variable_cc_guest": "t" * 24}
    assert any(event.get("variable_cc_channel") == "web" for event in events), capture
    return events


def fs_encode(value: str) -> str:
    """switch_url_encode: printable ASCII but its unsafe set stays, the rest is %XX."""
    return quote(value, safe="!$'()*,-./_~")


def json_cdr(event: Event, encode_values: bool = True) -> str:
    """The document mod_json_cdr builds for this leg (switch_ivr_generate_json_cdr's shape,
    trimmed to what a leg of ours has): variables URL-encoded as with encode-values=true,
    empty ones left out, cJSON's compact form."""
    headers = event.headers
    variables = {name[len("variable_"):]: value for name, value in headers.items()
                 if name.startswith("variable_") and value}
    if encode_values:
        variables = {name: fs_encode(value) for name, value in variables.items()}
    doc = {
        "core-uuid": headers.get("Core-UUID", ""),
        "switchname": headers.get("FreeSWITCH-Switchname", ""),
        "channel_data": {"state": headers.get("Channel-State", ""),
                         "direction": headers.get("Call-Direction", ""),
                         "state_number": headers.get("Channel-State-Number", ""),
                         "flags": "0=1", "caps": "1=1"},
        "variables": variables,
        "app_log": {"applications": [{"app_name": "park", "app_data": ""}]},
        "callflow": {"profile_index": "1",
                     "caller_profile": {"uuid": headers["Unique-ID"],
                                        "chan_name": headers.get("Channel-Name", ""),
                                        "destination_number":
                                            headers.get("Caller-Destination-Number", "")},
                     "times": {"created_time": headers.get("Caller-Channel-Created-Time", "0")}},
    }
    return json.dumps(doc, separators=(",", ":"))


def uepoch(when: datetime) -> str:
    return str((when - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1))


T0 = datetime(2026, 11, 21, 9, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """T0 plus seconds (to the microsecond)."""
    return T0 + timedelta(microseconds=round(seconds * 1_000_000))


def leg_doc(uuid: str, call_id: str | None, *, start: float, end: float,
            progress: float | None = None, answer: float | None = None,
            bridge: float | None = None, hold: int = 0, cause: str = "NORMAL_CLEARING",
            disposition: str | None = "send_bye", channel: str = "sofia/external/15551234567",
            **cc: str) -> str:
    """A json_cdr document for a synthetic leg; `cc` are the cc_* variables without the
    prefix (role, agent_id, direction, customer_number, caller_id, queue, hangup_by)."""
    values = {
        "uuid": uuid, "channel_name": channel, "direction": "outbound",
        "start_uepoch": uepoch(at(start)), "end_uepoch": uepoch(at(end)),
        "progress_uepoch": uepoch(at(progress)) if progress is not None else "0",
        "progress_media_uepoch": "0",
        "answer_uepoch": uepoch(at(answer)) if answer is not None else "0",
        "bridge_uepoch": uepoch(at(bridge)) if bridge is not None else "0",
        "billsec": str(int(end - answer)) if answer is not None else "0",
        "hold_accum_seconds": str(hold), "hangup_cause": cause,
    }
    if disposition:
        values["sip_hangup_disposition"] = disposition
    if call_id is not None:
        values["cc_call_id"] = call_id
    values.update({f"cc_{name}": value for name, value in cc.items()})
    doc = {"core-uuid": "0483bd65-a820-460f-a3fd-ddb950a24c7c", "switchname": "fs1",
           "channel_data": {"state": "CS_REPORTING", "direction": "outbound"},
           "variables": {name: fs_encode(value) for name, value in values.items()}}
    return json.dumps(doc, separators=(",", ":"))


def _row(obj) -> dict:
    return {attr.key: getattr(obj, attr.key) for attr in inspect(type(obj)).column_attrs}


def snapshot(database) -> tuple[list[dict], list[dict]]:
    """Every column of every Call and CallLeg row, in key order; each leg with its raw CDR
    (`raw_cdr`, from leg_cdrs, None without one)."""
    from callcenter.cdr.documents import raw_cdrs

    with database.session() as session:
        calls = [_row(c) for c in session.scalars(select(Call).order_by(Call.id))]
        legs = [_row(leg) for leg in session.scalars(select(CallLeg).order_by(CallLeg.uuid))]
        filed = raw_cdrs(session, [leg["uuid"] for leg in legs])
    for leg in legs:
        leg["raw_cdr"] = filed.get(leg["uuid"])
    return calls, legs


def own(database, *records, began: datetime | None = None) -> None:
    """The rows the switchboard writes for the legs it originates or claims (a Call and a
    CallLeg per leg, no CDR yet), so that FreeSWITCH's documents for them may land. The call
    began a second before its first leg unless `began` says."""
    from callcenter.models import Direction

    with database.session() as session:
        for record in records:
            first = min((r.started for r in records if r.call_id == record.call_id
                         and r.started), default=T0)
            if session.get(Call, record.call_id) is None:
                session.add(Call(id=record.call_id, direction=record.direction
                                 or Direction.OUTBOUND,
                                 created_at=began or first - timedelta(seconds=1)))
                session.flush()
            session.add(CallLeg(uuid=record.uuid, call_id=record.call_id, role=record.role,
                                created_at=began or first - timedelta(seconds=1)))
