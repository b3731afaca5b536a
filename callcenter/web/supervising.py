"""The supervisor's live dashboard (/supervisor) and the wall display (/wallboard). Both are
static pages filled by the live socket; what they show is computed on the server (queue rows by
the switchboard, queue_rows.py; today's figures by callcenter/figures, pushed by
figures_feed.py), never in the page."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, render_template

from ..models import Role
from .access import display, requires

bp = Blueprint("supervising", __name__)
WATCHERS = (Role.SUPERVISOR, Role.ADMIN)


@bp.route("/supervisor")
@requires(*WATCHERS)
def supervisor():
    settings = current_app.extensions["callcenter"].settings
    return render_template("supervisor.html", attention=settings.attention)


@bp.route("/wallboard")
@display(*WATCHERS)
def wallboard():
    name = g.display.name if g.display is not None else None
    return render_template("wallboard.html", display_name=name)


@bp.route("/api/supervisor/queues")
@requires(*WATCHERS)
def live_queues():
    """The queues' live rows and today's figures as the pages are sent them."""
    board = current_app.extensions["callcenter"].switchboard
    if board is None:
        return jsonify(queues=[], figures=None)
    return jsonify(queues=board.live_queues(), figures=board.today())
