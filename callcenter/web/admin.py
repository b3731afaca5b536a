"""Administration: users and agents. Each change that touches an agent is committed first, then
the running switchboard reloads that agent, so it applies at once (a supervisor's live view shows
a new agent, a deactivated one is Logged Out, a new wrap-up time serves its next call; a call in
progress goes on). A user's edit form carries the versions it showed: a save of a user changed
meanwhile is refused (409) with the current values."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import accounts, audit, queue_config, user_import
from ..accounts import (
    AccountError,
    set_phone_extension,
)
from ..credentials import Owner, Why
from ..errors import InvalidInput, ProductError
from ..models import Agent, AgentStatus, QueueAgent, Role, User
from ..passwords import hash_password
from ..typed import problems_of
from ..versions import Stale, saved
from .access import requires

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users")
@requires(Role.ADMIN)
def users():
    return _users_page()


def _users_page(form=None, error: str | None = None, extension_error: tuple | None = None,
                status: int = 200, **import_result):
    """The users page; `extension_error` is (user id, why) for the row whose change failed;
    `import_result`: a CSV file's plan (`plan`, the file's `csv` text, `checked` for a dry run,
    `import_error`) or the `generated` passwords of its import."""
    session = current_app.extensions["callcenter"].db_session()
    rows = session.scalars(select(User).order_by(User.username)).all()
    return render_template("admin/users.html", users=rows, roles=list(Role), form=form or {},
                           error=error, extension_error=extension_error,
                           max_rows=user_import.MAX_ROWS,
                           max_kilobytes=user_import.MAX_BYTES // 1024,
                           columns=user_import.COLUMNS, **import_result), status


FORM_MARGIN = 16 * 1024     # the form's other fields and multipart framing


@bp.route("/users/import", methods=["POST"])
@requires(Role.ADMIN)
def import_users():
    """A CSV file of users: `action=check` lists each row's problem and writes nothing (the dry
    run, which carries the file's text on to its Import button); `action=import` checks again
    and writes every user or none."""
    limit = user_import.MAX_BYTES + FORM_MARGIN
    if (request.content_length or 0) > limit:
        return _users_page(import_error=f"the file is too big: at most "
                           f"{user_import.MAX_BYTES // 1024} KB", status=413)
    request.max_content_length = limit
    uploaded = request.files.get("file")
    try:
        if uploaded is not None and uploaded.filename:
            text = user_import.read_upload(uploaded.read(user_import.MAX_BYTES + 1))
        elif request.form.get("csv"):
            text = user_import.read_upload(request.form["csv"].encode())
        else:
            raise InvalidInput("choose a .csv file first", field="file")
    except InvalidInput as exc:
        return _users_page(import_error=exc.reason, status=exc.status)
    if request.form.get("action") == "check":
        plan = user_import.check(current_app.extensions["callcenter"].db_session(), text)
        return _users_page(plan=plan, csv=text, checked=True, status=200 if plan.ok else 422)
    services = current_app.extensions["callcenter"]
    plan, generated = user_import.write(services.db_session(), services.write, text,
                                        who=audit.Actor.user(g.user))
    if not plan.ok:
        return _users_page(plan=plan, csv=text, status=422)
    board = current_app.extensions["callcenter"].switchboard
    if board is not None:
        board.reload_agents()
        board.reload_queues()
    for row in plan.rows:
        if row.role is not Role.AGENT:
            _own_phone_given(row.extension)
    return _no_store(_users_page(imported=len(plan.rows), generated=generated))


@bp.route("/users", methods=["POST"])
@requires(Role.ADMIN)
def add_user():
    form = request.form
    username, role, extension = (form.get("username", ""), form.get("role", ""),
                                 form.get("extension") or None)
    who = audit.Actor.user(g.user)
    services = current_app.extensions["callcenter"]
    try:
        new_user = accounts.NewUser.checked(services.db_session(), username,
                                            form.get("password", ""), role, extension)

        def adding(s) -> tuple[int | None, str | None]:
            user = new_user.add(s, who=who)
            return (user.agent.id if user.agent is not None else None), user.extension
        agent_id, phone = services.write(adding)
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
    given, who = request.form.get("extension", ""), audit.Actor.user(g.user)

    def setting(s) -> tuple[str | None, str | None, str]:
        user = _user(s, user_id)
        before = user.extension
        return before, set_phone_extension(s, user, given, who=who), user.username
    try:
        before, extension, username = services.write(setting)
    except AccountError as exc:
        return _users_page(extension_error=(user_id, str(exc)), status=400)
    if extension != before:
        _own_phone_moved(user_id, extension)
    flash(f"User {username}: " + (f"extension {extension}." if extension else "no extension."))
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@requires(Role.ADMIN)
def set_active(user_id: int):
    active = request.form.get("active") == "1"
    if user_id == g.user.id and not active:
        flash("You cannot deactivate yourself.")
        return redirect(url_for("admin.users"))
    who = audit.Actor.user(g.user)

    def setting(s) -> tuple[str, int | None]:
        user = _user(s, user_id)
        if user.active != active:
            audit.record(s, who, "user.change", f"user {user.username}",
                         {"active": user.active}, {"active": active})
        user.active = active
        return user.username, (user.agent.id if user.agent is not None else None)
    username, agent_id = current_app.extensions["callcenter"].write(setting)
    # Committed first: no new login or softphone password can start meanwhile.
    _reload_agent(agent_id)
    sessions = current_app.extensions["callcenter"].sessions
    if active:
        sessions.activated(user_id)
    else:
        sessions.deactivated(user_id)
    flash(f"User {username} {'activated' if active else 'deactivated'}.")
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
    who = audit.Actor.user(g.user)
    current_app.extensions["callcenter"].write(lambda s: audit.record(
        s, who, "user.signout", f"user {username}", after={"logins_ended": ended}))
    flash(f"User {username} signed out everywhere ({ended} login{'' if ended == 1 else 's'} "
          "ended).")
    return redirect(url_for("admin.users"))


# -- one user's page ------------------------------------------------------------------------------

@bp.route("/users/<int:user_id>")
@requires(Role.ADMIN)
def edit_user(user_id: int):
    return user_page(user_id)


@bp.route("/users/<int:user_id>", methods=["POST"])
@requires(Role.ADMIN)
def save_user(user_id: int):
    """The edit form: role, active, extension and an agent's settings, at the versions shown."""
    form = request.form
    typed: dict[str, object] = {name: form[name] for name in
                                ("version", "agent_version", "role", "extension") if name in form}
    typed["active"] = "active" in form
    for setting in accounts.AGENT_SETTINGS:
        typed[setting.name] = (setting.name in form) if setting.kind == "flag" else \
            form.get(setting.name, "")
    services = current_app.extensions["callcenter"]
    # Read on the hub: the switchboard's live status is the hub's, never the writer's to read.
    shown = services.db_session().get(User, user_id)
    logged_out = shown is None or shown.agent is None or _logged_out(shown.agent)
    who = audit.Actor.user(g.user)

    def saving(s) -> tuple[dict, int | None, str]:
        user = _user(s, user_id)
        _before, after = accounts.edit_user(s, user, typed, who=who, logged_out=logged_out)
        return after, (user.agent.id if user.agent is not None else None), user.username
    try:
        after, agent_id, username = saved(services.write, "this user", saving)
    except Stale as exc:
        return user_page(user_id, stale=str(exc), status=exc.status)
    except InvalidInput as exc:
        return user_page(user_id, typed=typed, problems=problems_of(exc), status=exc.status)
    # Committed: now the switchboard, the user's logins and its own phone follow.
    _reload_agent(agent_id)
    if "active" in after:
        if after["active"]:
            services.sessions.activated(user_id)
        else:
            services.sessions.deactivated(user_id)
    if agent_id is None and "extension" in after:
        _own_phone_moved(user_id, after["extension"] or None)
    flash(f"User {username} saved." if after else f"User {username}: nothing changed.")
    return redirect(url_for("admin.edit_user", user_id=user_id))


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@requires(Role.ADMIN)
def reset_password(user_id: int):
    """A new generated password, shown once on the page this answers (never in a cookie or an
    address); every login of the user ends."""
    services = current_app.extensions["callcenter"]
    username = _user(services.db_session(), user_id).username
    password = accounts.generated_password(username)
    hashed = hash_password(password)        # off the hub and the writer, before the transaction
    who = audit.Actor.user(g.user)
    services.write(lambda s: accounts.reset_password(s, _user(s, user_id), hashed, who=who))
    ended = services.sessions.end_everywhere(user_id)
    return _no_store(user_page(user_id, new_password=password, logins_ended=ended))


