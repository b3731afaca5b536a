"""Creating users and agents: the one place their rules live (CLI, first-run page, admin page)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from . import audit
from .errors import InvalidInput
from .esl.commands import CommandError, valid_extension
from .models import Agent, Role, User
from .passwords import hash_password, verify_password
from .queue_config import Setting
from .typed import Problems, flag, whole_number
from .versions import check_version

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
    return NewUser.checked(session, username, password, role, extension).add(session, who=who)


@dataclass(frozen=True)
class NewUser:
    """A user every check passed, its password hashed: `checked` reads and hashes (a tenth of
    a second) before any transaction, `add` writes it in one (the web's through the writer)."""
    username: str
    role: Role
    extension: str | None
    password_hash: str

    @classmethod
    def checked(cls, session: Session, username: str, password: str, role: Role | str,
                extension: str | None) -> NewUser:
        username, role, extension = check_new_user(session, username, role, extension)
        check_password(password, username)
        return cls(username, role, extension, hash_password(password))

    def add(self, session: Session, *, who: audit.Actor) -> User:
        """Checked again in the writing transaction: the name and extension may be gone since."""
        check_new_user(session, self.username, self.role, self.extension)
        return add_user(session, self.username, self.password_hash, self.role, self.extension,
                        who=who)


@dataclass(frozen=True)
class Taken:
    """Every username and extension in use, read once (a CSV file checks hundreds of rows)."""
    usernames: frozenset[str]
    extensions: frozenset[str]

    @classmethod
    def read(cls, session: Session) -> Taken:
        extensions = set(session.scalars(select(Agent.extension)))
        extensions.update(session.scalars(select(User.extension)
                                          .where(User.extension.is_not(None))))
        return cls(frozenset(session.scalars(select(User.username))), frozenset(extensions))


def check_new_user(session: Session, username: str, role: Role | str,
                   extension: str | None, taken: Taken | None = None
                   ) -> tuple[str, Role, str | None]:
    """A new user's username, role and extension as they will be kept (AccountError if one
    cannot be): everything but the password, which the caller checks and hashes. `taken`: what
    is in use, when the caller read it already."""
    username = username.strip().lower()
    if not USERNAME.fullmatch(username):
        raise AccountError("username must be 2-64 characters: lowercase letters, digits, "
                           "'.', '_' or '-', starting with a letter or digit")
    role = parse_role(role) if isinstance(role, str) else role
    extension = _extension(extension) if extension else None
    if extension is None and role is Role.AGENT:
        raise AccountError("an agent needs a SIP extension (2-10 digits)")
    if username in taken.usernames if taken else \
            session.scalar(select(exists().where(User.username == username))):
        raise AccountError(f"username {username!r} is taken")
    if extension and taken and extension in taken.extensions:
        raise AccountError(f"extension {extension} already belongs to another user")
    if extension and not taken:
        _check_free(session, extension)
    return username, role, extension


def add_user(session: Session, username: str, password_hash: str, role: Role,
             extension: str | None, *, who: audit.Actor,
             agent_settings: Mapping[str, object] | None = None,
             noted: Mapping[str, object] | None = None) -> User:
    """Write a user check_new_user passed, its password already hashed (hashing takes a tenth of
    a second: a bulk import hashes them all before its transaction). `agent_settings`: an
    agent's settings by column, already read; `noted`: more for the audit row."""
    user = User(username=username, password_hash=password_hash, role=role, active=True)
    session.add(user)
    if extension and role is Role.AGENT:
        user.agent = Agent(extension=extension, **(agent_settings or {}))
    elif extension:
        user.extension = extension
    session.flush()
    audit.record(session, who, "user.create", f"user {username}",
                 after={"role": role.value, "extension": extension or None, "active": True,
                        **(agent_settings or {}), **(noted or {})})
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


# -- generated passwords --------------------------------------------------------------------------

_READABLE = "abcdefghjkmnpqrstuvwxyz23456789"     # none to misread: no 0/o, 1/l/i


def generated_password(username: str = "") -> str:
    """A new random password, shown once to the admin who asked: four groups of four letters
    and digits (about 79 bits), easy to read out over the phone."""
    while True:
        groups = ("".join(secrets.choice(_READABLE) for _ in range(4))
                  for _ in range(4))
        password = "-".join(groups)
        try:
            return check_password(password, username)
        except AccountError:    # the username happened to be in it: draw again
            continue


def reset_password(session: Session, user: User, password_hash: str, *,
                   who: audit.Actor) -> None:
    """Set a password an admin reset (hashed by the caller, before its transaction); the caller
    ends every login of the user once it is committed. The audit row says it happened, never
    what the password is."""
    user.password_hash = password_hash
    session.flush()
    audit.record(session, who, "user.password", f"user {user.username}",
                 after={"password": "reset", "signed_out": True})


# -- editing a user and its agent -----------------------------------------------------------------

LONGEST_DELAY = 3_600
MAX_NO_ANSWER = 100


def _seconds(value: object) -> int:
    return whole_number(value, 0, LONGEST_DELAY, "seconds")


# An agent's own settings (the page's form, the CSV import's optional columns), by column.
AGENT_SETTINGS: tuple[Setting, ...] = (
    Setting("wrapup_seconds", "wrapup_seconds", "Wrap-up after a call, seconds (a queue may "
            "set its own)", _seconds, "number", 0, LONGEST_DELAY),
    Setting("max_no_answer", "max_no_answer",
            "Missed offers in a row before the agent is put On break (0: never)",
            lambda v: whole_number(v, 0, MAX_NO_ANSWER), "number", 0, MAX_NO_ANSWER),
    Setting("reject_delay_seconds", "reject_delay_seconds",
            "After a declined offer, next offer in, seconds", _seconds, "number", 0,
            LONGEST_DELAY),
    Setting("busy_delay_seconds", "busy_delay_seconds",
            "After the phone said busy, next offer in, seconds", _seconds, "number", 0,
            LONGEST_DELAY),
    Setting("no_answer_delay_seconds", "no_answer_delay_seconds",
            "After a missed offer, next offer in, seconds", _seconds, "number", 0,
            LONGEST_DELAY),
    Setting("auto_answer", "auto_answer", "The softphone answers offered calls by itself",
            flag, "flag"),
    Setting("always_record", "always_record", "Record every call", flag, "flag"),
)
AGENT_SETTING_NAMES = frozenset(setting.name for setting in AGENT_SETTINGS)


def read_agent_settings(typed: Mapping[str, object]) -> tuple[dict[str, object], dict[str, str]]:
    """The agent settings given in `typed` (others are left out), by column, and the problems
    of those refused, by field."""
    values: dict[str, object] = {}
    problems: dict[str, str] = {}
    for setting in AGENT_SETTINGS:
        if setting.name not in typed:
            continue
        try:
            values[setting.column] = setting.parse(typed[setting.name])
        except InvalidInput as exc:
            problems[setting.name] = exc.reason
    return values, problems


def user_values(user: User) -> dict[str, object]:
    """What the user's edit form shows (and its audit rows compare): role, active, extension
    (an agent's, or a supervisor's or admin's own phone's) and an agent's settings."""
    values: dict[str, object] = {"role": user.role.value, "active": user.active,
                                 "extension": user.agent.extension if user.agent else
                                 user.extension or ""}
    if user.agent is not None:
        values.update({s.name: getattr(user.agent, s.column) for s in AGENT_SETTINGS})
    return values


def edit_user(session: Session, user: User, typed: Mapping[str, object], *,
              who: audit.Actor, logged_out: bool) -> tuple[dict, dict]:
    """Save the user's edit form: `typed` holds the fields as sent (flags as bools) with the
    versions the form showed (`version`, and an agent's `agent_version`). Every field is checked
    before anything changes (typed.Problems names each refused one; typed.Stale if the user or
    its agent changed since the form showed them). `logged_out`: whether the agent is Logged Out
    now (the roster knows): its extension changes only then, so no call or registered phone is
    cut. What changed, before and after; the caller commits, then applies it to the switchboard
    and sessions."""
    check_version(user, typed.get("version"), f"user {user.username}")
    agent = user.agent
    if agent is not None:
        check_version(agent, typed.get("agent_version"), f"agent {user.username}")
    was = user_values(user)
    problems: dict[str, str] = {}
    role = user.role
    try:
        role = parse_role(_text_of(typed.get("role", user.role.value)))
    except AccountError as exc:
        problems["role"] = exc.reason
    if role is not user.role:
        if Role.AGENT in (role, user.role):
            problems["role"] = ("an agent stays an agent (its calls and figures belong to it), "
                                 "and an agent is added as one: deactivate this user and add "
                                 "another")
        elif who.user_id == user.id:
            problems["role"] = "you cannot change your own role"
    active = bool(typed.get("active", user.active))
    if not active and who.user_id == user.id:
        problems["active"] = "you cannot deactivate yourself"
    extension = _text_of(typed.get("extension", was["extension"]))
    try:
        extension = _extension(extension) if extension else ""
        if agent is not None and not extension:
            raise AccountError("an agent needs a SIP extension (2-10 digits)")
        if extension != was["extension"]:
            if agent is not None and not logged_out:
                raise AccountError("the agent must be Logged Out for its extension to change "
                                   "(its phone is registered as this one, maybe on a call)")
            if extension:
                _check_free(session, extension)
    except AccountError as exc:
        problems["extension"] = exc.reason
    settings, refused = read_agent_settings(typed) if agent is not None else ({}, {})
    problems.update(refused)
    if problems:
        raise Problems(problems)
    user.role, user.active = role, active
    if agent is not None:
        agent.extension = extension
        for column, value in settings.items():
            setattr(agent, column, value)
    else:
        user.extension = extension or None
    session.flush()
    before, after = audit.changed(was, user_values(user))
    if after:
        audit.record(session, who, "user.change", f"user {user.username}", before, after)
    return before, after


def _text_of(value: object) -> str:
    return value.strip() if isinstance(value, str) else "" if value is None else str(value)

