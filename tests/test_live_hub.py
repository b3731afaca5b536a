"""The live hub, in process with gevent (the pytest process is not monkey-patched)."""

from __future__ import annotations

import json

import gevent
import pytest
from greenlet import settrace

from callcenter.live import Hub, encode


def agent_msg(agent_id: int, state: str = "idle") -> dict:
    return {"type": "agent", "agent": {"id": agent_id, "state": state}}


def test_the_first_message_is_a_snapshot_of_that_audience_at_the_current_seq():
    hub = Hub()
    seen = []

    def view(agent_id):
        seen.append(agent_id)
        return {"agents": [{"id": agent_id}] if agent_id else [{"id": 1}, {"id": 2}],
                "calls": []}

    hub.set_snapshot(view)
    hub.publish(agent_msg(1))
    hub.publish(agent_msg(2))
    supervisor, agent = hub.subscribe(None), hub.subscribe(7)
    hub.publish(agent_msg(7))             # before the first get: covered by the snapshot

    first = supervisor.get(timeout=0)
    assert first == {"type": "snapshot", "seq": 3, "agents": [{"id": 1}, {"id": 2}], "calls": []}
    assert list(first)[:2] == ["type", "seq"]
    assert agent.get(timeout=0) == {"type": "snapshot", "seq": 3, "agents": [{"id": 7}],
                                    "calls": []}
    assert seen == [None, 7]
    assert supervisor.get(timeout=0) is None and agent.get(timeout=0) is None


def test_default_snapshot_is_empty():
    hub = Hub()
    assert hub.subscribe(None).get(timeout=0) == {"type": "snapshot", "seq": 0, "agents": [],
                                                  "calls": []}


def test_the_provider_cannot_override_type_or_seq():
    hub = Hub()
    hub.set_snapshot(lambda agent_id: {"type": "call", "seq": 99, "agents": [], "calls": []})
    hub.publish({"type": "x"})
    snapshot = hub.subscribe(None).get(timeout=0)
    assert (snapshot["type"], snapshot["seq"]) == ("snapshot", 1)


def test_audience_agents_see_their_own_supervisors_see_everything():
    hub = Hub()
    supervisor, alice, bob = hub.subscribe(None), hub.subscribe(1), hub.subscribe(2)
    for subscription in (supervisor, alice, bob):
        assert subscription.get(timeout=0)["type"] == "snapshot"

    hub.publish(agent_msg(1, "ringing"), agent_id=1)
    hub.publish(agent_msg(2, "in_call"), agent_id=2)
    hub.publish({"type": "queue", "queue": {"name": "sales", "waiting": 3}})   # no agent

    assert [m["seq"] for m in drain(supervisor)] == [1, 2, 3]
    assert drain(alice) == [{"type": "agent", "agent": {"id": 1, "state": "ringing"}, "seq": 1}]
    assert drain(bob) == [{"type": "agent", "agent": {"id": 2, "state": "in_call"}, "seq": 2}]


def test_seq_is_one_rising_counter_and_the_publishers_dict_is_left_alone():
    hub = Hub()
    sub = hub.subscribe(None)
    sub.get(timeout=0)
    original = agent_msg(1)
    for _ in range(5):
        hub.publish(original, agent_id=1)
    assert "seq" not in original
    assert [m["seq"] for m in drain(sub)] == [1, 2, 3, 4, 5]
    assert hub.seq == 5


def test_two_sockets_of_one_agent_both_get_its_messages():
    hub = Hub()
    tabs = [hub.subscribe(4), hub.subscribe(4)]
    for tab in tabs:
        tab.get(timeout=0)
    hub.publish(agent_msg(4), agent_id=4)
    assert [len(drain(tab)) for tab in tabs] == [1, 1]


def test_overflow_drops_the_queue_and_owes_a_fresh_snapshot_at_the_current_seq():
    hub = Hub(queue_size=3)
    calls = {"n": 0}

    def view(agent_id):
        calls["n"] += 1
        return {"agents": [], "calls": [{"version": calls["n"]}]}

    hub.set_snapshot(view)
    slow = hub.subscribe(None)
    assert slow.get(timeout=0)["seq"] == 0
    for i in range(3):
        hub.publish({"type": "call", "call": {"n": i}})
    hub.publish({"type": "call", "call": {"n": 3}})       # the fourth does not fit
    hub.publish({"type": "call", "call": {"n": 4}})       # covered by the owed snapshot
    assert slow.overflows == 1

    snapshot = slow.get(timeout=0)
    assert snapshot == {"type": "snapshot", "seq": 5, "agents": [], "calls": [{"version": 2}]}
    assert slow.get(timeout=0) is None                     # the dropped messages are gone
    hub.publish({"type": "call", "call": {"n": 5}})
    assert drain(slow) == [{"type": "call", "call": {"n": 5}, "seq": 6}]


