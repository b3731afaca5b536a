"""A past call's own page (/records/<call id>): its timeline, disposition and notes, and its
recordings in the page's player; the same as JSON; and the recordings' files, played and
downloaded through the controller with range requests (the player seeks).

Supervisors and admins open any call; an agent opens the calls they talked on (theirs, or
handled before a transfer). The search page links here by the plain path.
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify, render_template, request, send_file, url_for

from ..errors import Forbidden, NotFound
from ..models import Recording, Role
from ..records import story as stories
from ..records.recordings import RecordingGone, readable_file
from .access import requires
from .api import cdr_message
from .services import services

bp = Blueprint("call_page", __name__)
STAFF = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)


def _story(call_id: str) -> stories.CallStory:
    story = stories.load(services().db_session(), call_id)
    if story is None:
        raise NotFound(f"there is no call {call_id[:64]!r}")
    _check_may_see(story.handlers)
    return story


def _check_may_see(handlers: set[int]) -> None:
    user = g.user
    if user.role is Role.AGENT and (user.agent is None or user.agent.id not in handlers):
        raise Forbidden("this is not one of your calls")


def _recording_message(row: Recording) -> dict:
    return {"id": row.id, "leg": row.leg_uuid, "started_at": row.started_at.isoformat(),
            "ended_at": row.ended_at.isoformat() if row.ended_at else None,
            "seconds": row.seconds, "bytes": row.bytes,
            "play_url": url_for("call_page.recording", recording_id=row.id),
            "download_url": url_for("call_page.recording", recording_id=row.id, download=1)}


@bp.get("/records/<call_id>")
@requires(*STAFF)
def show(call_id: str):
    story = _story(call_id)
    return render_template("call.html", story=story, recordings=[
        (_recording_message(row), _present(row)) for row in story.recordings])


@bp.get("/api/calls/<call_id>/story")
@requires(*STAFF)
def story_json(call_id: str):
    story = _story(call_id)
    return jsonify(call=cdr_message(story.call) | {
        "agent": story.agent_name(story.call.agent_id), "queue": story.queue},
        timeline=[moment.as_message() for moment in story.moments],
        recordings=[_recording_message(row) | {"file": _present(row)}
                    for row in story.recordings])


@bp.get("/recordings/<int:recording_id>")
@requires(*STAFF)
def recording(recording_id: int):
    """The file, inline (audio/wav) or as an attachment with ?download=1; Range requests are
    answered 206 so the player can seek."""
    session = services().db_session()
    row = session.get(Recording, recording_id)
    if row is None:
        raise NotFound(f"there is no recording {recording_id}")
    if g.user.role is Role.AGENT:
        _check_may_see(stories.handlers_of(session, row.call_id))
    path = readable_file(services().settings.recordings_dir, row.path)
    download = request.args.get("download") == "1"
    return send_file(path, mimetype="audio/wav", conditional=True, as_attachment=download,
                     download_name=path.name, max_age=0)


def _present(row: Recording) -> str:
    """"here", or why the page cannot play it ("gone", "outside")."""
    try:
        readable_file(services().settings.recordings_dir, row.path)
    except RecordingGone:
        return "gone"
    except NotFound:
        return "outside"
    return "here"
