"""Web logins kept on the server, so that they end when they should.

Each login is a LoginSession row; the signed session cookie carries only a random token whose
SHA-256 is the row's id. A request is let in while the row exists, its user is active, its
absolute lifetime has not run out and it was seen within the idle timeout. Ending a login
deletes its row, so a copy of the cookie is worth nothing afterwards.

What ends logins, and what goes with them:

- logout: that login; its open live sockets are closed; if it was the user's last login, the
  agent's softphone ends too (SIP credential revoked, registration flushed, Logged Out);
- an admin's "sign out everywhere" (or `callcenter user signout`): all the user's logins, its
  sockets and its softphone;
- deactivation: the same, and the switchboard's roster marks the agent inactive, so no transfer
  or call reaches it until it is activated again;
- expiry: the sweep deletes expired rows every `SWEEP_SECONDS`, closes sockets whose login is
  gone (also when another process, the CLI, deleted it) and revokes SIP credentials whose user
  has no login left.

An open live socket keeps its login from idling out (the sweep marks it seen), the way it keeps
the SIP credential alive; the absolute lifetime still ends it.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, delete, exists, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .clock import Clock, RealClock
from .credentials import Credentials, Every, Owner, Why
from .models import Agent, LoginSession, Role, SipCredential, User
from .writing import write

log = logging.getLogger(__name__)

SWEEP_SECONDS = 30.0        # how often expired logins are removed and their pages closed
TOUCH_SECONDS = 60.0        # a login's last_seen_at is written at most this often

# One SELECT per request: the login's times, its user and the user's agent, as plain columns
# of the tables. Loading ORM objects for it cost half as much again, on every request.
_L, _U, _A = LoginSession.__table__, User.__table__, Agent.__table__
_LOGIN = (select(_L.c.expires_at, _L.c.last_seen_at, _U.c.id, _U.c.username, _U.c.role,
                 _U.c.active, _U.c.extension, _A.c.id.label("agent_id"),
                 _A.c.extension.label("agent_extension"))
          .select_from(_L.join(_U, _U.c.id == _L.c.user_id)
                       .outerjoin(_A, _A.c.user_id == _U.c.id))
          .where(_L.c.id == bindparam("key")))


def login_key(token: str) -> str:
    """The row id of the login whose cookie carries `token`."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Lifetimes:
    absolute: timedelta = timedelta(hours=12)
    idle: timedelta = timedelta(hours=2)

    @classmethod
    def of(cls, settings) -> Lifetimes:
        return cls(timedelta(hours=settings.session_hours),
                   timedelta(minutes=settings.session_idle_minutes))


@dataclass(frozen=True)
class AgentRef:
    """The signed-in user's agent: enough to name it (load the row for anything more)."""
    id: int
    extension: str


@dataclass(frozen=True)
class Person:
    """Who a request comes from, as its login found them (a snapshot, not a database row)."""
    id: int
    username: str
    role: Role
    extension: str | None = None       # a supervisor's own softphone
    agent: AgentRef | None = None


@dataclass(frozen=True)
class SignedIn:
    """The login a request came with."""
    key: str
    user: Person


class OpenSockets:
    """The live sockets open in this process, by login: ending a login closes them."""

    def __init__(self) -> None:
        self._by_key: dict[str, dict[object, Callable[[], None]]] = {}
        self._user_of: dict[str, int] = {}

    def add(self, key: str, user_id: int, sign_out: Callable[[], None]) -> Callable[[], None]:
        """Remember a socket; `sign_out()` closes it as signed out. Returns its removal."""
        token = object()
        self._by_key.setdefault(key, {})[token] = sign_out
        self._user_of[key] = user_id

        def remove() -> None:
            mine = self._by_key.get(key)
            if mine is not None:
                mine.pop(token, None)
                if not mine:
                    del self._by_key[key]
                    self._user_of.pop(key, None)
        return remove

    def keys(self) -> set[str]:
        return set(self._by_key)

    def keys_of(self, user_id: int) -> set[str]:
        return {key for key, user in self._user_of.items() if user == user_id}

    def sign_out(self, keys: Iterable[str]) -> int:
        """Close every socket of these logins; how many were closed."""
        closed = 0
        for key in list(keys):
            for sign_out in list(self._by_key.pop(key, {}).values()):
                try:
                    sign_out()
                except Exception:  # one broken socket must not keep the others open
                    log.exception("live: could not close a signed-out socket")
                closed += 1
            self._user_of.pop(key, None)
        return closed


