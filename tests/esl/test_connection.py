"""The ESL connection and link, over real TCP against the scripted server in eslserver.py."""

from __future__ import annotations

import logging
import random
import time

import gevent
import gevent.event
import gevent.queue
import pytest
from gevent import socket

from callcenter.esl.connection import (
    SWITCHBOARD_EVENTS,
    AuthenticationFailed,
    CommandTimeout,
    Connection,
    ESLError,
    Link,
    NotConnected,
)
from callcenter.esl.protocol import encode_api_response, encode_command_reply
from tests.esl.eslserver import ESLServer, default_api, event_frame, fixture_event_frames

PASSWORD = "fsEslLocal2026"
WAIT = 3.0  # generous upper bound for anything that should happen at once


@pytest.fixture
def server():
    with ESLServer(PASSWORD) as srv:
        yield srv


def connect(srv: ESLServer, **options) -> Connection:
    conn = Connection("127.0.0.1", srv.port, PASSWORD, **options)
    conn.connect()
    return conn


def collector():
    """An on_event that records events and signals each arrival."""
    seen: list = []
    arrivals: gevent.queue.Queue = gevent.queue.Queue()

    def on_event(event):
        seen.append(event)
        arrivals.put(event)

    return seen, arrivals, on_event


def wait_for(arrivals: gevent.queue.Queue, count: int) -> None:
    for _ in range(count):
        arrivals.get(timeout=WAIT)


def free_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


# -- connecting ------------------------------------------------------------------------------


def test_connect_authenticates_with_the_password(server):
    conn = connect(server)
    try:
        assert conn.connected
        session = server.next_session()
        assert session.next_command() == (f"auth {PASSWORD}", {})
    finally:
        conn.close()
    assert not conn.connected


def test_wrong_password_fails_fast_with_authentication_failed(server):
    conn = Connection("127.0.0.1", server.port, "wrong", connect_timeout=WAIT)
    started = time.monotonic()
    with pytest.raises(AuthenticationFailed, match="-ERR invalid"):
        conn.connect()
    assert time.monotonic() - started < 1.0
    assert not conn.connected


def test_silent_server_fails_within_connect_timeout():
    with ESLServer(PASSWORD, greet=False) as silent:
        conn = Connection("127.0.0.1", silent.port, PASSWORD, connect_timeout=0.3)
        started = time.monotonic()
        with pytest.raises(ESLError, match="no auth/request") as caught:
            conn.connect()
        elapsed = time.monotonic() - started
    assert not isinstance(caught.value, AuthenticationFailed)
    assert 0.25 < elapsed < 1.5


def test_refused_port_is_not_connected():
    conn = Connection("127.0.0.1", free_port(), PASSWORD, connect_timeout=WAIT)
    with pytest.raises(NotConnected, match="mod_event_socket"):
        conn.connect()


@pytest.mark.parametrize(
    ("says", "error"),
    [
        (b"", "closed the connection"),
        (
            b"Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n",
            "apply-inbound-acl",
        ),
    ],
)
def test_server_that_hangs_up_before_auth_request_is_not_connected(says, error):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def hang_up():
        sock, _ = listener.accept()
        sock.sendall(says)
        sock.close()

    greenlet = gevent.spawn(hang_up)
    try:
        conn = Connection("127.0.0.1", listener.getsockname()[1], PASSWORD, connect_timeout=WAIT)
        with pytest.raises(NotConnected, match=error):
            conn.connect()
    finally:
        greenlet.kill()
        listener.close()


# -- subscribing -----------------------------------------------------------------------------


def test_subscribe_puts_custom_subclasses_after_the_custom_keyword(server):
    conn = connect(server)
    try:
        conn.subscribe()
        session = server.next_session()
        session.next_command()  # auth
        command, _ = session.next_command()
    finally:
        conn.close()
    words = command.split()
    assert words[:2] == ["event", "plain"]
    custom = words.index("CUSTOM")
    assert words[custom + 1 :] == ["sofia::register", "sofia::unregister", "sofia::expire"]
    assert set(words[2:custom]) == {e for e in SWITCHBOARD_EVENTS if "::" not in e}
    assert "CHANNEL_EXECUTE_COMPLETE" not in words and "ALL" not in words


