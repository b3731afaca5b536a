"""FreeSWITCH's directory over mod_xml_curl: which lookup a post is, and the document it gets.

What FreeSWITCH 1.10 posts (form fields; every one with `section=directory`, `tag_name=domain`,
`key_name=name`, `key_value=<domain>` and `domain=<domain>`):

- at start-up, per profile: `purpose=gateways` (or `network-list`), no `user`;
- a REGISTER: `action=sip_auth`, `sip_auth_method=REGISTER`, `user=<ext>`;
- `originate user/<ext>@<domain>`: `action=user_call`, `user=<ext>`.

An agent's extension with a live SIP credential gets a user entry carrying only its `a1-hash`
(never a password), the domain's dial-string, its user_context and caller-id variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from xml.etree import ElementTree

from sqlalchemy.orm import Session

from ..credentials import DIAL_STRING, USER_CONTEXT, Credentials, DirectoryUser
from ..esl.commands import CommandError, valid_domain, valid_extension

NOT_FOUND = ('<document type="freeswitch/xml"><section name="result">'
             '<result status="not found"/></section></document>')
USER_LOOKUPS = ("sip_auth", "user_call")


class DirectoryRequestError(Exception):
    """A post that is not a directory lookup we can read; the message says why."""


def answer_lookup(form: Mapping[str, str], credentials: Credentials, session: Session) -> str:
    """The XML document for one mod_xml_curl post."""
    section = form.get("section")
    if section is None:
        raise DirectoryRequestError("no section field: this endpoint answers mod_xml_curl's "
                                    "directory lookups")
    if section != "directory":
        raise DirectoryRequestError(f"section {section[:40]!r} is not served here: bind only "
                                    "the directory to this URL in xml_curl.conf.xml")
    if form.get("action") not in USER_LOOKUPS:
        return NOT_FOUND        # gateways, network-list and whatever else: the static directory
    user, domain = form.get("user"), form.get("domain") or form.get("key_value")
    if not user or not domain:
        raise DirectoryRequestError(f"a {form['action']} lookup needs the user and domain fields")
    try:
        valid_extension(user, "user")
        valid_domain(domain)
    except CommandError as exc:
        raise DirectoryRequestError(str(exc)) from None
    found = credentials.lookup(session, user, domain)
    return user_document(found) if found is not None else NOT_FOUND


def user_document(user: DirectoryUser) -> str:
    document = ElementTree.Element("document", type="freeswitch/xml")
    section = ElementTree.SubElement(document, "section", name="directory")
    domain = ElementTree.SubElement(section, "domain", name=user.domain)
    _named(ElementTree.SubElement(domain, "params"), "param", {"dial-string": DIAL_STRING})
    users = ElementTree.SubElement(ElementTree.SubElement(
        ElementTree.SubElement(domain, "groups"), "group", name="default"), "users")
    entry = ElementTree.SubElement(users, "user", id=user.extension)
    _named(ElementTree.SubElement(entry, "params"), "param", {"a1-hash": user.a1_hash})
    _named(ElementTree.SubElement(entry, "variables"), "variable", {
        "user_context": USER_CONTEXT,
        "effective_caller_id_name": user.caller_id_name,
        "effective_caller_id_number": user.extension,
    })
    return ElementTree.tostring(document, encoding="unicode")


def _named(parent: ElementTree.Element, tag: str, values: dict[str, str]) -> None:
    for name, value in values.items():
        ElementTree.SubElement(parent, tag, name=name, value=value)
