"""A scripted Event Socket server for the connection tests: FreeSWITCH's side of the wire.

It answers the way the captures in tests/fixtures/esl show FreeSWITCH 1.10 answering
(auth/request, command/reply, api/response, disconnect-notice) and lets a test push event
frames, hold replies, drop the connection or send garbage at a chosen moment.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from pathlib import Path

import gevent
import gevent.event
import gevent.queue
from gevent.server import StreamServer

from callcenter.esl.protocol import (
    Event,
    FrameParser,
    encode_api_response,
    encode_auth_request,
    encode_command_reply,
    encode_disconnect_notice,
    encode_event,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "esl"
GOODBYE = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


def fixture_event_frames(name: str) -> list[bytes]:
    """The event frames of one capture, as FreeSWITCH sent them."""
    parser = FrameParser()
    frames = parser.feed((FIXTURES / name).read_bytes())
    return [
        b"Content-Length: %d\nContent-Type: %s\n\n" % (len(f.body), f.content_type.encode())
        + f.body
        for f in frames
        if f.content_type.startswith("text/event-")
    ]


def event_frame(name: str, fmt: str = "plain", body: str | None = None, **headers: str) -> bytes:
    """One event frame; keyword headers use _ for - (Unique_ID → Unique-ID)."""
    fields = {"Event-Name": name, **{k.replace("_", "-"): v for k, v in headers.items()}}
    return encode_event(Event(fields, body), fmt)


class Session:
    """One accepted client connection."""

    def __init__(self, server: ESLServer, sock) -> None:
        self.server = server
        self.sock = sock
        self.fmt = "plain"
        self.commands: gevent.queue.Queue = gevent.queue.Queue()  # (command, headers)
        self.closed = gevent.event.Event()

    def push(self, data: bytes) -> None:
        self.sock.sendall(data)

    def finish_job(self, job_uuid: str, body: str, command: str = "originate") -> None:
        self.push(
            event_frame("BACKGROUND_JOB", self.fmt, body, Job_UUID=job_uuid, Job_Command=command)
        )

    def drop(self) -> None:
        """Close the TCP connection without a word, as a crashed FreeSWITCH would."""
        self.closed.set()
        self.sock.close()

    def reset(self) -> None:
        """Abort the connection with a TCP reset."""
        self.closed.set()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def goodbye(self, body: str = GOODBYE) -> None:
        self.push(encode_disconnect_notice(body))
        self.drop()

    def next_command(self, timeout: float = 2.0) -> tuple[str, dict[str, str]]:
        return self.commands.get(timeout=timeout)

    def serve(self) -> None:
        server = self.server
        if not server.greet:
            self.closed.wait()  # a silent server: TCP accepted, nothing said
            return
        self.push(encode_auth_request())
        buffer = b""
        while not self.closed.is_set():
            try:
                data = self.sock.recv(65536)
            except OSError:
                break
            if not data:
                break
            buffer += data
            while b"\n\n" in buffer:
                raw, buffer = buffer.split(b"\n\n", 1)
                command, *lines = raw.decode().split("\n")
                headers = dict(line.split(": ", 1) for line in lines)
                self.commands.put((command, headers))
                server.received.put(command)
                self.answer(command, headers)
                if self.closed.is_set():
                    return
        self.closed.set()

    def answer(self, command: str, headers: dict[str, str]) -> None:
        server = self.server
        verb, _, rest = command.partition(" ")
        if verb == "auth":
            if server.refuse_auth > 0 or rest != server.password:
                server.refuse_auth -= 1
                self.push(encode_command_reply("-ERR invalid"))
                self.goodbye()
            else:
                self.push(encode_command_reply("+OK accepted"))
        elif verb == "event":
            self.fmt = rest.split(" ", 1)[0]
            self.push(encode_command_reply(f"+OK event listener enabled {self.fmt}"))
        elif verb == "api":
            reply = server.api(rest)
            if reply is not None:  # None: hold the reply, the test sends it (or never)
                self.push(encode_api_response(reply))
        elif verb == "bgapi":
            job_uuid = headers.get("Job-UUID", "00000000-0000-0000-0000-000000000000")
            self.push(encode_command_reply(f"+OK Job-UUID: {job_uuid}", [("Job-UUID", job_uuid)]))
            result = server.bgapi(rest)
            if result is not None:
                self.finish_job(job_uuid, result, rest.split(" ", 1)[0])
        elif verb == "exit":
            self.push(encode_command_reply("+OK bye"))
            self.goodbye()
        else:
            self.push(encode_command_reply("-ERR command not found"))


def default_api(command: str) -> str | None:
    if command.startswith("echo "):
        return command[5:]
    if command == "status":
        return "UP 0 years, 0 days\nFreeSWITCH is ready\n"
    return f"-ERR {command.split(' ', 1)[0]} Command not found!\n"


class ESLServer:
    """Listens on 127.0.0.1, port 0; each accepted connection becomes a Session."""

    def __init__(
        self,
        password: str,
        *,
        greet: bool = True,
        api: Callable[[str], str | None] = default_api,
        bgapi: Callable[[str], str | None] = lambda command: None,
        refuse_auth: int = 0,
    ) -> None:
        self.password = password
        self.greet = greet
        self.api = api
        self.bgapi = bgapi
        self.refuse_auth = refuse_auth  # refuse the first N auth attempts
        self.sessions: gevent.queue.Queue = gevent.queue.Queue()
        self.received: gevent.queue.Queue = gevent.queue.Queue()  # every command, all sessions
        self._all: list[Session] = []
        self._server = StreamServer(("127.0.0.1", 0), self._accept)

    @property
    def port(self) -> int:
        return self._server.server_port

    def start(self) -> ESLServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(timeout=1)
        for session in self._all:
            session.drop()

    def next_session(self, timeout: float = 2.0) -> Session:
        return self.sessions.get(timeout=timeout)

    def _accept(self, sock, address) -> None:
        session = Session(self, sock)
        self._all.append(session)
        self.sessions.put(session)
        try:
            session.serve()
        finally:
            session.closed.set()

    def __enter__(self) -> ESLServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
