"""The Event Socket server: one session per TCP connection, as mod_event_socket runs them.

A session authenticates, keeps its own subscription (format, event names, filters), runs
`api` commands in order and `bgapi` ones as jobs, and writes every frame through a queue
drained by its own writer greenlet, so a slow client never stalls the switch.
"""

from __future__ import annotations

import logging
import uuid as uuidlib
from typing import TYPE_CHECKING

import gevent
import gevent.queue
import gevent.server
import gevent.socket

from callcenter.esl.protocol import (
    encode_api_response,
    encode_auth_request,
    encode_command_reply,
    encode_disconnect_notice,
)
from callcenter.sim.bus import Subscription

if TYPE_CHECKING:
    from callcenter.sim.simulator import Simulator

log = logging.getLogger(__name__)

GOODBYE = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
SHUTTING_DOWN = "The system is being shut down.\n"
_MAX_COMMAND = 1 << 20  # a command block this large without a blank line is garbage


class EslServer:
    def __init__(self, sim: Simulator, password: str, host: str, port: int) -> None:
        self.sim = sim
        self.password = password
        self._server = gevent.server.StreamServer((host, port), self._handle)
        self.sessions: set[EslSession] = set()

    def start(self) -> None:
        self._server.start()

    @property
    def port(self) -> int:
        return self._server.server_port

    def stop(self) -> None:
        for session in list(self.sessions):
            session.close()  # their readers see EOF and end, so stop() need not wait
        if not self._server.closed:
            self._server.stop(timeout=1)

    def disconnect_all(self, notice: str) -> None:
        """Send every session a disconnect notice and close it (fsctl shutdown)."""
        for session in list(self.sessions):
            session.send(encode_disconnect_notice(notice))
            session.close()

    def _handle(self, sock: gevent.socket.socket, address: tuple) -> None:
        session = EslSession(self, sock)
        self.sessions.add(session)
        try:
            session.run()
        finally:
            self.sessions.discard(session)


