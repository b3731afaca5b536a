"""The pages' vocabulary: every value the server sends about agents and calls (statuses, states,
a call's progress and outcome), the words people read for each, and the rule for a phone number.

Every page carries it as JSON (`<script type="application/json" id="vocabulary">` in
base.html); static/vocabulary.js hands it to the scripts, which keep no copy of their own, and
the templates use the same words for the first paint. So a value added to an enum reaches the
page with its word from here, or a test says the word is missing.

The words live here, beside the enums, not in the scripts: the template and the scripts both
show them, and one table in Python is checked against the enums by the tests.
"""

from __future__ import annotations

import enum
from functools import cache

from ..esl.commands import NUMBER_PATTERN
from ..models import (
    AgentState,
    AgentStatus,
    CallbackState,
    OfferOutcome,
    Outcome,
    QueueStrategy,
    TimeoutAction,
)
from ..switchboard.calls import BUSY_CAUSES, NO_ANSWER_CAUSES
from ..switchboard.consult import Consult
from ..switchboard.legs import Progress
from ..switchboard.messages import OFFER_RINGING
from ..switchboard.transfer import Transfer

STATUS_WORDS = {
    AgentStatus.LOGGED_OUT: "Logged out", AgentStatus.AVAILABLE: "Available",
    AgentStatus.ON_BREAK: "On break",
}
STATE_WORDS = {
    AgentState.IDLE: "Idle", AgentState.RESERVED: "Reserved", AgentState.RINGING: "Ringing",
    AgentState.IN_CALL: "In call", AgentState.WRAP_UP: "Wrap-up",
}
PROGRESS_WORDS = {
    Progress.WAITING: "Waiting in the queue", Progress.OFFERED: "Ringing an agent",
    Progress.DIALING_AGENT: "Ringing your phone…", Progress.DIALING: "Dialling the customer…",
    Progress.RINGING: "The customer's phone is ringing",
    Progress.EARLY_MEDIA: "Connecting (carrier audio)…",
    Progress.ANSWERED: "Answered: you are talking", Progress.ENDED: "Call ended",
}
OUTCOME_WORDS = {
    Outcome.ANSWERED: "Answered", Outcome.BUSY: "Busy", Outcome.NO_ANSWER: "No answer",
    Outcome.CANCELLED: "Cancelled", Outcome.AGENT_NO_ANSWER: "Agent did not answer",
    Outcome.AGENT_NOT_REGISTERED: "Your phone is not registered",
    Outcome.CUT_OFF: "Cut off (the phone system restarted)", Outcome.FAILED: "Failed",
    Outcome.ABANDONED: "Abandoned (the caller hung up while waiting)",
    Outcome.TIMED_OUT: "Timed out in the queue", Outcome.OVERFLOWED: "Sent on (waited too long)",
    Outcome.CLOSED: "Closed (called outside open hours)",
    Outcome.CALLBACK_REQUESTED: "Left a callback request",
}
# How an offer of a queued call ended, as the incoming-call card says it when it goes away.
OFFER_OUTCOME_WORDS = {
    OfferOutcome.ANSWERED: "Answered", OfferOutcome.MISSED: "Missed: you did not answer in time",
    OfferOutcome.DECLINED: "You declined the call", OfferOutcome.CANCELLED: "The caller hung up",
    OfferOutcome.LOST_RACE: "Another agent answered",
}
# Where a callback request is, as the supervisor's callback list says it.
CALLBACK_STATE_WORDS = {
    CallbackState.WAITING: "Waiting", CallbackState.OFFERED: "Ringing an agent",
    CallbackState.DIALING: "Agent calling back", CallbackState.DONE: "Done: reached",
    CallbackState.FAILED: "Failed: not reached", CallbackState.CANCELLED: "Cancelled",
}
# What a consult under way does, as the supervisor's dashboard says it before the other party
# ("consulting 1002 (customer on hold)"); `on_hold` names who hears the music. A state with no
# word here is shown as it is sent (three_way as "three way"), so a new state never goes blank.
CONSULT_WORDS = {
    "dialing": "calling", "ringing": "ringing", "consulting": "consulting",
    "swapped": "back with the customer, consulting", "completing": "handing over to",
    "three_way": "three-way with",
}
CONSULT_ON_HOLD_WORDS = {"customer": "customer on hold", "target": "on hold"}
# A blind transfer under way ("transferring to 1002").
TRANSFER_WORDS = {"dialing": "transferring to", "ringing": "transferring to",
                  "connecting": "handing over to"}
