"""The home page (by role), the agent's page, and the health check."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from ..models import Agent, Role
from .access import public, requires

bp = Blueprint("pages", __name__)
ALL_ROLES = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)


@bp.route("/")
@requires(*ALL_ROLES)
def home():
    if g.user.role is Role.AGENT:
        return redirect(url_for("pages.agent"))
    return render_template("home.html")


@bp.route("/agent")
@requires(*ALL_ROLES)
def agent():
    board = current_app.extensions["callcenter"].switchboard
    queues = board.queue_names() if board is not None else []
    mine = g.user.agent
    agent = current_app.extensions["callcenter"].db_session().get(Agent, mine.id) \
        if mine is not None else None
    return render_template("agent.html", agent=agent, queues=queues)


@bp.route("/healthz")
@public
def health():
    """"This process serves" (a load balancer routes on it: 200), with the state of the
    database writes and the FreeSWITCH link. `?deep=1` answers 503 while writes are failing. A
    standby controller answers 503 `standby`: browsers belong on the active one."""
    services = current_app.extensions["callcenter"]
    if not services.active:
        return jsonify({"ok": False, "standby": True, "switch_connected": False}), 503
    body = {"ok": True, "switch": "simulated" if services.settings.simulated else "freeswitch",
            "switch_connected": False}
    board = services.switchboard
    if board is not None:
        body.update(board.health())
    failing = body.get("database") == "failing"
    if request.args.get("deep") and failing:
        return jsonify({**body, "ok": False}), 503
    return jsonify(body)
