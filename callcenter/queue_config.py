"""Configuring queues: the one place their rules live (the `callcenter queue` command and the
admin's Queues page). Add a queue, change its settings, put an agent in it at a tier (level,
position) or take it out, list queues with their tiers.

Values come in as text (a command-line option, a form field) or as Python values; each is checked
and every refusal is an InvalidInput naming its field. Nothing is written unless every check
passes; the caller's transaction commits it, with its audit row (`who` made it), and a running
switchboard sees it once it reloads its queues (the page asks at once; the command cannot reach
a running controller).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from . import audit
from .errors import Conflict, InvalidInput, NotFound
from .esl.commands import valid_media, valid_name, valid_number
from .models import (
    DEFAULT_HOLD_MUSIC,
    Agent,
    Queue,
    QueueAgent,
    QueueStrategy,
    TimeoutAction,
    User,
)
from .typed import Problems
from .typed import flag as _flag
from .typed import text as _text
from .typed import whole_number as _whole_number
from .versions import Stale, check_version

LONGEST_WAIT = 86_400          # seconds: a day is more than any caller waits
LONGEST_WRAPUP = 3_600
PRIORITY_RANGE = (-1_000, 1_000)
AGENT_RING_RANGE = (5, 120)
TIER_RANGE = (1, 1_000)
DESCRIPTION_LENGTH = 255
SHORTEST_INTERVAL, LONGEST_INTERVAL = 15, 3_600    # announcements: seconds between two


class QueueInputError(Problems):
    """Several queue settings refused at once (typed.Problems)."""


# -- reading one value --------------------------------------------------------------------------

def _seconds(low: int = 0, high: int = LONGEST_WAIT) -> Callable[[object], int]:
    return lambda value: _whole_number(value, low, high, "seconds")


def _optional_seconds(value: object) -> int | None:
    """Empty: the agents' own wrap-up time."""
    if value is None or _text(value) == "":
        return None
    return _whole_number(value, 0, LONGEST_WRAPUP, "seconds")


def _choice(kind: type[QueueStrategy] | type[TimeoutAction]):
    def parse(value: object):
        text = _text(value).lower().replace("-", "_")   # mod_callcenter writes ring-all
        try:
            return kind(text)
        except ValueError:
            raise InvalidInput(f"unknown {text!r}: use one of "
                               + ", ".join(member.value for member in kind)) from None
    return parse


def _hold_music(value: object) -> str:
    text = _text(value)
    if not text:
        return DEFAULT_HOLD_MUSIC
    if len(text) > 255:
        raise InvalidInput("at most 255 characters")
    try:
        return valid_media(text, "hold_music")
    except InvalidInput as exc:
        raise InvalidInput(exc.reason) from None


def _closed_message(value: object) -> str:
    """Played once before a closed queue hangs up, so it must end by itself."""
    text = _text(value)
    if not text:
        return ""
    if "loops=-1" in text or text.startswith("local_stream://"):
        raise InvalidInput("it must end by itself: a file, or a tone_stream:// without loops=-1")
    return _hold_music(text)


DTMF_KEYS = "0123456789*#"
CALLBACK_RETRIES = (0, 10)
CALLBACK_DELAY = (10, LONGEST_WAIT)


def _callback_key(value: object) -> str:
    """One key of a phone's keypad, or empty: no callbacks."""
    text = _text(value)
    if text and (len(text) != 1 or text not in DTMF_KEYS):
        raise InvalidInput(f"one key of the keypad (0-9, * or #), or empty for none "
                           f"(got {text[:20]!r})")
    return text


def _timeout_action(value: object) -> TimeoutAction:
    action = _choice(TimeoutAction)(value)
    if action is TimeoutAction.CALLBACK:
        raise InvalidInput("a callback request is for closed queues only: a waiting caller "
                           "asks for one with the callback key")
    return action


def _message(value: object) -> str:
    """A greeting or announcement: played once, then the hold music resumes."""
    return _closed_message(value)


def _interval(value: object) -> int:
    """How often something is told to a waiting caller: 0 for never, else at least
    SHORTEST_INTERVAL seconds (so a caller hears some music between two)."""
    seconds = _whole_number(value, 0, LONGEST_INTERVAL, "seconds")
    if 0 < seconds < SHORTEST_INTERVAL:
        raise InvalidInput(f"0 for never, or {SHORTEST_INTERVAL} to {LONGEST_INTERVAL} seconds "
                           f"(got {seconds})")
    return seconds


def _open_hours(value: object) -> str:
    """Stored as printed back: one spelling for every schedule."""
    hours = _hours()
    return hours.format_week(hours.parse_week(_text(value)))


