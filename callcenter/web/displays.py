"""Admin: wall display tokens (create, list, revoke). The token is shown once, as the address
to type into the TV; revoking one closes the TV's open page at once."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for

from .. import audit, displays
from ..errors import InvalidInput
from ..models import Role
from .access import requires
from .live import display_key

bp = Blueprint("displays", __name__, url_prefix="/admin/displays")


def _page(created=None, error=None, name="", code=200):
    session = current_app.extensions["callcenter"].db_session()
    return render_template("admin/displays.html", tokens=displays.all_tokens(session),
                           created=created, error=error, name=name), code


@bp.route("")
@requires(Role.ADMIN)
def index():
    return _page()


@bp.route("", methods=["POST"])
@requires(Role.ADMIN)
def create():
    name, who = request.form.get("name", ""), audit.Actor.user(g.user)

    def creating(session) -> tuple[str, str]:
        row, token = displays.create(session, name, who=who)
        return row.name, token
    try:
        shown, token = current_app.extensions["callcenter"].write(creating)
        created = {"name": shown,
                   "url": url_for("supervising.wallboard", token=token, _external=True)}
    except InvalidInput as exc:
        return _page(error=str(exc), name=name, code=422)
    return _page(created=created)


@bp.route("/<int:display_id>/revoke", methods=["POST"])
@requires(Role.ADMIN)
def revoke(display_id: int):
    who = audit.Actor.user(g.user)
    name = current_app.extensions["callcenter"].write(
        lambda session: displays.revoke(session, display_id, who=who).name)
    closed = current_app.extensions["callcenter"].display_sockets.sign_out(
        [display_key(display_id)])
    flash(f"Display {name} revoked" + ("; its open page was closed." if closed else "."))
    return redirect(url_for("displays.index"))
