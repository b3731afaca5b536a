"""site.xml: the values of one site, the only file of the shipped tree ops edit.

`CALLCENTER_*` values are the controller's own settings under the same names, so `fs-config`
writes them from `Settings` and `fs-check` compares them; `FREESWITCH_*` values concern
FreeSWITCH alone, and `fs-config` keeps whatever the file already says for them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from ..config import Settings

SITE_FILE = "site.xml"


class SiteError(ValueError):
    """A site value cannot be written as given; the message names it."""


@dataclass(frozen=True)
class SiteValue:
    name: str
    default: str  # the shipped value, as written in the file (may refer to $${certs_dir} ...)
    comment: str


SHARED: tuple[SiteValue, ...] = (
    SiteValue("CALLCENTER_SIP_DOMAIN", "127.0.0.1",
              "SIP domain agents register to; the controller dials user/EXT@this."),
    SiteValue("CALLCENTER_ESL_PORT", "8021", "Event socket port the controller connects to."),
    SiteValue("CALLCENTER_ESL_PASSWORD", "", "Its password."),
    SiteValue("CALLCENTER_FREESWITCH_HTTP_URL", "http://127.0.0.1:8080",
              "Where FreeSWITCH reaches the controller (directory and CDRs)."),
    SiteValue("CALLCENTER_PEER_HTTP_URL", "$${CALLCENTER_FREESWITCH_HTTP_URL}",
              "The other controller of a standby pair: FreeSWITCH's second URL for each of "
              "them, tried when the first does not answer (a lone controller: the same URL)."),
    SiteValue("CALLCENTER_FREESWITCH_HTTP_USER", "freeswitch",
              "The basic credentials FreeSWITCH presents there."),
    SiteValue("CALLCENTER_FREESWITCH_HTTP_PASSWORD", "", ""),
    SiteValue("CALLCENTER_GATEWAY", "carrier",
              "The gateway (external profile) that carries calls to customers."),
    SiteValue("CALLCENTER_SOFTPHONE_WSS_PORT", "7443",
              "The port of CALLCENTER_SOFTPHONE_WSS_URL: the internal profile's wss-binding."),
)
OWN: tuple[SiteValue, ...] = (
    SiteValue("FREESWITCH_LOCAL_IP", "127.0.0.1", "Address SIP, WebSocket and RTP bind to."),
    SiteValue("FREESWITCH_PUBLIC_IP", "127.0.0.1", "Address phones and the carrier see in SIP "
              "and SDP (the NAT's public side, if any)."),
    SiteValue("FREESWITCH_ESL_LISTEN_IP", "127.0.0.1", "Event socket: the address it listens "
              "on and the network allowed to connect."),
    SiteValue("FREESWITCH_ESL_ALLOWED_CIDR", "127.0.0.1/32", ""),
    SiteValue("FREESWITCH_CERT_DIR", "$${certs_dir}",
              "Directory holding wss.pem (certificate, chain and key) for the wss-binding."),
    SiteValue("FREESWITCH_CDR_ERROR_DIR", "$${log_dir}/json_cdr", "Where mod_json_cdr leaves "
              "CDRs it could not post: the controller's CALLCENTER_CDR_SPOOL_DIR (fs-config "
              "writes that here when it is set), else `callcenter cdr import` reads it."),
    SiteValue("FREESWITCH_CARRIER_PROXY", "127.0.0.1:5094", "The carrier: its SIP proxy "
              "(IP[:port]), and credentials if it wants a registration."),
    SiteValue("FREESWITCH_CARRIER_REGISTER", "false", ""),
    SiteValue("FREESWITCH_CARRIER_USERNAME", "", ""),
    SiteValue("FREESWITCH_CARRIER_PASSWORD", "", ""),
    SiteValue("FREESWITCH_RTP_START", "16384", "RTP port range (open it in the firewall), and "
              "the switch's size."),
    SiteValue("FREESWITCH_RTP_END", "32768", ""),
    SiteValue("FREESWITCH_MAX_SESSIONS", "1000", ""),
    SiteValue("FREESWITCH_SESSIONS_PER_SECOND", "100", ""),
)
OWN_NAMES = frozenset(v.name for v in OWN)

_SET = re.compile(r'<X-PRE-PROCESS\s+cmd="set"\s+data="([A-Za-z0-9_]+)=([^"]*)"\s*/>',
                  re.IGNORECASE)
_PLAIN = re.compile(r"[^\x00-\x1f\x7f]*")


def wss_port(settings: Settings) -> int:
    url = urlsplit(settings.softphone_wss_url)
    return url.port or 443


def shared_values(settings: Settings) -> dict[str, str]:
    """The CALLCENTER_* values FreeSWITCH must hold for this controller."""
    if not settings.esl_password:
        raise SiteError("CALLCENTER_ESL_PASSWORD is not set: choose one and set it (with "
                        "CALLCENTER_ESL_HOST) for the controller; fs-config writes the same "
                        "value for FreeSWITCH")
    if ":" in settings.freeswitch_http_user:
        raise SiteError("CALLCENTER_FREESWITCH_HTTP_USER must not contain ':' (FreeSWITCH "
                        "sends user:password)")
    return {
        "CALLCENTER_SIP_DOMAIN": settings.sip_domain,
        "CALLCENTER_ESL_PORT": str(settings.esl_port),
        "CALLCENTER_ESL_PASSWORD": settings.esl_password,
        "CALLCENTER_FREESWITCH_HTTP_URL": settings.freeswitch_http_url,
        "CALLCENTER_PEER_HTTP_URL": settings.freeswitch_http_urls[1],
        "CALLCENTER_FREESWITCH_HTTP_USER": settings.freeswitch_http_user,
        "CALLCENTER_FREESWITCH_HTTP_PASSWORD": settings.freeswitch_http_password,
        "CALLCENTER_GATEWAY": settings.gateway,
        "CALLCENTER_SOFTPHONE_WSS_PORT": str(wss_port(settings)),
    }


def spool_values(settings: Settings, assigned: Mapping[str, str]) -> dict[str, str]:
    """FreeSWITCH's err-log-dir is the controller's spool directory when it has one: the two
    must agree, so a --set of another directory is refused."""
    if settings.cdr_spool_dir is None:
        return {}
    spool = _checked("CALLCENTER_CDR_SPOOL_DIR", str(settings.cdr_spool_dir))
    given = assigned.get("FREESWITCH_CDR_ERROR_DIR")
    if given is not None and given != spool:
        raise SiteError(f"--set FREESWITCH_CDR_ERROR_DIR: it is CALLCENTER_CDR_SPOOL_DIR "
                        f"({settings.cdr_spool_dir}), which the controller reads; change that "
                        "setting instead")
    return {"FREESWITCH_CDR_ERROR_DIR": spool}


def read_own_values(path: Path) -> dict[str, str]:
    """The FREESWITCH_* values an existing site file sets, exactly as written there."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SiteError(f"cannot read {path}: {exc}") from None
    found = dict(_SET.findall(text))
    if text.strip() and not found.keys() & {v.name for v in SHARED + OWN}:
        raise SiteError(f"{path} sets no site value: it is not a site.xml, so it was left as "
                        "it is")
    return {name: value for name, value in found.items() if name in OWN_NAMES}


