"""The Sender: commands an event handler gives go out in order, gathered in one write, and each
reply (a job's result, a timeout, a lost connection) reaches the command's own callback, over a
real Event Socket connection (tests/esl/eslserver.py plays FreeSWITCH)."""

from __future__ import annotations

import gevent.queue
import pytest

from callcenter.esl.connection import CommandTimeout, Connection, ESLError, NotConnected
from callcenter.esl.protocol import encode_api_response
from callcenter.switchboard.sender import Sender
from tests.esl.eslserver import ESLServer, default_api

PASSWORD = "sender-test-password"
WAIT = 3.0


@pytest.fixture
def server():
    with ESLServer(PASSWORD) as srv:
        yield srv


class Posts:
    """The connection, with each write the Sender makes counted."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.command_timeout = connection.command_timeout
        self.writes: list[list[str]] = []

    def post(self, commands):
        self.writes.append([wire for wire, _slot in commands])
        return self.connection.post(commands)


def connected(server: ESLServer, **options) -> Posts:
    connection = Connection("127.0.0.1", server.port, PASSWORD, **options)
    connection.connect()
    return Posts(connection)


def replies():
    got: gevent.queue.Queue = gevent.queue.Queue()
    return got, lambda name: (lambda reply, error: got.put((name, reply, error)))


def test_a_burst_goes_out_in_order_in_one_write_and_each_reply_to_its_own(server):
    link = connected(server)
    sender = Sender(link)
    got, to = replies()
    try:
        for n in range(5):            # one event handler's commands: no yield between them
            sender.api(f"echo {n}", to(n))
        assert sender.wait_idle(WAIT)
        assert link.writes == [[f"api echo {n}" for n in range(5)]]
        assert [got.get(timeout=WAIT) for _ in range(5)] == [(n, f"{n}", None)
                                                             for n in range(5)]
        assert (sender.sent, sender.failed) == (5, 0)
    finally:
        link.connection.close()


def test_a_late_reply_is_a_timeout_and_the_next_command_still_gets_its_own(server):
    held = []

    def api(command):
        if command == "echo slow":
            held.append(command)
            return None               # held back: sent late below
        return default_api(command)
    server.api = api
    link = connected(server, command_timeout=0.2)
    sender = Sender(link)
    got, to = replies()
    try:
        sender.api("echo slow", to("slow"))
        name, reply, error = got.get(timeout=WAIT)
        assert (name, reply) == ("slow", None) and isinstance(error, CommandTimeout)
        assert held == ["echo slow"] and sender.failed == 1
        server.next_session().push(encode_api_response("late"))   # its reply, too late
        sender.api("echo next", to("next"))
        assert got.get(timeout=WAIT) == ("next", "next", None)
    finally:
        link.connection.close()


def test_a_job_is_acknowledged_when_taken_on_and_answered_with_its_result(server):
    server.bgapi = lambda command: None   # the job runs until the test ends it
    link = connected(server)
    link.connection.subscribe(["BACKGROUND_JOB"])
    sender = Sender(link)
    got, to = replies()
    try:
        sender.bgapi("originate user/1000 &park()", to("job"))
        assert sender.wait_idle(WAIT), "taken on: nothing waits for FreeSWITCH's reply"
        assert got.empty()
        session = server.next_session()
        for _ in range(3):            # auth, event, bgapi
            command, headers = session.next_command()
        assert command == "bgapi originate user/1000 &park()"
        session.finish_job(headers["Job-UUID"], "+OK 4f1e\n")
        assert got.get(timeout=WAIT) == ("job", "+OK 4f1e\n", None)
        assert link.connection._jobs == {}
    finally:
        link.connection.close()


def test_a_refused_job_says_so_and_is_forgotten(server):
    link = connected(server)
    sender = Sender(link)
    got, to = replies()
    try:
        sender.bgapi("no_such_thing", to("job"))
        session = server.next_session()
        session.answer = lambda command, headers: session.push(
            b"Content-Type: command/reply\nReply-Text: -ERR command not found\n\n")
        name, reply, error = got.get(timeout=WAIT)
        assert reply is None and isinstance(error, ESLError)
        assert "refused bgapi no_such_thing: -ERR command not found" in str(error)
        assert link.connection._jobs == {} and sender.wait_idle(WAIT)
    finally:
        link.connection.close()


def test_a_lost_connection_fails_every_waiting_command_and_job(server):
    server.api = lambda command: None     # nothing is ever answered
    link = connected(server, command_timeout=30)
    sender = Sender(link)
    got, to = replies()
    sender.bgapi("originate user/1000 &park()", to("job"))
    for n in range(3):
        sender.api(f"show channels {n}", to(n))
    session = server.next_session()
    for _ in range(5):                    # auth, bgapi, three api commands
        session.next_command()
    session.drop()
    outcomes = {name: error for name, _reply, error in (got.get(timeout=WAIT)
                                                         for _ in range(4))}
    assert set(outcomes) == {"job", 0, 1, 2}
    assert all(isinstance(error, NotConnected) for error in outcomes.values())
    assert sender.wait_idle(WAIT)


def test_without_a_connection_each_command_fails_at_once():
    class Down:
        command_timeout = 10.0

        def post(self, commands):
            raise NotConnected("no connection to FreeSWITCH (reconnecting)")
    sender = Sender(Down())
    got, to = replies()
    sender.api("echo 1", to(1))
    sender.bgapi("originate user/1000 &park()", to(2))
    assert [got.get(timeout=WAIT)[0] for _ in range(2)] == [1, 2]
    assert sender.failed == 2 and sender.wait_idle(WAIT)
