"""Configuring queues (callcenter/queue_config.py): every setting is checked, a refusal names its
field and writes nothing, tiers are set by extension or username."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from callcenter import queue_config as qc
from callcenter.audit import CLI
from callcenter.errors import Conflict, InvalidInput, NotFound
from callcenter.models import DEFAULT_HOLD_MUSIC, Queue, QueueStrategy, TimeoutAction


@pytest.fixture
def add(database):
    def add(name, **settings):
        with database.session() as s:
            return qc.create_queue(s, name, settings, who=CLI).id
    return add


@pytest.fixture
def change(database):
    def change(name, **settings):
        with database.session() as s:
            qc.change_queue(s, name, settings, who=CLI)
    return change


def queue(database, name) -> Queue:
    with database.session() as s:
        row = s.scalar(select(Queue).where(Queue.name == name))
        s.expunge_all()
        return row


def refused(call, *args, **kwargs) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        call(*args, **kwargs)
    return getattr(caught.value, "problems", {caught.value.field: caught.value.reason})


def test_a_queue_gets_the_defaults_and_what_was_given(database, add):
    add("sales", strategy="ring-all", max_wait="90", wrapup="", answer_on_entry="no",
        description="  Sales line  ")
    row = queue(database, "sales")
    assert (row.strategy, row.max_wait_seconds, row.wrapup_seconds, row.answer_on_entry,
            row.description) == (QueueStrategy.RING_ALL, 90, None, False, "Sales line")
    assert (row.hold_music, row.agent_ring_seconds, row.timeout_action, row.timeout_target) == (
        DEFAULT_HOLD_MUSIC, 20, TimeoutAction.HANG_UP, "")


def test_every_strategy_is_accepted_under_both_spellings(database, add):
    for n, strategy in enumerate(QueueStrategy):
        add(f"q{n}", strategy=strategy.value.replace("_", "-"))
        assert queue(database, f"q{n}").strategy is strategy


@pytest.mark.parametrize("name", ["", "has space", "-dash", "a,b", "x" * 65, "q\nr"])
def test_a_name_cc_queue_could_not_carry_is_refused(database, add, name):
    assert "name" in refused(add, name)
    with database.session() as s:
        assert s.scalars(select(Queue)).all() == []


def test_a_duplicate_name_is_a_conflict_whatever_its_case(database, add):
    add("sales")
    with pytest.raises(Conflict, match="'sales' exists already"):
        add("Sales")


@pytest.mark.parametrize("field, value, fragment", [
    ("strategy", "fastest", "unknown 'fastest'"),
    ("max_wait", "-1", "must be 0 to 86400"),
    ("max_wait", "ten", "a whole number"),
    ("max_wait", "1.5", "a whole number"),
    ("max_wait_no_agent", "-5", "must be 0 to 86400"),
    ("service_level", "x", "a whole number"),
    ("tier_wait", "-1", "must be 0 to 86400"),
    ("agent_ring", "4", "must be 5 to 120"),
    ("agent_ring", "121", "must be 5 to 120"),
    ("wrapup", "-1", "must be 0 to 3600"),
    ("priority", "high", "a whole number"),
    ("priority", "1001", "must be -1000 to 1000"),
    ("answer_on_entry", "maybe", "yes or no"),
    ("tier_wait_multiply", "2", "yes or no"),
    ("timeout_action", "voicemail", "unknown 'voicemail'"),
    ("hold_music", "http://example.com/moh.mp3", "tone_stream://"),
    ("hold_music", "/music/../etc/passwd", "without '..'"),
    ("hold_music", "local_stream://moh,evil", "local_stream://name"),
    ("description", "two\nlines", "one line"),
    ("description", "x" * 256, "at most 255"),
    ("colour", "blue", "unknown setting 'colour'"),
])
def test_each_bad_setting_is_refused_naming_its_field(database, add, change, field, value,
                                                      fragment):
    add("sales")
    before = queue(database, "sales")
    problems = refused(change, "sales", **{field: value})
    assert len(problems) == 1
    [(named, reason)] = problems.items()
    assert fragment in reason and named in (field, None)
    after = queue(database, "sales")
    assert [getattr(after, c.key) for c in Queue.__table__.columns] == [
        getattr(before, c.key) for c in Queue.__table__.columns]


def test_good_values_of_each_kind_are_kept(database, add, change):
    add("sales")
    change("sales", max_wait=0, agent_ring="5", wrapup="30", priority="-3",
           tier_wait_multiply=True, tier_wait_empty="yes", service_level=" 15 ",
           hold_music="local_stream://moh")
    row = queue(database, "sales")
    assert (row.max_wait_seconds, row.agent_ring_seconds, row.wrapup_seconds, row.priority,
            row.tier_wait_multiply, row.tier_wait_empty, row.service_level_seconds,
            row.hold_music) == (0, 5, 30, -3, True, True, 15, "local_stream://moh")
    change("sales", hold_music="/usr/share/freeswitch/sounds/moh.wav", wrapup="")
    row = queue(database, "sales")
    assert (row.hold_music, row.wrapup_seconds) == ("/usr/share/freeswitch/sounds/moh.wav", None)
    change("sales", hold_music="")
    assert queue(database, "sales").hold_music == DEFAULT_HOLD_MUSIC


def test_every_problem_is_reported_at_once_and_nothing_changes(database, add, change):
    add("sales")
    problems = refused(change, "sales", max_wait="-1", agent_ring="200", priority="7")
    assert set(problems) == {"max_wait", "agent_ring"}
    assert queue(database, "sales").priority == 0


def test_changing_nothing_or_an_unknown_queue_is_refused(database, add, change):
    add("sales")
    with pytest.raises(InvalidInput, match="nothing to change"):
        change("sales")
    with pytest.raises(NotFound, match="no queue 'support'"):
        change("support", priority="1")


def test_timeout_to_another_queue(database, add, change):
    add("sales")
    assert "timeout_target" in refused(change, "sales", timeout_action="queue")
    assert "there is no queue 'support'" in refused(
        change, "sales", timeout_action="queue", timeout_target="support")["timeout_target"]
    assert "itself" in refused(change, "sales", timeout_action="queue",
                               timeout_target="sales")["timeout_target"]
    add("support")
    change("sales", timeout_action="queue", timeout_target="support")
    row = queue(database, "sales")
    assert (row.timeout_action, row.timeout_target) == (TimeoutAction.QUEUE, "support")


def test_a_ring_of_queues_is_refused(database, add, change):
    add("a")
    add("b", timeout_action="queue", timeout_target="a")
    add("c", timeout_action="queue", timeout_target="b")
    reason = refused(change, "a", timeout_action="queue", timeout_target="c")["timeout_target"]
    assert "a -> c -> b -> a" in reason
    assert queue(database, "a").timeout_action is TimeoutAction.HANG_UP
    add("d")
    change("a", timeout_action="queue", timeout_target="d")   # a chain that ends is fine


def test_timeout_to_a_number(database, add, change):
    add("sales")
    assert "digits" in refused(change, "sales", timeout_action="number",
                               timeout_target="12; hangup")["timeout_target"]
    assert "number" in refused(change, "sales", timeout_action="number")["timeout_target"]
    change("sales", timeout_action="number", timeout_target="+4420123456")
    assert queue(database, "sales").timeout_target == "+4420123456"


def test_hanging_up_needs_no_target_and_drops_the_old_one(database, add, change):
    add("sales", timeout_action="number", timeout_target="5551234")
    assert "empty" in refused(change, "sales", timeout_action="hang_up",
                              timeout_target="5551234")["timeout_target"]
    change("sales", timeout_action="hang_up")
    row = queue(database, "sales")
    assert (row.timeout_action, row.timeout_target) == (TimeoutAction.HANG_UP, "")
    assert "timeout_target" in refused(change, "sales", timeout_target="5551234")


# -- open hours ---------------------------------------------------------------------------------

def test_open_hours_and_holidays_are_kept_in_one_spelling(database, add, change):
    add("sales", open_hours="Monday-Friday 09:00-12:30 13:30-17:00;sat 10:00-13:00",
        holidays="2027-01-01, 2026-12-25 Christmas")
    row = queue(database, "sales")
    assert (row.open_hours, row.holidays) == (
        "mon-fri 09:00-12:30,13:30-17:00; sat 10:00-13:00", "2026-12-25 Christmas, 2027-01-01")
    change("sales", open_hours="", holidays="")
    assert (queue(database, "sales").open_hours, queue(database, "sales").holidays) == ("", "")


def test_bad_open_hours_are_refused_naming_their_field(database, add, change):
    add("sales", open_hours="mon 09:00-17:00")
    problems = refused(change, "sales", open_hours="mon 17:00-09:00", holidays="12/25",
                       closed_message="local_stream://moh")
    assert set(problems) == {"open_hours", "holidays", "closed_message"}
    assert "by midnight" in problems["open_hours"]
    assert "YYYY-MM-DD" in problems["holidays"]
    assert "end by itself" in problems["closed_message"]
    assert "absolute file path" in refused(change, "sales",
                                           closed_message="hello.wav")["closed_message"]
    assert queue(database, "sales").open_hours == "mon 09:00-17:00"


def test_closed_message_and_actions(database, add, change):
    add("sales", closed_message="/usr/share/sounds/closed.wav")
    assert queue(database, "sales").closed_message == "/usr/share/sounds/closed.wav"
    assert "there is no queue 'night'" in refused(
        change, "sales", closed_action="queue", closed_target="night")["closed_target"]
    assert "digits" in refused(change, "sales", closed_action="number",
                               closed_target="12; hangup")["closed_target"]
    add("night")
    change("sales", closed_action="queue", closed_target="night")
    row = queue(database, "sales")
    assert (row.closed_action, row.closed_target) == (TimeoutAction.QUEUE, "night")
    # The timeout's own target is a separate thing and stays as it was.
    assert (row.timeout_action, row.timeout_target) == (TimeoutAction.HANG_UP, "")
    change("sales", closed_action="hang_up")
    assert queue(database, "sales").closed_target == ""


def test_a_ring_of_closed_queues_is_refused(database, add, change):
    add("a")
    add("b", closed_action="queue", closed_target="a")
    reason = refused(change, "a", closed_action="queue", closed_target="b")["closed_target"]
    assert "a -> b -> a" in reason
    # Timeouts and closed actions are separate paths: a timeout back to b is no ring.
    change("a", timeout_action="queue", timeout_target="b")


# -- tiers --------------------------------------------------------------------------------------

def tiers(database, name="sales") -> str:
    with database.session() as s:
        return qc.describe_tiers(qc.queue_named(s, name))


def test_tiers_by_extension_or_username_with_the_next_position(database, add, make_user):
    make_user("alice", extension="1000")
    make_user("bob", extension="1001")
    make_user("carol", extension="1002")
    add("sales")
    with database.session() as s:
        qc.set_tier(s, "sales", "1000", who=CLI)
        qc.set_tier(s, "sales", "Bob", who=CLI)
        qc.set_tier(s, "sales", "carol", level="2", who=CLI)
    assert tiers(database) == "1000 (1/1), 1001 (1/2), 1002 (2/1)"
    with database.session() as s:
        qc.set_tier(s, "sales", "1000", position="3", who=CLI)       # its level stays
        qc.set_tier(s, "sales", "1002", level=1, position=1, who=CLI)
    assert tiers(database) == "1002 (1/1), 1001 (1/2), 1000 (1/3)"


def test_bad_tiers_are_refused(database, add, make_user):
    make_user("alice", extension="1000")
    add("sales")
    with database.session() as s:
        assert refused(qc.set_tier, s, "sales", "nobody", who=CLI) == {
            "agent": "no agent has the extension or username 'nobody'"}
        problems = refused(qc.set_tier, s, "sales", "1000", level="0", position="x", who=CLI)
        assert set(problems) == {"level", "position"}
        with pytest.raises(NotFound):
            qc.set_tier(s, "support", "1000", who=CLI)
    assert tiers(database) == ""


def test_removing_a_tier(database, add, make_user):
    make_user("alice", extension="1000")
    make_user("bob", extension="1001")
    add("sales")
    with database.session() as s:
        qc.set_tier(s, "sales", "1000", who=CLI)
        qc.set_tier(s, "sales", "1001", who=CLI)
    with database.session() as s:
        qc.remove_tier(s, "sales", "alice", who=CLI)
    assert tiers(database) == "1001 (1/2)"
    with database.session() as s, pytest.raises(NotFound, match="1000 is not in queue sales"):
        qc.remove_tier(s, "sales", "1000", who=CLI)


def test_listing_and_the_agents_left_to_add(database, add, make_user):
    make_user("alice", extension="1000")
    make_user("bob", extension="1001")
    add("support")
    add("sales")
    with database.session() as s:
        qc.set_tier(s, "sales", "1001", who=CLI)
    with database.session() as s:
        assert [q.name for q in qc.all_queues(s)] == ["sales", "support"]
        assert [a.extension for a in qc.agents_outside(s, qc.queue_named(s, "sales"))] == [
            "1000"]
        assert [a.extension for a in qc.agents_outside(s, qc.queue_named(s, "support"))] == [
            "1000", "1001"]
        values = qc.setting_values(qc.queue_named(s, "sales"))
    assert values["strategy"] == "longest_idle_agent" and values["wrapup"] == ""
    assert values["answer_on_entry"] is True and values["max_wait"] == "300"


def test_the_pages_say_whether_a_queue_is_open_and_until_when(database, add):
    from datetime import UTC, datetime

    add("sales", open_hours="mon-fri 09:00-17:00", holidays="2026-01-13 Founders")
    add("support")
    sales, support = queue(database, "sales"), queue(database, "support")
    monday_noon_paris = datetime(2026, 1, 12, 11, 0, tzinfo=UTC)     # 12:00 in Paris
    assert qc.opening(sales, monday_noon_paris, "Europe/Paris") == \
        "Open now; closes Mon 12 Jan 17:00"
    # After hours on Monday: Tuesday is a holiday, so it opens on Wednesday.
    monday_evening = datetime(2026, 1, 12, 18, 0, tzinfo=UTC)
    assert qc.opening(sales, monday_evening, "Europe/Paris") == \
        "Closed now; opens Wed 14 Jan 09:00"
    assert qc.opening(support, monday_evening, "Europe/Paris") == "Always open"


def test_callback_settings(database, add, change):
    add("sales")
    row = queue(database, "sales")
    assert (row.callback_key, row.callback_retries, row.callback_retry_delay_seconds,
            row.callback_confirm_message, row.callback_unavailable_message) == ("", 2, 300, "", "")
    change("sales", callback_key=" 9 ", callback_retries="3", callback_retry_delay="120",
           callback_confirm_message="/usr/share/sounds/we-will-call.wav",
           callback_unavailable_message="tone_stream://%(500,0,300)")
    row = queue(database, "sales")
    assert (row.callback_key, row.callback_retries, row.callback_retry_delay_seconds,
            row.callback_confirm_message, row.callback_unavailable_message) == (
        "9", 3, 120, "/usr/share/sounds/we-will-call.wav", "tone_stream://%(500,0,300)")
    problems = refused(change, "sales", callback_key="99", callback_retries="11",
                       callback_retry_delay="5", callback_confirm_message="local_stream://moh",
                       callback_unavailable_message="hello.wav")
    assert "one key of the keypad" in problems["callback_key"]
    assert "0 to 10" in problems["callback_retries"]
    assert "10 to 86400" in problems["callback_retry_delay"]
    assert "end by itself" in problems["callback_confirm_message"]
    assert "absolute file path" in problems["callback_unavailable_message"]
    for key in ("#", "*", "0", ""):
        change("sales", callback_key=key)
        assert queue(database, "sales").callback_key == key
    assert queue(database, "sales").callback_retries == 3      # refused edits wrote nothing


def test_a_callback_request_is_a_closed_action_only(database, add, change):
    add("sales")
    change("sales", closed_action="callback")
    assert queue(database, "sales").closed_action is TimeoutAction.CALLBACK
    assert "leave it empty" in refused(change, "sales", closed_action="callback",
                                       closed_target="5551234")["closed_target"]
    assert "closed queues only" in refused(change, "sales",
                                           timeout_action="callback")["timeout_action"]
    timeout_choices = qc.BY_NAME["timeout_action"].choices
    assert "callback" not in timeout_choices and "callback" in qc.BY_NAME["closed_action"].choices
