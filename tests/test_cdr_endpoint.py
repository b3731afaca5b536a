"""POST /freeswitch/cdr: mod_json_cdr's posts, authenticated with FreeSWITCH's credentials."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from sqlalchemy import text

from callcenter.app import create_app
from callcenter.cdr import LegRecord
from callcenter.cdr.posts import unwritten_legs
from callcenter.models import Direction, HangupBy, LegRole, UnmatchedLeg
from callcenter.switchboard.legs import Call, Legs
from callcenter.web.access import access_of
from tests.cdrdocs import T0, hangups, json_cdr, leg_doc, own, snapshot

pytestmark = pytest.mark.both_databases  # the tests that use the database run on both

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


def owned(database, events):
    """The switchboard's own rows for these legs: what lets their posts in."""
    own(database, *(LegRecord.from_event(e) for e in events))


def unmatched(database) -> list[tuple]:
    with database.session() as session:
        return [(u.uuid, u.named_call_id, u.source, u.raw_cdr)
                for u in session.query(UnmatchedLeg).order_by(UnmatchedLeg.uuid)]


def test_each_leg_posted_makes_the_cdr(client, fs_auth, database):
    events = hangups("03-click-to-dial.plain")
    owned(database, events)
    for event in events:
        response = post(client, fs_auth, json_cdr(event), uuid=event.uuid)
        assert response.status_code == 200
        assert response.get_json() == {"leg": event.uuid, "filed": "written"}
    calls, legs = snapshot(database)
    assert [(c["id"], c["talk_seconds"], c["hangup_by"]) for c in calls] == [
        ("C3-plain", 4, HangupBy.CUSTOMER)]
    assert sorted(leg["raw_cdr"] for leg in legs) == sorted(json_cdr(e) for e in events)
    # FreeSWITCH retrying a post it thinks failed changes nothing.
    again = post(client, fs_auth, json_cdr(events[0]), uuid=events[0].uuid)
    assert (again.status_code, again.get_json()["filed"]) == (200, "already present")
    assert snapshot(database) == (calls, legs)


def test_encoded_posts_are_read_too(client, fs_auth, database):
    # encode=true: form-encoded "cdr=<url-encoded JSON>"; encode=base64: "cdr=<base64>".
    customer, agent = hangups("04a-busy.plain")
    owned(database, [customer, agent])
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


def test_a_leg_that_is_not_ours_is_kept_as_unmatched(client, fs_auth, database):
    document = leg_doc(UUID, None, start=0, end=1)
    response = post(client, fs_auth, document, uuid=UUID)
    assert response.status_code == 200  # so FreeSWITCH neither retries nor keeps a file
    assert response.get_json()["unmatched"] == UUID
    assert snapshot(database) == ([], [])
    assert unmatched(database) == [(UUID, None, "post", document)]


# The call's summary fails after the leg's row was updated: that must be rolled back too.
FAILING_CALL_UPDATE = {
    "sqlite": ["CREATE TRIGGER no_calls BEFORE UPDATE ON calls "
               "BEGIN SELECT RAISE(ABORT, 'disk'); END"],
    "postgresql": ["CREATE FUNCTION no_calls() RETURNS trigger LANGUAGE plpgsql "
                   "AS $$ BEGIN RAISE EXCEPTION 'disk'; END $$",
                   "CREATE TRIGGER no_calls BEFORE UPDATE ON calls FOR EACH ROW "
                   "EXECUTE FUNCTION no_calls()"],
}


@pytest.mark.parametrize("breakage, leg", [
    ("DROP TABLE call_legs", 0),
    ("DROP TABLE unmatched_legs", 1),   # the leg nobody owns is kept there
    ("CREATE TRIGGER no_calls", 0),
])
def test_a_database_error_is_503_and_writes_nothing(client, fs_auth, database, breakage, leg):
    events = hangups("03-click-to-dial.plain")
    owned(database, events[:1])
    before = snapshot(database)
    statements = (FAILING_CALL_UPDATE[database.engine.dialect.name]
                  if breakage == "CREATE TRIGGER no_calls" else [breakage])
    with database.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    event = events[leg]
    response = post(client, fs_auth, json_cdr(event), uuid=event.uuid)
    assert response.status_code == 503  # FreeSWITCH retries, then keeps the file
    assert "nothing was written" in response.get_json()["error"]
    if "call_legs" not in breakage:
        assert snapshot(database) == before


def test_the_body_size_is_capped(app, client, fs_auth, database):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = post(client, fs_auth, leg_doc(UUID, "c1", start=0, end=1) + " " * 1000)
    assert response.status_code == 413
    assert snapshot(database) == ([], [])


# --- what a post may change ------------------------------------------------------------------

CALL = "c-owned"
CUSTOMER = "5b0c6d4e-0000-4000-8000-000000000101"
AGENT = "5b0c6d4e-0000-4000-8000-000000000102"
STRANGER = "5b0c6d4e-0000-4000-8000-000000000103"


def talked(uuid=CUSTOMER, *, end=30.0, start=0.0, role="customer", **kw):
    """A leg of call CALL that rang from `start`, was answered at 2 and bridged at 3."""
    return leg_doc(uuid, CALL, start=start, progress=start + 0.5, answer=2, bridge=3, end=end,
                   role=role, **kw)


