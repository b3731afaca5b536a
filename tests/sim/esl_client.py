"""A bare Event Socket client for the simulator's tests: it records every frame it receives,
in order, as the capture recorder did, and waits on replies (never on time)."""

from __future__ import annotations

import gevent
import gevent.event
from gevent import socket

from callcenter.esl.protocol import Event, Frame, FrameParser, encode_command, parse_event

TIMEOUT = 5.0
# A command with a reply no captured flow has: it marks a point in the stream.
SYNC = "nolinger"
SYNC_REPLY = "-ERR not controlling a session"


class RawClient:
    def __init__(self, port: int, password: str | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.sock.settimeout(None)
        self.parser = FrameParser()
        self.frames: list[Frame] = []
        self.raw = bytearray()
        self.eof = gevent.event.Event()
        self._changed = gevent.event.Event()
        self._reader = gevent.spawn(self._read)
        self.wait_for(lambda: self.frames, "auth/request")
        if password is not None:
            reply = self.command(f"auth {password}")
            assert reply.headers["Reply-Text"] == "+OK accepted", reply.headers

    def _read(self) -> None:
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                self.raw += data
                self.frames.extend(self.parser.feed(data))
                self._changed.set()
        except OSError:
            pass
        finally:
            self.eof.set()
            self._changed.set()

    def wait_for(self, predicate, what: str, timeout: float = TIMEOUT):
        with gevent.Timeout(timeout, AssertionError(f"timed out waiting for {what}")):
            while True:
                result = predicate()
                if result:
                    return result
                if self.eof.is_set():
                    raise AssertionError(f"connection closed while waiting for {what}")
                self._changed.clear()
                self._changed.wait()

    def send(self, command: str, headers=()) -> int:
        """Send a command; returns how many frames had arrived before it."""
        count = len(self.frames)
        self.sock.sendall(encode_command(command, headers))
        return count

    def _reply_after(self, count: int, types: tuple[str, ...]) -> Frame | None:
        for frame in self.frames[count:]:
            if frame.headers.get("Content-Type") in types:
                return frame
        return None

    def command(self, command: str, headers=()) -> Frame:
        """Send and wait for the command/reply or api/response that answers it."""
        count = self.send(command, headers)
        types = ("api/response",) if command.startswith("api ") else ("command/reply",)
        return self.wait_for(lambda: self._reply_after(count, types), f"reply to {command!r}")

    def api(self, command: str) -> str:
        return self.command(f"api {command}").text

    def sync(self) -> None:
        """Wait until everything the simulator has queued so far has arrived."""
        self.command(SYNC)

    def events(self) -> list[Event]:
        return [parse_event(f) for f in self.frames
                if f.headers.get("Content-Type", "").startswith("text/event-")]

    def wait_event(self, predicate, what: str, timeout: float = TIMEOUT) -> Event:
        def find():
            for event in self.events():
                if predicate(event):
                    return event
            return None
        return self.wait_for(find, what, timeout)

    def close(self) -> None:
        try:
            self.sock.close()
        finally:
            self._reader.kill()
