"""FreeSWITCH's directory over mod_xml_curl: which lookup a post is, and the document it gets.

What FreeSWITCH 1.10 posts (form fields; every one with `section=directory`, `tag_name=domain`,
`key_name=name`, `key_value=<domain>` and `domain=<domain>`):

- at start-up, per profile: `purpose=gateways` (or `network-list`), no `user`;
- a REGISTER: `action=sip_auth`, `sip_auth_method=REGISTER`, `user=<ext>`;
- `originate user/<ext>@<domain>`: `action=user_call`, `user=<ext>`.

An agent's extension with a live SIP credential gets a user entry carrying only its `a1-hash`
(never a password), the domain's dial-string, its user_context and caller-id variables.

The guest realm (website visitors, callcenter/widgets/) is answered apart (`is_guest`): only an
INVITE's lookup (`sip_auth_method=INVITE`, never a REGISTER, never `user_call`) of a guest user
(`g` + 20 hex) whose one-call credential is unused and fresh, or already used by this same SIP
call (`sip_call_id`: a stale nonce's second challenge). Its entry puts the call in the `guests`
context with the widget's queue: the one place a guest can go.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from xml.etree import ElementTree

from sqlalchemy.orm import Session

from ..clock import Clock
from ..credentials import DIAL_STRING, USER_CONTEXT, Credentials, DirectoryUser
from ..esl.commands import CommandError, valid_domain, valid_extension
from ..models import WEB, GuestCall
from ..widgets import credentials as guests

NOT_FOUND = ('<document type="freeswitch/xml"><section name="result">'
             '<result status="not found"/></section></document>')
USER_LOOKUPS = ("sip_auth", "user_call")


class DirectoryRequestError(Exception):
    """A post that is not a directory lookup we can read; the message says why."""


def answer_lookup(form: Mapping[str, str], credentials: Credentials, session: Session,
                  guest_realm: str | None = None, clock: Clock | None = None,
                  write: Callable[[Callable[[Session], str]], str] | None = None) -> str:
    """The XML document for one mod_xml_curl post (`guest_realm`: the website visitors';
    `write(work)`: how a guest's lookup marks its credential used — the web request's write)."""
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
    if guest_realm is not None and is_guest(form, user, domain, guest_realm):
        return guest_lookup(form, user, domain, write, clock)
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


def is_guest(form: Mapping[str, str], user: str, domain: str, realm: str) -> bool:
    """A lookup in the guest realm. FreeSWITCH posts the profile's force-register-domain (the
    agents' SIP domain) as `domain` for every digest, so the realm the guest answered the
    challenge in (`sip_auth_realm`) tells too; a guest's name is never an extension."""
    return domain.lower() == realm or (
        (form.get("sip_auth_realm") or "").lower() == realm
        and guests.GUEST_USER.fullmatch(user) is not None)


def guest_lookup(form: Mapping[str, str], user: str, domain: str,
                 write: Callable[[Callable[[Session], str]], str], clock: Clock) -> str:
    """A website visitor's INVITE: its one-call credential's entry, used by this SIP call
    (in the `domain` FreeSWITCH looks the user up in)."""
    if form.get("action") != "sip_auth" or form.get("sip_auth_method") != "INVITE":
        return NOT_FOUND
    if not guests.GUEST_USER.fullmatch(user):
        raise DirectoryRequestError("a guest user is g and 20 hex digits")
    sip_call_id = form.get("sip_call_id") or ""

    def using(session: Session) -> str:
        row = guests.use(session, user, sip_call_id, clock)
        return guest_document(row, domain) if row is not None else NOT_FOUND
    return write(using)


def guest_document(row: GuestCall, domain_name: str) -> str:
    """The guest's entry: its a1-hash, and the variables that put its call in the widget's
    queue (the guests context parks `call` with them)."""
    document = ElementTree.Element("document", type="freeswitch/xml")
    section = ElementTree.SubElement(document, "section", name="directory")
    domain = ElementTree.SubElement(section, "domain", name=domain_name)
    users = ElementTree.SubElement(ElementTree.SubElement(
        ElementTree.SubElement(domain, "groups"), "group", name="guests"), "users")
    entry = ElementTree.SubElement(users, "user", id=row.guest_user)
    _named(ElementTree.SubElement(entry, "params"), "param", {"a1-hash": row.a1_hash})
    _named(ElementTree.SubElement(entry, "variables"), "variable", {
        "user_context": guests.GUEST_CONTEXT,
        "cc_queue": row.widget.queue.name,
        "cc_channel": WEB,
        "cc_widget": row.widget.public_id,
        "cc_guest": row.token,
        "effective_caller_id_name": "Website",
        "effective_caller_id_number": row.guest_user,
    })
    return ElementTree.tostring(document, encoding="unicode")


def _named(parent: ElementTree.Element, tag: str, values: dict[str, str]) -> None:
    for name, value in values.items():
        ElementTree.SubElement(parent, tag, name=name, value=value)
