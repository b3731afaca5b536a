"""POST /freeswitch/dialplan: mod_xml_curl's dialplan lookups. The public context comes from the
inbound numbers table; every other context is "not found" (FreeSWITCH's static files apply); an
unknown number is refused by the document itself, never left to the static dids.xml."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from callcenter import numbers, queue_config
from callcenter.audit import CLI
from callcenter.web.directory import NOT_FOUND


@pytest.fixture
def fs_auth(settings):
    return (settings.freeswitch_http_user, settings.freeswitch_http_password)


@pytest.fixture
def sales(database):
    with database.session() as s:
        queue_config.create_queue(s, "sales", who=CLI)
        numbers.add_number(s, "+15550123", "sales", "ads", who=CLI)
        s.commit()


def lookup(client, auth, context="public", number="15550123", **fields):
    """What FreeSWITCH posts for a call routed in `context` to `number` (a few of its fields)."""
    form = {"hostname": "fs1", "section": "dialplan", "tag_name": "", "key_name": "",
            "key_value": "", "Event-Name": "REQUEST_PARAMS", "Caller-Context": context,
            "Caller-Destination-Number": number, "Hunt-Context": context,
            "Hunt-Destination-Number": number, "variable_sip_to_user": number, **fields}
    return client.post("/freeswitch/dialplan", data={k: v for k, v in form.items()
                                                     if v is not None}, auth=auth)


def extensions(reply) -> list[tuple[str, str, list[tuple[str, str | None]]]]:
    """(name, expression, actions) of each extension of the document's public context."""
    assert reply.status_code == 200 and reply.mimetype == "text/xml"
    document = ElementTree.fromstring(reply.data)  # noqa: S314 - our own answer
    [section] = document.findall("section")
    assert section.get("name") == "dialplan"
    [context] = section.findall("context")
    assert context.get("name") == "public"
    found = []
    for extension in context.findall("extension"):
        [condition] = extension.findall("condition")
        assert condition.get("field") == "destination_number"
        found.append((extension.get("name"), condition.get("expression"),
                      [(a.get("application"), a.get("data")) for a in condition]))
    return found


def refuses(actions) -> bool:
    return actions[-2:] == [("respond", "404 Not Found"), ("hangup", "UNALLOCATED_NUMBER")]


@pytest.mark.parametrize("dialled", ["15550123", "+15550123"])
def test_a_number_of_ours_parks_for_its_queue(client, fs_auth, sales, dialled):
    [(name, expression, actions), (_, catch_all, rest)] = extensions(
        lookup(client, fs_auth, number=dialled))
    assert name == "did-15550123" and expression == r"^\+?15550123$"
    assert actions == [("set", "cc_queue=sales"), ("set", "park_timeout=3600"), ("park", None)]
    assert catch_all == "^" and refuses(rest)


def test_a_number_not_ours_is_refused_by_the_document(client, fs_auth, sales):
    for dialled in ("5550199", "155501234", "sip:x", "+"):
        [(name, expression, actions)] = extensions(lookup(client, fs_auth, number=dialled))
        assert (name, expression) == ("unknown-number", "^") and refuses(actions)


def test_a_deleted_number_is_refused_at_once(client, fs_auth, sales, database):
    assert len(extensions(lookup(client, fs_auth))) == 2
    with database.session() as s:
        numbers.delete_number(s, "15550123", 1, who=CLI)
        s.commit()
    [(name, _, actions)] = extensions(lookup(client, fs_auth))
    assert name == "unknown-number" and refuses(actions)


@pytest.mark.parametrize("context", ["default", "agents", "features"])
def test_other_contexts_are_not_found(client, fs_auth, sales, context):
    reply = lookup(client, fs_auth, context=context, number="15550123")
    assert reply.status_code == 200 and reply.get_data(as_text=True) == NOT_FOUND


def test_the_hunt_fields_decide_over_the_caller_profile(client, fs_auth, sales):
    # A transfer re-routes the channel: Hunt-* is the lookup's, Caller-* may be the old one.
    reply = lookup(client, fs_auth, **{"Caller-Context": "public", "Hunt-Context": "default"})
    assert reply.get_data(as_text=True) == NOT_FOUND
    [(name, _, _), _] = extensions(lookup(client, fs_auth, number="1",
                                          **{"Hunt-Destination-Number": "15550123"}))
    assert name == "did-15550123"


@pytest.mark.parametrize("fields, problem", [
    ({"section": None}, "no section"),
    ({"section": "directory"}, "not served here"),
    ({"Hunt-Context": None, "Caller-Context": None}, "Hunt-Context"),
    ({"Hunt-Destination-Number": None, "Caller-Destination-Number": None},
     "Hunt-Destination-Number"),
])
def test_malformed_posts_are_400_naming_the_problem(client, fs_auth, sales, fields, problem):
    reply = lookup(client, fs_auth, **fields)
    assert reply.status_code == 400 and problem in reply.get_data(as_text=True)


def test_freeswitch_credentials_are_required(client, fs_auth, sales):
    for auth in (None, (fs_auth[0], "wrong")):
        reply = lookup(client, auth)
        assert reply.status_code == 401 and b"cc_queue" not in reply.data
