"""Sounds on the admin's queue page: an upload is checked, kept in CALLCENTER_MEDIA_DIR and listed
with a player; a refused one says why on the page and keeps nothing; the sounds are served to
admins only; a queue's sound settings offer the uploaded paths."""

from __future__ import annotations

import io
import wave

import pytest

from callcenter import queue_config
from callcenter.audit import CLI
from callcenter.models import Queue, Role
from tests.test_media import mp3_bytes, wav_bytes
from tests.test_queue_pages import Board


@pytest.fixture
def app(settings, database):
    from callcenter.app import create_app

    app = create_app(settings, database, Board())
    app.config["TESTING"] = True
    return app


@pytest.fixture
def upload(client, auth, admin, database):
    with database.session() as s:
        queue_config.create_queue(s, "sales", who=CLI)
        s.commit()
    auth.login(admin)
    token = auth.csrf("/admin/queues/sales")

    def upload(name: str, data: bytes, queue: str = "sales"):
        return client.post(f"/admin/queues/{queue}/sounds", content_type="multipart/form-data",
                           data={"csrf_token": token, "sound": (io.BytesIO(data), name)})
    return upload


def kept(settings) -> list[str]:
    folder = settings.media_dir
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_an_uploaded_wav_is_kept_listed_and_played_back(upload, client, settings):
    data = wav_bytes(seconds=1.5, rate=16000)
    answer = upload("greeting.wav", data)
    assert answer.status_code == 302 and answer.headers["Location"].endswith(
        "/admin/queues/sales#sounds")
    assert kept(settings) == ["greeting.wav"]
    page = client.get("/admin/queues/sales").get_data(as_text=True)
    assert "Sound greeting.wav uploaded (1.5 s)" in page
    assert f'<option value="{settings.media_dir / "greeting.wav"}">' in page
    assert 'src="/admin/media/greeting.wav"' in page
    played = client.get("/admin/media/greeting.wav")
    assert played.status_code == 200 and played.mimetype == "audio/wav"
    assert played.data == data


def test_an_upload_is_audited_and_a_refused_one_is_not(upload, database):
    import json

    from sqlalchemy import select

    from callcenter.models import AuditEntry

    upload("greeting.wav", wav_bytes(seconds=1.5, rate=16000))
    upload("greeting.wav", wav_bytes(seconds=1.5, rate=16000))     # the name is taken
    with database.session() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == "media.upload")).all()
        assert [(row.actor, row.target) for row in rows] == [("root", "sound greeting.wav")]
        assert json.loads(rows[0].after) == {"seconds": 1.5, "from": "greeting.wav",
                                             "queue page": "sales"}


def test_an_uploaded_mp3_is_kept_as_a_wav_freeswitch_plays(upload, settings):
    assert upload("Hold-Music.mp3", mp3_bytes(seconds=1.0)).status_code == 302
    assert kept(settings) == ["Hold-Music.wav"]
    with wave.open(str(settings.media_dir / "Hold-Music.wav")) as sound:
        assert (sound.getnchannels(), sound.getsampwidth(), sound.getframerate()) == (1, 2, 8000)


@pytest.mark.parametrize("name,data,status,words", [
    ("music.wav", wav_bytes(channels=2), 422, "2 channel(s)"),
    ("notes.wav", b"just some text, not a sound", 422, "not a WAV or MP3"),
    ("broken.mp3", b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(300), 422, "cannot be decoded"),
    ("../../etc/x.wav", wav_bytes(), 422, "folder"),
    ("my greeting.wav", wav_bytes(), 422, "letters, digits"),
    ("greeting.ogg", wav_bytes(), 422, ".wav or .mp3"),
])
def test_a_bad_upload_says_why_on_the_page_and_keeps_nothing(upload, settings, name, data,
                                                             status, words):
    answer = upload(name, data)
    assert answer.status_code == status
    page = answer.get_data(as_text=True)
    assert "Nothing was uploaded" in page and words in page
    assert kept(settings) == []


def test_a_file_too_big_is_refused_before_it_is_read(upload, settings, monkeypatch):
    from callcenter import media

    monkeypatch.setattr(media, "MAX_BYTES", 1024)
    answer = upload("big.wav", wav_bytes(seconds=30))
    assert answer.status_code == 413 and "too big" in answer.get_data(as_text=True)
    assert kept(settings) == []


def test_a_second_sound_of_the_same_name_is_refused(upload, settings):
    first = wav_bytes(seconds=1)
    assert upload("greeting.wav", first).status_code == 302
    answer = upload("greeting.mp3", mp3_bytes())
    assert answer.status_code == 409 and "exists already" in answer.get_data(as_text=True)
    assert (settings.media_dir / "greeting.wav").read_bytes() == first


def test_a_chosen_sound_is_played_next_to_its_setting(upload, client, settings, database):
    upload("welcome.wav", wav_bytes())
    path = str(settings.media_dir / "welcome.wav")
    with database.session() as s:
        queue_config.change_queue(s, "sales", {"greeting": path}, who=CLI)
        s.commit()
        assert s.query(Queue).one().greeting == path
    page = client.get("/admin/queues/sales").get_data(as_text=True)
    assert 'id="setting-greeting-play"' in page and 'list="sound-paths"' in page


def test_sounds_are_for_admins_only(upload, client, auth, make_user):
    upload("greeting.wav", wav_bytes())
    auth.logout()
    assert client.get("/admin/media/greeting.wav").status_code == 302   # to the login page
    make_user("sue", Role.SUPERVISOR)
    auth.login("sue")
    assert client.get("/admin/media/greeting.wav").status_code == 403
    assert client.get("/admin/media/..%2Fcallcenter.db").status_code in (302, 403, 404)


def test_only_kept_sounds_are_served(upload, client, settings):
    (settings.media_dir.parent / "secret.wav").write_bytes(wav_bytes())
    for name in ("secret.wav", "..%2Fsecret.wav", "nothing.wav", "greeting.mp3"):
        assert client.get(f"/admin/media/{name}").status_code == 404, name
