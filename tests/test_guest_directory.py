"""The directory's guests (web/directory.py): a website visitor's one-call credential answers
only its INVITE's lookup (never a REGISTER, never an originate), once per call — a second
lookup of the same SIP call (a stale nonce) is fine, another call is not — and only within a
minute of being minted. Its entry puts the call in the guests context with the widget's
queue."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from callcenter.models import GuestCall
from callcenter.web.directory import NOT_FOUND
from tests.test_widget_api import SITE, call, clock, make_widget  # noqa: F401 - fixtures


@pytest.fixture
def fs_auth(settings):
    return (settings.freeswitch_http_user, settings.freeswitch_http_password)


@pytest.fixture
def guest(client, admin, database, clock):  # noqa: F811 - the fixture imported above
    wid = make_widget(database)
    answer = call(client, wid)
    assert answer.status_code == 201
    return wid, answer.json


def lookup(client, auth, realm, user, *, method="INVITE", call_id="abc@visitor",
           action="sip_auth"):
    form = {"section": "directory", "tag_name": "domain", "key_name": "name",
            "key_value": realm, "domain": realm, "user": user, "action": action,
            "sip_auth_method": method, "sip_auth_username": user, "sip_call_id": call_id}
    reply = client.post("/freeswitch/directory", data=form, auth=auth)
    assert reply.status_code == 200, reply.data
    return reply.data.decode()


def test_an_invite_gets_the_guest_entry_with_its_queue_and_context(client, fs_auth, guest,
                                                                   database):
    wid, body = guest
    sip = body["sip"]
    document = ElementTree.fromstring(lookup(client, fs_auth, sip["realm"], sip["user"]))  # noqa: S314
    domain = document.find("section[@name='directory']/domain")
    assert domain.get("name") == sip["realm"]
    user = domain.find("groups/group/users/user")
    assert user.get("id") == sip["user"]
    params = {p.get("name"): p.get("value") for p in user.iter("param")}
    with database.session() as s:
        row = s.get(GuestCall, body["call"])
        assert params == {"a1-hash": row.a1_hash}
        assert row.used_at is not None and row.sip_call_id == "abc@visitor"
    variables = {v.get("name"): v.get("value") for v in user.iter("variable")}
    assert variables["user_context"] == "guests"
    assert variables["cc_queue"] == "sales" and variables["cc_channel"] == "web"
    assert variables["cc_widget"] == wid and variables["cc_guest"] == body["call"]
    assert sip["password"] not in lookup(client, fs_auth, sip["realm"], sip["user"])


def test_freeswitch_s_forced_register_domain_is_answered_by_the_realm_of_the_digest(
        client, fs_auth, guest, settings):
    """The internal profile's force-register-domain makes FreeSWITCH post the agents' domain
    as `domain` for a guest's INVITE too; the digest's realm says it is a guest's."""
    _, body = guest
    sip = body["sip"]
    form = {"section": "directory", "key_value": settings.sip_domain,
            "domain": settings.sip_domain, "user": sip["user"], "action": "sip_auth",
            "sip_auth_method": "INVITE", "sip_auth_realm": sip["realm"], "sip_call_id": "c1"}
    reply = client.post("/freeswitch/directory", data=form, auth=fs_auth)
    document = ElementTree.fromstring(reply.data)  # noqa: S314 - our own answer
    domain = document.find("section[@name='directory']/domain")
    assert domain.get("name") == settings.sip_domain     # where FreeSWITCH looks the user up
    assert domain.find("groups/group/users/user").get("id") == sip["user"]
    register = client.post("/freeswitch/directory", auth=fs_auth,
                           data={**form, "sip_auth_method": "REGISTER"})
    assert register.data.decode() == NOT_FOUND


def test_a_register_or_an_originate_never_gets_a_guest(client, fs_auth, guest):
    _, body = guest
    sip = body["sip"]
    assert lookup(client, fs_auth, sip["realm"], sip["user"], method="REGISTER") == NOT_FOUND
    assert lookup(client, fs_auth, sip["realm"], sip["user"], action="user_call") == NOT_FOUND
    # ...and those lookups did not use the credential up:
    assert lookup(client, fs_auth, sip["realm"], sip["user"]) != NOT_FOUND


def test_one_call_only_but_a_stale_nonce_of_that_call_is_fine(client, fs_auth, guest):
    _, body = guest
    sip = body["sip"]
    assert lookup(client, fs_auth, sip["realm"], sip["user"], call_id="one") != NOT_FOUND
    assert lookup(client, fs_auth, sip["realm"], sip["user"], call_id="one") != NOT_FOUND
    assert lookup(client, fs_auth, sip["realm"], sip["user"], call_id="two") == NOT_FOUND


def test_a_credential_unused_for_a_minute_starts_no_call(client, fs_auth, guest, clock):  # noqa: F811
    _, body = guest
    sip = body["sip"]
    clock.advance(60)
    assert lookup(client, fs_auth, sip["realm"], sip["user"]) == NOT_FOUND


def test_guests_are_not_looked_up_in_the_agents_domain_nor_agents_in_the_guests(
        client, fs_auth, guest, settings):
    _, body = guest
    sip = body["sip"]
    # An agent's domain validates users as extensions: a guest's name is refused there.
    form = {"section": "directory", "key_value": settings.sip_domain,
            "domain": settings.sip_domain, "user": sip["user"], "action": "sip_auth",
            "sip_auth_method": "INVITE", "sip_call_id": "x"}
    assert client.post("/freeswitch/directory", data=form, auth=fs_auth).status_code == 400
    reply = client.post("/freeswitch/directory", auth=fs_auth, data={
        "section": "directory", "key_value": sip["realm"], "domain": sip["realm"],
        "user": "1001", "action": "sip_auth", "sip_auth_method": "INVITE"})
    assert reply.status_code == 400 and b"g and 20 hex" in reply.data
