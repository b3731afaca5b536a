"""The web side of logins (callcenter.sessions): the token in the signed cookie, the login a
request came with, logging in and out."""

from __future__ import annotations

from flask import current_app, g, request, session

from ..models import User
from ..sessions import Sessions, SignedIn
from .addresses import request_client_address

LOGIN_FIELD = "login"   # the cookie's field holding the login's token


def _sessions() -> Sessions:
    return current_app.extensions["callcenter"].sessions


def sign_in(user: User) -> None:
    """A new login for `user`: a fresh cookie (a new CSRF token too) with the login's token."""
    token = _sessions().start(current_app.extensions["callcenter"].db_session(), user,
                              request_client_address(), request.user_agent.string)
    session.clear()
    session[LOGIN_FIELD] = token


def current_login() -> SignedIn | None:
    """The request's login while it may be used; a cookie of an ended one is emptied."""
    token = session.get(LOGIN_FIELD)
    if token is None:
        return None
    signed = None
    if isinstance(token, str):
        signed = _sessions().signed_in(current_app.extensions["callcenter"].db_session(), token)
    if signed is None:
        session.clear()
    return signed


def sign_out() -> None:
    """Logout: the login ends on the server (its pages' live sockets close, and the softphone
    with the user's last login), and the cookie is emptied."""
    key = g.get("login_key")
    if key is not None:
        _sessions().end(key)
    session.clear()
    g.user = g.login_key = None