# Records written before calls carried an outcome have only FreeSWITCH's cause; a bare "failed"
# is made more precise by it too. LOSE_RACE is how the controller closes a call FreeSWITCH lost.
OUTCOME_OF_CAUSE = {
    **dict.fromkeys(sorted(BUSY_CAUSES), Outcome.BUSY),
    **dict.fromkeys(sorted(NO_ANSWER_CAUSES), Outcome.NO_ANSWER),
    "ORIGINATOR_CANCEL": Outcome.CANCELLED,
    "USER_NOT_REGISTERED": Outcome.AGENT_NOT_REGISTERED,
    "LOSE_RACE": Outcome.CUT_OFF,
}
# The admin's queue pages: strategies and what happens to a caller, in words.
STRATEGY_WORDS = {
    QueueStrategy.RING_ALL: "Ring all", QueueStrategy.LONGEST_IDLE_AGENT: "Longest idle agent",
    QueueStrategy.ROUND_ROBIN: "Round robin", QueueStrategy.TOP_DOWN: "Top down",
    QueueStrategy.AGENT_WITH_LEAST_TALK_TIME: "Least talk time today",
    QueueStrategy.AGENT_WITH_FEWEST_CALLS: "Fewest calls today",
    QueueStrategy.SEQUENTIALLY_BY_AGENT_ORDER: "Sequentially by agent order",
    QueueStrategy.RANDOM: "Random", QueueStrategy.RING_PROGRESSIVELY: "Ring progressively",
}
TIMEOUT_ACTION_WORDS = {
    TimeoutAction.HANG_UP: "Hang up", TimeoutAction.QUEUE: "Another queue",
    TimeoutAction.NUMBER: "A number",
    TimeoutAction.CALLBACK: "A callback request (when closed)",
}
# What an agent may choose on its page. Logged Out is no choice: it follows logging out of the
# web page (the Log out button, which also ends the softphone), so it never describes an open page.
CHOOSABLE = (AgentStatus.AVAILABLE, AgentStatus.ON_BREAK)


def _names(values: type[enum.StrEnum]) -> dict[str, str]:
    return {member.name: member.value for member in values}


def _words(words: dict) -> dict[str, str]:
    return {member.value: word for member, word in words.items()}


def choice_words() -> dict[str, dict[str, str]]:
    """Words for the queue settings that are choices, by setting name (the admin pages)."""
    actions = _words(TIMEOUT_ACTION_WORDS)
    return {"strategy": _words(STRATEGY_WORDS), "timeout_action": actions,
            "closed_action": actions}


@cache
def vocabulary() -> dict:
    """What every page is given, as JSON. `status`, `state`, `progress`, `outcome`,
    `offer_outcome` and `callback_state` map each member's name to its value (the scripts say
    PROGRESS.ENDED, never "ended"); `offer_ringing` is an offer's state while the phone rings;
    `words` maps each value to what people read."""
    return {
        "status": _names(AgentStatus), "state": _names(AgentState),
        "progress": _names(Progress), "outcome": _names(Outcome),
        "offer_outcome": _names(OfferOutcome), "offer_ringing": OFFER_RINGING,
        "callback_state": _names(CallbackState),
        "choosable_statuses": [status.value for status in CHOOSABLE],
        "transfer_under_way": list(Transfer.UNDER_WAY),
        "consult_under_way": list(Consult.UNDER_WAY),
        "consult_three_way": Consult.THREE_WAY,
        "number_pattern": NUMBER_PATTERN,
        "outcome_of_cause": {cause: outcome.value for cause, outcome in OUTCOME_OF_CAUSE.items()},
        "words": {"status": _words(STATUS_WORDS), "state": _words(STATE_WORDS),
                  "progress": _words(PROGRESS_WORDS), "outcome": _words(OUTCOME_WORDS),
                  "offer_outcome": _words(OFFER_OUTCOME_WORDS),
                  "callback_state": _words(CALLBACK_STATE_WORDS),
                  "consult": CONSULT_WORDS, "consult_on_hold": CONSULT_ON_HOLD_WORDS,
                  "transfer": TRANSFER_WORDS},
    }
