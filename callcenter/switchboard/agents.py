"""Agents as the switchboard sees them: status (chosen by the agent), state (set by calls),
softphone registration (from sofia events) and the wrap-up timer.

The in-memory roster is the live truth; every change is written to the database through the
store and published to the live hub.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select

from ..clock import Clock, Timer
from ..errors import Forbidden
from ..esl.protocol import Event
from ..models import Agent, AgentState, AgentStatus, EventKind, User
from . import messages
from .resync import json_rows

log = logging.getLogger(__name__)


class AgentError(Forbidden):
    """An action this person may not take as an agent (not one, or deactivated); the message
    says why, for the agent to read."""


@dataclass
class AgentView:
    """One agent in memory. `contacts` are the registration tokens (SIP Call-IDs) of its
    softphones: one agent may have several tabs or devices registered at once."""
    id: int
    extension: str
    name: str
    status: AgentStatus
    state: AgentState
    wrapup_seconds: int
    always_record: bool
    contacts: set[str] = field(default_factory=set)
    call_id: str | None = None            # the call it is on (or wrapping up)
    wrapup_timer: Timer | None = None
    active: bool = True
    break_reason: str | None = None       # why On break, when the switchboard put it there
    offers: OfferSettings = field(default_factory=lambda: OfferSettings())
    since: float | None = None            # when its status and state became what they are

    @property
    def registered(self) -> bool:
        return bool(self.contacts)

    def as_message(self) -> dict:
        """The agent as the pages see it (its shape lives in messages.py)."""
        return messages.agent(self)


@dataclass(frozen=True)
class OfferSettings:
    """How queued calls are offered to an agent (set by admins): missed offers in a row before
    it is put On break, seconds before the next offer after a decline, a busy phone or a missed
    offer, and whether its softphone answers by itself."""
    max_no_answer: int = 3
    reject_delay: int = 10
    busy_delay: int = 30
    no_answer_delay: int = 10
    auto_answer: bool = True

    @classmethod
    def of(cls, agent: Agent) -> OfferSettings:
        return cls(agent.max_no_answer, agent.reject_delay_seconds, agent.busy_delay_seconds,
                   agent.no_answer_delay_seconds, agent.auto_answer)


def _when(clock: Clock) -> datetime:
    return datetime.fromtimestamp(clock.now(), UTC)


class Roster:
    """Every agent, their registration, status and state."""

    def __init__(self, clock: Clock, write: Callable[[int, dict], None],
                 publish: Callable[[dict, int | None], None],
                 load: Callable[[], Iterable[tuple[Agent, User]]],
                 discovered: Callable[[AgentView], None] | None = None,
                 noted: Callable[..., None] | None = None) -> None:
        self._clock = clock
        self.discovered = discovered  # told of each agent the roster learns of
        self._write_agent = write     # write(agent_id, column values): to the store
        # noted(kind, at, agent_id=, call_id=, detail=, prior_*=): the events table's row for
        # each status and state change (Persist.event).
        self._noted = noted or (lambda *args, **kwargs: None)
        self._publish = publish
        self._load = load
        self.agents: dict[int, AgentView] = {}
        # Told of every change of an agent's status, state or registration (queues dispatch
        # when an agent becomes free); a listener must not change agents itself.
        self.listeners: list[Callable[[AgentView], None]] = []
        self._by_extension: dict[str, int] = {}
        # Registrations seen for extensions that are not (yet) agents: kept so an agent added
        # later is known to be registered.
        self._contacts: dict[str, set[str]] = {}
        self.softphones_dropped = 0   # agents' softphones that stopped being registered

    # -- loading -------------------------------------------------------------------------------

    def reload(self) -> None:
        """(Re)read agents from the database: new agents join, known ones take what admins set
        (name, wrap-up time, always record, active); registrations, statuses and states are
        kept. An inactive agent is Logged Out."""
        for agent, user in self._load():
            view = self.agents.get(agent.id)
            if view is None:
                view = AgentView(agent.id, agent.extension, user.username, agent.status,
                                 agent.state, agent.wrapup_seconds, agent.always_record,
                                 contacts=self._contacts.setdefault(agent.extension, set()),
                                 break_reason=agent.break_reason, since=_last_change(agent))
                # A state left by a previous run with no call behind it is stale.
                if view.state is not AgentState.IDLE:
                    prior = view.status, view.state, None
                    view.state = AgentState.IDLE
                    self._write(view, state=True)
                    self._note(view, EventKind.AGENT_STATE, prior)
                self.agents[agent.id] = view
                self._by_extension[agent.extension] = agent.id
                if self.discovered is not None:
                    self.discovered(view)
            else:
                # What admins set comes from the rows; the status stays memory's (the live
                # truth: the row may not have caught up with the agent's last choice yet).
                view.wrapup_seconds, view.always_record = agent.wrapup_seconds, agent.always_record
                view.name = user.username
                if view.extension != agent.extension:
                    self._moved(view, agent.extension)
            view.offers = OfferSettings.of(agent)
            view.active = user.active
            if not view.active:
                self.set_status(view.id, AgentStatus.LOGGED_OUT)
            if view.registered != agent.registered:
                self._write(view, registered=True)
            self._by_extension[agent.extension] = agent.id

    def _moved(self, view: AgentView, extension: str) -> None:
        """An admin gave a Logged Out agent another extension: its registrations are the new
        extension's from now on."""
        if self._by_extension.get(view.extension) == view.id:
            del self._by_extension[view.extension]
        before = view.registered
        view.extension = extension
        view.contacts = self._contacts.setdefault(extension, set())
        if view.registered != before:
            self._write(view, registered=True)
        self._announce(view)

    def get(self, agent_id: int) -> AgentView:
        view = self.agents.get(agent_id)
        if view is None:
            self.reload()  # added since we started
            view = self.agents.get(agent_id)
        if view is None:
            raise AgentError("you are not set up as an agent")
        return view

    def by_extension(self, extension: str) -> AgentView | None:
        agent_id = self._by_extension.get(extension)
        return self.agents.get(agent_id) if agent_id is not None else None

    # -- status: chosen by the agent ------------------------------------------------------------

    def set_status(self, agent_id: int, status: AgentStatus,
                   reason: str | None = None) -> AgentView:
        """`reason`: why the switchboard puts the agent On break (the agent's own choice has
        none)."""
        view = self.get(agent_id)
        if not view.active and status is not AgentStatus.LOGGED_OUT:
            raise AgentError("your account is deactivated")
        reason = reason if status is AgentStatus.ON_BREAK else None
        if view.status is not status or view.break_reason != reason:
            prior = view.status, view.state, view.call_id
            view.status, view.break_reason = status, reason
            self._write(view, status=True)
            self._note(view, EventKind.AGENT_STATUS, prior)
            self._announce(view)
        return view

    def set_active(self, agent_id: int, active: bool) -> None:
        """The user was deactivated or activated again: an inactive agent is offered no call,
        takes no transfer, dials nothing and stays Logged Out."""
        view = self.agents.get(agent_id)
        if view is None:
            return          # not known here yet: reload() reads `active` when it is
        view.active = active
        if not active:
            self.set_status(agent_id, AgentStatus.LOGGED_OUT)

    def logged_in(self, agent_id: int) -> AgentView:
        """A web login: a Logged Out agent goes On break (logged in, not ready for queued calls)
        until it chooses Available. An agent already logged in elsewhere (another tab or
        device) keeps the status it chose."""
        view = self.get(agent_id)
        if view.status is AgentStatus.LOGGED_OUT:
            self.set_status(agent_id, AgentStatus.ON_BREAK)
        return view

    # -- state: set by calls --------------------------------------------------------------------

    def set_state(self, view: AgentView, state: AgentState, call_id: str | None) -> None:
        if view.wrapup_timer is not None:
            view.wrapup_timer.cancel()
            view.wrapup_timer = None
        changed = view.state is not state or view.call_id != call_id
        prior = view.status, view.state, view.call_id
        view.state, view.call_id = state, call_id
        if changed:
            self._write(view, state=True)
            self._note(view, EventKind.AGENT_STATE, prior)
            self._announce(view)

    def wrap_up(self, view: AgentView, call_id: str, seconds: int | None = None) -> None:
        """After a call the agent talked on: Wrap-up for its wrap-up time (or `seconds`, a
        queue's own), then Idle."""
        seconds = view.wrapup_seconds if seconds is None else seconds
        if seconds <= 0:
            self.set_state(view, AgentState.IDLE, None)
            return
        self.set_state(view, AgentState.WRAP_UP, call_id)
        view.wrapup_timer = self._clock.call_later(seconds, self._wrapup_over, view, call_id)

    def finish_wrap_up(self, view: AgentView) -> None:
        """The agent is done early (disposition saved, or a new call)."""
        if view.state is AgentState.WRAP_UP:
            self.set_state(view, AgentState.IDLE, None)

    def _wrapup_over(self, view: AgentView, call_id: str) -> None:
        if view.state is AgentState.WRAP_UP and view.call_id == call_id:
            view.wrapup_timer = None
            self.set_state(view, AgentState.IDLE, None)

    # -- registration: from sofia events ----------------------------------------------------------

    def on_register(self, event: Event) -> None:
        self._registration(event, add=True)

    def on_unregister(self, event: Event) -> None:
        self._registration(event, add=False)

    def _registration(self, event: Event, add: bool) -> None:
        if event.get("profile-name", "internal") != "internal":
            return
        extension = event.get("from-user") or event.get("user") or event.get("username")
        token = event.get("call-id") or event.get("contact") or ""
        if not extension:
            return
        contacts = self._contacts.get(extension, set())
        if add:
            self._set_contacts(extension, contacts | {token})
        elif token in contacts:
            self._set_contacts(extension, contacts - {token})
        else:
            self._set_contacts(extension, set())  # an unregister we cannot match: trust it

    def phone_registered(self, extension: str) -> bool:
        """Whether any softphone is registered as this extension (an agent's or not)."""
        return bool(self._contacts.get(extension))

    def note_registration(self, extension: str, token: str) -> None:
        """A registration known before its sofia::register event arrives (the built-in
        simulator registers an agent's softphone the moment the agent appears)."""
        self._set_contacts(extension, self._contacts.get(extension, set()) | {token})

    def mark_unregistered(self, extension: str) -> None:
        """FreeSWITCH said USER_NOT_REGISTERED for an agent we believed registered."""
        self._set_contacts(extension, set())

    def resync_registrations(self, reply: str) -> None:
        """Rebuild registrations from `show registrations as json`."""
        rows = json_rows(reply, "show registrations")
        if rows is None:
            return
        seen: dict[str, set[str]] = {}
        for row in rows:
            user = row.get("reg_user")
            if user:
                seen.setdefault(user, set()).add(row.get("token") or row.get("url") or "")
        for extension in set(self._contacts) | set(seen):
            self._set_contacts(extension, seen.get(extension, set()))

    def _set_contacts(self, extension: str, contacts: set[str]) -> None:
        """The extension's registrations are now `contacts` (changed in place: the agent's
        view holds the same set)."""
        current = self._contacts.setdefault(extension, set())
        before = bool(current)
        current.clear()
        current.update(contacts)
        self._registration_changed(extension, before)

    def _registration_changed(self, extension: str, before: bool) -> None:
        view = self.by_extension(extension)
        if view is None or view.registered == before:
            return
        log.info("agent %s %s", extension, "registered" if view.registered else "unregistered",
                 extra={"agent": extension})
        if not view.registered:
            self.softphones_dropped += 1
        self._write(view, registered=True)
        self._announce(view)

    # -- persistence and pushes ----------------------------------------------------------------

    def _announce(self, view: AgentView) -> None:
        self._publish(messages.agent_changed(view), view.id)
        for listener in self.listeners:
            listener(view)

    def _write(self, view: AgentView, *, status: bool = False, state: bool = False,
               registered: bool = False) -> None:
        values: dict = {}
        now = _when(self._clock)
        if status:
            values.update(status=view.status, status_changed_at=now,
                          break_reason=view.break_reason)
        if state:
            values.update(state=view.state, state_changed_at=now)
        if registered:
            values.update(registered=view.registered)
        self._write_agent(view.id, values)

    def _note(self, view: AgentView, kind: EventKind,
              prior: tuple[AgentStatus, AgentState, str | None]) -> None:
        """The change's events row: what the agent is now, and what the change ended (its
        status and state before, and for how long)."""
        now = self._clock.now()
        status, state, call_id = prior
        detail = {"state": view.state} if kind is EventKind.AGENT_STATE else \
            {"status": view.status} | ({"reason": view.break_reason} if view.break_reason else {})
        self._noted(kind, now, agent_id=view.id, call_id=view.call_id or call_id, detail=detail,
                    prior_status=status, prior_state=state,
                    prior_seconds=max(0.0, now - view.since) if view.since is not None else 0.0)
        view.since = now

    def note_call_ended(self, view: AgentView) -> None:
        self._write_agent(view.id, {"last_call_ended_at": _when(self._clock)})


def _last_change(agent: Agent) -> float | None:
    """When the agent's row last changed status or state (a previous run wrote it)."""
    times = [t for t in (agent.status_changed_at, agent.state_changed_at) if t is not None]
    return max(times).timestamp() if times else None


def load_agents(session_factory) -> Callable[[], list[tuple[Agent, User]]]:
    """A loader reading every agent with its user, detached from the session."""
    def load() -> list[tuple[Agent, User]]:
        with session_factory() as session:
            rows = session.execute(select(Agent, User).join(User, Agent.user_id == User.id)).all()
            session.expunge_all()
            return [(agent, user) for agent, user in rows]
    return load


def load_own_extensions(session_factory) -> Callable[[], list[str]]:
    """A loader of the extensions supervisors and admins have for their own softphones (they
    are no agents: the roster does not hold them)."""
    def load() -> list[str]:
        with session_factory() as session:
            return list(session.scalars(select(User.extension).where(
                User.extension.is_not(None), User.active.is_(True))))
    return load
