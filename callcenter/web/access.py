"""How every route is authenticated — each view declares exactly one kind:

- `@public`: anyone (login, first run, health, static files);
- `@requires(Role...)`: a web session whose user has one of the roles; state-changing methods
  also need the session's CSRF token (form field `csrf_token` or header `X-CSRF-Token`);
- `@freeswitch`: FreeSWITCH's HTTP basic credentials (xml_curl, json_cdr);
- `@bearer(setting)`: a bearer token a setting holds (Prometheus' scrape of /metrics): with the
  setting unset the route answers 404 (it is off), with a missing or wrong token 401;
- `@widget_api` (web/widget.py, beside the routes it guards): a website's widget: anyone,
  from a page of one of the widget's allowed origins (CORS); no session and no CSRF token
  (the origin check is the guard: a browser always says which page a cross-origin request
  comes from);
- `@display(Role...)`: a wall display's read-only token (callcenter.displays), or a web session
  whose user has one of the roles (a supervisor previewing the wall). Read-only: GET only.
  The live socket also takes a display token (`Access.displays`), for read-only topics.

`init_app` refuses to start an app with an undeclared route, and checks CSRF for every browser
route (public forms too: login CSRF is a real attack).
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, abort, current_app, g, jsonify, redirect, request, session, url_for

from ..models import Role
from ..sessions import Person
from .sessions import current_login

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Access:
    kind: str       # "public" | "session" | "freeswitch" | "display" | "bearer" | "widget"
    roles: frozenset[Role] = frozenset()
    displays: bool = False            # a display token is let in too (read-only)


def public(view: Callable) -> Callable:
    view.access = Access("public")
    return view


def requires(*roles: Role) -> Callable[[Callable], Callable]:
    allowed = frozenset(roles)

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            user: Person | None = g.get("user")
            if user is None:
                if wants_json():
                    return jsonify(error="log in first"), 401
                return redirect(url_for("auth.login", next=request.full_path))
            if user.role not in allowed:
                if wants_json():
                    return jsonify(error="your role may not do this"), 403
                abort(403)
            return view(*args, **kwargs)

        guarded.access = Access("session", allowed)
        return guarded

    return decorate


def freeswitch(view: Callable) -> Callable:
    @functools.wraps(view)
    def guarded(*args, **kwargs):
        settings = current_app.extensions["callcenter"].settings
        auth = request.authorization
        if (auth is None or auth.type != "basic"
                or not _same(auth.username or "", settings.freeswitch_http_user)
                or not _same(auth.password or "", settings.freeswitch_http_password)):
            return ("FreeSWITCH credentials required\n", 401,
                    {"WWW-Authenticate": 'Basic realm="callcenter"',
                     "Content-Type": "text/plain"})
        return view(*args, **kwargs)

    guarded.access = Access("freeswitch")
    return guarded


def bearer(setting: str) -> Callable[[Callable], Callable]:
    """`Authorization: Bearer <token>` where the token is the setting's value (compared in
    constant time). No CSRF: no browser sends the header by itself."""
    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            expected = getattr(current_app.extensions["callcenter"].settings, setting)
            if not expected:
                abort(404)
            scheme, _, given = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not _same(given.strip(), expected):
                return ("a bearer token is required\n", 401,
                        {"WWW-Authenticate": 'Bearer realm="callcenter"',
                         "Content-Type": "text/plain"})
            return view(*args, **kwargs)

        guarded.access = Access("bearer")
        return guarded

    return decorate


def display(*roles: Role) -> Callable[[Callable], Callable]:
    """A wall display's token (the address an admin gave it: ?token=..., kept afterwards in an
    HttpOnly cookie and taken out of the address), or a session of one of `roles`. The view
    finds the display in `g.display` (None for a session)."""
    allowed = frozenset(roles)

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            from .. import displays

            user: Person | None = g.get("user")
            given = request.args.get("token")
            token = given or request.cookies.get(displays.COOKIE)
            g.display = None
            if token is not None:
                session_ = current_app.extensions["callcenter"].db_session()
                g.display = displays.valid(session_, token)
            if g.display is not None and given:
                # Out of the address (history, logs, a photo of the screen), into a cookie.
                settings = current_app.extensions["callcenter"].settings
                response = redirect(request.path)
                response.set_cookie(displays.COOKIE, given, max_age=400 * 86400, httponly=True,
                                    samesite="Lax", secure=settings.secure_cookies)
                return response
            if g.display is None and (user is None or user.role not in allowed):
                if user is not None:
                    abort(403)
                message = ("This display's token was revoked or is unknown: ask an admin for a "
                           "new address (Admin, Wall displays)." if token else
                           "A wall display opens with the address an admin gives it "
                           "(Admin, Wall displays), or log in as a supervisor.")
                if wants_json():
                    return jsonify(error=message), 401
                from flask import render_template
                return render_template("error.html", code=401, message=message), 401
            return view(*args, **kwargs)

        guarded.access = Access("display", allowed)
        return guarded

    return decorate


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def wants_json() -> bool:
    """Every /api answer is JSON, errors included; elsewhere, when the client asks for it."""
    return is_api_path(request.path) or request.accept_mimetypes.best == "application/json"


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def access_of(app: Flask, endpoint: str) -> Access:
    if endpoint == "static":
        return Access("public")
    return app.view_functions[endpoint].access


def init_app(app: Flask) -> None:
    undeclared = [name for name, view in app.view_functions.items()
                  if name != "static" and not isinstance(getattr(view, "access", None), Access)]
    if undeclared:
        raise RuntimeError("routes without an access declaration: " + ", ".join(sorted(undeclared)))
    app.jinja_env.globals["csrf_token"] = csrf_token

    @app.before_request
    def load_user_and_check_csrf():
        # One SELECT: the login, its user and the user's agent's id (most API requests need
        # it); g.user is a Person, not a row: a view loads the row when it needs more.
        signed = current_login()
        g.user = signed.user if signed is not None else None
        g.login_key = signed.key if signed is not None else None
        if request.endpoint is None or request.method not in UNSAFE_METHODS:
            return None
        if access_of(app, request.endpoint).kind in ("freeswitch", "bearer", "widget"):
            return None
        sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
        expected = session.get("csrf", "")
        if not expected or not _same(sent, expected):
            if wants_json():
                return jsonify(error="missing or stale CSRF token: reload the page"), 400
            abort(400, description="Missing or stale form token: reload the page and try again.")
        return None