@pytest.fixture
def call_of_two(database, client, fs_auth):
    """Call CALL with its two legs written by the controller and FreeSWITCH's documents."""
    customer, agent = talked(), talked(AGENT, role="agent", channel="sofia/internal/1000@x")
    own(database, LegRecord.from_json_cdr(customer), LegRecord.from_json_cdr(agent))
    for uuid, document in ((CUSTOMER, customer), (AGENT, agent)):
        assert post(client, fs_auth, document, uuid=uuid).status_code == 200
    return customer, agent


def test_a_new_leg_naming_a_call_changes_nothing(client, fs_auth, database, call_of_two):
    before = snapshot(database)
    assert before[0][0]["talk_seconds"] == 27
    intruder = leg_doc(STRANGER, CALL, start=0, answer=1, bridge=1, end=500,
                       cause="CALL_REJECTED", role="customer", disposition="recv_bye")
    response = post(client, fs_auth, intruder, uuid=STRANGER)
    assert response.status_code == 200 and response.get_json()["unmatched"] == STRANGER
    assert snapshot(database) == before  # neither its cause nor its talk time
    assert unmatched(database) == [(STRANGER, CALL, "post", intruder)]
    # FreeSWITCH posting it again keeps the one audit row.
    assert post(client, fs_auth, intruder, uuid=STRANGER).status_code == 200
    assert len(unmatched(database)) == 1


def test_a_different_second_document_for_a_leg_is_refused(client, fs_auth, database,
                                                          call_of_two):
    customer, _ = call_of_two
    before = snapshot(database)
    response = post(client, fs_auth, talked(end=90, cause="RECOVERY_ON_TIMER_EXPIRE"),
                    uuid=CUSTOMER)
    assert response.status_code == 409
    assert "already has a different CDR" in response.get_json()["error"]
    assert snapshot(database) == before
    calls, legs = before
    row = next(leg for leg in legs if leg["uuid"] == CUSTOMER)
    kept = LegRecord.from_json_cdr(row["raw_cdr"])
    # The leg's row, its kept document and the call's summary tell the same story.
    assert row["raw_cdr"] == customer
    assert kept.ended.replace(tzinfo=None) == row["ended_at"].replace(tzinfo=None)
    assert calls[0]["ended_at"].replace(tzinfo=None) == kept.ended.replace(tzinfo=None)
    assert calls[0]["hangup_cause"] == "NORMAL_CLEARING"
    same = post(client, fs_auth, customer, uuid=CUSTOMER)
    assert (same.status_code, same.get_json()["filed"]) == (200, "already present")


def _with_start(document: str, uepoch: str) -> str:
    doc = json.loads(document)
    doc["variables"]["start_uepoch"] = uepoch
    return json.dumps(doc)


IN_TWO_DAYS = (datetime.now(UTC) + timedelta(days=2) - T0).total_seconds()


@pytest.mark.parametrize("document, message", [
    # 17 digits of microseconds: the year 5138 (the reader takes up to the year 5000 and a bit).
    (_with_start(talked(), "99990000000000000"), "its start time 5138-"),
    (talked(end=IN_TWO_DAYS), "its end time"),
    (talked(start=-3600), "its start time 2026-11-21 08:00:00 is before call c-owned began "
                          "(2026-11-21 08:59:59)"),
])
def test_times_out_of_bounds_are_refused(client, fs_auth, database, document, message):
    own(database, LegRecord.from_json_cdr(talked()))
    before = snapshot(database)
    response = post(client, fs_auth, document, uuid=CUSTOMER)
    assert response.status_code == 422
    assert message in response.get_json()["error"]
    assert snapshot(database) == before and unmatched(database) == []


class Switchboard:
    """What the endpoint asks a running switchboard: the legs it holds, its writer's queue."""

    def __init__(self) -> None:
        self.legs = Legs()
        self.store = SimpleNamespace(depth=0)

    def unwritten_legs(self):
        return unwritten_legs(self.legs, self.store)


def test_a_leg_the_switchboard_has_not_written_yet_is_answered_503(settings, database):
    board = Switchboard()
    app = create_app(settings, database, switchboard=board)
    client = app.test_client()
    auth = (settings.freeswitch_http_user, settings.freeswitch_http_password)
    call = board.legs.add_call(Call(id=CALL, direction=Direction.OUTBOUND, agent_id=None,
                                    number="15551234567"))
    board.legs.add_leg(call, CUSTOMER, LegRole.CUSTOMER)
    document = talked()
    # The call ended at once: the post beats the batched writer to the leg's row.
    response = post(client, auth, document, uuid=CUSTOMER)
    assert response.status_code == 503  # FreeSWITCH sends it again `delay` seconds later
    assert "not written yet" in response.get_json()["error"]
    assert snapshot(database) == ([], []) and unmatched(database) == []
    # A leg it does not hold, while writes are still queued: one of them may be its row.
    board.store.depth = 3
    assert post(client, auth, leg_doc(STRANGER, CALL, start=0, end=1),
                uuid=STRANGER).status_code == 503
    # The writer catches up: the retry lands in the call.
    own(database, LegRecord.from_json_cdr(document))
    board.store.depth = 0
    response = post(client, auth, document, uuid=CUSTOMER)
    assert (response.status_code, response.get_json()["filed"]) == (200, "written")
    assert snapshot(database)[0][0]["talk_seconds"] == 27
    assert unmatched(database) == []
