"""The admin's Widgets page: websites' "Call us" buttons (callcenter/widgets/settings.py has
the rules), each with the snippet to paste into the site. A refused form comes back as typed,
each problem next to its input; a change to a widget someone else changed meanwhile is
refused."""

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
from ..errors import InvalidInput, NotFound
from ..models import Queue, Role
from ..typed import problems_of
from ..versions import Stale
from ..widgets import settings as rules
from .access import requires

bp = Blueprint("widgets_admin", __name__, url_prefix="/admin/widgets")

FORM_FIELDS = ("name", "queue", "allowed_origins", "video", "active", *rules.LIMITS,
               *(f"{kind}_{name}" for name in rules.FIELDS
                 for kind in ("field", "label", "required")))
NEW_WIDGET = {"calls_per_address_hour": "10", "concurrent_calls": "10",
              "max_call_seconds": "1800", "active": "on", "field_name": "on"}


@bp.route("")
@requires(Role.ADMIN)
def index():
    return _list()


@bp.route("", methods=["POST"])
@requires(Role.ADMIN)
def add():
    typed, who = _typed(), audit.Actor.user(g.user)
    try:
        public_id = _write(lambda s: rules.add_widget(s, typed, who=who).public_id)
    except InvalidInput as exc:
        return _list(typed=typed, problems=problems_of(exc), status=exc.status)
    _reload()
    flash(f"Widget {typed['name'].strip()} added: paste its snippet into the website.")
    return redirect(url_for("widgets_admin.edit", public_id=public_id))


@bp.route("/<public_id>")
@requires(Role.ADMIN)
def edit(public_id: str):
    return _edit_page(public_id)


@bp.route("/<public_id>", methods=["POST"])
@requires(Role.ADMIN)
def save(public_id: str):
    typed, who, version = _typed(), audit.Actor.user(g.user), request.form.get("version", "")

    def changing(s) -> None:
        rules.change_widget(s, public_id, version, typed, who=who)
    try:
        _write(changing)
    except (InvalidInput, Stale, NotFound) as exc:
        return _edit_page(public_id, typed=typed, problems=problems_of(exc),
                          status=exc.status)
    _reload()
    flash("Widget saved: its next call follows the new settings.")
    return redirect(url_for("widgets_admin.edit", public_id=public_id))


def _list(*, typed: dict | None = None, problems: dict | None = None, status: int = 200):
    session = current_app.extensions["callcenter"].db_session()
    return render_template("admin/widgets.html", widgets=rules.all_widgets(session),
                           queues=_queues(), typed=typed or dict(NEW_WIDGET),
                           problems=problems or {}, fields=rules.FIELDS,
                           limits=rules.LIMITS), status


def _edit_page(public_id: str, *, typed: dict | None = None, problems: dict | None = None,
               status: int = 200):
    session = current_app.extensions["callcenter"].db_session()
    widget = rules.by_public_id(session, public_id)
    if widget is None:
        abort(404)
    if typed is None:
        typed = _form_of(widget)
    public_url = current_app.extensions["callcenter"].settings.public_url
    snippet = (f'<script src="{public_url}/widget.js" data-widget="{widget.public_id}" '
               'async></script>')
    return render_template("admin/widget.html", widget=widget, queues=_queues(), typed=typed,
                           problems=problems or {}, fields=rules.FIELDS, limits=rules.LIMITS,
                           snippet=snippet), status


def _form_of(widget) -> dict[str, str]:
    """The widget as its form shows it."""
    form = {"name": widget.name, "queue": widget.queue.name,
            "allowed_origins": "\n".join(rules.origins_of(widget)),
            "video": "on" if widget.video else "", "active": "on" if widget.active else "",
            **{name: str(getattr(widget, name)) for name in rules.LIMITS}}
    for field in rules.fields_of(widget):
        form[f"field_{field.name}"] = "on"
        form[f"label_{field.name}"] = field.label
        form[f"required_{field.name}"] = "on" if field.required else ""
    return form


def _typed() -> dict[str, str]:
    return {name: request.form.get(name, "") for name in FORM_FIELDS}


def _queues() -> list[str]:
    session = current_app.extensions["callcenter"].db_session()
    return list(session.scalars(select(Queue.name).order_by(Queue.name)))


def _reload() -> None:
    """The switchboard reads widgets' maximum call lengths with the queues."""
    board = current_app.extensions["callcenter"].switchboard
    if board is not None:
        board.reload_queues()


def _write(work):
    return current_app.extensions["callcenter"].write(work)