class EslSession:
    """One client connection (a Listener on the event bus once it subscribes)."""

    def __init__(self, server: EslServer, sock: gevent.socket.socket) -> None:
        self.server = server
        self.sim = server.sim
        self.sock = sock
        self.subscription = Subscription()
        self.authed = False
        self.closing = False
        self._out: gevent.queue.Queue = gevent.queue.Queue()
        self._writer = gevent.spawn(self._write_loop)

    # --- Listener ------------------------------------------------------------------------

    @property
    def format(self) -> str:
        return self.subscription.format

    def wants(self, name: str, subclass: str | None) -> bool:
        return not self.closing and self.subscription.wants(name, subclass)

    def accepts(self, headers: dict[str, str]) -> bool:
        return self.subscription.accepts(headers)

    def send(self, frame: bytes) -> None:
        if not self.closing:
            self._out.put(frame)

    # --- connection ----------------------------------------------------------------------

    def close(self) -> None:
        """Flush what is queued, then close (the writer does it, after the last frame)."""
        if not self.closing:
            self.closing = True
            self.sim.bus.remove(self)
            self._out.put(None)

    def _write_loop(self) -> None:
        queue = self._out
        try:
            while True:
                frame = queue.get()
                if frame is None:
                    break
                chunks = [frame]
                done = False
                while len(chunks) < 512 and not queue.empty():
                    more = queue.get_nowait()
                    if more is None:
                        done = True
                        break
                    chunks.append(more)
                self.sock.sendall(b"".join(chunks))
                if done:
                    break
        except OSError:
            pass
        finally:
            self.closing = True
            self.sim.bus.remove(self)
            try:
                self.sock.shutdown(gevent.socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()

    def run(self) -> None:
        self.send(encode_auth_request())
        buffer = b""
        try:
            while not self.closing:
                data = self.sock.recv(65536)
                if not data:
                    break
                buffer += data.replace(b"\r", b"")
                while not self.closing:
                    end = buffer.find(b"\n\n")
                    if end < 0:
                        if len(buffer) > _MAX_COMMAND:
                            raise ValueError("command block without an end")
                        break
                    block, buffer = buffer[:end].lstrip(b"\n"), buffer[end + 2:]
                    if not block:
                        continue
                    line, *rest = block.decode("utf-8", "replace").split("\n")
                    headers = dict(h.split(": ", 1) for h in rest if ": " in h)
                    length = headers.get("Content-Length", "")
                    if length.isdigit():  # sendmsg/sendevent carry a body: skip it
                        need = int(length)
                        while len(buffer) < need:
                            more = self.sock.recv(65536)
                            if not more:
                                return
                            buffer += more
                        buffer = buffer[need:]
                    self._command(line.strip(), headers)
        except (OSError, ValueError):
            pass
        except Exception:
            log.exception("simulator: ESL session failed")
        finally:
            self.close()
            self._writer.join(timeout=5)

    # --- commands ------------------------------------------------------------------------

    def _reply(self, text: str, extra: tuple = ()) -> None:
        self.send(encode_command_reply(text, extra))

    def _command(self, line: str, headers: dict[str, str]) -> None:
        word, _, rest = line.partition(" ")
        lower = word.lower()
        if lower in ("exit", "...") or line.startswith("..."):
            self._reply("+OK bye")
            self.send(encode_disconnect_notice(GOODBYE))
            self.close()
            return
        if not self.authed:
            if lower == "auth":
                if rest == self.server.password:
                    self.authed = True
                    self._reply("+OK accepted")
                else:
                    self._reply("-ERR invalid")
                    self.send(encode_disconnect_notice(GOODBYE))
                    self.close()
            else:
                self._reply("-ERR command not found")
            return
        handler = {
            "api": self._api, "bgapi": self._bgapi, "event": self._event,
            "nixevent": self._nixevent, "noevents": self._noevents, "filter": self._filter,
            "linger": self._not_a_session, "nolinger": self._not_a_session,
        }.get(lower)
        if handler is None:
            self._reply("-ERR command not found")
            return
        handler(rest, headers)

    def _not_a_session(self, rest: str, headers: dict[str, str]) -> None:
        self._reply("-ERR not controlling a session")

    def _api(self, rest: str, headers: dict[str, str]) -> None:
        command, _, argument = rest.strip().partition(" ")
        api = self.sim.api
        with self.sim.bus.hold():
            result = api.execute(command, argument)
            if isinstance(result, str):
                self.send(encode_api_response(result))
                api.fire_api_event(command, argument)
        if not isinstance(result, str):  # a blocking originate: wait for its outcome
            text = result.wait()
            self.send(encode_api_response(text))
            api.fire_api_event(command, argument)

    def _bgapi(self, rest: str, headers: dict[str, str]) -> None:
        job_uuid = headers.get("Job-UUID") or str(uuidlib.uuid4())
        self._reply(f"+OK Job-UUID: {job_uuid}", (("Job-UUID", job_uuid),))
        command, _, argument = rest.strip().partition(" ")
        self.sim.api.background(command, argument, job_uuid)

    def _event(self, rest: str, headers: dict[str, str]) -> None:
        words = rest.split()
        if words and words[0].lower() in ("plain", "json", "xml"):
            fmt = words.pop(0).lower()
            if fmt == "xml":
                self._reply("-ERR the simulator speaks plain and json only")
                return
            self.subscription.format = fmt
        if not self.subscription.add(words):
            self._reply("-ERR no keywords supplied")
            return
        if self not in self.sim.bus.listeners:
            self.sim.bus.add(self)
        self._reply(f"+OK event listener enabled {self.subscription.format}")

    def _nixevent(self, rest: str, headers: dict[str, str]) -> None:
        if not self.subscription.remove(rest.split()):
            self._reply("-ERR no keywords supplied")
            return
        self._reply("+OK events nixed")

    def _noevents(self, rest: str, headers: dict[str, str]) -> None:
        if self.subscription.active:
            self.subscription.clear()
            self.sim.bus.remove(self)
            self._reply("+OK no longer listening for events")
        else:
            self._reply("-ERR not listening for events")

    def _filter(self, rest: str, headers: dict[str, str]) -> None:
        name, _, value = rest.strip().partition(" ")
        filters = self.subscription.filters
        if name.lower() == "delete" and value:
            name, _, value = value.partition(" ")
            if name.lower() == "all":
                filters.clear()
            else:
                filters[:] = [(n, v) for n, v in filters
                              if not (n == name and (not value or v == value))]
            self._reply(f"+OK filter deleted. [{name}][{value or '(null)'}]")
            return
        if not value:
            self._reply("-ERR invalid syntax")
            return
        if name.lower() == "add":
            name, _, value = value.partition(" ")
        filters.append((name, value))
        self._reply(f"+OK filter added. [{name}]=[{value}]")
