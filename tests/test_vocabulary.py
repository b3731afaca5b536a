"""The pages take their vocabulary from the server: every page carries the values of the Python
enums (statuses, states, a call's progress, outcomes), a word for each, and the number rule;
the scripts and templates hold no literal copy of those values."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

import callcenter
from callcenter.esl import commands
from callcenter.models import AgentState, AgentStatus, CallbackState, OfferOutcome, Outcome
from callcenter.paths import TEMPLATES_DIR
from callcenter.switchboard import messages
from callcenter.switchboard.consult import Consult
from callcenter.switchboard.legs import Progress
from callcenter.switchboard.transfer import Transfer

STATIC = Path(callcenter.__file__).parent / "static"
ENUMS = {"status": AgentStatus, "state": AgentState, "progress": Progress, "outcome": Outcome,
         "offer_outcome": OfferOutcome, "callback_state": CallbackState}
VALUES = frozenset(member.value for values in ENUMS.values() for member in values)
# Literals that spell one of those values but mean something else, each with its reason.
ALLOWED = {
    # The browser phone's own SIP session events (its SESSION table), not the server's calls.
    "softphone.js": {"ended", "failed"},
    # The live socket's own connection state, not a call's outcome.
    "live.js": {"closed"},
    # The fields of today's figures per interval (offered, answered, abandoned calls counted).
    "charts.js": {"offered", "answered", "abandoned"},
}


def embedded(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="vocabulary">(.*?)</script>', page,
                      re.S)
    assert found, "the page carries no vocabulary"
    return json.loads(found.group(1))


@pytest.fixture
def agent_page(client, auth, make_user, admin) -> str:
    make_user("alice", extension="1000")
    auth.login("alice")
    reply = client.get("/agent")
    assert reply.status_code == 200
    return reply.get_data(as_text=True)


def test_the_page_carries_the_python_enums_and_a_word_for_each_value(agent_page):
    vocabulary = embedded(agent_page)
    for key, values in ENUMS.items():
        assert vocabulary[key] == {member.name: member.value for member in values}
        words = vocabulary["words"][key]
        assert set(words) == {member.value for member in values}
        assert all(isinstance(word, str) and word.strip() for word in words.values())
    # Logged Out is no choice: it follows logging out.
    assert vocabulary["choosable_statuses"] == [AgentStatus.AVAILABLE, AgentStatus.ON_BREAK]
    assert vocabulary["transfer_under_way"] == list(Transfer.UNDER_WAY)
    assert vocabulary["consult_under_way"] == list(Consult.UNDER_WAY)
    assert vocabulary["consult_three_way"] == Consult.THREE_WAY
    assert Consult.THREE_WAY in Consult.UNDER_WAY
    # The dashboard says what a consult or a transfer under way does, in the server's words.
    assert set(Consult.UNDER_WAY) <= set(vocabulary["words"]["consult"])
    assert set(Transfer.UNDER_WAY) <= set(vocabulary["words"]["transfer"])
    assert set(vocabulary["outcome_of_cause"].values()) <= {member.value for member in Outcome}
    assert vocabulary["offer_ringing"] == messages.OFFER_RINGING


def test_the_number_rule_is_the_one_esl_commands_holds(agent_page):
    pattern = embedded(agent_page)["number_pattern"]
    assert pattern == commands.NUMBER_PATTERN
    for number in ("15551234567", "+4930123456", "12", "1555 123", "+", "1" * 21, "555\n"):
        try:
            commands.valid_number(number)
            valid = True
        except commands.CommandError:
            valid = False
        assert bool(re.fullmatch(pattern, number)) == valid, number
    # Both number fields of the agent's page check it before anything is sent.
    fields = re.findall(r'<input id="(number|transfer-number)"[^>]*pattern="([^"]*)"', agent_page)
    assert [(name, html.unescape(value)) for name, value in fields] == [
        ("number", pattern), ("transfer-number", pattern)]


def test_the_status_words_on_first_paint_are_the_servers(agent_page):
    words = embedded(agent_page)["words"]
    status = re.search(r'<dd id="status" data-status="(\w+)">([^<]*)</dd>', agent_page)
    assert status and words["status"][status.group(1)] == status.group(2)


def test_pages_without_a_login_carry_it_too(client, admin):
    assert embedded(client.get("/login").get_data(as_text=True))["progress"]["ENDED"] == "ended"


# -- no copy in the scripts or the templates ------------------------------------------------------


def js_literals(source: str) -> list[str]:
    """The string literals of a script and the names used as object keys (`ended: ...`),
    comments left out. Enough of JavaScript's grammar for our own files."""
    found, code, i = [], [], 0
    while i < len(source):
        char, pair = source[i], source[i:i + 2]
        if pair == "//":
            i = source.find("\n", i) if "\n" in source[i:] else len(source)
        elif pair == "/*":
            i = source.index("*/", i) + 2
        elif char in "'\"`":
            j, text = i + 1, []
            while source[j] != char:
                if source[j] == "\\":
                    j += 1
                text.append(source[j])
                j += 1
            found.append("".join(text))
            code.append(" ")
            i = j + 1
        else:
            code.append(char)
            i += 1
    keys = re.findall(r"[{,]\s*([A-Za-z_$][\w$]*)\s*:", "".join(code))
    return found + keys


def test_the_check_sees_a_copy():
    assert {"ended", "on_break", "answered"} <= set(js_literals(
        'const A = { on_break: "x" }; // "idle"\nif (p === "ended" || q === `answered`) {}'))
    assert "idle" not in js_literals('/* "idle" */ const url = "wss://host"; // "idle"')


@pytest.mark.parametrize("script", sorted(path.name for path in STATIC.glob("*.js")))
def test_the_scripts_hold_no_copy_of_the_servers_values(script):
    literals = set(js_literals((STATIC / script).read_text(encoding="utf-8")))
    assert literals & VALUES <= ALLOWED.get(script, set()), \
        "take it from vocabulary.js (STATUS, STATE, PROGRESS, OUTCOME) instead"


def test_the_agent_page_template_holds_no_copy_either():
    template = (TEMPLATES_DIR / "agent.html").read_text(encoding="utf-8")
    quoted = set(re.findall(r'"([^"{}]*)"', template)) | set(re.findall(r"'([^'{}]*)'", template))
    assert quoted & VALUES == set()
    assert commands.NUMBER_PATTERN not in template


def test_every_queue_choice_has_a_word_for_the_admin_pages():
    from callcenter.models import QueueStrategy, TimeoutAction
    from callcenter.web.vocabulary import choice_words

    words = choice_words()
    assert set(words["strategy"]) == {member.value for member in QueueStrategy}
    assert set(words["timeout_action"]) == set(words["closed_action"]) == {
        member.value for member in TimeoutAction}
    assert all(word.strip() for table in words.values() for word in table.values())