def _holidays(value: object) -> str:
    hours = _hours()
    return hours.format_holidays(hours.parse_holidays(_text(value)))


def _hours():
    # Imported when needed: the switchboard package behind it loads gevent, which the
    # `callcenter queue` command otherwise never needs.
    from .switchboard.queues import hours
    return hours


def _description(value: object) -> str:
    text = _text(value)
    if len(text) > DESCRIPTION_LENGTH:
        raise InvalidInput(f"at most {DESCRIPTION_LENGTH} characters")
    if any(not ch.isprintable() for ch in text):
        raise InvalidInput("one line of printable text")
    return text


# -- the settings -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Setting:
    """One queue setting: its field name (form input; `--max-wait` on the command line), the
    column it fills, what the page and --help call it, how its value is read, and how the page
    asks for it (choice, number, flag or text)."""
    name: str
    column: str
    label: str
    parse: Callable[[object], object]
    kind: str
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    media: bool = False     # a sound: the page offers the uploaded files and plays them


SETTINGS: tuple[Setting, ...] = (
    Setting("strategy", "strategy", "Strategy: how the next caller's agent is picked",
            _choice(QueueStrategy), "choice", choices=tuple(s.value for s in QueueStrategy)),
    Setting("max_wait", "max_wait_seconds", "Longest wait, seconds (0: no limit)",
            _seconds(), "number", 0, LONGEST_WAIT),
    Setting("max_wait_no_agent", "max_wait_no_agent_seconds",
            "Longest wait while no agent is Available, seconds (0: no limit)",
            _seconds(), "number", 0, LONGEST_WAIT),
    Setting("timeout_action", "timeout_action", "After the longest wait",
            _timeout_action, "choice", choices=tuple(
                a.value for a in TimeoutAction if a is not TimeoutAction.CALLBACK)),
    Setting("timeout_target", "timeout_target",
            "Where to (the other queue's name, or the number; empty to hang up)",
            _text, "text"),
    Setting("service_level", "service_level_seconds",
            "Service level: answered within, seconds (reports)", _seconds(), "number",
            0, LONGEST_WAIT),
    Setting("priority", "priority", "Priority (higher is served first)",
            lambda v: _whole_number(v, *PRIORITY_RANGE), "number", *PRIORITY_RANGE),
    Setting("agent_ring", "agent_ring_seconds", "Ring an agent for, seconds",
            _seconds(*AGENT_RING_RANGE), "number", *AGENT_RING_RANGE),
    Setting("wrapup", "wrapup_seconds",
            "Wrap-up after a call, seconds (empty: each agent's own)", _optional_seconds,
            "number", 0, LONGEST_WRAPUP),
    Setting("tier_wait", "tier_wait_seconds",
            "Wait on a level before the next joins, seconds (0: all levels at once)",
            _seconds(), "number", 0, LONGEST_WAIT),
    Setting("tier_wait_multiply", "tier_wait_multiply",
            "Multiply that wait by the level", _flag, "flag"),
    Setting("tier_wait_empty", "tier_wait_empty",
            "Wait on a level even when none of its agents is Available", _flag, "flag"),
    Setting("answer_on_entry", "answer_on_entry",
            "Answer callers on entry (hold music; otherwise they hear ringing)", _flag, "flag"),
    Setting("hold_music", "hold_music",
            "Hold music: tone_stream://..., local_stream://NAME or a file path "
            "(empty: the default tone)", _hold_music, "text", media=True),
    Setting("open_hours", "open_hours",
            "Open hours in the site's timezone, e.g. mon-fri 09:00-12:30,13:30-17:00; "
            "sat 10:00-13:00 (days not named are closed; empty: always open)",
            _open_hours, "text"),
    Setting("holidays", "holidays",
            "Holidays, closed all day: dates with optional names, e.g. 2026-12-25 Christmas, "
            "2027-01-01", _holidays, "text"),
    Setting("closed_action", "closed_action", "When closed, callers are",
            _choice(TimeoutAction), "choice", choices=tuple(a.value for a in TimeoutAction)),
    Setting("closed_target", "closed_target",
            "Where to when closed (the other queue's name, or the number; empty to hang up)",
            _text, "text"),
    Setting("closed_message", "closed_message",
            "Message before hanging up when closed: a file path or tone_stream://... "
            "(empty: none)", _closed_message, "text", media=True),
    # Callbacks (switchboard/queues/callbacks.py).
    Setting("callback_key", "callback_key",
            "Callback key: a waiting caller presses it to be called back, keeping its place "
            "(0-9, * or #; empty: no callbacks)", _callback_key, "text"),
    Setting("callback_retries", "callback_retries",
            "Callback retries: more attempts when the customer is busy or does not answer",
            lambda v: _whole_number(v, *CALLBACK_RETRIES), "number", *CALLBACK_RETRIES),
    Setting("callback_retry_delay", "callback_retry_delay_seconds",
            "Between callback attempts, seconds", _seconds(*CALLBACK_DELAY), "number",
            *CALLBACK_DELAY),
    Setting("callback_confirm_message", "callback_confirm_message",
            "Callback confirmation, played before the caller is hung up: a file path or "
            "tone_stream://... (empty: none)", _closed_message, "text", media=True),
    Setting("callback_unavailable_message", "callback_unavailable_message",
            "Callback unavailable (the caller's number cannot be dialled back): a file path or "
            "tone_stream://... (empty: the key is ignored)", _closed_message, "text",
            media=True),
    # -- announcements (switchboard/queues/announcer.py) --
    Setting("greeting", "greeting",
            "Greeting, played once to a new caller before the hold music: a file path "
            "(empty: none)", _message, "text", media=True),
    Setting("announcement", "announcement",
            "Announcement, played to waiting callers every so often: a file path (empty: none)",
            _message, "text", media=True),
    Setting("announce_every", "announce_seconds",
            f"Play the announcement every, seconds (0: never; else {SHORTEST_INTERVAL} or more)",
            _interval, "number", 0, LONGEST_INTERVAL),
    Setting("announce_position", "announce_position",
            "Tell waiting callers their place in line", _flag, "flag"),
    Setting("announce_wait", "announce_wait",
            "Tell waiting callers their estimated wait (never while no agent is Available)",
            _flag, "flag"),
    Setting("position_every", "position_seconds",
            f"Tell the place and the wait every, seconds (0: never; else {SHORTEST_INTERVAL} "
            "or more)", _interval, "number", 0, LONGEST_INTERVAL),
    Setting("description", "description", "Description", _description, "text"),
)
BY_NAME = {setting.name: setting for setting in SETTINGS}