def parse_assignments(assignments: list[str]) -> dict[str, str]:
    """``--set NAME=VALUE`` options: FreeSWITCH's own values only."""
    values: dict[str, str] = {}
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep:
            raise SiteError(f"--set {item!r}: write NAME=VALUE")
        if name.startswith("CALLCENTER_"):
            raise SiteError(f"--set {name}: CALLCENTER_* values come from the controller's "
                            "settings; set it in the controller's environment instead")
        if name not in OWN_NAMES:
            raise SiteError(f"--set {name}: not a site value (one of: "
                            f"{', '.join(sorted(OWN_NAMES))})")
        values[name] = _checked(name, value, references=True)
    return values


def _checked(name: str, value: str, references: bool = False) -> str:
    """A value as the preprocessor line wants it: no control characters, no `$${...}` unless it
    is FreeSWITCH's own reference, and XML's specials escaped (the preprocessor copies the
    text as it is into attributes, where the XML parser unescapes it)."""
    if not _PLAIN.fullmatch(value):
        raise SiteError(f"{name}: control characters (newlines, tabs) cannot be written")
    if "$${" in value and not references:
        raise SiteError(f"{name}: '$${{' would be read as a FreeSWITCH variable")
    if "${" in value.replace("$${", ""):
        raise SiteError(f"{name}: '${{' would be expanded by FreeSWITCH")
    return escape(value, {'"': "&quot;"})


def render(settings: Settings, own: Mapping[str, str] | None = None) -> str:
    """The site file for this controller: shared values from ``settings``, FreeSWITCH's own
    from ``own`` (already in file form) or the shipped defaults."""
    shared = {name: _checked(name, value) for name, value in shared_values(settings).items()}
    own = {v.name: v.default for v in OWN} | dict(own or {}) | spool_values(settings, {})
    lines = [
        "<include>",
        "  <!--",
        "    The values of one site, written by `callcenter fs-config` from the controller's",
        "    settings. Rerun it after changing those: it keeps the FREESWITCH_* values below,",
        "    which are yours to edit here.",
        "  -->",
        "",
        "  <!-- Shared with the controller, named after its settings. -->",
    ]
    for value in SHARED:
        lines += _entry(value, shared[value.name])
    lines += ["", "  <!-- FreeSWITCH's own. Addresses are IP addresses, never host names. -->"]
    for value in OWN:
        lines += _entry(value, own[value.name])
    lines.append("</include>")
    return "\n".join(lines) + "\n"


def _entry(value: SiteValue, text: str) -> list[str]:
    comment = [f"  <!-- {value.comment} -->"] if value.comment else []
    return comment + [f'  <X-PRE-PROCESS cmd="set" data="{value.name}={text}"/>']


def write(path: Path, text: str) -> None:
    """Atomically, readable by its owner only: the file holds the site's secrets."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SiteError(f"cannot write {path}: {exc}") from None
