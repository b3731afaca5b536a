"""A supervisor opens a past call's page: its timeline and a recording in the page's player,
which plays and seeks — the browser fetches the file by ranges, the server answers 206."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from callcenter.models import Role
from tests.browser.test_dispositions import log_in_admin
from tests.records.calls import agent_of, past_call

pytestmark = pytest.mark.slow
# Long enough (55 MB) that the browser does not fetch it whole before the seek near its end.
MINUTES = 30
SEEK = 1700         # seconds: a range request from about 54 MB


def test_the_player_plays_a_recording_and_seeks_by_range_requests(server, browser, database,
                                                                  settings, make_user):
    make_user("alice", Role.AGENT)
    make_user("sue", Role.SUPERVISOR)
    started = datetime.now(UTC) - timedelta(hours=1)
    [recording] = past_call(database, settings, "c-1", agent_of(database, "alice"),
                            seconds=(MINUTES * 60,), started=started)
    page = browser.new_context().new_page()
    fetched = []       # (status, Range asked) of each response for the recording

    def seen(response):
        if f"/recordings/{recording}" in response.url:
            fetched.append((response.status, response.request.all_headers().get("range")))

    page.on("response", seen)
    log_in_admin(page, server, "sue")
    page.goto(f"{server}/records/c-1")
    assert page.text_content("#timeline li:first-child").endswith("Call from 15551234567")
    assert "Hung up by the customer" in page.text_content("#timeline li:last-child")
    assert page.text_content("#notes") == "wants a callback"
    player = page.locator(f"[data-recording-id='{recording}'] audio")
    player.evaluate("audio => new Promise(done => audio.readyState >= 1 ? done() : "
                    "audio.addEventListener('loadedmetadata', done, {once: true}))")
    assert round(player.evaluate("audio => audio.duration")) == MINUTES * 60
    # Muted, so the page may play it without a click; then a seek near the end.
    player.evaluate("audio => { audio.muted = true; return audio.play(); }")
    page.wait_for_function("a => a.currentTime > 0", arg=player.element_handle())
    player.evaluate(f"audio => audio.currentTime = {SEEK}")
    page.wait_for_function(f"a => a.currentTime > {SEEK} + 0.2 && !a.seeking",
                           arg=player.element_handle(), timeout=15000)
    ranges = [asked for status, asked in fetched if status == 206]
    assert ranges, f"no 206 answers: {fetched}"
    assert all(status in (200, 206) for status, _ in fetched)
    offsets = [int(asked.split("=")[1].split("-")[0]) for asked in ranges if asked]
    size = 44 + MINUTES * 60 * 8000 * 4
    assert any(offset > size * 0.9 for offset in offsets), fetched   # the seek's own range
    link = page.locator(f"[data-recording-id='{recording}'] a[download]")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "c-1.wav"
