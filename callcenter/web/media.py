"""Sounds for queues on the admin's queue page: upload one (checked and converted by
callcenter/media.py, off the hub) and play the kept ones back in the browser. Admins only: the
files are the site's own recordings."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, request, send_file, url_for

from .. import audit, media, queue_config
from ..errors import InvalidInput, ProductError
from ..models import Role
from .access import requires

bp = Blueprint("media", __name__, url_prefix="/admin")

FORM_MARGIN = 64 * 1024     # the form's other fields and multipart framing


@bp.route("/queues/<name>/sounds", methods=["POST"])
@requires(Role.ADMIN)
def upload(name: str):
    """Keep an uploaded sound; the queue's page again, with the problem if it was refused."""
    from .queues import queue_page

    with current_app.extensions["callcenter"].db.session() as s:
        queue_config.queue_named(s, name)       # NotFound before reading a big body
    if (request.content_length or 0) > media.MAX_BYTES + FORM_MARGIN:
        return queue_page(name, upload_problem=InvalidInput(
            f"the file is too big: at most {MAX_MEGABYTES} MB"), status=413)
    request.max_content_length = media.MAX_BYTES + FORM_MARGIN
    uploaded = request.files.get("sound")
    try:
        if uploaded is None or not uploaded.filename:
            raise InvalidInput("choose a .wav or .mp3 file first", field="sound")
        kept = media.stored_name(uploaded.filename)
        data = uploaded.read(media.MAX_BYTES + 1)
        sound = media.keep(_folder(), kept, _off_the_hub(media.playable, data))
    except ProductError as exc:
        return queue_page(name, upload_problem=exc, status=exc.status)
    who = audit.Actor.user(g.user)
    after = {"seconds": sound.seconds, "from": uploaded.filename[:64], "queue page": name}
    current_app.extensions["callcenter"].write(
        lambda s: audit.record(s, who, "media.upload", f"sound {sound.name}", after=after))
    flash(f"Sound {sound.name} uploaded ({sound.seconds} s): pick it for a greeting, an "
          "announcement, the closed message or the hold music below.")
    return redirect(url_for("queues.edit", name=name) + "#sounds")


@bp.route("/media/<sound>")
@requires(Role.ADMIN)
def play(sound: str):
    return send_file(media.sound_path(_folder(), sound), mimetype="audio/wav",
                     max_age=0)


MAX_MEGABYTES = media.MAX_BYTES // (1024 * 1024)


def sounds() -> list[media.Sound]:
    return media.sounds(_folder())


def _folder():
    return current_app.extensions["callcenter"].settings.media_dir


def _off_the_hub(fn, *args):
    """Decoding an MP3 takes CPU: under the server (gevent) it runs in the hub's threadpool so
    other requests and calls go on meanwhile."""
    import gevent.monkey

    if not gevent.monkey.is_module_patched("socket"):
        return fn(*args)
    import gevent

    return gevent.get_hub().threadpool.apply(fn, args)