def test_a_full_queue_still_holds_exactly_queue_size_messages():
    hub = Hub(queue_size=3)
    sub = hub.subscribe(None)
    sub.get(timeout=0)
    for i in range(3):
        hub.publish({"n": i})
    assert [m["n"] for m in drain(sub)] == [0, 1, 2] and sub.overflows == 0


def test_a_slow_subscriber_does_not_delay_a_reading_one():
    hub = Hub(queue_size=8)
    stuck = hub.subscribe(None)                 # never reads, not even its snapshot
    stuck_after_snapshot = hub.subscribe(None)
    stuck_after_snapshot.get(timeout=0)
    received = []

    def reader(sub):
        while len(received) < 1000:
            message = sub.get(timeout=5)
            assert message is not None, "the reader starved"
            if message["type"] != "snapshot":
                received.append(message["seq"])

    reading = gevent.spawn(reader, hub.subscribe(None))
    gevent.sleep(0)                               # let it take its snapshot and wait

    def publisher():
        for i in range(1000):
            hub.publish({"type": "call", "call": {"n": i}})
            if i % 5 == 4:
                gevent.sleep(0)                   # the switchboard yields between events

    gevent.joinall([gevent.spawn(publisher), reading], timeout=10, raise_error=True)
    assert received == list(range(1, 1001))
    assert stuck_after_snapshot.overflows == 1             # then it dropped all it was sent
    assert stuck.get(timeout=0) == {"type": "snapshot", "seq": 1000, "agents": [], "calls": []}


def test_publish_never_yields_even_with_waiting_and_stuck_subscribers():
    hub = Hub(queue_size=16)
    stuck = hub.subscribe(None)
    stuck.get(timeout=0)
    woken = []

    def waiter(sub):
        sub.get()                                   # the snapshot
        woken.append(sub.get(timeout=10))

    waiting = [gevent.spawn(waiter, hub.subscribe(agent_id)) for agent_id in (None, 3)]
    gevent.sleep(0)                                 # both now wait in get()
    switches = []
    settrace(lambda event, args: switches.append(event))
    try:
        for i in range(100_000):
            hub.publish({"type": "call", "call": {"n": i}}, agent_id=3)
    finally:
        settrace(None)
    assert switches == []
    assert stuck.overflows == 1
    gevent.joinall(waiting, timeout=5, raise_error=True)
    # The waiters woke only now, overflowed long ago: each gets a snapshot at the current seq.
    assert [(m["type"], m["seq"]) for m in woken] == [("snapshot", 100_000)] * 2


def test_get_waits_for_a_message_and_times_out_with_none():
    hub = Hub()
    sub = hub.subscribe(None)
    sub.get(timeout=0)
    assert sub.get(timeout=0.01) is None
    waiting = gevent.spawn(sub.get, 5)
    gevent.sleep(0)
    hub.publish({"type": "agent"})
    assert waiting.get(timeout=5) == {"type": "agent", "seq": 1}


def test_close_unsubscribes_wakes_the_reader_and_is_idempotent():
    hub = Hub()
    subs = [hub.subscribe(None), hub.subscribe(1), hub.subscribe(1), hub.subscribe(2)]
    assert hub.subscribers == 4
    subs[0].get(timeout=0)
    waiting = gevent.spawn(subs[0].get)
    gevent.sleep(0)
    subs[0].close()
    assert waiting.get(timeout=5) is None
    subs[0].close()
    assert hub.subscribers == 3 and subs[0].closed
    for sub in subs[1:]:
        with sub:
            pass
    assert hub.subscribers == 0
    hub.publish({"type": "agent"}, agent_id=1)     # nobody left: nothing to deliver to
    assert subs[1].get(timeout=0) is None


def test_a_failing_provider_keeps_the_snapshot_owed():
    hub = Hub()
    broken = {"yes": True}

    def view(agent_id):
        if broken["yes"]:
            raise RuntimeError("database down")
        return {"agents": [], "calls": []}

    hub.set_snapshot(view)
    sub = hub.subscribe(None)
    with pytest.raises(RuntimeError, match="database down"):
        sub.get(timeout=0)
    broken["yes"] = False
    assert sub.get(timeout=0)["type"] == "snapshot"


def test_bad_input_is_refused_clearly_and_publish_never_raises(caplog):
    hub = Hub()
    with pytest.raises(ValueError, match="queue_size"):
        Hub(queue_size=0)
    with pytest.raises(TypeError, match="agent_id"):
        hub.subscribe("7")
    with pytest.raises(TypeError, match="callable"):
        hub.set_snapshot({"agents": []})
    sub = hub.subscribe(None)
    sub.get(timeout=0)
    hub.publish(["not", "a", "dict"])
    assert "not a dict" in caplog.text and hub.seq == 0
    hub.publish({"type": "agent"})
    assert drain(sub) == [{"type": "agent", "seq": 1}]


