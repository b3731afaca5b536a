"""FreeSWITCH's dialplan over mod_xml_curl: the `public` context, from the inbound numbers table.

What FreeSWITCH 1.10 posts (mod_dialplan_xml's dialplan_xml_locate → mod_xml_curl): form fields
`section=dialplan` (tag_name, key_name and key_value empty), the channel's data (`Caller-*`,
`variable_*`, `Unique-ID` ...) and its caller profile again as `Hunt-*`: `Hunt-Context`, the
context being routed, and `Hunt-Destination-Number`, the number dialled.

Only `public` (calls from the carrier) is answered here; every other context gets "not found",
so FreeSWITCH uses its static files (agents, default). A number of ours gets its extension
(cc_queue, park_timeout, park: what dids.xml's extensions do); any other number a document that
refuses it (404, UNALLOCATED_NUMBER), never "not found": that would fall back to the static
dids.xml and ring a number an admin deleted. When the controller does not answer at all
(down, timeout), FreeSWITCH falls back to dids.xml: freeswitch-conf/README.md says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from xml.etree import ElementTree

from sqlalchemy.orm import Session

from ..numbers import queue_of
from .directory import NOT_FOUND

CONTEXT = "public"
PARK_TIMEOUT_SECONDS = 3600     # a parked caller no controller takes is hung up after an hour


class DialplanRequestError(Exception):
    """A post that is not a dialplan lookup we can read; the message says why."""


def answer_lookup(form: Mapping[str, str], session: Session) -> str:
    """The XML document for one mod_xml_curl dialplan post."""
    section = form.get("section")
    if section != "dialplan":
        raise DialplanRequestError(
            f"section {section[:40]!r} is not served here: bind only the dialplan to this URL"
            if section else "no section field: this endpoint answers mod_xml_curl's dialplan "
                            "lookups")
    context = form.get("Hunt-Context") or form.get("Caller-Context")
    if not context:
        raise DialplanRequestError("a dialplan lookup needs the Hunt-Context field")
    if context != CONTEXT:
        return NOT_FOUND
    destination = form.get("Hunt-Destination-Number") or form.get("Caller-Destination-Number")
    if destination is None:
        raise DialplanRequestError("a dialplan lookup needs the Hunt-Destination-Number field")
    queue = queue_of(session, destination)
    return public_document(destination.removeprefix("+") if queue else None, queue)


def public_document(number: str | None, queue: str | None) -> str:
    """The public context: the number's extension when it is ours, then the refusal every
    other number meets."""
    document = ElementTree.Element("document", type="freeswitch/xml")
    section = ElementTree.SubElement(document, "section", name="dialplan",
                                     description="inbound numbers, from the controller")
    context = ElementTree.SubElement(section, "context", name=CONTEXT)
    if number is not None and queue is not None:
        _extension(context, f"did-{number}", rf"^\+?{number}$", [
            ("set", f"cc_queue={queue}"),
            ("set", f"park_timeout={PARK_TIMEOUT_SECONDS}"),
            ("park", None),
        ])
    _extension(context, "unknown-number", "^", [
        ("log", "NOTICE public: ${destination_number} is no inbound number of ours "
                "(the controller's table)"),
        ("respond", "404 Not Found"),
        ("hangup", "UNALLOCATED_NUMBER"),
    ])
    return ElementTree.tostring(document, encoding="unicode")


def _extension(context: ElementTree.Element, name: str, expression: str,
               actions: list[tuple[str, str | None]]) -> None:
    extension = ElementTree.SubElement(context, "extension", name=name)
    condition = ElementTree.SubElement(extension, "condition", field="destination_number",
                                       expression=expression)
    for application, data in actions:
        attributes = {"application": application}
        if data is not None:
            attributes["data"] = data
        ElementTree.SubElement(condition, "action", attributes)
