"""The admin's Dispositions page: the lists agents pick a call's outcome from, global or for one
queue; add, edit, move up or down, deactivate. The rules are callcenter/disposition_config.py's.
Each change is committed with its audit row, then the running switchboard reloads the lists, so
the next disposition filed is checked against them. A refused form comes back as it was typed,
each problem next to its input; an edit of a disposition changed meanwhile is refused (409)
with the disposition as it is now."""

from __future__ import annotations

from itertools import groupby

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from .. import audit, disposition_config
from ..errors import InvalidInput, ProductError
from ..models import Disposition, Queue, Role
from ..typed import problems_of
from ..versions import Stale
from .access import requires
from .services import services

bp = Blueprint("dispositions", __name__, url_prefix="/admin/dispositions")

FIELDS = ("code", "label", "queue", "requires_notes")


@bp.route("")
@requires(Role.ADMIN)
def index():
    return _index_page()


@bp.route("", methods=["POST"])
@requires(Role.ADMIN)
def add():
    typed, who = _typed(), _who()
    try:
        code = services().write(lambda s: disposition_config.create(s, typed, who=who).code)
    except InvalidInput as exc:
        return _index_page(typed=typed, problems=problems_of(exc), status=exc.status)
    _reload()
    flash(f"Disposition {code} added.")
    return redirect(url_for("dispositions.index"))


@bp.route("/<int:disposition_id>")
@requires(Role.ADMIN)
def edit(disposition_id: int):
    return _edit_page(disposition_id)


@bp.route("/<int:disposition_id>", methods=["POST"])
@requires(Role.ADMIN)
def save(disposition_id: int):
    typed, who, version = _typed(), _who(), request.form.get("version")
    try:
        code = services().write(lambda s: disposition_config.change(
            s, disposition_id, version, typed, who=who).code)
    except Stale as exc:
        return _edit_page(disposition_id, stale=str(exc), status=exc.status)
    except InvalidInput as exc:
        return _edit_page(disposition_id, typed=typed, problems=problems_of(exc),
                          status=exc.status)
    _reload()
    flash(f"Disposition {code} saved.")
    return redirect(url_for("dispositions.index"))


@bp.route("/<int:disposition_id>/move", methods=["POST"])
@requires(Role.ADMIN)
def move(disposition_id: int):
    step, who = request.form.get("step", ""), _who()
    return _list_change(lambda s, version: disposition_config.move(
        s, disposition_id, version, step, who=who))


@bp.route("/<int:disposition_id>/active", methods=["POST"])
@requires(Role.ADMIN)
def set_active(disposition_id: int):
    active, who = request.form.get("active") == "1", _who()
    return _list_change(lambda s, version: disposition_config.set_active(
        s, disposition_id, version, active, who=who))


def _list_change(change):
    """A change made from the list (move, deactivate): back to the list, or the list again with
    why it was refused. `change(session, version)` runs in the database writer."""
    version = request.form.get("version")

    def changing(s) -> None:
        change(s, version)
    try:
        services().write(changing)
    except ProductError as exc:
        return _index_page(refused=str(exc), status=exc.status)
    _reload()
    return redirect(url_for("dispositions.index"))


def _index_page(*, typed: dict | None = None, problems: dict | None = None,
                refused: str | None = None, status: int = 200):
    session = services().db_session()
    rows = disposition_config.all_dispositions(session)
    lists = [(queue, list(group)) for queue, group in groupby(rows, key=lambda d: d.queue)]
    if not any(queue is None for queue, _ in lists):
        lists.insert(0, (None, []))
    return render_template("admin/dispositions.html", lists=lists,
                           queues=_queue_names(session), typed=typed or {},
                           problems=problems or {}, refused=refused), status


def _edit_page(disposition_id: int, *, typed: dict | None = None,
               problems: dict | None = None, stale: str | None = None, status: int = 200):
    session = services().db_session()
    row = session.get(Disposition, disposition_id)
    if row is None:
        return render_template("error.html", code=404,
                               message="There is no such disposition."), 404
    shown = typed if typed is not None else {
        "code": row.code, "label": row.label, "queue": row.queue.name if row.queue else "",
        "requires_notes": row.requires_notes}
    return render_template("admin/disposition.html", row=row, typed=shown,
                           queues=_queue_names(session), problems=problems or {},
                           stale=stale), status


def _typed() -> dict:
    return {field: (field in request.form) if field == "requires_notes"
            else request.form.get(field, "") for field in FIELDS}


def _queue_names(session) -> list[str]:
    return list(session.scalars(select(Queue.name).order_by(Queue.name)))


def _who() -> audit.Actor:
    return audit.Actor.user(g.user)


def _reload() -> None:
    board = services().switchboard
    if board is not None:
        board.reload_dispositions()
