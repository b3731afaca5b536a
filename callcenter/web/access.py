"""How every route is authenticated — each view declares exactly one kind:

- `@public`: anyone (login, first run, health, static files);
- `@requires(Role...)`: a web session whose user has one of the roles; state-changing methods
  also need the session's CSRF token (form field `csrf_token` or header `X-CSRF-Token`);
- `@freeswitch`: FreeSWITCH's HTTP basic credentials (xml_curl, json_cdr).

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

from ..models import Role, User
from .sessions import current_login

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Access:
    kind: str                         # "public" | "session" | "freeswitch"
    roles: frozenset[Role] = frozenset()


def public(view: Callable) -> Callable:
    view.access = Access("public")
    return view


def requires(*roles: Role) -> Callable[[Callable], Callable]:
    allowed = frozenset(roles)

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            user: User | None = g.get("user")
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
        # One SELECT: the login, its user and the user's agent (most API requests need the
        # agent's id, and a lazy load would be a second round trip on every request).
        signed = current_login()
        g.user = signed.user if signed is not None else None
        g.login_key = signed.key if signed is not None else None
        if request.endpoint is None or request.method not in UNSAFE_METHODS:
            return None
        if access_of(app, request.endpoint).kind == "freeswitch":
            return None
        sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
        expected = session.get("csrf", "")
        if not expected or not _same(sent, expected):
            if wants_json():
                return jsonify(error="missing or stale CSRF token: reload the page"), 400
            abort(400, description="Missing or stale form token: reload the page and try again.")
        return None