def test_encode_is_compact_json_and_cached_per_message():
    hub = Hub()
    subs = [hub.subscribe(None), hub.subscribe(None)]
    for sub in subs:
        sub.get(timeout=0)
    hub.publish({"type": "call", "call": {"id": "c1", "cause": "NORMAL_CLEARING"}})
    first, second = (sub.get(timeout=0) for sub in subs)
    assert first is second
    assert encode(first) is encode(second)
    assert json.loads(encode(first)) == {"type": "call", "seq": 1,
                                         "call": {"id": "c1", "cause": "NORMAL_CLEARING"}}
    assert encode({"type": "pong"}) == '{"type":"pong"}'


def drain(sub) -> list[dict]:
    messages = []
    while (message := sub.get(timeout=0)) is not None:
        messages.append(message)
    return messages


def test_a_broadcast_reaches_every_page_agents_included_with_one_seq():
    hub = Hub()
    supervisor, alice, bob = hub.subscribe(None), hub.subscribe(1), hub.subscribe(2)
    for subscription in (supervisor, alice, bob):
        subscription.get(timeout=0)
    hub.publish(agent_msg(1), agent_id=1)
    news = {"type": "switch", "switch": {"connected": False}}
    hub.broadcast(news)
    assert "seq" not in news
    assert [m["seq"] for m in drain(supervisor)] == [1, 2]
    assert drain(alice)[-1] == {**news, "seq": 2}
    assert drain(bob) == [{**news, "seq": 2}]
    hub.broadcast(["not", "a", "dict"])        # logged, never raised into the switchboard


# -- topics and snapshot sections ------------------------------------------------------------


def test_topics_reach_their_subscribers_once_and_everything_sees_every_seq():
    hub = Hub()
    supervisor = hub.subscribe(None)
    wall = hub.subscribe(topics=frozenset({"queue:1", "queue:2", "figures"}))
    other_wall = hub.subscribe(topics=frozenset({"queue:3"}))
    agent = hub.subscribe(5)
    for sub in (supervisor, wall, other_wall, agent):
        sub.get(timeout=0)
    hub.publish({"type": "queue", "queue": {"id": 1}}, topics=("queue:1",))
    hub.publish({"type": "agent", "agent": {"id": 5}}, agent_id=5)
    # One message for two of the wall's topics: it hears it once.
    hub.publish({"type": "figures"}, topics=("figures", "queue:2"))
    hub.publish({"type": "queue", "queue": {"id": 3}}, topics=("queue:3",))
    assert [m["seq"] for m in drain(supervisor)] == [1, 2, 3, 4]
    assert [m["seq"] for m in drain(wall)] == [1, 3]
    assert [m["seq"] for m in drain(other_wall)] == [4]
    assert [m["seq"] for m in drain(agent)] == [2]
    assert hub.listening("queue:3") and not hub.listening("queue:9")
    other_wall.close()
    assert not hub.listening("queue:3")


def test_publish_costs_only_the_subscribers_of_its_topics():
    hub = Hub(queue_size=4)
    walls = [hub.subscribe(topics=frozenset({f"queue:{n}"})) for n in range(1000)]
    for sub in walls:
        sub.get(timeout=0)
    touched = []
    original = type(walls[0])._deliver

    def counting(self, message):
        touched.append(self)
        original(self, message)

    type(walls[0])._deliver = counting
    try:
        hub.publish({"type": "queue"}, topics=("queue:7",))
    finally:
        type(walls[0])._deliver = original
    assert touched == [walls[7]]


def test_a_snapshot_has_one_section_per_provider_for_its_audience():
    hub = Hub()
    hub.set_snapshot(lambda agent_id: {"agents": [agent_id], "calls": []})
    hub.provide("queues", lambda audience: (
        ["all queues"] if audience.everything
        else sorted(audience.queue_ids()) or None))
    hub.provide("figures", lambda audience: None if audience.agent_id else {"offered": 3})
    supervisor = hub.subscribe(None).get(timeout=0)
    agent = hub.subscribe(4).get(timeout=0)
    wall = hub.subscribe(topics=frozenset({"queue:2", "queue:1"})).get(timeout=0)
    assert supervisor == {"type": "snapshot", "seq": 0, "agents": [None], "calls": [],
                          "queues": ["all queues"], "figures": {"offered": 3}}
    assert agent == {"type": "snapshot", "seq": 0, "agents": [4], "calls": []}
    # A display is no agent and no supervisor: the switchboard's view is not its to see.
    assert wall == {"type": "snapshot", "seq": 0, "queues": [1, 2], "figures": {"offered": 3}}


def test_bad_topics_and_sections_are_refused_clearly():
    hub = Hub()
    with pytest.raises(ValueError, match="topics"):
        hub.subscribe(topics=frozenset())
    with pytest.raises(TypeError, match="not both"):
        hub.subscribe(3, topics=frozenset({"queue:1"}))
    with pytest.raises(TypeError, match="callable"):
        hub.provide("queues", [])
    with pytest.raises(ValueError, match="hub's own"):
        hub.provide("seq", lambda audience: 1)
