"""The simulator's mod_xml_curl dialplan binding: it asks the controller for a call's dialplan
the way FreeSWITCH does (an HTTP POST of `section=dialplan`, the channel's headers and its
`Hunt-*` caller profile, with the binding's basic credentials), and reads the document back.

`lookup` gives the actions of the document's first extension whose condition matches the
number, or None when the static dialplan applies: the controller answered "not found", or did
not answer at all (down, refused, timed out, an error status or a document it cannot read), as
mod_xml_curl falls back to the files then.

HTTP is spoken over gevent's own sockets, so a lookup yields to the hub whether or not the
process is monkey-patched (the controller may be served by the same hub).
"""

from __future__ import annotations

import base64
import logging
import re
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit
from xml.etree import ElementTree

import gevent
from gevent import socket

from callcenter.sim.channels import Channel

log = logging.getLogger(__name__)

Action = tuple[str, str]        # (application, data)


@dataclass(frozen=True)
class ControllerDialplan:
    url: str                   # http://host:port/freeswitch/dialplan
    user: str
    password: str
    timeout: float = 3.0       # the shipped binding's
    hostname: str = "fs1"

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the simulator asks its controller over http://, not {self.url!r}")

    def lookup(self, ch: Channel, context: str, destination: str) -> list[Action] | None:
        form = [("hostname", self.hostname), ("section", "dialplan"), ("tag_name", ""),
                ("key_name", ""), ("key_value", ""), ("Event-Name", "REQUEST_PARAMS"),
                *ch.header_block(), *ch.variable_block(),
                *ch.profile.headers("Hunt", None)]
        try:
            with gevent.Timeout(self.timeout):
                status, body = post_form(self.url, self.user, self.password,
                                         urlencode(form).encode())
        except (OSError, gevent.Timeout, ValueError) as exc:
            log.warning("dialplan lookup for %s failed (%s): the static dialplan applies",
                        destination, exc or type(exc).__name__)
            return None
        if status != 200:
            log.warning("dialplan lookup for %s: HTTP %d: the static dialplan applies",
                        destination, status)
            return None
        return actions_for(body, context, destination)


def post_form(url: str, user: str, password: str, body: bytes) -> tuple[int, bytes]:
    """One mod_xml_curl POST (a form, with the binding's basic credentials): (status, body)."""
    parts = urlsplit(url)
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = (f"POST {parts.path or '/'} HTTP/1.0\r\nHost: {parts.netloc}\r\n"
               f"Authorization: Basic {credentials}\r\n"
               "Content-Type: application/x-www-form-urlencoded\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    with socket.create_connection((parts.hostname, parts.port or 80)) as conn:
        conn.sendall(request)
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    head, _, content = reply.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[1].isdigit():
        raise ValueError("not an HTTP reply")
    return int(status_line[1]), content


def actions_for(document: bytes, context: str, destination: str) -> list[Action] | None:
    """The actions a mod_xml_curl dialplan document runs for `destination` in `context`; None
    for "not found" or a document FreeSWITCH could not use (then the files apply)."""
    try:
        root = ElementTree.fromstring(document)  # noqa: S314 - the controller's own answer
    except ElementTree.ParseError:
        return None
    result = root.find("section[@name='result']/result")
    if result is not None and result.get("status", "").lower() == "not found":
        return None
    found = root.find(f"section[@name='dialplan']/context[@name='{context}']")
    if found is None:
        return None
    for extension in found.iter("extension"):
        condition = extension.find("condition")
        if condition is None or condition.get("field") != "destination_number":
            continue
        if re.search(condition.get("expression", ""), destination):
            return [(a.get("application", ""), a.get("data", "")) for a in condition
                    if a.tag == "action"]
    return []       # no extension matched: FreeSWITCH hangs the call up (NO_ROUTE_DESTINATION)
