"""Login, logout, and the first-run page that creates the first admin."""

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

from .. import audit
from ..accounts import AccountError, NewUser, admin_exists
from ..credentials import Credentials
from ..models import Role
from . import presence
from .access import access_of, public, requires
from .addresses import request_client_address
from .logins import TooManyFailures, check_login, safe_next
from .services import services as _services
from .sessions import sign_in, sign_out

bp = Blueprint("auth", __name__)


def _credentials() -> Credentials:
    return Credentials.of(_services().settings, _services().switchboard)


def needs_first_admin() -> bool:
    services = _services()
    if not services.admin_known:
        services.admin_known = admin_exists(services.db_session())
    return not services.admin_known


@bp.before_app_request
def send_to_first_run():
    """Until an admin exists, people are sent to the first-run page (FreeSWITCH and
    Prometheus and websites' widgets are not)."""
    if request.endpoint in (None, "auth.setup", "static", "pages.health"):
        return None
    if access_of(current_app, request.endpoint).kind in ("freeswitch", "bearer", "widget"):
        return None
    if needs_first_admin():
        return redirect(url_for("auth.setup"))
    return None


@bp.route("/setup", methods=["GET", "POST"])
@public
def setup():
    """Exists only while there is no admin: creates it, in one transaction."""
    if not needs_first_admin():
        abort(404)
    error = None
    if request.method == "POST":
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        if password != request.form.get("confirm", ""):
            error = "the two passwords differ"
        else:
            services = _services()

            def creating(s) -> bool:
                if admin_exists(s):      # someone finished first
                    return False
                first.add(s, who=audit.FIRST_RUN)
                return True
            try:
                first = NewUser.checked(services.db_session(), username, password, Role.ADMIN,
                                        None)
                if not services.write(creating):
                    abort(404)
            except AccountError as exc:
                error = str(exc)
            else:
                _services().admin_known = True
                flash("Administrator created. Log in to continue.")
                return redirect(url_for("auth.login"))
    return render_template("setup.html", error=error,
                           username=request.form.get("username", "")), (400 if error else 200)


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    error = None
    if request.method == "POST":
        try:
            user = check_login(request.form.get("username", ""), request.form.get("password", ""))
        except TooManyFailures as exc:
            return _too_many_failures(exc)
        if user is None:
            error = "wrong username or password"
            typed = request.form.get("username", "")
            _audited(audit.Actor(None, typed), "login.failed", f"user {typed}")
        else:
            sign_in(user)
            _audited(audit.Actor.user(user), "login", f"user {user.username}")
            if user.agent is not None:
                # The softphone's SIP password for this login (shared with the agent's other
                # logins while it lives); the page fetches it from /api/softphone.
                _credentials().issue(_services().db_session(), user.agent)
                presence.logged_in(_services(), user.agent.id)
            # Only same-site paths: never an open redirect.
            return redirect(safe_next(request.args.get("next", "")) or url_for("pages.home"))
    return render_template("login.html", error=error,
                           username=request.form.get("username", "")), (401 if error else 200)


def _audited(who: audit.Actor, action: str, target: str) -> None:
    """A login, a failed login or a logout in the audit log, with the client's address (a
    failed login's actor is the name that was typed; it opens no account)."""
    after = {"address": request_client_address()}
    _services().write(lambda s: audit.record(s, who, action, target, after=after))


def _too_many_failures(exc: TooManyFailures):
    minutes, seconds = divmod(exc.retry_after, 60)
    wait = f"{minutes} min {seconds} s" if minutes else f"{seconds} s"
    error = (f"Too many failed logins from your address. Wait {wait} before trying again "
             "(each further failure makes the wait longer).")
    return (render_template("login.html", error=error, username=request.form.get("username", "")),
            429, {"Retry-After": str(exc.retry_after)})


@bp.route("/logout", methods=["POST"])
@requires(Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
def logout():
    _audited(audit.Actor.user(g.user), "logout", f"user {g.user.username}")
    sign_out()
    flash("You are logged out.")
    return redirect(url_for("auth.login"))
