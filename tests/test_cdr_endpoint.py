"""POST /freeswitch/cdr: mod_json_cdr's posts, authenticated with FreeSWITCH's credentials."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest
from sqlalchemy import text

from callcenter.models import HangupBy
from callcenter.web.access import access_of
from tests.cdrdocs import hangups, json_cdr, leg_doc, snapshot

UUID = "5b0c6d4e-0000-4000-8000-0000000000aa"


@pytest.fixture
def fs_auth(settings):
    return (settings.freeswitch_http_user, settings.freeswitch_http_password)


def post(client, auth, body, uuid=None, content_type="application/json"):
    url = "/freeswitch/cdr" + (f"?uuid={uuid}" if uuid else "")
    return client.post(url, data=body, content_type=content_type, auth=auth)


def test_the_route_takes_freeswitch_credentials_only(app, client, fs_auth, database):
    assert access_of(app, "freeswitch.json_cdr").kind == "freeswitch"
    body = json_cdr(hangups("03-click-to-dial.plain")[0])
    for auth in (None, (fs_auth[0], "wrong"), ("someone", fs_auth[1])):
        response = post(client, auth, body)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert snapshot(database) == ([], [])


def test_each_leg_posted_makes_the_cdr(client, fs_auth, database):
    events = hangups("03-click-to-dial.plain")
    for event in events:
        response = post(client, fs_auth, json_cdr(event), uuid=event.uuid)
        assert response.status_code == 200
        assert response.get_json() == {"call_id": "C3-plain", "leg": event.uuid}
    calls, legs = snapshot(database)
    assert [(c["id"], c["talk_seconds"], c["hangup_by"]) for c in calls] == [
        ("C3-plain", 4, HangupBy.CUSTOMER)]
    assert sorted(leg["raw_cdr"] for leg in legs) == sorted(json_cdr(e) for e in events)
    # FreeSWITCH retrying a post it thinks failed changes nothing.
    assert post(client, fs_auth, json_cdr(events[0]), uuid=events[0].uuid).status_code == 200
    assert snapshot(database) == (calls, legs)


def test_encoded_posts_are_read_too(client, fs_auth, database):
    # encode=true: form-encoded "cdr=<url-encoded JSON>"; encode=base64: "cdr=<base64>".
    customer, agent = hangups("04a-busy.plain")
    response = post(client, fs_auth, "cdr=" + quote(json_cdr(customer), safe=""),
                    uuid=customer.uuid, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200, response.get_json()
    encoded = base64.b64encode(json_cdr(agent).encode()).decode()
    response = post(client, fs_auth, "cdr=" + encoded, uuid=agent.uuid,
                    content_type="application/x-www-form-base64-encoded")
    assert response.status_code == 200, response.get_json()
    calls, legs = snapshot(database)
    assert [(c["id"], c["hangup_cause"]) for c in calls] == [("C04a-plain", "USER_BUSY")]
    assert len(legs) == 2


@pytest.mark.parametrize("body, uuid, message", [
    ("", None, "the CDR is empty"),
    ("{not json", None, "the CDR is not JSON"),
    ('{"channel_data": {}}', None, 'the CDR has no "variables" object'),
    (leg_doc(UUID, "c1", start=0, end=1).replace('"start_uepoch":"', '"start_uepoch":"x'),
     None, "start_uepoch 'x"),
    (leg_doc(UUID, "c1", start=0, end=1), "5b0c6d4e-0000-4000-8000-0000000000bb",
     "?uuid=5b0c6d4e-0000-4000-8000-0000000000bb does not match the CDR's leg " + UUID),
])
def test_a_malformed_post_is_refused_with_the_reason(client, fs_auth, database, body, uuid,
                                                     message):
    response = post(client, fs_auth, body, uuid=uuid)
    assert response.status_code == 400
    assert message in response.get_json()["error"]
    assert snapshot(database) == ([], [])


def test_a_leg_that_is_not_ours_is_acknowledged_and_ignored(client, fs_auth, database):
    response = post(client, fs_auth, leg_doc(UUID, None, start=0, end=1), uuid=UUID)
    assert response.status_code == 200  # so FreeSWITCH neither retries nor keeps a file
    assert response.get_json() == {
        "ignored": f"leg {UUID} has no cc_call_id: not a call-center leg"}
    assert snapshot(database) == ([], [])


@pytest.mark.parametrize("breakage", [
    "DROP TABLE call_legs",
    # The leg's insert fails after the Call's went in: that must be rolled back too.
    "CREATE TRIGGER no_legs BEFORE INSERT ON call_legs BEGIN SELECT RAISE(ABORT, 'disk'); END",
])
def test_a_database_error_is_503_and_writes_nothing(client, fs_auth, database, breakage):
    with database.engine.begin() as conn:
        conn.execute(text(breakage))
    event = hangups("03-click-to-dial.plain")[0]
    response = post(client, fs_auth, json_cdr(event), uuid=event.uuid)
    assert response.status_code == 503  # FreeSWITCH retries, then keeps the file for import
    assert "nothing was written" in response.get_json()["error"]
    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM calls")).scalar() == 0


def test_the_body_size_is_capped(app, client, fs_auth, database):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = post(client, fs_auth, leg_doc(UUID, "c1", start=0, end=1) + " " * 1000)
    assert response.status_code == 413
    assert snapshot(database) == ([], [])