def test_subscribe_json_and_rejects_names_that_could_inject(server):
    conn = connect(server)
    try:
        conn.subscribe(["CHANNEL_ANSWER"], fmt="json")
        session = server.next_session()
        session.next_command()
        assert session.next_command()[0] == "event json CHANNEL_ANSWER"
        for bad in ["CHANNEL_ANSWER\n\napi status", "CHANNEL ANSWER", "x::y z"]:
            with pytest.raises(ValueError):
                conn.subscribe([bad])
        with pytest.raises(ValueError):
            conn.subscribe(["CHANNEL_ANSWER"], fmt="xml")
    finally:
        conn.close()


# -- commands --------------------------------------------------------------------------------


def test_api_returns_the_body_and_replies_match_commands_in_order(server):
    conn = connect(server)
    try:
        assert conn.api("status").startswith("UP ")
        assert conn.api("foobar") == "-ERR foobar Command not found!\n"
        greenlets = [gevent.spawn(conn.api, f"echo {n}") for n in range(20)]
        gevent.joinall(greenlets, timeout=WAIT, raise_error=True)
        assert [g.value for g in greenlets] == [str(n) for n in range(20)]
    finally:
        conn.close()


def test_api_timeout_leaves_later_replies_aligned(server):
    held = gevent.event.Event()

    def api(command):
        if command == "echo slow":
            held.set()
            return None  # held: the test sends it late
        return default_api(command)

    server.api = api
    conn = connect(server, command_timeout=0.2)
    try:
        started = time.monotonic()
        with pytest.raises(CommandTimeout, match="echo slow"):
            conn.api("echo slow")
        assert 0.15 < time.monotonic() - started < 1.0
        assert held.is_set()
        session = server.next_session()
        session.push(encode_api_response("late"))  # the late reply to the timed-out command
        assert conn.api("echo next") == "next"
        assert conn.connected
    finally:
        conn.close()


def test_bgapi_sends_its_own_job_uuid_and_the_background_job_resolves_it(server):
    server.bgapi = lambda command: "-ERR NO_ANSWER\n" if "carrier" in command else None
    conn = connect(server)
    try:
        conn.subscribe(["BACKGROUND_JOB"])
        session = server.next_session()
        job = conn.bgapi("originate sofia/gateway/carrier/15551234567 &park()")
        assert job.get(timeout=WAIT) == "-ERR NO_ANSWER\n"
        assert job.ready()
        commands = [session.next_command() for _ in range(3)]
        command, headers = commands[-1]
        assert command.startswith("bgapi originate")
        assert headers == {"Job-UUID": job.job_uuid}

        pending = conn.bgapi("originate user/1000 &park()")
        assert not pending.ready()
        with pytest.raises(CommandTimeout, match=pending.job_uuid):
            pending.get(timeout=0.05)
        session.finish_job(pending.job_uuid, "+OK 4f1e\n")
        assert pending.get(timeout=WAIT) == "+OK 4f1e\n"
    finally:
        conn.close()


def test_bgapi_refused_raises(server):
    conn = connect(server)
    try:
        session = server.next_session()
        session.answer = lambda command, headers: session.push(
            encode_command_reply("-ERR command not found")
        )
        with pytest.raises(ESLError, match="refused bgapi status"):
            conn.bgapi("status")
        assert conn._jobs == {}
    finally:
        conn.close()


