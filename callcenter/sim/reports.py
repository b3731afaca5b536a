"""What `status`, `show channels|calls` and `sofia status` print, in FreeSWITCH's shapes.

`show ... as json` with no rows is `{"row_count": 0}` and a newline (with a space); with rows
it is compact JSON with no trailing newline, as captured.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from callcenter.sim.channels import Channel
from callcenter.sim.variables import EXTERNAL_PORT, INTERNAL_PORT, LOCAL_IP, stamp

if TYPE_CHECKING:
    from callcenter.sim.switch import Switch

VERSION = "1.10.12-release git a88d069 2024-08-02 21:02:27Z 64bit"
EMPTY_JSON = '{"row_count": 0}\n'


def status(sw: Switch) -> str:
    up = max(0.0, sw.clock.now() - sw.started)
    seconds = int(up)
    micros = int((up - seconds) * 1_000_000)
    days, rest = divmod(seconds, 86400)
    years, days = divmod(days, 365)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    total, now = sw.sessions_total, len(sw.channels)
    return (
        f"UP {years} years, {days} days, {hours} hours, {minutes} minutes, {secs} seconds, "
        f"{micros // 1000} milliseconds, {micros % 1000} microseconds\n"
        f"FreeSWITCH (Version {VERSION}) is ready\n"
        f"{total} session(s) since startup\n"
        f"{now} session(s) - peak {sw.sessions_peak}, last 5min {sw.sessions_peak} \n"
        f"0 session(s) per Sec out of max 30, peak 0, last 5min 0 \n"
        "1000 session(s) max\nmin idle cpu 0.00/99.97\nCurrent Stack Size/Max 240K/8192K\n"
    )


def _channel_row(sw: Switch, ch: Channel) -> dict[str, str]:
    v = ch.variables
    app = ch.application
    partner = ch.partner
    first = ch.initial or ch.profile
    codec = ch.codec
    return {
        "uuid": ch.uuid, "direction": ch.direction,
        "created": stamp(ch.times["created"]),
        "created_epoch": str(ch.times["created"] // 1_000_000), "name": ch.name,
        "state": ch.running, "cid_name": ch.profile.caller_id_name,
        "cid_num": ch.profile.caller_id_number,
        "ip_addr": ch.profile.network_addr if ch.direction == "inbound" else "",
        "dest": ch.profile.destination_number, "application": app[0],
        "application_data": app[1],
        "dialplan": ch.profile.dialplan, "context": ch.profile.context,
        "read_codec": v.get("read_codec", "") if codec else "",
        "read_rate": "8000" if codec else "",
        "read_bit_rate": ("128000" if v.get("read_codec") == "L16" else "64000") if codec else "",
        "write_codec": "PCMU" if codec else "", "write_rate": "8000" if codec else "",
        "write_bit_rate": "64000" if codec else "", "secure": "",
        "hostname": sw.factory.hostname, "presence_id": v.get("presence_id", ""),
        "presence_data": "", "accountcode": v.get("accountcode", ""),
        "callstate": ch.callstate, "callee_name": ch.profile.callee_id_name,
        "callee_num": ch.profile.callee_id_number,
        "callee_direction": "SEND" if partner is not None or ch.hit_dialplan else "",
        "call_uuid": v.get("call_uuid", ch.uuid),
        "sent_callee_name": v.get("last_sent_callee_id_name", ""),
        "sent_callee_num": v.get("last_sent_callee_id_number", ""),
        "initial_cid_name": first.caller_id_name,
        "initial_cid_num": first.caller_id_number,
        "initial_ip_addr": first.network_addr if ch.direction == "inbound" else "",
        "initial_dest": first.destination_number, "initial_dialplan": first.dialplan,
        "initial_context": first.context,
    }


def show_channels(sw: Switch, as_json: bool) -> str:
    rows = [_channel_row(sw, ch) for ch in sw.channels.values()]
    return _render(rows, as_json)


_CALL_FIELDS = (
    "uuid", "direction", "created", "created_epoch", "name", "state", "cid_name", "cid_num",
    "ip_addr", "dest", "presence_id", "presence_data", "accountcode", "callstate",
    "callee_name", "callee_num", "callee_direction", "call_uuid", "hostname",
    "sent_callee_name", "sent_callee_num",
)
_B_FIELDS = (
    "uuid", "direction", "created", "created_epoch", "name", "state", "cid_name", "cid_num",
    "ip_addr", "dest", "presence_id", "presence_data", "accountcode", "callstate",
    "callee_name", "callee_num", "callee_direction", "sent_callee_name", "sent_callee_num",
)


def show_calls(sw: Switch, as_json: bool) -> str:
    rows = []
    for ch in sw.channels.values():
        if ch.partner is not None and not ch.bridge_a:
            continue  # listed as the b leg of its call
        row = _channel_row(sw, ch)
        out = {name: row[name] for name in _CALL_FIELDS}
        partner = _channel_row(sw, ch.partner) if ch.partner is not None else None
        for name in _B_FIELDS:
            out[f"b_{name}"] = partner[name] if partner else ""
        out["call_created_epoch"] = row["created_epoch"]
        rows.append(out)
    return _render(rows, as_json)


def _render(rows: list[dict[str, str]], as_json: bool) -> str:
    if as_json:
        if not rows:
            return EMPTY_JSON
        return json.dumps({"row_count": len(rows), "rows": rows}, separators=(",", ":"))
    if not rows:
        return "\n0 total.\n"
    fields = list(rows[0])
    lines = [",".join(fields)] + [",".join(row[f] for f in fields) for row in rows]
    return "\n".join(lines) + f"\n\n{len(rows)} total.\n"


def sofia_status(sw: Switch) -> str:
    line = "=" * 97
    gw = sw.gateway
    return (
        f"{'Name':>25}\t{'Type':>7}\t{'Data':>42}\tState\n{line}\n"
        f"{'external::' + gw:>25}\t{'gateway':>7}\t{f'sip:{gw}@{LOCAL_IP}:5094':>42}\tNOREG\n"
        f"{'external':>25}\t{'profile':>7}\t{f'sip:mod_sofia@{LOCAL_IP}:{EXTERNAL_PORT}':>42}"
        f"\tRUNNING (0)\n"
        f"{'internal':>25}\t{'profile':>7}\t{f'sip:mod_sofia@{LOCAL_IP}:{INTERNAL_PORT}':>42}"
        f"\tRUNNING (0)\n"
        f"{sw.domain:>25}\t{'alias':>7}\t{'internal':>42}\tALIASED\n"
        f"{line}\n2 profiles 1 alias\n\n"
    )


def sofia_gateway(sw: Switch, name: str) -> str:
    if name != sw.gateway:
        return "Invalid Gateway!\n"
    return (
        f"{'=' * 97}\nName    \t{name}\nProfile \texternal\nScheme  \tDigest\n"
        f"Realm   \t{LOCAL_IP}:5094\nUsername\t{name}\nPassword\tno\n"
        f"From    \t<sip:{name}@{LOCAL_IP}:5094>\nContact \t<sip:gw+{name}@{LOCAL_IP}:"
        f"{EXTERNAL_PORT};transport=udp;gw={name}>\nExten   \t{name}\n"
        f"To      \tsip:{name}@{LOCAL_IP}:5094\nProxy   \tsip:{LOCAL_IP}:5094\n"
        f"Context \tpublic\nExpires \t3600\nFreq    \t3600\nPing    \t0\nPingFreq\t0\n"
        f"PingState\t0/0/0\nState   \tNOREG\nStatus  \tUP\n"
        f"Uptime  \t{int(sw.clock.now() - sw.started)}s\n{'=' * 97}\n"
    )
