"""Per-login SIP credentials for softphones; FreeSWITCH reads them through mod_xml_curl.

A softphone is an agent's (its Agent row's extension) or a supervisor's own, for listening in
(a user's extension, User.extension): `Owner` says which. Everything below holds for both, but
only an agent goes Logged Out when its phone ends.

At web login an agent gets a random SIP password for its extension, valid for `LIFETIME` and
kept alive while its live socket is open. Every login of the same agent (a second tab, another
browser) shares the one live credential, so a new tab never evicts the phone of the first.
Logout or expiry revokes it: FreeSWITCH's registration of the extension is flushed and the agent
goes Logged Out.

Where the password lives: nowhere. The database keeps FreeSWITCH's `a1-hash` and a random
`login_key`; the password is HMAC(server secret key, login_key), derived again whenever a page
of that agent asks for it. So neither the database nor the session cookie holds the password,
any session of the agent gets the same one back, and a revoked credential is gone for good (the
next one has a new login_key). Whoever has the secret key can forge a web session anyway, so
deriving from it gives nothing away that the key did not already give.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from .clock import Clock, RealClock, Timer
from .models import Agent, AgentStatus, SipCredential, User
from .writing import write

log = logging.getLogger(__name__)

LIFETIME = timedelta(hours=12)
KEEP_ALIVE_SECONDS = 300.0      # how often an open live socket pushes the expiry on
SWEEP_SECONDS = 60.0            # how often expired credentials are looked for and revoked
KEEP_REVOKED = timedelta(days=30)
PROFILE = "internal"            # the sofia profile agents register to (sip_profiles/internal.xml)
USER_CONTEXT = "agents"
# The same dial-string as freeswitch-conf/directory/domain.xml: sofia contacts only (the product
# loads no verto module). A test holds the two together.
DIAL_STRING = ("{^^:sip_invite_domain=${dialed_domain}:presence_id=${dialed_user}@${dialed_domain}}"
               "${sofia_contact(*/${dialed_user}@${dialed_domain})}")


@dataclass(frozen=True)
class Owner:
    """Whose phone a credential is: an agent's, or a user's own (a supervisor's)."""
    agent_id: int | None = None
    user_id: int | None = None

    @classmethod
    def of(cls, holder: Agent | User | Owner | int) -> Owner:
        """From an Agent or User row, or an agent's id (what most callers have)."""
        if isinstance(holder, Owner):
            return holder
        if isinstance(holder, int):
            return cls(agent_id=holder)
        if isinstance(holder, Agent):
            return cls(agent_id=holder.id)
        return cls(user_id=holder.id)

    def live_column(self):
        return SipCredential.live_agent_id if self.agent_id is not None \
            else SipCredential.live_user_id

    @property
    def key(self) -> int:
        return self.agent_id if self.agent_id is not None else self.user_id

    def columns(self) -> dict:
        """A new credential's owner columns."""
        if self.agent_id is not None:
            return dict(agent_id=self.agent_id, live_agent_id=self.agent_id)
        return dict(user_id=self.user_id, live_user_id=self.user_id)


class Why:
    """Why a credential was revoked (SipCredential.revoked_why)."""
    LOGOUT = "logout"
    EXPIRED = "expired"
    REPLACED = "replaced"       # no longer matches the agent (extension, domain or secret key)
    SIGNED_OUT = "signed out"   # an admin (or the CLI) signed the user out everywhere
    DEACTIVATED = "deactivated"
    NO_LOGIN = "no login left"  # the user's last web login expired or was ended elsewhere


@dataclass(frozen=True)
class Softphone:
    """What the agent's page needs to register."""
    extension: str
    domain: str
    password: str
    expires_at: datetime


@dataclass(frozen=True)
class Revoked:
    """A credential just revoked, for what follows on the hub once it is committed."""
    agent_id: int | None
    extension: str
    domain: str
    why: str


@dataclass(frozen=True)
class DirectoryUser:
    """What FreeSWITCH's directory gets for a registering or called extension."""
    extension: str
    domain: str
    a1_hash: str
    caller_id_name: str


def a1_hash(extension: str, domain: str, password: str) -> str:
    """FreeSWITCH's a1-hash: md5 of user:realm:password (SIP digest is MD5 by definition)."""
    return hashlib.md5(f"{extension}:{domain}:{password}".encode(),
                       usedforsecurity=False).hexdigest()


def derive_password(secret_key: str, login_key: str) -> str:
    digest = hmac.new(secret_key.encode(), b"callcenter sip password\0" + login_key.encode(),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()      # 24 characters, 144 bits


class Credentials:
    """Issue, keep alive, revoke and look up agents' SIP credentials.

    Methods that change rows commit (through the database writer when the process has one,
    writing.py; else in the session they are given), so FreeSWITCH's next lookup sees the
    change; revocation then asks the switchboard to flush the registration and to set
    the agent Logged Out (without a switchboard, the database row is set Logged Out).
    """

    def __init__(self, secret_key: str, domain: str, *, switchboard: Any = None,
                 clock: Clock | None = None, lifetime: timedelta = LIFETIME,
                 profile: str = PROFILE) -> None:
        if not secret_key:
            raise ValueError("SIP credentials need the server's secret key")
        self.secret_key = secret_key
        self.domain = domain
        self.switchboard = switchboard
        self.clock = clock or getattr(switchboard, "clock", None) or RealClock()
        self.lifetime = lifetime
        self.profile = profile

    @classmethod
    def of(cls, settings, switchboard: Any = None) -> Credentials:
        return cls(settings.secret_key, settings.sip_domain, switchboard=switchboard)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.now(), UTC)

    # -- issue -----------------------------------------------------------------------------------

    def issue(self, session: Session, agent: Agent | User) -> Softphone:
        """The live credential of the agent (or of a user's own phone), or a new one when it
        has none (committed, through the database writer when there is one)."""
        owner, extension = Owner.of(agent), agent.extension
        if not extension:
            raise ValueError(f"{owner} has no extension")
        row = self._live(session, owner)
        if row is not None and self._usable(row, extension):
            return self._softphone(row)
        login_key = secrets.token_urlsafe(32)
        password = derive_password(self.secret_key, login_key)

        def issuing(writing: Session) -> tuple[Softphone, Revoked | None]:
            live = self._live(writing, owner)
            gone = None
            if live is not None:
                if self._usable(live, extension):    # another login issued one meanwhile
                    return self._softphone(live), None
                gone = self._mark_revoked(live, Why.EXPIRED if self._expired(live)
                                          else Why.REPLACED)
                writing.flush()   # the old row leaves the live slot before the new one takes it
            new = SipCredential(**owner.columns(), login_key=login_key, extension=extension,
                                domain=self.domain,
                                a1_hash=a1_hash(extension, self.domain, password),
                                created_at=self.now(), expires_at=self.now() + self.lifetime)
            writing.add(new)
            writing.flush()
            return Softphone(extension, self.domain, password, new.expires_at), gone

        try:
            phone, gone = write(self.switchboard, session, issuing)
        except IntegrityError:
            # Another login of the same agent issued one at the same moment: share it.
            session.rollback()
            row = self._live(session, owner)
            if row is None or not self._usable(row, extension):
                raise
            return self._softphone(row)
        if gone is not None:
            self._after_revoke(session, gone)
        if phone.password == password:
            log.info("SIP credential issued for extension %s until %s", extension,
                     phone.expires_at.isoformat(timespec="seconds"))
        return phone

    def current(self, session: Session, agent: Agent | User) -> Softphone | None:
        """The agent's (or user's) live credential, if it has a usable one (changes nothing)."""
        row = self._live(session, Owner.of(agent))
        return self._softphone(row) if row is not None and self._usable(row, agent.extension) \
            else None

    # -- keep alive ------------------------------------------------------------------------------

    def keep_alive(self, session: Session, agent_id: int | Owner) -> datetime | None:
        """Push the live credential's expiry to a full lifetime from now (commits). An expired
        or revoked credential is not revived: None."""
        owner = Owner.of(agent_id)

        def extending(writing: Session) -> datetime | None:
            now = self.now()
            row = self._live(writing, owner)
            if row is None or row.expires_at <= now:
                return None
            row.expires_at = max(row.expires_at, now + self.lifetime)
            return row.expires_at
        return write(self.switchboard, session, extending)

    # -- revoke ----------------------------------------------------------------------------------

    def revoke(self, session: Session, agent_id: int | Owner, why: str = Why.LOGOUT) -> bool:
        """End the agent's phone: revoke its live credential (if any) and flush the extension's
        registration, and set the agent Logged Out (a user's own phone: only the first two).
        True when a credential was revoked."""
        owner = Owner.of(agent_id)

        def revoking(writing: Session) -> Revoked | None:
            row = self._live(writing, owner)
            return None if row is None else self._mark_revoked(row, why)
        gone = write(self.switchboard, session, revoking)
        if gone is None:
            if owner.agent_id is not None:
                self._log_out(session, owner.agent_id)
            return False
        self._after_revoke(session, gone)
        return True

    def sweep(self, session: Session) -> list[int]:
        """Revoke every expired credential; forget ones revoked long ago. The agents' ids."""
        def sweeping(writing: Session) -> list[Revoked]:
            now = self.now()
            expired = writing.scalars(select(SipCredential).where(
                SipCredential.live_agent_id.is_not(None)
                | SipCredential.live_user_id.is_not(None),
                SipCredential.expires_at <= now)).all()
            gone = [self._mark_revoked(row, Why.EXPIRED) for row in expired]
            writing.execute(delete(SipCredential).where(
                SipCredential.live_agent_id.is_(None), SipCredential.live_user_id.is_(None),
                SipCredential.revoked_at < now - KEEP_REVOKED))
            return gone
        gone = write(self.switchboard, session, sweeping)
        for revoked in gone:
            self._after_revoke(session, revoked)
        return [revoked.agent_id for revoked in gone if revoked.agent_id is not None]

    def _mark_revoked(self, row: SipCredential, why: str) -> Revoked:
        """Take the row out of its live slot (in the caller's transaction: committed before
        _after_revoke, so the phone's next REGISTER is already refused)."""
        row.live_agent_id = row.live_user_id = None
        row.revoked_at = self.now()
        row.revoked_why = why
        return Revoked(row.agent_id, row.extension, row.domain, why)

    def _after_revoke(self, session: Session, gone: Revoked) -> None:
        """On the hub, once the revocation is committed: the registration goes, and an agent
        goes Logged Out."""
        log.info("SIP credential of extension %s revoked (%s)", gone.extension, gone.why)
        self._flush(gone.extension, gone.domain)
        if gone.agent_id is not None:
            self._log_out(session, gone.agent_id)

    def _flush(self, extension: str, domain: str) -> None:
        board = self.switchboard
        if board is None:
            log.warning("no switchboard in this process: the registration of %s@%s stays "
                        "until it expires", extension, domain)
            return
        board.flush_registration(extension, domain, self.profile)

    def _log_out(self, session: Session, agent_id: int) -> None:
        board = self.switchboard
        if board is None:
            session.execute(update(Agent).where(Agent.id == agent_id)
                            .values(status=AgentStatus.LOGGED_OUT))
            session.commit()
            return
        from .switchboard import AgentError

        try:
            board.set_status(agent_id, AgentStatus.LOGGED_OUT)
        except AgentError as exc:
            log.warning("agent %s not set Logged Out: %s", agent_id, exc)

    # -- the directory ---------------------------------------------------------------------------

    def lookup(self, session: Session, extension: str, domain: str) -> DirectoryUser | None:
        """The extension's live credential, as FreeSWITCH's directory gives it out."""
        if domain != self.domain:
            return None
        found = session.execute(
            select(SipCredential, User.username)
            .join(Agent, Agent.id == SipCredential.live_agent_id)
            .join(User, User.id == Agent.user_id)
            .where(Agent.extension == extension, SipCredential.extension == extension,
                   SipCredential.domain == domain, SipCredential.expires_at > self.now(),
                   User.active.is_(True))).first()
        if found is None:
            found = session.execute(   # a supervisor's own phone
                select(SipCredential, User.username)
                .join(User, User.id == SipCredential.live_user_id)
                .where(User.extension == extension, SipCredential.extension == extension,
                       SipCredential.domain == domain, SipCredential.expires_at > self.now(),
                       User.active.is_(True))).first()
        if found is None:
            return None
        row, username = found
        return DirectoryUser(row.extension, row.domain, row.a1_hash, username)

    # -- helpers ---------------------------------------------------------------------------------

    def _live(self, session: Session, owner: Owner) -> SipCredential | None:
        return session.scalar(select(SipCredential).where(owner.live_column() == owner.key))

    def _expired(self, row: SipCredential) -> bool:
        return row.expires_at <= self.now()

    def _usable(self, row: SipCredential, extension: str | None) -> bool:
        """Not expired, and still what FreeSWITCH would check: the agent's extension, our
        domain, and a password this secret key derives (a new key makes old ones useless)."""
        return (not self._expired(row) and row.extension == extension
                and row.domain == self.domain
                and hmac.compare_digest(row.a1_hash, a1_hash(
                    row.extension, row.domain, derive_password(self.secret_key, row.login_key))))

    def _softphone(self, row: SipCredential) -> Softphone:
        return Softphone(row.extension, row.domain,
                         derive_password(self.secret_key, row.login_key), row.expires_at)


class Every:
    """Runs `job` every `seconds` on the clock until stopped; a failing run is logged and the
    next one still comes (a database outage must not end the keep-alive or the sweep)."""

    def __init__(self, clock: Clock, seconds: float, job, what: str) -> None:
        self.clock, self.seconds, self.job, self.what = clock, seconds, job, what
        self._timer: Timer | None = None
        self._stopped = False

    def start(self, now: bool = True) -> Every:
        if now:
            self._run()
        else:
            self._timer = self.clock.call_later(self.seconds, self._run)
        return self

    def stop(self) -> None:
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()

    def _run(self) -> None:
        if self._stopped:
            return
        try:
            self.job()
        except SQLAlchemyError as exc:
            log.error("%s failed: %s", self.what, (str(exc).splitlines() or [""])[0])
        except Exception:
            log.exception("%s failed", self.what)
        if not self._stopped:
            self._timer = self.clock.call_later(self.seconds, self._run)


def keep_alive_while_open(credentials: Credentials, database, agent_id: int | Owner,
                          seconds: float = KEEP_ALIVE_SECONDS) -> Every:
    """Extend the agent's (or user's) credential now and every `seconds` until `.stop()`
    (socket closed)."""
    owner = Owner.of(agent_id)

    def extend() -> None:
        with database.session() as session:
            credentials.keep_alive(session, owner)
    return Every(credentials.clock, seconds, extend, f"keep-alive of {owner}'s "
                 "SIP credential").start()


def start_sweeper(credentials: Credentials, database, seconds: float = SWEEP_SECONDS) -> Every:
    """Revoke expired credentials every `seconds` (flushing their registrations)."""
    def sweep() -> None:
        with database.session() as session:
            credentials.sweep(session)
    return Every(credentials.clock, seconds, sweep, "SIP credential sweep").start()