@pytest.mark.parametrize("how", ["eof", "reset", "disconnect-notice", "garbage"])
def test_connection_loss_fails_every_waiting_command_and_job_at_once(server, how):
    server.api = lambda command: None  # never answers: everything stays waiting
    lost = gevent.queue.Queue()
    conn = connect(server, command_timeout=30, on_disconnect=lost.put)
    session = server.next_session()
    job = conn.bgapi("originate user/1000 &park()")
    waiting = [gevent.spawn(conn.api, f"show channels {n}") for n in range(3)]
    for _ in range(5):  # auth, bgapi, three api commands reached the server
        session.next_command()
    started = time.monotonic()
    if how == "eof":
        session.drop()
    elif how == "reset":
        session.reset()
    elif how == "disconnect-notice":
        session.goodbye("The system is being shut down.\n")
    else:
        session.push(b"Content-Type: api/response\nContent-Length: twelve\n\n")
    gevent.joinall(waiting, timeout=WAIT)
    assert time.monotonic() - started < 1.0
    for greenlet in waiting:
        assert isinstance(greenlet.exception, NotConnected)
    with pytest.raises(NotConnected, match=job.job_uuid):
        job.get(timeout=WAIT)
    reason = lost.get(timeout=WAIT)
    assert isinstance(reason, NotConnected)
    if how == "disconnect-notice":
        assert "The system is being shut down." in str(reason)
    assert not conn.connected
    with pytest.raises(NotConnected):
        conn.api("status")
    conn.close()


def test_close_says_exit_and_does_not_report_a_disconnect(server):
    lost = []
    conn = connect(server, on_disconnect=lost.append)
    session = server.next_session()
    conn.close()
    assert session.closed.wait(WAIT)
    commands = []
    while not session.commands.empty():
        commands.append(session.commands.get()[0])
    assert commands[-1] == "exit"
    gevent.sleep(0)
    assert lost == []


# -- events ----------------------------------------------------------------------------------


@pytest.mark.parametrize("capture", ["03-click-to-dial.plain.esl", "05-inbound.json.esl"])
def test_real_event_frames_reach_the_handler_in_order(server, capture):
    frames = fixture_event_frames(capture)
    seen, arrivals, on_event = collector()
    conn = connect(server, on_event=on_event)
    try:
        session = server.next_session()
        session.push(b"".join(frames))
        wait_for(arrivals, len(frames))
    finally:
        conn.close()
    names = [e.name for e in seen]
    assert len(seen) == len(frames) == conn.events_received
    assert names.count("CHANNEL_CREATE") >= 2 and "CHANNEL_HANGUP_COMPLETE" in names
    answers = [e for e in seen if e.name == "CHANNEL_ANSWER"]
    assert all(e.uuid and e.get("Answer-State") == "answered" for e in answers)


def test_frames_split_anywhere_by_tcp_still_arrive_whole(server):
    frames = fixture_event_frames("04a-busy.plain.esl")
    stream = b"".join(frames)
    seen, arrivals, on_event = collector()
    conn = connect(server, on_event=on_event)
    try:
        session = server.next_session()
        for start in range(0, len(stream), 997):  # odd pieces: boundaries fall mid-header
            session.push(stream[start : start + 997])
            gevent.sleep(0)
        wait_for(arrivals, len(frames))
    finally:
        conn.close()
    assert [e.get("Event-Sequence") for e in seen] == [
        f.split(b"Event-Sequence: ", 1)[1].split(b"\n", 1)[0].decode() for f in frames
    ]


def test_handler_exception_is_logged_with_the_leg_and_processing_continues(server, caplog):
    seen, arrivals, record = collector()

    def on_event(event):
        record(event)
        if event.name == "CHANNEL_ANSWER":
            raise RuntimeError("switchboard bug")

    conn = connect(server, on_event=on_event)
    try:
        session = server.next_session()
        with caplog.at_level(logging.ERROR, logger="callcenter.esl.connection"):
            session.push(
                event_frame("CHANNEL_ANSWER", Unique_ID="a1b2-leg")
                + event_frame("CHANNEL_HANGUP", Unique_ID="a1b2-leg")
            )
            wait_for(arrivals, 2)
    finally:
        conn.close()
    assert [e.name for e in seen] == ["CHANNEL_ANSWER", "CHANNEL_HANGUP"]
    failures = [r for r in caplog.records if "handler failed" in r.getMessage()]
    assert len(failures) == 1
    assert "CHANNEL_ANSWER" in failures[0].getMessage()
    assert "a1b2-leg" in failures[0].getMessage()
    assert failures[0].exc_info


