"""A past call's page, its JSON and its recordings' files (ranges, downloads, gone files)."""

from __future__ import annotations

import json
import os

import pytest
from sqlalchemy import select

from callcenter.models import Event, EventKind, Offer, OfferOutcome, Recording, Role
from callcenter.sim.wav import RATE
from tests.records.calls import T0, agent_of, past_call

pytestmark = pytest.mark.both_databases


@pytest.fixture
def recorded(database, settings, make_user, admin, auth):
    """Call c-1 of alice's with two recordings, and a supervisor logged in."""
    make_user("alice", Role.AGENT)
    make_user("sue", Role.SUPERVISOR)
    alice = agent_of(database, "alice")
    ids = past_call(database, settings, "c-1", alice, seconds=(3, 1))
    with database.session() as session:
        session.add(Offer(leg_uuid="c-1-agent", call_id="c-1", agent_id=alice, offered_at=T0,
                          outcome=OfferOutcome.ANSWERED))
        session.add(Event(id=1, at=T0, kind=EventKind.HOLD, agent_id=alice, call_id="c-1"))
        session.commit()
    auth.login("sue")
    return ids


def test_the_page_shows_the_timeline_disposition_notes_and_players(client, recorded):
    page = client.get("/records/c-1").get_data(as_text=True)
    assert "Offered to alice — answered" in page and "alice put the customer on hold" in page
    assert "Hung up by the customer (NORMAL_CLEARING)" in page
    assert "sale" in page and "wants a callback" in page
    for recording_id in recorded:
        assert f'<audio controls preload="metadata" src="/recordings/{recording_id}">' in page
        assert f'href="/recordings/{recording_id}?download=1"' in page


def test_the_story_as_json(client, recorded):
    story = client.get("/api/calls/c-1/story").get_json()
    assert story["call"]["id"] == "c-1" and story["call"]["agent"] == "alice"
    assert [m["text"] for m in story["timeline"]][:2] == ["Call from 15551234567",
                                                         "Offered to alice — answered"]
    assert [(r["id"], r["seconds"], r["file"]) for r in story["recordings"]] == [
        (recorded[0], 3.0, "here"), (recorded[1], 1.0, "here")]


def test_an_unknown_call_is_404(client, recorded):
    assert client.get("/records/nope").status_code == 404
    answer = client.get("/api/calls/nope/story")
    assert answer.status_code == 404 and "no call 'nope'" in answer.get_json()["error"]
    assert client.get("/recordings/999").status_code == 404


def test_a_recording_plays_whole_or_by_range_and_downloads(client, recorded, settings):
    whole = client.get(f"/recordings/{recorded[0]}")
    assert whole.status_code == 200 and whole.mimetype == "audio/wav"
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert len(whole.data) == 44 + 3 * RATE * 4 and whole.data[:4] == b"RIFF"
    assert not whole.headers.get("Content-Disposition", "").startswith("attachment")
    part = client.get(f"/recordings/{recorded[0]}", headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.data == whole.data[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(whole.data)}"
    download = client.get(f"/recordings/{recorded[0]}?download=1")
    assert download.headers["Content-Disposition"] == "attachment; filename=c-1.wav"


def test_a_gone_file_says_so(client, recorded, database):
    with database.session() as session:
        path = session.scalar(select(Recording.path).where(Recording.id == recorded[1]))
    os.unlink(path)
    answer = client.get(f"/recordings/{recorded[1]}", headers={"Accept": "application/json"})
    assert answer.status_code == 404
    assert json.loads(answer.data)["error"].startswith("the recording's file is gone: c-1-2.wav")
    page = client.get(f"/recordings/{recorded[1]}").get_data(as_text=True)
    assert "file is gone" in page
    assert "The file is gone" in client.get("/records/c-1").get_data(as_text=True)
    assert client.get("/api/calls/c-1/story").get_json()["recordings"][1]["file"] == "gone"


def test_a_row_naming_a_file_outside_the_directory_is_not_served(client, recorded, database,
                                                                 settings):
    secret = settings.instance_dir / "secrets.json"
    assert secret.exists()
    for path in (str(secret), "../secrets.json"):
        with database.session() as session:
            row = session.get(Recording, recorded[1])
            row.path = path
            session.commit()
        answer = client.get(f"/recordings/{recorded[1]}")
        assert answer.status_code == 404 and b"not in the recordings directory" in answer.data


def test_a_call_whose_recordings_were_pruned_says_so(client, recorded, database, settings):
    from datetime import timedelta

    from callcenter.models import Call
    from callcenter.records.recordings import prune

    with database.session() as session:
        session.get(Call, "c-1").recording_path = "kept on the call row"
        session.commit()
    assert "recordings have been removed" not in client.get("/records/c-1").get_data(as_text=True)
    with database.session() as session:
        prune(session, settings.recordings_dir, 1, T0 + timedelta(days=2), apply=True)
        session.commit()
    page = client.get("/records/c-1").get_data(as_text=True)
    assert "recordings have been removed" in page and "<audio" not in page
