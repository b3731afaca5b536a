"""create_app(settings) — the Flask app factory."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, g, jsonify, render_template, request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from . import monitoring
from .clock import RealClock
from .config import Settings
from .db import Database
from .errors import InvalidInput, ProductError
from .login_limits import LoginLimiter
from .models import Role
from .paths import STATIC_DIR, TEMPLATES_DIR
from .sessions import OpenSockets, Sessions
from .writing import write

log = logging.getLogger(__name__)


@dataclass
class Services:
    """What the web layer may reach: settings, the database, and (when serving) the switchboard
    (through its façade only) and the live hub."""
    settings: Settings
    db: Database
    switchboard: Any = None               # the call-center brain, set by `callcenter serve`
    hub: Any = None                       # live pushes (callcenter.live.Hub), set by `serve`
    sessions: Any = None                  # web logins and their live sockets (callcenter.sessions)
    display_sockets: Any = None           # wall displays' live sockets, by display token
    admin_known: bool = field(default=False)
    login_limiter: LoginLimiter | None = None  # set by create_app from the settings
    metrics: Any = None                   # what GET /metrics serves (callcenter.monitoring)
    standing: Any = None                  # active or standby (callcenter.standby); None: active

    @property
    def active(self) -> bool:
        """This controller drives the switch (a standby serves only FreeSWITCH's requests)."""
        return self.standing is None or self.standing.active

    def db_session(self) -> Session:
        """The request's database session, closed when the request ends."""
        if "db_session" not in g:
            g.db_session = self.db.sessions()
        return g.db_session

    def write(self, work):
        """The request's write: `work(session)` committed off the hub by the active
        switchboard's writer, or in the request's session (writing.py)."""
        return write(self.switchboard if self.active else None, self.db_session(), work)


def create_app(settings: Settings | None = None, db: Database | None = None,
               switchboard: Any = None, hub: Any = None, standing: Any = None) -> Flask:
    from .web import (
        access,
        admin,
        api,
        audit_trail,
        auth,
        call_page,
        callbacks,
        displays,
        dispositions,
        figures,
        freeswitch,
        live,
        media,
        metrics,
        numbers,
        pages,
        queues,
        records,
        standby,
        supervising,
        supervisor_actions,
        widget,
        widgets_admin,
    )
    from .web.vocabulary import vocabulary

    settings = settings or Settings.from_env()
    app = Flask("callcenter", template_folder=str(TEMPLATES_DIR), static_folder=str(STATIC_DIR))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="callcenter_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        MAX_CONTENT_LENGTH=4 * 1024 * 1024,
    )
    services = Services(settings=settings, db=db or Database(settings.database_url),
                        switchboard=switchboard, hub=hub, standing=standing,
                        login_limiter=LoginLimiter(RealClock(), enabled=settings.login_limits))
    services.sessions = Sessions.of(settings, services.db, switchboard)
    services.display_sockets = OpenSockets()
    app.extensions["callcenter"] = services

    for blueprint in (auth.bp, pages.bp, admin.bp, queues.bp, media.bp, api.bp, figures.bp,
                      freeswitch.bp, live.bp, callbacks.bp, supervising.bp, displays.bp,
                      supervisor_actions.bp, metrics.bp, numbers.bp, dispositions.bp,
                      audit_trail.bp, call_page.bp, widget.bp, widgets_admin.bp, records.bp):
        app.register_blueprint(blueprint)
    # First: its request hooks time and name every request, those access refuses too.
    services.metrics = monitoring.init_app(app, services)
    standby.init_app(app, services)   # before access: a standby refuses even the login page
    access.init_app(app)

    @app.context_processor
    def page_globals():
        user = g.get("user")
        board = services.switchboard
        # Supervisors and admins are told when writes wait (the database or the spool fails).
        store = board.health() if board is not None and user is not None \
            and user.role is not Role.AGENT else None
        return {"simulated_switch": settings.simulated, "current_user": user,
                "store_health": store, "vocabulary": vocabulary()}

    @app.teardown_request
    def close_db_session(exc):
        session = g.pop("db_session", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()

    @app.errorhandler(ProductError)
    def refused(exc: ProductError):
        field = exc.field if isinstance(exc, InvalidInput) else None
        return _answer(exc.status, str(exc), field)

    @app.errorhandler(SQLAlchemyError)
    def database_unavailable(exc):
        log.error("database error on %s %s: %s", request.method, request.path,
                  str(exc).splitlines()[0])
        return _answer(503, "The database is unavailable; nothing was saved. Try again shortly.")

    app.register_error_handler(HTTPException, _error_page)
    return app


def _answer(code: int, message: str, field: str | None = None, headers=None):
    """Every error answer: JSON under /api (and for clients asking for JSON), the error page
    elsewhere."""
    from .web.access import wants_json

    if wants_json():
        body = {"error": message} | ({"field": field} if field is not None else {})
        return jsonify(body), code, headers or {}
    return render_template("error.html", code=code, message=message), code, headers or {}


# Our words for the errors people meet; werkzeug's description for the rest.
_MESSAGES = {403: "Your role may not open this page.", 404: "There is no such page.",
             405: "Method not allowed.", 413: "The request is too large.",
             500: "Something went wrong on our side; the log says what."}
_HTML_PAGES = frozenset({400, 403, 404, 405})   # the rest keep werkzeug's own page


def _error_page(exc: HTTPException):
    from .web.access import wants_json

    code = exc.code or 500
    text = _MESSAGES.get(code) or exc.description or "Bad request."
    if wants_json() or code in _HTML_PAGES:
        return _answer(code, text, headers=_kept_headers(exc))
    return exc


def _kept_headers(exc: HTTPException) -> dict[str, str]:
    """Headers an error must keep (405's Allow, 429's Retry-After), without its Content-Type."""
    return {name: value for name, value in exc.get_headers() if name.lower() != "content-type"}