@bp.route("/users/<int:user_id>/queues", methods=["POST"])
@requires(Role.ADMIN)
def set_membership(user_id: int):
    """Put the agent in a queue, or move its tier there (the queue page's tiers, from the
    agent's side)."""
    typed = {field: request.form.get(field, "") for field in ("queue", "level", "position")}
    was, who = request.form.get("was"), audit.Actor.user(g.user)

    def setting(s) -> str:
        agent = _agent_of(s, user_id)
        tier = queue_config.set_tier(s, typed["queue"], agent.extension, typed["level"],
                                     typed["position"], who=who, was=was)
        return f"queue {tier.queue.name} at level {tier.level}, position {tier.position}"
    try:
        said = _write(setting)
    except Stale as exc:
        return user_page(user_id, stale=str(exc), status=exc.status)
    except ProductError as exc:
        return user_page(user_id, tier_typed=typed, tier_problems=problems_of(exc, "queue"),
                         status=exc.status)
    _reload_queues()
    flash(f"In {said}.")
    return redirect(url_for("admin.edit_user", user_id=user_id) + "#queues")


@bp.route("/users/<int:user_id>/queues/remove", methods=["POST"])
@requires(Role.ADMIN)
def remove_membership(user_id: int):
    queue, was, who = request.form.get("queue", ""), request.form.get("was"), \
        audit.Actor.user(g.user)

    def removing(s) -> None:
        queue_config.remove_tier(s, queue, _agent_of(s, user_id).extension, who=who, was=was)
    try:
        _write(removing)
    except Stale as exc:
        return user_page(user_id, stale=str(exc), status=exc.status)
    _reload_queues()
    flash(f"Out of queue {queue}.")
    return redirect(url_for("admin.edit_user", user_id=user_id) + "#queues")