def setting_values(queue: Queue) -> dict[str, object]:
    """A queue's settings by field name, as the page's form shows them."""
    values: dict[str, object] = {}
    for setting in SETTINGS:
        value = getattr(queue, setting.column)
        if setting.kind == "flag":
            values[setting.name] = bool(value)
        else:
            values[setting.name] = "" if value is None else str(getattr(value, "value", value))
    return values


# -- queues -------------------------------------------------------------------------------------

def queue_named(session: Session, name: str) -> Queue:
    queue = session.scalar(select(Queue).where(Queue.name == _text(name)))
    if queue is None:
        raise NotFound(f"there is no queue {_text(name)!r}")
    return queue


def create_queue(session: Session, name: str, settings: Mapping[str, object] | None = None,
                 *, who: audit.Actor) -> Queue:
    """Add a queue (the name dids.xml gives as cc_queue); settings not given keep their
    defaults."""
    try:
        name = valid_name(_text(name), "name")
    except InvalidInput as exc:
        raise QueueInputError({"name": exc.reason}) from None
    taken = session.scalar(select(Queue.name).where(func.lower(Queue.name) == name.lower()))
    if taken is not None:
        raise Conflict(f"a queue named {taken!r} exists already")
    queue = Queue(name=name)
    # The model's defaults, filled now rather than at the INSERT: the checks below read them.
    for column in Queue.__table__.columns:
        if column.default is not None and getattr(queue, column.key) is None:
            setattr(queue, column.key, column.default.arg)
    _apply(session, queue, settings or {})
    session.add(queue)
    session.flush()
    audit.record(session, who, "queue.create", f"queue {queue.name}",
                 after=setting_values(queue))
    return queue


def change_queue(session: Session, name: str, settings: Mapping[str, object], *,
                 who: audit.Actor, version: object = None) -> Queue:
    """Change some of a queue's settings; the others stay as they are. `version`: the one the
    admin's form showed (typed.Stale when the queue changed since); None from the command."""
    queue = queue_named(session, name)
    if version is not None:
        check_version(queue, version, f"queue {queue.name}")
    if not settings:
        raise InvalidInput("nothing to change: give at least one setting")
    was = setting_values(queue)
    _apply(session, queue, settings)
    session.flush()
    before, after = audit.changed(was, setting_values(queue))
    if after:
        audit.record(session, who, "queue.change", f"queue {queue.name}", before, after)
    return queue


