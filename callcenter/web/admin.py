"""Administration: users and agents. Each change that touches an agent is committed first, then
the running switchboard reloads that agent, so it applies at once (a supervisor's live view shows
a new agent, a deactivated one is Logged Out)."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from .. import audit
from ..accounts import AccountError, create_user, set_phone_extension
from ..credentials import Owner, Why
from ..models import Role, User
from .access import requires

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users")
@requires(Role.ADMIN)
def users():
    return _users_page()


def _users_page(form=None, error: str | None = None, extension_error: tuple | None = None,
                status: int = 200):
    """The users page; `extension_error` is (user id, why) for the row whose change failed."""
    session = current_app.extensions["callcenter"].db_session()
    rows = session.scalars(select(User).order_by(User.username)).all()
    return render_template("admin/users.html", users=rows, roles=list(Role), form=form or {},
                           error=error, extension_error=extension_error), status


@bp.route("/users", methods=["POST"])
@requires(Role.ADMIN)
def add_user():
    form = request.form
    db = current_app.extensions["callcenter"].db
    try:
        with db.session() as s:
            user = create_user(s, form.get("username", ""), form.get("password", ""),
                               form.get("role", ""), form.get("extension") or None,
                               who=audit.Actor.user(g.user))
            agent_id = user.agent.id if user.agent is not None else None
            phone = user.extension
    except AccountError as exc:
        return _users_page(form, error=str(exc), status=400)
    _reload_agent(agent_id)
    _own_phone_given(phone)
    flash(f"User {form.get('username', '').strip().lower()} added.")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/extension", methods=["POST"])
@requires(Role.ADMIN)
def set_extension(user_id: int):
    """A supervisor's or an admin's own softphone extension (empty: none), unique across agents
    and supervisors. Its live SIP credential was for the old extension: it is revoked (the
    registration flushed), and the dashboard's softphone, refused, retries with a fresh one."""
    services = current_app.extensions["callcenter"]
    try:
        with services.db.session() as s:
            user = s.get(User, user_id)
            if user is None:
                abort(404)
            before = user.extension
            extension = set_phone_extension(s, user, request.form.get("extension", ""),
                                            who=audit.Actor.user(g.user))
            username = user.username
    except AccountError as exc:
        return _users_page(extension_error=(user_id, str(exc)), status=400)
    if extension != before:
        if services.sessions is not None and services.sessions.credentials is not None:
            with services.db.session() as s:
                services.sessions.credentials.revoke(s, Owner(user_id=user_id), Why.REPLACED)
        _own_phone_given(extension)
    flash(f"User {username}: " + (f"extension {extension}." if extension else "no extension."))
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@requires(Role.ADMIN)
def set_active(user_id: int):
    db = current_app.extensions["callcenter"].db
    active = request.form.get("active") == "1"
    with db.session() as s:
        user = s.get(User, user_id)
        if user is None:
            abort(404)
        if user.id == g.user.id and not active:
            flash("You cannot deactivate yourself.")
            return redirect(url_for("admin.users"))
        if user.active != active:
            audit.record(s, audit.Actor.user(g.user), "user.change", f"user {user.username}",
                         {"active": user.active}, {"active": active})
        user.active = active
        agent_id = user.agent.id if user.agent is not None else None
    # Committed first: no new login or softphone password can start meanwhile.
    _reload_agent(agent_id)
    sessions = current_app.extensions["callcenter"].sessions
    if active:
        sessions.activated(user_id)
    else:
        sessions.deactivated(user_id)
    flash(f"User {user.username} {'activated' if active else 'deactivated'}.")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/signout", methods=["POST"])
@requires(Role.ADMIN)
def sign_out_everywhere(user_id: int):
    """Ends every login of the user: its pages close and go to the login page, and an agent's
    softphone password is revoked."""
    username = current_app.extensions["callcenter"].db_session().scalar(
        select(User.username).where(User.id == user_id))
    if username is None:
        abort(404)
    ended = current_app.extensions["callcenter"].sessions.end_everywhere(user_id)
    flash(f"User {username} signed out everywhere ({ended} login{'' if ended == 1 else 's'} "
          "ended).")
    return redirect(url_for("admin.users"))


def _reload_agent(agent_id: int | None) -> None:
    board = current_app.extensions["callcenter"].switchboard
    if board is not None and agent_id is not None:
        board.reload_agent(agent_id)


def _own_phone_given(extension: str | None) -> None:
    """A supervisor's or an admin's new extension (the built-in simulator registers it)."""
    board = current_app.extensions["callcenter"].switchboard
    if board is not None and extension:
        board.own_phone_given(extension)