def test_slow_handler_never_stops_reading_or_commands(server):
    release = gevent.event.Event()
    seen, arrivals, record = collector()

    def on_event(event):
        record(event)
        release.wait()

    conn = connect(server, on_event=on_event)
    try:
        session = server.next_session()
        session.push(b"".join(event_frame("HEARTBEAT") for _ in range(50)))
        arrivals.get(timeout=WAIT)  # the handler now blocks on the first event
        assert conn.api("echo still-reading") == "still-reading"
        assert conn.events_received == 50
        assert conn.queue_depth == 49 and conn.max_queue_depth >= 49
        release.set()
        wait_for(arrivals, 49)
        assert conn.queue_depth == 0
    finally:
        conn.close()


def test_queue_overflow_drops_logs_and_resyncs_after_draining(server, caplog):
    release = gevent.event.Event()
    seen, arrivals, record = collector()
    resyncs = gevent.queue.Queue()

    def on_event(event):
        record(event)
        release.wait()

    conn = connect(
        server,
        queue_size=5,
        on_event=on_event,
        on_overflow=lambda: resyncs.put(len(seen)),
    )
    try:
        session = server.next_session()
        job = conn.bgapi("originate user/1000 &park()")
        with caplog.at_level(logging.ERROR, logger="callcenter.esl.connection"):
            first = event_frame("CHANNEL_CREATE", Unique_ID="leg-0")
            session.push(first)
            arrivals.get(timeout=WAIT)  # handler blocked: everything else queues
            flood = [event_frame("CHANNEL_STATE", Unique_ID=f"leg-{n}") for n in range(1, 20)]
            session.push(b"".join(flood))
            session.finish_job(job.job_uuid, "+OK leg-1\n")  # arrives while dropping
            # Dropped or not, a job's result must arrive.
            assert job.get(timeout=WAIT) == "+OK leg-1\n"
            assert conn.api("echo alive") == "alive"
        assert conn.events_received == 21
        assert conn.max_queue_depth == 5 and conn.queue_depth == 5
        assert conn.overflows == 1 and conn.events_dropped == 15
        full = [r for r in caplog.records if "is full" in r.getMessage()]
        assert len(full) == 1 and full[0].levelno == logging.ERROR
        assert "5 events waiting" in full[0].getMessage()
        assert resyncs.empty()
        release.set()
        # Resync only once the queue has drained, after the 1 + 5 delivered events.
        assert resyncs.get(timeout=WAIT) == 6
        session.push(event_frame("CHANNEL_ANSWER", Unique_ID="leg-1"))  # queued again
        wait_for(arrivals, 6)
        assert seen[-1].name == "CHANNEL_ANSWER"
    finally:
        conn.close()


# -- the link ----------------------------------------------------------------------------------


def make_link(srv_port: int, **options) -> Link:
    options.setdefault("backoff_initial", 0.001)
    options.setdefault("backoff_max", 0.01)
    options.setdefault("rng", random.Random(7))
    options.setdefault("connect_timeout", WAIT)
    return Link("127.0.0.1", srv_port, PASSWORD, **options)


def test_link_reconnects_resubscribes_and_resyncs(server):
    link = make_link(server.port)
    resyncs, disconnects = gevent.queue.Queue(), gevent.queue.Queue()
    seen, arrivals, on_event = collector()
    link.on("CHANNEL_ANSWER", on_event)
    link.on_resync(lambda: resyncs.put(link.api("show channels as json")))
    link.on_disconnect(disconnects.put)
    link.start()
    try:
        assert link.wait_connected(WAIT)
        first = server.next_session()
        assert resyncs.get(timeout=WAIT).startswith("-ERR show")
        first.push(event_frame("CHANNEL_ANSWER", Unique_ID="leg-a"))
        assert arrivals.get(timeout=WAIT).uuid == "leg-a"

        first.drop()
        assert isinstance(disconnects.get(timeout=WAIT), NotConnected)
        second = server.next_session()
        assert resyncs.get(timeout=WAIT).startswith("-ERR show")
        assert link.wait_connected(WAIT) and link.connected
        commands = [second.next_command()[0] for _ in range(2)]
        assert commands[0] == f"auth {PASSWORD}"
        assert commands[1].startswith("event plain CHANNEL_CREATE")
        second.push(event_frame("CHANNEL_ANSWER", Unique_ID="leg-b"))
        assert arrivals.get(timeout=WAIT).uuid == "leg-b"
        stats = link.stats()
        assert stats["reconnects"] == 1 and stats["events_received"] == 2
        assert stats["connected"] is True
    finally:
        link.stop()
    assert not link.connected
    with pytest.raises(NotConnected):
        link.api("status")