class Sessions:
    """The logins of this process's web app: start, check, end, sweep."""

    def __init__(self, database, lifetimes: Lifetimes, credentials: Credentials | None = None,
                 switchboard=None, clock: Clock | None = None) -> None:
        self.database = database
        self.lifetimes = lifetimes
        self.credentials = credentials
        self.switchboard = switchboard
        self.clock = clock or getattr(switchboard, "clock", None) or RealClock()
        self.sockets = OpenSockets()

    @classmethod
    def of(cls, settings, database, switchboard=None) -> Sessions:
        return cls(database, Lifetimes.of(settings), Credentials.of(settings, switchboard),
                   switchboard)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC)

    # -- a request's login -----------------------------------------------------------------------

    def start(self, session: Session, user: User, address: str = "",
              user_agent: str = "") -> str:
        """A new login for `user` (commits); the token for its cookie."""
        token = secrets.token_urlsafe(32)
        now = self.now()
        row = dict(id=login_key(token), user_id=user.id, created_at=now, last_seen_at=now,
                   expires_at=now + self.lifetimes.absolute, address=(address or "")[:64],
                   user_agent=(user_agent or "")[:255])
        write(self.switchboard, session, lambda writing: writing.add(LoginSession(**row)))
        log.info("login: %s from %s", user.username, address or "an unknown address")
        return token

    def signed_in(self, session: Session, token: str) -> SignedIn | None:
        """The login `token` belongs to, while it may be used (one SELECT; at most every
        TOUCH_SECONDS an UPDATE of its last_seen_at)."""
        key = login_key(token)
        found = session.execute(_LOGIN, {"key": key}).first()
        if found is None:
            return None
        now = self.now()
        if not found.active or not self._alive(found, now):
            return None
        agent = AgentRef(found.agent_id, found.agent_extension) \
            if found.agent_id is not None else None
        user = Person(found.id, found.username, found.role, found.extension, agent)
        if now - found.last_seen_at >= timedelta(seconds=TOUCH_SECONDS):
            seen = getattr(self.switchboard, "login_seen", None)
            if seen is not None:      # in the writer's next batch, off the hub
                seen(key, now)
                return SignedIn(key, user)
            try:
                session.execute(update(LoginSession).where(LoginSession.id == key)
                                .values(last_seen_at=now))
                session.commit()
            except SQLAlchemyError as exc:    # the request goes on; the next one tries again
                session.rollback()
                log.warning("could not note that login %s… was seen: %s", key[:8],
                            (str(exc).splitlines() or [""])[0])
        return SignedIn(key, user)

    def _alive(self, login, now: datetime) -> bool:
        return (login.expires_at > now
                and login.last_seen_at + self.lifetimes.idle > now)

    # -- ending logins ---------------------------------------------------------------------------

    def end(self, key: str) -> None:
        """Logout: this login ends, its sockets close, and the softphone with the user's last
        login."""
        def ending(session: Session) -> int | None:
            user_id = session.scalar(select(LoginSession.user_id).where(LoginSession.id == key))
            session.execute(delete(LoginSession).where(LoginSession.id == key))
            return user_id

        with self.database.session() as session:
            user_id = write(self.switchboard, session, ending)
        self.sockets.sign_out([key])
        if user_id is not None:
            self._end_phone_if_last(user_id, Why.LOGOUT)

    def end_everywhere(self, user_id: int, why: str = Why.SIGNED_OUT) -> int:
        """Every login of the user ends, with its sockets and softphone; how many logins."""
        with self.database.session() as session:
            ended = write(self.switchboard, session, lambda writing: writing.execute(
                delete(LoginSession).where(LoginSession.user_id == user_id)).rowcount)
        self.sockets.sign_out(self.sockets.keys_of(user_id))
        self._end_phone_if_last(user_id, why)
        return ended

    def deactivated(self, user_id: int) -> None:
        """The user was just deactivated (and committed): it leaves the switchboard at once."""
        agent_id = self._agent_of(user_id)
        if agent_id is not None:
            self._set_active(agent_id, False)
        self.end_everywhere(user_id, Why.DEACTIVATED)

    def activated(self, user_id: int) -> None:
        """The user may log in again; its status after login is the login's business."""
        agent_id = self._agent_of(user_id)
        if agent_id is not None:
            self._set_active(agent_id, True)

    def _set_active(self, agent_id: int, active: bool) -> None:
        if self.switchboard is not None:
            self.switchboard.set_active(agent_id, active)

    def _agent_of(self, user_id: int) -> int | None:
        with self.database.session() as session:
            return session.scalar(select(Agent.id).where(Agent.user_id == user_id))

    def _end_phone_if_last(self, user_id: int, why: str) -> None:
        if self.credentials is None:
            return
        with self.database.session() as session:
            if session.scalar(select(exists().where(LoginSession.user_id == user_id))):
                return
            agent_id = session.scalar(select(Agent.id).where(Agent.user_id == user_id))
            if agent_id is not None:
                self.credentials.revoke(session, agent_id, why)
            self.credentials.revoke(session, Owner(user_id=user_id), why)  # a supervisor's

    # -- expiry ----------------------------------------------------------------------------------

    def sweep(self) -> None:
        """Keep logins with an open page alive, delete expired ones, close the pages of logins
        that are gone, and end the softphone of agents left with no login."""
        now = self.now()
        open_keys = self.sockets.keys()

        def sweeping(session: Session) -> tuple[int, set[str], list[Owner]]:
            if open_keys:
                session.execute(update(LoginSession).where(LoginSession.id.in_(open_keys))
                                .values(last_seen_at=now))
            expired = session.execute(delete(LoginSession).where(
                (LoginSession.expires_at <= now)
                | (LoginSession.last_seen_at <= now - self.lifetimes.idle))).rowcount
            alive = set(session.scalars(select(LoginSession.id)
                                        .where(LoginSession.id.in_(open_keys)))) \
                if open_keys else set()
            orphans = [Owner(agent_id=agent_id) for agent_id in session.scalars(
                select(SipCredential.agent_id)
                .join(Agent, Agent.id == SipCredential.agent_id)
                .where(SipCredential.live_agent_id.is_not(None),
                       ~exists().where(LoginSession.user_id == Agent.user_id))).all()]
            orphans += [Owner(user_id=user_id) for user_id in session.scalars(
                select(SipCredential.live_user_id)
                .where(SipCredential.live_user_id.is_not(None),
                       ~exists().where(LoginSession.user_id == SipCredential.live_user_id))
            ).all()]
            return expired, alive, orphans

        with self.database.session() as session:
            expired, alive, orphans = write(self.switchboard, session, sweeping)
        if expired:
            log.info("%d login(s) expired", expired)
        gone = open_keys - alive
        if gone:
            log.info("closing the live sockets of %d ended login(s)", len(gone))
            self.sockets.sign_out(gone)
        if orphans and self.credentials is not None:
            with self.database.session() as session:
                for owner in orphans:
                    self.credentials.revoke(session, owner, Why.NO_LOGIN)

    def start_sweeper(self, seconds: float = SWEEP_SECONDS) -> Every:
        return Every(self.clock, seconds, self.sweep, "login sweep").start()


def sign_out_everywhere(database, username: str) -> int:
    """For `callcenter user signout`: delete the user's logins (a running server closes their
    pages and ends the softphone at its next sweep). How many logins ended."""
    with database.session() as session:
        user_id = session.scalar(select(User.id).where(User.username == username.strip().lower()))
        if user_id is None:
            raise LookupError(f"there is no user {username!r}")
        return session.execute(delete(LoginSession)
                               .where(LoginSession.user_id == user_id)).rowcount
