"""The admin's Queues pages: every queue with a summary, a queue's settings and its agents'
tiers. The rules are callcenter/queue_config.py's (the `callcenter queue` command shares them).
Each change is committed first, then the running switchboard reloads its queues, so it applies
at once (waiting callers keep their places). A refused form comes back as it was typed, each
problem next to its input; a form whose queue (or tier) changed since it was shown is refused
with the current values (versions.py)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for

from .. import audit, queue_config
from ..errors import InvalidInput, ProductError
from ..models import Role, utcnow
from ..typed import problems_of
from ..versions import Stale, saved
from . import media
from .access import requires
from .vocabulary import choice_words

bp = Blueprint("queues", __name__, url_prefix="/admin/queues")


@bp.route("")
@requires(Role.ADMIN)
def index():
    return _index_page({}, {})


@bp.route("", methods=["POST"])
@requires(Role.ADMIN)
def add():
    typed = {"name": request.form.get("name", ""), "strategy": request.form.get("strategy", "")}
    who = _who()
    try:
        name = _write(lambda s: queue_config.create_queue(
            s, typed["name"], {"strategy": typed["strategy"]}, who=who).name)
    except ProductError as exc:
        return _index_page(typed, problems_of(exc, "name"), exc.status)
    _reload_queues()
    flash(f"Queue {name} added: set it up below.")
    return redirect(url_for("queues.edit", name=name))


@bp.route("/<name>")
@requires(Role.ADMIN)
def edit(name: str):
    return queue_page(name)


@bp.route("/<name>", methods=["POST"])
@requires(Role.ADMIN)
def save(name: str):
    typed = {s.name: (s.name in request.form) if s.kind == "flag" else request.form.get(s.name, "")
             for s in queue_config.SETTINGS}
    who, version = _who(), request.form.get("version", "")

    def saving(s) -> None:
        queue_config.change_queue(s, name, typed, who=who, version=version)
    try:
        saved(_write, f"queue {name}", saving)
    except Stale as exc:
        return queue_page(name, stale=str(exc), status=exc.status)
    except InvalidInput as exc:
        return queue_page(name, typed=typed, problems=problems_of(exc), status=exc.status)
    _reload_queues()
    flash(f"Queue {name} saved.")
    return redirect(url_for("queues.edit", name=name))


@bp.route("/<name>/tiers", methods=["POST"])
@requires(Role.ADMIN)
def set_tier(name: str):
    """Add an agent to the queue, or move its tier."""
    typed = {field: request.form.get(field, "") for field in ("agent", "level", "position")}
    who, was = _who(), request.form.get("was")

    def setting(s) -> str:
        tier = queue_config.set_tier(s, name, typed["agent"], typed["level"], typed["position"],
                                     who=who, was=was)
        return f"{tier.agent.extension} at level {tier.level}, position {tier.position}"
    try:
        said = _write(setting)
    except Stale as exc:
        return queue_page(name, stale=str(exc), status=exc.status)
    except InvalidInput as exc:
        return queue_page(name, tier_typed=typed, tier_problems=problems_of(exc, "agent"),
                          status=exc.status)
    _reload_queues()
    flash(f"Queue {name}: {said}.")
    return redirect(url_for("queues.edit", name=name))


@bp.route("/<name>/tiers/remove", methods=["POST"])
@requires(Role.ADMIN)
def remove_tier(name: str):
    agent, who, was = request.form.get("agent", ""), _who(), request.form.get("was")
    try:
        extension = _write(lambda s: queue_config.remove_tier(
            s, name, agent, who=who, was=was).extension)
    except Stale as exc:
        return queue_page(name, stale=str(exc), status=exc.status)
    _reload_queues()
    flash(f"Queue {name}: {extension} removed.")
    return redirect(url_for("queues.edit", name=name))


def _index_page(typed: dict, problems: dict, status: int = 200):
    session = current_app.extensions["callcenter"].db_session()
    queues = queue_config.all_queues(session)
    timezone, now = current_app.extensions["callcenter"].settings.timezone, utcnow()
    return render_template("admin/queues.html", queues=queues,
                           opening={q.id: queue_config.opening(q, now, timezone) for q in queues},
                           strategies=queue_config.BY_NAME["strategy"].choices, typed=typed,
                           problems=problems, words=choice_words()), status


def queue_page(name: str, *, typed: dict | None = None, problems: dict | None = None,
               tier_typed: dict | None = None, tier_problems: dict | None = None,
               upload_problem: ProductError | None = None, stale: str | None = None,
               status: int = 200):
    session = current_app.extensions["callcenter"].db_session()
    queue = queue_config.queue_named(session, name)     # NotFound: the 404 page
    opening = queue_config.opening(queue, utcnow(),
                                   current_app.extensions["callcenter"].settings.timezone)
    sounds = media.sounds()
    return render_template(
        "admin/queue.html", queue=queue, settings=queue_config.SETTINGS, opening=opening,
        values=typed if typed is not None else queue_config.setting_values(queue),
        problems=problems or {}, tiers=queue_config.tiers_of(queue),
        outside=queue_config.agents_outside(session, queue), tier_typed=tier_typed or {},
        tier_problems=tier_problems or {}, words=choice_words(),
        sounds=sounds, sound_by_path={str(sound.path): sound for sound in sounds},
        max_megabytes=media.MAX_MEGABYTES, upload_problem=upload_problem, stale=stale,
        levels=queue_config.tiers_by_level(queue), shown_tier=queue_config.shown_tier), status


def _who() -> audit.Actor:
    return audit.Actor.user(g.user)


def _write(work):
    return current_app.extensions["callcenter"].write(work)


def _reload_queues() -> None:
    board = current_app.extensions["callcenter"].switchboard
    if board is not None:
        board.reload_queues()
