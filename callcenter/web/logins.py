"""What a login attempt goes through before a session exists: the failure limiter, the
password check (in the hashing pool, off the hub), a log line for every failure, and the
same-site page it lands on."""

from __future__ import annotations

import logging
import string
from urllib.parse import urlsplit

from flask import current_app

from ..accounts import authenticate
from ..models import User
from .addresses import request_client_address

log = logging.getLogger(__name__)


class TooManyFailures(Exception):
    """Too many recent failures from this address (for this account, or for all of them)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins: try again in {retry_after} s")
        self.retry_after = retry_after


def check_login(username: str, password: str) -> User | None:
    """The user these credentials open, or None; TooManyFailures without checking them while
    this address must wait."""
    services = current_app.extensions["callcenter"]
    limiter = services.login_limiter
    address = request_client_address()
    retry_after = limiter.admit(username, address)
    if retry_after:
        log.debug("login for %r from %s refused for %d s: too many failures",
                  username[:64], address, retry_after)
        raise TooManyFailures(retry_after)
    verdict = None
    try:
        user = authenticate(services.db_session(), username, password)
        verdict = user is not None
    finally:
        limiter.settle(username, address, verdict)
    if user is None:
        log.warning("failed login for %r from %s", username[:64], address)
    return user


# What a browser would still read as a path on this site: printable ASCII with no backslash
# (browsers drop tabs and newlines and read "\" as "/", so "/\t/evil" and "/\\evil" lead away).
_PATH_CHARACTERS = frozenset(string.ascii_letters + string.digits + "/-._~!$&'()*+,;=:@%?#[]")


def safe_next(target: str) -> str | None:
    """`target` when it is a path on this site, else None (the caller goes home)."""
    if not target.startswith("/") or target.startswith("//"):
        return None
    if not set(target) <= _PATH_CHARACTERS:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
