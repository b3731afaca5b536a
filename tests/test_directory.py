"""POST /freeswitch/directory: mod_xml_curl's lookups, answered from agents' live SIP
credentials, behind FreeSWITCH's HTTP credentials."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

import pytest
from sqlalchemy import select, update

from callcenter.models import Role, SipCredential
from callcenter.web.directory import NOT_FOUND
from tests.conftest import AuthActions

DOMAIN_XML = Path(__file__).parents[1] / "freeswitch-conf" / "directory" / "domain.xml"


@pytest.fixture
def fs_auth(settings):
    return (settings.freeswitch_http_user, settings.freeswitch_http_password)


@pytest.fixture
def alice(app, admin, make_user):
    """Agent alice (extension 1001) logged in: her softphone's password."""
    make_user("alice", Role.AGENT, extension="1001")
    client = app.test_client()
    AuthActions(client).login("alice")
    reply = client.get("/api/softphone")
    assert reply.status_code == 200, reply.json
    return client, reply.json["password"]


def lookup(client, auth, **fields):
    form = {"section": "directory", "tag_name": "domain", "key_name": "name",
            "hostname": "fs1", **fields}
    return client.post("/freeswitch/directory", data=form, auth=auth)


def register(client, auth, domain, user="1001", action="sip_auth"):
    fields = {"key_value": domain, "domain": domain, "user": user, "action": action}
    if action == "sip_auth":
        fields |= {"sip_auth_method": "REGISTER", "sip_auth_username": user}
    return lookup(client, auth, **fields)


def test_a_register_of_a_logged_in_agent_gets_its_a1_hash_only(client, fs_auth, settings, alice):
    _, password = alice
    reply = register(client, fs_auth, settings.sip_domain)
    assert reply.status_code == 200 and reply.mimetype == "text/xml"
    document = ElementTree.fromstring(reply.data)  # noqa: S314 - our own answer
    domain = document.find("section[@name='directory']/domain")
    assert domain.get("name") == settings.sip_domain
    user = domain.find("groups/group/users/user")
    assert user.get("id") == "1001"
    params = {p.get("name"): p.get("value") for p in user.iter("param")}
    a1 = hashlib.md5(f"1001:{settings.sip_domain}:{password}".encode(),
                     usedforsecurity=False).hexdigest()
    assert params == {"a1-hash": a1}
    assert password.encode() not in reply.data
    variables = {v.get("name"): v.get("value") for v in user.iter("variable")}
    assert variables == {"user_context": "agents", "effective_caller_id_name": "alice",
                         "effective_caller_id_number": "1001"}
    # The domain's dial-string is the shipped one, word for word (sofia contacts only).
    tree = ElementTree.parse(DOMAIN_XML)  # noqa: S314 - the shipped file
    shipped = tree.find(".//param[@name='dial-string']").get("value")
    dial = domain.find("params/param[@name='dial-string']").get("value")
    assert dial == shipped and "sofia_contact" in dial and "verto" not in dial


def test_originate_user_gets_the_same_entry(client, fs_auth, settings, alice):
    registered = register(client, fs_auth, settings.sip_domain)
    called = register(client, fs_auth, settings.sip_domain, action="user_call")
    assert called.status_code == 200 and called.data == registered.data


@pytest.mark.parametrize("fields", [
    {"purpose": "gateways", "profile": "internal"},
    {"purpose": "network-list"},
    {"action": "message-count", "user": "1001"},
    {"action": "reverse-auth-lookup", "user": "1001"},
    {},
])
def test_other_lookups_are_not_found(client, fs_auth, settings, alice, fields):
    reply = lookup(client, fs_auth, key_value=settings.sip_domain, domain=settings.sip_domain,
                   **fields)
    assert (reply.status_code, reply.get_data(as_text=True)) == (200, NOT_FOUND)


def test_unknown_users_and_domains_are_not_found(client, fs_auth, settings, alice, make_user):
    make_user("bob", Role.AGENT, extension="1002")        # never logged in: no credential
    for domain, user in ((settings.sip_domain, "1002"), (settings.sip_domain, "1999"),
                         ("other.example.com", "1001")):
        reply = register(client, fs_auth, domain, user)
        assert (reply.status_code, reply.get_data(as_text=True)) == (200, NOT_FOUND), user


def test_expired_and_revoked_credentials_are_not_found(client, fs_auth, settings, alice,
                                                       database):
    web, _ = alice
    with database.session() as s:
        s.execute(update(SipCredential).values(
            expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert register(client, fs_auth, settings.sip_domain).get_data(as_text=True) == NOT_FOUND
    assert web.get("/api/softphone").status_code == 200        # the page gets a new one
    assert b"a1-hash" in register(client, fs_auth, settings.sip_domain).data
    AuthActions(web).logout()
    assert register(client, fs_auth, settings.sip_domain).get_data(as_text=True) == NOT_FOUND


def test_an_inactive_user_is_not_found(client, fs_auth, settings, alice, database):
    from callcenter.models import User

    with database.session() as s:
        s.execute(update(User).where(User.username == "alice").values(active=False))
    assert register(client, fs_auth, settings.sip_domain).get_data(as_text=True) == NOT_FOUND


def test_freeswitch_credentials_are_required(client, fs_auth, settings, alice):
    for auth in (None, (fs_auth[0], "wrong"), ("someone", fs_auth[1])):
        reply = register(client, auth, settings.sip_domain)
        assert reply.status_code == 401 and b"a1-hash" not in reply.data
        assert reply.headers["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize("fields, problem", [
    ({"section": None}, "no section"),
    ({"section": "configuration"}, "not served here"),
    ({"user": None}, "needs the user and domain"),
    ({"domain": None, "key_value": None}, "needs the user and domain"),
    ({"user": "1001@evil"}, "user"),
    ({"user": "1001 x"}, "user"),
    ({"domain": "bad domain", "key_value": "bad domain"}, "domain"),
])
def test_malformed_posts_are_400_naming_the_problem(client, fs_auth, settings, alice, database,
                                                    fields, problem):
    form = {"section": "directory", "action": "sip_auth", "user": "1001",
            "domain": settings.sip_domain, "key_value": settings.sip_domain}
    for name, value in fields.items():
        if value is None:
            form.pop(name)
        else:
            form[name] = value
    with database.session() as s:
        before = s.scalars(select(SipCredential.a1_hash)).all()
    reply = client.post("/freeswitch/directory", data=form, auth=fs_auth)
    assert reply.status_code == 400 and problem in reply.get_data(as_text=True)
    assert b"a1-hash" not in reply.data
    with database.session() as s:
        assert s.scalars(select(SipCredential.a1_hash)).all() == before