def _apply(session: Session, queue: Queue, settings: Mapping[str, object]) -> None:
    unknown = sorted(set(settings) - set(BY_NAME))
    if unknown:
        raise InvalidInput("unknown setting " + ", ".join(repr(u) for u in unknown))
    problems: dict[str, str] = {}
    values: dict[str, object] = {}
    for field, raw in settings.items():
        try:
            values[BY_NAME[field].column] = BY_NAME[field].parse(raw)
        except InvalidInput as exc:
            problems[field] = exc.reason
    for action_field, target_field in _SENT_ON:
        if action_field in problems or target_field in problems:
            continue
        try:
            action = values.get(action_field, getattr(queue, action_field))
            values[target_field] = _target(session, queue, action, values.get(target_field),
                                           action_field, target_field)
        except InvalidInput as exc:
            problems[target_field] = exc.reason
    if problems:
        raise QueueInputError(problems)
    for column, value in values.items():
        setattr(queue, column, value)


# The two ways a caller is sent on (after the longest wait, when closed): action and target.
_SENT_ON = (("timeout_action", "timeout_target"), ("closed_action", "closed_target"))


def _target(session: Session, queue: Queue, action: TimeoutAction, given: object,
            action_column: str, target_column: str) -> str:
    """What a sending-on action needs: nothing to hang up (a target left from before is
    dropped), an existing other queue, or a number the carrier can dial."""
    target = getattr(queue, target_column) if given is None else str(given)
    if action in (TimeoutAction.HANG_UP, TimeoutAction.CALLBACK):
        if given:
            raise InvalidInput("leave it empty when callers are hung up"
                               if action is TimeoutAction.HANG_UP else
                               "leave it empty: a callback request is served by this queue")
        return ""
    if not target:
        raise InvalidInput("name the queue callers move on to" if action is TimeoutAction.QUEUE
                           else "give the number callers are sent on to")
    if action is TimeoutAction.NUMBER:
        return valid_number(target, target_column)
    if target == queue.name:
        raise InvalidInput("a queue cannot move its callers on to itself")
    _no_loop_back(session, queue.name, target, action_column, target_column)
    return target


def _no_loop_back(session: Session, name: str, target: str, action_column: str,
                  target_column: str) -> None:
    """A caller keeps its entry time from queue to queue, so a ring of queues (A to B and B
    back to A) would bounce it between them without end; closed queues sending callers on to
    each other would too: refuse the edit that closes a ring."""
    action_of, target_of = getattr(Queue, action_column), getattr(Queue, target_column)
    rows = session.execute(select(Queue.name, action_of, target_of)).all()
    onward = {row[0]: row[2] for row in rows if row[1] is TimeoutAction.QUEUE}
    if target not in {row.name for row in rows}:
        raise InvalidInput(f"there is no queue {target!r}")
    seen, at = [name], target
    while at is not None and at not in seen:
        seen.append(at)
        at = onward.get(at)
    if at == name:
        raise InvalidInput("callers would go round in a ring of queues: "
                           + " -> ".join([*seen, name]))


# -- tiers --------------------------------------------------------------------------------------

def agent_called(session: Session, who: str) -> Agent:
    """An agent by its extension or its user's name."""
    text = _text(who)
    agent = session.scalar(select(Agent).where(Agent.extension == text))
    if agent is None:
        agent = session.scalar(select(Agent).join(Agent.user)
                               .where(User.username == text.lower()))
    if agent is None:
        raise InvalidInput(f"no agent has the extension or username {text[:40]!r}",
                           field="agent")
    return agent


def set_tier(session: Session, queue_name: str, agent: str, level: object = None,
             position: object = None, *, who: audit.Actor, was: str | None = None) -> QueueAgent:
    """Put an agent in a queue at a tier, or move its tier. A new tier's level is 1 unless
    given, and its position the one after the last at that level. `was`: the tier the admin's
    form showed ("level/position", or "" for none), refused as typed.Stale if it changed since;
    None from the command."""
    queue = queue_named(session, queue_name)
    problems: dict[str, str] = {}
    numbers: dict[str, int | None] = {}
    for field, value in (("level", level), ("position", position)):
        try:
            numbers[field] = None if value is None or value == "" else \
                _whole_number(value, *TIER_RANGE)
        except InvalidInput as exc:
            problems[field] = exc.reason
    try:
        member = agent_called(session, agent)
    except InvalidInput as exc:
        problems["agent"] = exc.reason
    if problems:
        raise QueueInputError(problems)
    tier = session.get(QueueAgent, (queue.id, member.id))
    before = _tier_values(tier)
    if was is not None and was != shown_tier(tier):
        raise Stale(f"the tier of {member.extension} in queue {queue.name}")
    if tier is None:
        tier = place_tier(session, queue, member, numbers["level"], numbers["position"])
    else:
        tier.level = numbers["level"] or tier.level
        tier.position = numbers["position"] or tier.position
    session.flush()
    if before != _tier_values(tier):
        audit.record(session, who, "queue.tier", f"queue {queue.name} agent {member.extension}",
                     before, _tier_values(tier))
    return tier


