"""SIP messages as the simulator's guest listener (guests.py) reads and writes them: parsing
(compact header forms included), responses to a request, the MD5 digest a challenged INVITE
answers, and an SDP answer for a browser's offer.

The simulator carries no media: the answer is syntactically what a WebRTC peer needs (ICE
credentials, a DTLS fingerprint, rtcp-mux, one codec per offered m-line) with no ICE
candidates, so the browser's session is established and its media never flows.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field

COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact",
           "l": "content-length", "c": "content-type", "k": "supported"}
SPELLED = {"call-id": "Call-ID", "cseq": "CSeq", "www-authenticate": "WWW-Authenticate",
           "proxy-authenticate": "Proxy-Authenticate"}
REASONS = {100: "Trying", 200: "OK", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 407: "Proxy Authentication Required",
           480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
           486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here",
           500: "Server Internal Error", 503: "Service Unavailable", 603: "Decline"}


class SipError(ValueError):
    """Text that is not a SIP message."""


@dataclass
class SipMessage:
    start: str                      # "INVITE sip:call@realm SIP/2.0" or "SIP/2.0 200 OK"
    headers: list[tuple[str, str]] = field(default_factory=list)   # (lower-case name, value)
    body: str = ""

    @classmethod
    def parse(cls, text: str) -> SipMessage:
        head, _, body = text.partition("\r\n\r\n")
        start, *lines = head.split("\r\n")
        if not (start.startswith("SIP/2.0 ") or start.endswith(" SIP/2.0")):
            raise SipError(f"not a SIP start line: {start[:60]!r}")
        headers = []
        for line in lines:
            name, colon, value = line.partition(":")
            if not colon:
                raise SipError(f"not a SIP header: {line[:60]!r}")
            name = name.strip().lower()
            headers.append((COMPACT.get(name, name), value.strip()))
        return cls(start, headers, body)

    @property
    def is_response(self) -> bool:
        return self.start.startswith("SIP/2.0 ")

    @property
    def method(self) -> str:
        return self.header("cseq").split()[-1] if self.is_response else self.start.split()[0]

    @property
    def uri(self) -> str:
        return "" if self.is_response else self.start.split()[1]

    def header(self, name: str, default: str = "") -> str:
        return next((v for n, v in self.headers if n == name), default)

    def all(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n == name]

    def text(self) -> str:
        lines = [self.start, *(f"{SPELLED.get(n, n.title())}: {v}" for n, v in self.headers
                               if n != "content-length")]
        lines.append(f"Content-Length: {len(self.body.encode())}")
        return "\r\n".join(lines) + "\r\n\r\n" + self.body


def response(request: SipMessage, status: int, *extra: tuple[str, str],
             to_tag: str = "") -> SipMessage:
    to = request.header("to")
    if to_tag and ";tag=" not in to:
        to += f";tag={to_tag}"
    headers = [*(("via", v) for v in request.all("via")), ("from", request.header("from")),
               ("to", to), ("call-id", request.header("call-id")),
               ("cseq", request.header("cseq")), *extra]
    return SipMessage(f"SIP/2.0 {status} {REASONS.get(status, 'Unknown')}", headers)


def uri_of(name_addr: str) -> str:
    """The URI inside `"Name" <sip:...>;params` (or a bare URI)."""
    found = re.search(r"<([^>]*)>", name_addr)
    return found.group(1) if found else name_addr.split(";")[0].strip()


def user_host(uri: str) -> tuple[str, str]:
    """("call", "guests.example") from sip:call@guests.example;transport=ws."""
    address = uri.split(":", 1)[-1].split(";")[0]
    user, _, host = address.rpartition("@")
    return user, host.split(":")[0]


def new_tag() -> str:
    return secrets.token_hex(6)


# -- digest (RFC 2617, as FreeSWITCH checks it: MD5, qop=auth) --------------------------------

def md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def digest_fields(value: str) -> dict[str, str]:
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        return {}
    return {k.lower(): quoted if quoted else bare
            for k, quoted, bare in re.findall(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))', rest)}


def digest_response(a1: str, method: str, fields: dict[str, str]) -> str:
    ha2 = md5(f"{method}:{fields.get('uri', '')}")
    if fields.get("qop"):
        return md5(f"{a1}:{fields.get('nonce')}:{fields.get('nc')}:{fields.get('cnonce')}:"
                   f"{fields.get('qop')}:{ha2}")
    return md5(f"{a1}:{fields.get('nonce')}:{ha2}")


# -- SDP ----------------------------------------------------------------------------------------

def sdp_answer(offer: str) -> str:
    """An answer to a browser's offer: each m-line accepted with the first codec offered
    (VP8 first for video, as the shipped internal profile prefers it), bundled, no candidates."""
    sections = re.split(r"\r?\n(?=m=)", offer.strip())
    ufrag, pwd = secrets.token_hex(4), secrets.token_hex(12)
    fingerprint = ":".join(f"{b:02X}" for b in secrets.token_bytes(32))
    session_id = secrets.randbelow(10**9)
    media, mids = [], []
    for section in sections[1:]:
        lines = section.splitlines()
        kind, _port, proto, *formats = lines[0][2:].split()
        codecs = dict(re.findall(r"^a=rtpmap:(\d+) ([^\r\n]+)\r?$", section, re.MULTILINE))
        chosen = next((pt for pt in formats if codecs.get(pt, "").upper().startswith("VP8/")),
                      formats[0]) if kind == "video" else formats[0]
        mid = next((line[6:] for line in lines if line.startswith("a=mid:")), str(len(mids)))
        mids.append(mid)
        media += [f"m={kind} 9 {proto} {chosen}", "c=IN IP4 0.0.0.0", "a=rtcp:9 IN IP4 0.0.0.0",
                  f"a=ice-ufrag:{ufrag}", f"a=ice-pwd:{pwd}",
                  f"a=fingerprint:sha-256 {fingerprint}", "a=setup:active", f"a=mid:{mid}",
                  "a=sendrecv", "a=rtcp-mux"]
        if chosen in codecs:
            media.append(f"a=rtpmap:{chosen} {codecs[chosen]}")
    head = ["v=0", f"o=FreeSWITCH {session_id} {session_id + 1} IN IP4 127.0.0.1",
            "s=FreeSWITCH", "t=0 0", f"a=group:BUNDLE {' '.join(mids)}",
            "a=msid-semantic: WMS"]
    return "\r\n".join(head + media) + "\r\n"
