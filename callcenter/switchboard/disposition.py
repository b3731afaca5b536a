"""The disposition an agent files for a call (its outcome in the business's words, and notes),
once the call has ended, or during the agent's wrap-up once its part in the call is over.

A call's allowed dispositions are the admins' global ones and its queue's (a dial-out has no
queue: the global ones). They are held here, read once and again each time an admin changes
them (`reload`), so filing one costs no database read. A call none applies to (a fresh install
with no list) takes free text, as before lists existed."""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from ..errors import InvalidInput
from ..models import AgentState, Disposition
from .agents import AgentView, Roster
from .controls import ControlError
from .legs import Legs
from .persist import Persist

log = logging.getLogger(__name__)

DISPOSITION_MAX = 64     # Call.disposition's column
NOTES_MAX = 4000


@dataclass(frozen=True)
class Choice:
    """One disposition an agent may pick: `code` is what the call record keeps."""
    code: str
    label: str
    requires_notes: bool
    queue_id: int | None      # None: every call's

    def as_message(self) -> dict:
        return {"code": self.code, "label": self.label, "requires_notes": self.requires_notes}


def load_dispositions(session_factory) -> Callable[[], list[Choice]]:
    """A loader reading the active dispositions, each list in its order."""
    def load() -> list[Choice]:
        with session_factory() as session:
            rows = session.scalars(select(Disposition).where(Disposition.active)
                                   .order_by(Disposition.position, Disposition.id))
            return [Choice(row.code, row.label, row.requires_notes, row.queue_id)
                    for row in rows]
    return load


class Dispositions:
    def __init__(self, *, legs: Legs, roster: Roster, persist: Persist,
                 load: Callable[[], list[Choice]] | None = None) -> None:
        self.legs, self.roster, self.persist = legs, roster, persist
        self._load = load or list
        self._lists: dict[int | None, tuple[Choice, ...]] = {}

    def reload(self) -> None:
        """Read the lists again (at start, and when an admin changed them)."""
        lists: dict[int | None, list[Choice]] = {}
        for choice in self._load():
            lists.setdefault(choice.queue_id, []).append(choice)
        self._lists = {queue_id: tuple(choices) for queue_id, choices in lists.items()}

    def choices(self, queue_id: int | None) -> tuple[Choice, ...]:
        """What an agent may file for a call of this queue (None: a call with no queue): the
        global list, then the queue's. Empty: free text."""
        queue_own = self._lists.get(queue_id, ()) if queue_id is not None else ()
        return self._lists.get(None, ()) + queue_own

    def dispose(self, call_id: str, agent: AgentView | None, disposition: object,
                notes: object, queue_id: int | None = None) -> tuple[str, str | None]:
        """The outcome the agent files for a call, once it has ended (or, for an agent whose
        part in it is over, during its wrap-up). Ends that agent's wrap-up. `queue_id`: the
        call's queue, whose list applies beside the global one."""
        disposition = valid_disposition(disposition)
        notes = valid_notes(notes)
        allowed(self.choices(queue_id), disposition, notes)
        live = self.legs.calls.get(call_id)
        wrapping = agent is not None and agent.state is AgentState.WRAP_UP \
            and agent.call_id == call_id
        if live is not None and not live.ended and not wrapping:
            raise ControlError("the call is still in progress: file its disposition when it "
                               "has ended")
        self.persist.call_values(call_id, disposition=disposition, notes=notes)
        if wrapping:
            self.roster.finish_wrap_up(agent)
        log.info("disposition %s", disposition, extra={"call_id": call_id})
        return disposition, notes


def allowed(choices: tuple[Choice, ...], disposition: str, notes: str | None) -> None:
    """Refuses a code the call's list does not have, and empty notes where they are required.
    No list: any text is allowed."""
    if not choices:
        return
    choice = next((c for c in choices if c.code == disposition), None)
    if choice is None:
        codes = ", ".join(repr(c.code) for c in choices)
        raise InvalidInput(f"{disposition!r} is not one of this call's dispositions: {codes}",
                           field="disposition")
    if choice.requires_notes and not notes:
        raise InvalidInput(f"{choice.label!r} requires notes: say what happened",
                           field="notes")


def valid_disposition(value: object) -> str:
    """A short outcome label: 1-64 characters, no control characters, trimmed. Checked here,
    not in esl.commands: the value goes to the database, never into a command."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("give the call's outcome as text, e.g. \"sale\"", field="disposition")
    value = value.strip()
    if len(value) > DISPOSITION_MAX:
        raise InvalidInput(f"at most {DISPOSITION_MAX} characters (got {len(value)})",
                           field="disposition")
    if any(unicodedata.category(char).startswith("C") for char in value):
        raise InvalidInput("no control characters or line breaks", field="disposition")
    return value


def valid_notes(value: object) -> str | None:
    """Free notes: up to 4000 characters; line breaks and tabs, but no other control
    characters. Empty or missing: None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput("give the notes as text", field="notes")
    value = value.strip()
    if len(value) > NOTES_MAX:
        raise InvalidInput(f"at most {NOTES_MAX} characters (got {len(value)})", field="notes")
    if any(unicodedata.category(char).startswith("C") and char not in "\n\t"
           for char in value.replace("\r\n", "\n")):
        raise InvalidInput("no control characters other than line breaks and tabs", field="notes")
    return value or None