def user_page(user_id: int, *, typed: dict | None = None, problems: dict | None = None,
              stale: str | None = None, tier_typed: dict | None = None,
              tier_problems: dict | None = None, new_password: str | None = None,
              logins_ended: int | None = None, status: int = 200):
    """The user's edit page: what was typed with each problem next to its field, or the current
    values (after a stale save: with the message saying so)."""
    session = current_app.extensions["callcenter"].db_session()
    user = session.scalar(select(User).where(User.id == user_id).options(
        selectinload(User.agent).selectinload(Agent.tiers).selectinload(QueueAgent.queue)))
    if user is None:
        abort(404)
    current = accounts.user_values(user)
    tiers = sorted(user.agent.tiers, key=lambda t: t.queue.name) if user.agent else []
    member_of = {tier.queue_id for tier in tiers}
    other_queues = [q for q in queue_config.all_queues(session) if q.id not in member_of] \
        if user.agent else []
    return render_template(
        "admin/user.html", user=user, roles=list(Role), values=typed or current,
        problems=problems or {}, stale=stale, agent_settings=accounts.AGENT_SETTINGS,
        tiers=tiers, other_queues=other_queues, shown_tier=queue_config.shown_tier,
        tier_typed=tier_typed or {}, tier_problems=tier_problems or {},
        new_password=new_password, logins_ended=logins_ended,
        status_now=_status_now(user.agent)), status


def _user(session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _agent_of(session, user_id: int) -> Agent:
    agent = _user(session, user_id).agent
    if agent is None:
        raise InvalidInput("only an agent is in queues", field="queue")
    return agent


def _status_now(agent: Agent | None) -> AgentStatus | None:
    """The agent's status as the running switchboard has it (the live truth), else its row's."""
    if agent is None:
        return None
    board = current_app.extensions["callcenter"].switchboard
    if board is not None:
        from ..switchboard import AgentError

        try:
            return board.agent(agent.id).status
        except AgentError:      # not one the switchboard can hold (its user inactive...)
            pass
    return agent.status


def _logged_out(agent: Agent) -> bool:
    return _status_now(agent) is AgentStatus.LOGGED_OUT


def _own_phone_moved(user_id: int, extension: str | None) -> None:
    """A supervisor's or admin's own phone has a new extension (or none): its live SIP
    credential was for the old one and is revoked."""
    services = current_app.extensions["callcenter"]
    if services.sessions is not None and services.sessions.credentials is not None:
        with services.db.session() as s:
            services.sessions.credentials.revoke(s, Owner(user_id=user_id), Why.REPLACED)
    _own_phone_given(extension)


def _no_store(answer):
    """A page with a password on it: no cache keeps it."""
    response = make_response(answer)
    response.headers["Cache-Control"] = "no-store"
    return response


def _write(work):
    return current_app.extensions["callcenter"].write(work)


def _reload_queues() -> None:
    board = current_app.extensions["callcenter"].switchboard
    if board is not None:
        board.reload_queues()


def _reload_agent(agent_id: int | None) -> None:
    board = current_app.extensions["callcenter"].switchboard
    if board is not None and agent_id is not None:
        board.reload_agent(agent_id)


def _own_phone_given(extension: str | None) -> None:
    """A supervisor's or an admin's new extension (the built-in simulator registers it)."""
    board = current_app.extensions["callcenter"].switchboard
    if board is not None and extension:
        board.own_phone_given(extension)
