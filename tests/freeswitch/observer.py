"""A second Event Socket connection that only listens: every CHANNEL_* and API event FreeSWITCH
sends, in order, read by a thread (the pytest process is not patched by gevent). The tests read
what the real switch did from it — event order, Answer-State, which leg a bridge was reported
on — beside what the controller made of it."""

from __future__ import annotations

import socket
import threading

from callcenter.esl.protocol import Event, FrameParser, encode_command, parse_event


class Observer:
    def __init__(self, port: int, password: str, *, more: str = "") -> None:
        """`more`: event names to hear besides these (space-separated)."""
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.events: list[Event] = []
        self._changed = threading.Condition()
        self._parser = FrameParser()
        self._replies = 0
        self._reader = threading.Thread(target=self._read, name="esl-observer", daemon=True)
        self._reader.start()
        self._send(f"auth {password}")
        self._send("event plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_PROGRESS "
                   "CHANNEL_PROGRESS_MEDIA CHANNEL_PARK CHANNEL_UNPARK CHANNEL_EXECUTE "
                   "CHANNEL_EXECUTE_COMPLETE CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_HANGUP "
                   "CHANNEL_HANGUP_COMPLETE CHANNEL_DESTROY PLAYBACK_START PLAYBACK_STOP API"
                   + (f" {more}" if more else ""))

    def _send(self, command: str) -> None:
        """A command, once its reply came (the replies arrive in order)."""
        with self._changed:
            expected = self._replies + 1
        self.sock.sendall(encode_command(command))
        self._wait(lambda: self._replies >= expected, f"a reply to {command.split()[0]}")

    def _read(self) -> None:
        try:
            while data := self.sock.recv(65536):
                frames = self._parser.feed(data)
                with self._changed:
                    for frame in frames:
                        kind = frame.headers.get("Content-Type", "")
                        if kind == "command/reply":
                            self._replies += 1
                        elif kind.startswith("text/event-"):
                            self.events.append(parse_event(frame))
                    self._changed.notify_all()
        except OSError:
            pass

    def _wait(self, predicate, what: str, timeout: float = 20):
        with self._changed:
            if not self._changed.wait_for(predicate, timeout):
                raise AssertionError(f"the switch sent no {what} within {timeout}s")
            return predicate()

    def wait_event(self, what: str, predicate, timeout: float = 20) -> Event:
        """The first event (seen so far or still to come) that matches."""
        return self._wait(lambda: next((e for e in self.events if predicate(e)), None), what,
                          timeout)

    def of_leg(self, leg_uuid: str) -> list[Event]:
        with self._changed:
            return [e for e in self.events if e.uuid == leg_uuid]

    def write(self, path) -> None:
        """One line per event, for whoever reads a failure: the headers that tell a flow."""
        shown = ("Unique-ID", "Answer-State", "Channel-Call-State", "Application",
                 "Application-Data", "Other-Leg-Unique-ID", "Hangup-Cause", "API-Command",
                 "API-Command-Argument", "variable_cc_call_id",
                 "variable_endpoint_disposition")
        with self._changed:
            lines = [" ".join([e.name, *(f"{h}={e.get(h)}" for h in shown if e.get(h))])
                     for e in self.events]
        path.write_text("\n".join(lines) + "\n")

    def close(self) -> None:
        self.sock.close()
        self._reader.join(5)
