"""The admin's Inbound numbers page: the DID → queue table FreeSWITCH's public dialplan is served
from (web/dialplan.py), so a change here applies to the next call, with no FreeSWITCH reload.
The rules are callcenter/numbers.py's. A refused form comes back as typed, each problem next to
its input; a change to a number someone else changed meanwhile is refused, never applied."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from .. import audit
from ..errors import InvalidInput, NotFound
from ..models import Queue, Role
from ..numbers import (
    add_number,
    all_numbers,
    change_number,
    delete_number,
)
from ..typed import problems_of
from ..versions import Stale
from .access import requires

bp = Blueprint("numbers", __name__, url_prefix="/admin/numbers")


@bp.route("")
@requires(Role.ADMIN)
def index():
    return _page()


@bp.route("", methods=["POST"])
@requires(Role.ADMIN)
def add():
    typed, who = _typed("number", "queue", "label"), _who()
    try:
        number = _write(lambda s: add_number(s, typed["number"], typed["queue"], typed["label"],
                                             who=who).number)
    except InvalidInput as exc:
        return _page(typed=typed, problems=problems_of(exc), status=exc.status)
    flash(f"Number {number} added: its next call goes to queue {typed['queue'].strip()}.")
    return redirect(url_for("numbers.index"))


@bp.route("/<number>", methods=["POST"])
@requires(Role.ADMIN)
def save(number: str):
    typed, who = _typed("queue", "label", "version"), _who()

    def changing(s) -> None:
        change_number(s, number, typed["version"], typed["queue"], typed["label"], who=who)
    try:
        _write(changing)
    except (InvalidInput, Stale, NotFound) as exc:
        return _page(editing=number, typed=typed, problems=problems_of(exc), status=exc.status)
    flash(f"Number {number} saved.")
    return redirect(url_for("numbers.index"))


@bp.route("/<number>/delete", methods=["POST"])
@requires(Role.ADMIN)
def delete(number: str):
    version, who = request.form.get("version", ""), _who()
    try:
        _write(lambda s: delete_number(s, number, version, who=who))
    except (Stale, NotFound) as exc:
        return _page(editing=number, problems={"": str(exc)}, status=exc.status)
    flash(f"Number {number} deleted: its calls are refused from now on.")
    return redirect(url_for("numbers.index"))


def _page(*, editing: str | None = None, typed: dict | None = None,
          problems: dict | None = None, status: int = 200):
    """The list and the add form. `editing`: the number whose row's form `typed` and `problems`
    belong to (None: the add form's)."""
    session = current_app.extensions["callcenter"].db_session()
    queues = session.scalars(select(Queue.name).order_by(Queue.name)).all()
    return render_template("admin/numbers.html", numbers=all_numbers(session), queues=queues,
                           editing=editing, typed=typed or {}, problems=problems or {}), status


def _typed(*fields: str) -> dict[str, str]:
    return {field: request.form.get(field, "") for field in fields}


def _who() -> audit.Actor:
    return audit.Actor.user(g.user)


def _write(work):
    return current_app.extensions["callcenter"].write(work)
