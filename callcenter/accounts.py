"""Creating users and agents: the one place their rules live (CLI, first-run page, admin page)."""

from __future__ import annotations

import re

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from . import audit
from .errors import InvalidInput
from .esl.commands import CommandError, valid_extension
from .models import Agent, Role, User
from .passwords import hash_password, verify_password

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
MIN_PASSWORD = 8
# The passwords that guessing tools try first; a call center's admin must not have one.
COMMON_PASSWORDS = frozenset({
    "password", "password1", "password123", "12345678", "123456789", "1234567890",
    "qwertyuiop", "qwerty123", "iloveyou", "admin123", "administrator", "letmein1",
    "welcome1", "changeme", "freeswitch", "cluecon1", "callcenter", "passw0rd",
})


class AccountError(InvalidInput):
    """A user cannot be created or changed as asked; the message says why."""


def check_password(password: str, username: str = "") -> str:
    if not password:
        raise AccountError("password is empty")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password is too short: use at least {MIN_PASSWORD} characters")
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(password)) < 3 or (
            username and username.lower() in lowered):
        raise AccountError("password is too easy to guess: avoid common words, repeated "
                           "characters and the username")
    return password


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise AccountError(f"unknown role {value!r}: use one of "
                           + ", ".join(r.value for r in Role)) from None


def create_user(session: Session, username: str, password: str, role: Role | str,
                extension: str | None = None, *, who: audit.Actor) -> User:
    """Add a user (and its Agent row when it is an agent). Nothing is written unless every
    check passes; the caller's transaction commits it, with its audit row (`who` made it). A
    supervisor's or an admin's extension is its own softphone's (User.extension): it never
    makes the user an agent."""
    username = username.strip().lower()
    if not USERNAME.fullmatch(username):
        raise AccountError("username must be 2-64 characters: lowercase letters, digits, "
                           "'.', '_' or '-', starting with a letter or digit")
    role = parse_role(role) if isinstance(role, str) else role
    check_password(password, username)
    extension = _extension(extension) if extension else None
    if extension is None and role is Role.AGENT:
        raise AccountError("an agent needs a SIP extension (2-10 digits)")
    if session.scalar(select(exists().where(User.username == username))):
        raise AccountError(f"username {username!r} is taken")
    if extension:
        _check_free(session, extension)
    user = User(username=username, password_hash=hash_password(password), role=role,
                active=True)
    session.add(user)
    if extension and role is Role.AGENT:
        user.agent = Agent(extension=extension)
    elif extension:
        user.extension = extension
    session.flush()
    audit.record(session, who, "user.create", f"user {username}",
                 after={"role": role.value, "extension": extension or None, "active": True})
    return user


def set_phone_extension(session: Session, user: User, extension: str | None, *,
                        who: audit.Actor) -> str | None:
    """Give a supervisor or an admin its own softphone's extension (None or "": none). The
    caller's transaction commits it with its audit row; the caller revokes the user's live
    SIP credential, which was for the old extension."""
    if user.role is Role.AGENT:
        raise AccountError("an agent's extension is its agent record's: it cannot change here")
    extension = _extension(extension) if extension else None
    if extension == user.extension:
        return extension
    if extension:
        _check_free(session, extension)
    before = user.extension
    user.extension = extension
    session.flush()
    audit.record(session, who, "user.extension", f"user {user.username}",
                 before={"extension": before}, after={"extension": extension})
    return extension


def _extension(value: str) -> str:
    try:
        return valid_extension(value.strip())
    except CommandError as exc:     # the same rule FreeSWITCH dial strings are held to
        raise AccountError(str(exc)) from None


def _check_free(session: Session, extension: str) -> None:
    """One extension, one phone: agents' and supervisors' share the directory."""
    if session.scalar(select(exists().where(Agent.extension == extension))) or \
            session.scalar(select(exists().where(User.extension == extension))):
        raise AccountError(f"extension {extension} already belongs to another user")


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this username and password, or None.

    The session's transaction ends before the hash is checked: logins wait their turn in the
    hashing pool, and while they wait they must not hold database connections other requests
    need. (Nothing else is pending in a login's session.)"""
    row = session.execute(select(User.id, User.password_hash, User.active)
                          .where(User.username == username.strip().lower())).first()
    session.rollback()
    # Hash even for an unknown user, so timing does not tell which usernames exist.
    if not verify_password(row.password_hash if row else None, password) or not row.active:
        return None
    user = session.get(User, row.id)
    return user if user is not None and user.active else None


def admin_exists(session: Session) -> bool:
    return bool(session.scalar(select(exists().where(User.role == Role.ADMIN,
                                                     User.active.is_(True)))))