def place_tier(session: Session, queue: Queue, agent: Agent, level: int | None,
               position: int | None) -> QueueAgent:
    """A new tier: level 1 unless given, and its position the one after the last at that level
    unless given (the caller audits it)."""
    level = level or 1
    if position is None:
        last = session.scalar(select(func.max(QueueAgent.position)).where(
            QueueAgent.queue_id == queue.id, QueueAgent.level == level))
        position = (last or 0) + 1
    tier = QueueAgent(queue=queue, agent=agent, level=level, position=position)
    session.add(tier)
    return tier


def shown_tier(tier: QueueAgent | None) -> str:
    """A tier as a form carries it, to tell whether it changed meanwhile: "level/position", or
    "" for none."""
    return f"{tier.level}/{tier.position}" if tier is not None else ""


def whole_tier_number(value: object) -> int:
    """A tier's level or position."""
    return _whole_number(value, *TIER_RANGE)


def _tier_values(tier: QueueAgent | None) -> dict[str, int] | None:
    return {"level": tier.level, "position": tier.position} if tier is not None else None


def remove_tier(session: Session, queue_name: str, agent: str, *, who: audit.Actor,
                was: str | None = None) -> Agent:
    """Take an agent out of a queue (its other queues keep it). `was` as for set_tier."""
    queue = queue_named(session, queue_name)
    agent_row = agent_called(session, agent)
    tier = session.get(QueueAgent, (queue.id, agent_row.id))
    if tier is None:
        raise NotFound(f"agent {agent_row.extension} is not in queue {queue.name}")
    if was is not None and was != shown_tier(tier):
        raise Stale(f"the tier of {agent_row.extension} in queue {queue.name}")
    audit.record(session, who, "queue.tier", f"queue {queue.name} agent {agent_row.extension}",
                 _tier_values(tier), None)
    session.delete(tier)
    session.flush()
    return agent_row


# -- listing ------------------------------------------------------------------------------------

def all_queues(session: Session) -> list[Queue]:
    """Every queue by name, with its tiers (by level, position) and their agents loaded."""
    return list(session.scalars(select(Queue).order_by(Queue.name).options(
        selectinload(Queue.tiers).selectinload(QueueAgent.agent).selectinload(Agent.user))))


def tiers_of(queue: Queue) -> list[QueueAgent]:
    """The queue's tiers in the order calls are offered: by level, then position."""
    return sorted(queue.tiers, key=lambda t: (t.level, t.position, t.agent.extension))


def tiers_by_level(queue: Queue) -> list[tuple[int, list[QueueAgent]]]:
    """The queue's tiers as ordered lists, one a level, lowest level first."""
    levels: dict[int, list[QueueAgent]] = {}
    for tier in tiers_of(queue):
        levels.setdefault(tier.level, []).append(tier)
    return list(levels.items())


def describe_tiers(queue: Queue) -> str:
    """`1000 (1/1), 1001 (1/2)`: each agent's extension with its level/position."""
    return ", ".join(f"{t.agent.extension} ({t.level}/{t.position})" for t in tiers_of(queue))


def opening(queue: Queue, now_utc: datetime, timezone: str) -> str:
    """Whether the queue takes callers now, and until when, in the site's time: "Always open",
    "Open now; closes Mon 17:00", "Closed now; opens Tue 09:00" (the admin's pages)."""
    from zoneinfo import ZoneInfo

    from .switchboard.queues import hours

    tz = ZoneInfo(timezone)
    try:
        schedule = hours.schedule_of(queue.open_hours, queue.holidays)
    except InvalidInput:
        return "Always open (its open hours cannot be read)"
    if schedule.always_open:
        return "Always open"
    is_open = hours.is_open(schedule, now_utc, tz)
    change = hours.next_change(schedule, now_utc, tz)
    state = "Open now" if is_open else "Closed now"
    if change is None:
        return state
    return f"{state}; {'closes' if is_open else 'opens'} {change.astimezone(tz):%a %d %b %H:%M}"


def agents_outside(session: Session, queue: Queue) -> list[Agent]:
    """The agents not yet in the queue, by extension (the page offers them)."""
    inside = select(QueueAgent.agent_id).where(QueueAgent.queue_id == queue.id)
    return list(session.scalars(select(Agent).where(Agent.id.not_in(inside))
                                .options(selectinload(Agent.user))
                                .order_by(Agent.extension)).all())