def test_link_retries_with_backoff_until_the_switch_accepts(server):
    server.refuse_auth = 3
    link = make_link(server.port)
    link.start()
    try:
        assert link.wait_connected(WAIT)
        attempts = [server.received.get(timeout=WAIT) for _ in range(4)]
        assert attempts == [f"auth {PASSWORD}"] * 4
        assert link.api("echo up") == "up"
    finally:
        link.stop()


def test_backoff_is_capped_exponential_with_full_jitter():
    class Recorder(random.Random):
        def __init__(self):
            super().__init__(1)
            self.caps = []

        def uniform(self, low, high):
            self.caps.append((low, high))
            return high / 2

    rng = Recorder()
    link = Link("127.0.0.1", 1, PASSWORD, backoff_initial=0.5, backoff_max=30.0, rng=rng)
    delays = [link.backoff(attempt) for attempt in range(1, 10)]
    assert [high for _, high in rng.caps] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    assert all(low == 0 for low, _ in rng.caps)
    assert delays[0] == 0.25 and link.backoff(500) == 15.0


def test_link_handlers_by_key_and_star_are_isolated(server, caplog):
    link = make_link(server.port)
    calls = gevent.queue.Queue()
    link.on("sofia::register", lambda e: calls.put(("register", e.get("from-user"))))
    link.on("sofia::register", lambda e: 1 / 0)
    link.on("*", lambda e: calls.put(("*", e.key)))
    link.start()
    try:
        assert link.wait_connected(WAIT)
        session = server.next_session()
        with caplog.at_level(logging.ERROR, logger="callcenter.esl.connection"):
            session.push(
                event_frame("CUSTOM", Event_Subclass="sofia::register", from_user="1000")
                + event_frame("HEARTBEAT")
            )
            got = [calls.get(timeout=WAIT) for _ in range(3)]
    finally:
        link.stop()
    assert got == [("register", "1000"), ("*", "sofia::register"), ("*", "HEARTBEAT")]
    assert any("ZeroDivisionError" in r.exc_text for r in caplog.records if r.exc_text)


def test_link_overflow_triggers_resync(server):
    release = gevent.event.Event()
    resyncs = gevent.queue.Queue()
    link = make_link(server.port, queue_size=3)
    entered = gevent.event.Event()

    def slow(event):
        entered.set()
        release.wait()

    link.on("HEARTBEAT", slow)
    link.on_resync(lambda: resyncs.put("resync"))
    link.start()
    try:
        assert link.wait_connected(WAIT)
        assert resyncs.get(timeout=WAIT) == "resync"  # the one after connecting
        session = server.next_session()
        session.push(event_frame("HEARTBEAT"))
        assert entered.wait(WAIT)
        session.push(b"".join(event_frame("HEARTBEAT") for _ in range(10)))
        assert link.api("echo flowing") == "flowing"
        release.set()
        assert resyncs.get(timeout=WAIT) == "resync"
        stats = link.stats()
        assert stats["overflows"] == 1 and stats["events_dropped"] == 7
        assert stats["max_queue_depth"] == 3 and stats["events_received"] == 11
    finally:
        link.stop()


def test_link_stop_while_switch_is_down_returns_promptly():
    link = make_link(free_port(), backoff_initial=5.0, backoff_max=5.0)
    link.start()
    assert not link.wait_connected(0.05)
    started = time.monotonic()
    link.stop()
    assert time.monotonic() - started < 0.5
    assert link.stats()["connected"] is False
