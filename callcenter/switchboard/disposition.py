"""The disposition an agent files for a call (its outcome in the business's words, and notes),
once the call has ended, or during the agent's wrap-up once its part in the call is over."""

from __future__ import annotations

import logging
import unicodedata

from ..errors import InvalidInput
from ..models import AgentState
from .agents import AgentView, Roster
from .controls import ControlError
from .legs import Legs
from .persist import Persist

log = logging.getLogger(__name__)

DISPOSITION_MAX = 64     # Call.disposition's column
NOTES_MAX = 4000


class Dispositions:
    def __init__(self, *, legs: Legs, roster: Roster, persist: Persist) -> None:
        self.legs, self.roster, self.persist = legs, roster, persist

    def dispose(self, call_id: str, agent: AgentView | None, disposition: object,
                notes: object) -> tuple[str, str | None]:
        """The outcome the agent files for a call, once it has ended (or, for an agent whose
        part in it is over, during its wrap-up). Ends that agent's wrap-up."""
        disposition = valid_disposition(disposition)
        notes = valid_notes(notes)
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
