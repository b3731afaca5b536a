"""A queue's announcement settings through the shared rules (command line and admin page)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from callcenter.models import Queue
from callcenter.switchboard.queues.settings import QueueSettings
from tests.test_queue_config import add, change, queue, refused  # noqa: F401  (fixtures)


def test_announcements_are_off_until_asked_then_kept(database, add, change):  # noqa: F811
    add("sales")
    row = queue(database, "sales")
    assert (row.greeting, row.announcement, row.announce_seconds, row.announce_position,
            row.announce_wait, row.position_seconds) == ("", "", 0, False, False, 60)
    change("sales", greeting="/srv/media/welcome.wav", announcement="/srv/media/thanks.wav",
           announce_every="45", announce_position="yes", announce_wait="on",
           position_every="90")
    with database.session() as s:
        settings = QueueSettings.of(s.scalar(select(Queue).where(Queue.name == "sales")))
    assert (settings.greeting, settings.announcement, settings.announce_every,
            settings.announce_position, settings.announce_wait, settings.position_every) == (
        "/srv/media/welcome.wav", "/srv/media/thanks.wav", 45, True, True, 90)
    change("sales", announce_every="0", greeting="")
    assert (queue(database, "sales").announce_seconds, queue(database, "sales").greeting) == (
        0, "")


@pytest.mark.parametrize("field,value,words", [
    ("announce_every", "5", "0 for never, or 15 to 3600 seconds"),
    ("position_every", "3601", "must be 0 to 3600"),
    ("position_every", "soon", "a whole number"),
    ("greeting", "tone_stream://%(200,100,440);loops=-1", "must end by itself"),
    ("announcement", "local_stream://moh", "must end by itself"),
    ("announcement", "relative/file.wav", "absolute file path"),
    ("greeting", "/srv/media/../secret.wav", "without '..'"),
    ("announce_wait", "maybe", "yes or no"),
])
def test_bad_announcement_settings_are_refused_and_nothing_changes(database, add, change,  # noqa: F811
                                                                   field, value, words):
    add("sales")
    problems = refused(change, "sales", **{field: value}, announce_position="yes")
    assert list(problems) == [field] and words in problems[field], problems
    row = queue(database, "sales")
    assert (row.announce_position, row.greeting, row.announce_seconds) == (False, "", 0)


def test_queue_list_says_what_a_queue_announces(database, add, change):  # noqa: F811
    from callcenter.cli import _announcements

    add("sales")
    assert _announcements(queue(database, "sales")) == ""
    change("sales", greeting="/srv/media/welcome.wav", announcement="/srv/media/thanks.wav",
           announce_every="45", announce_position="yes", announce_wait="yes")
    assert _announcements(queue(database, "sales")) == (
        "announces: greeting /srv/media/welcome.wav; /srv/media/thanks.wav every 45 s; "
        "place and wait every 60 s")
