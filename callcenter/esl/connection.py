"""The authenticated Event Socket connection to FreeSWITCH, and the link that keeps one up.

greenswitch's InboundESL stays the transport (its socket, greenlets and connect/stop shape),
but its reading and dispatch are replaced: stock greenswitch reads line by line, unquotes
whole bodies, has no timeouts, waits forever on a wrong password or a silent server, and
leaves waiting commands hanging when the connection drops.

Here one reader greenlet receives 64 KiB chunks into protocol.FrameParser and never blocks on
anything else; replies resolve one FIFO of waiters per reply type (FreeSWITCH answers commands
in order); event frames go to a bounded queue that one dispatcher greenlet decodes and hands to
the switchboard, so every switchboard callback (events, resync, disconnect) runs in order in one
greenlet. `Link` reconnects forever and is what the rest of the application uses.
"""

from __future__ import annotations

import logging
import random
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import gevent
import gevent.event
import gevent.lock
from gevent import socket
from gevent.queue import Queue
from greenswitch.esl import InboundESL

from callcenter.errors import Unavailable
from callcenter.esl.protocol import (
    Event,
    Frame,
    FrameParser,
    ProtocolError,
    encode_command,
    parse_event,
)

log = logging.getLogger(__name__)


class ESLError(Unavailable):
    """Something went wrong talking to FreeSWITCH's Event Socket."""


class AuthenticationFailed(ESLError):
    """FreeSWITCH refused the Event Socket password."""


class NotConnected(ESLError):
    """There is no connection to FreeSWITCH, or it was lost while waiting."""


class CommandTimeout(ESLError):
    """FreeSWITCH did not answer a command in time."""


# What the switchboard subscribes to: an explicit allow-list, because the full stream is mostly
# noise (in the captures CHANNEL_STATE/CALLSTATE, CALL_UPDATE, CODEC, PRESENCE_IN and
# CHANNEL_EXECUTE[_COMPLETE] are over half the frames, the latter ~7 KB each).
# Names with "::" are CUSTOM subclasses; subscribe() puts them after the CUSTOM keyword.
# No `filter` is ever added: an inbound leg gets cc_call_id only later (uuid_setvar), so a
# filter on it would hide the leg's first events.
SWITCHBOARD_EVENTS: tuple[str, ...] = (
    # A leg's life, from which legs and calls are built. CHANNEL_EXECUTE[_COMPLETE] are left
    # out: PARK/UNPARK, BRIDGE and PLAYBACK_STOP already carry every outcome we act on.
    "CHANNEL_CREATE",
    "CHANNEL_ORIGINATE",
    "CHANNEL_PROGRESS",  # 180: play ringback to the agent
    "CHANNEL_PROGRESS_MEDIA",  # 183: bridge on early media
    "CHANNEL_ANSWER",
    "CHANNEL_PARK",  # inbound callers arrive parked with cc_queue
    "CHANNEL_UNPARK",
    "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_HOLD",
    "CHANNEL_UNHOLD",
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",  # carries billsec and the final variables for the CDR
    "CHANNEL_DESTROY",
    "DTMF",
    "RECORD_START",
    "RECORD_STOP",
    # Hold music or ringback that ended by itself must be restarted; PLAYBACK_START is not
    # needed (we started it, and the command's reply says so).
    "PLAYBACK_STOP",
    "BACKGROUND_JOB",  # resolves bgapi jobs
    "SHUTDOWN",  # FreeSWITCH is going away: expect a disconnect
    "HEARTBEAT",  # every 20 s: proof the link is alive
    # Agent softphone registration: a call never goes to an unregistered agent.
    "sofia::register",
    "sofia::unregister",
    "sofia::expire",
)

_CHUNK = 65536
_EVENT_TYPES = frozenset({"text/event-plain", "text/event-json"})
_EVENT_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
_SUBCLASS = re.compile(r"[A-Za-z0-9_]+(::[A-Za-z0-9_]+)+")
_YIELD_EVERY = 100  # events the dispatcher handles before letting the reader run
_STOP = object()  # queued by the reader when the connection ends


class Job:
    """A bgapi command running in FreeSWITCH; its BACKGROUND_JOB event carries the result."""

    __slots__ = ("job_uuid", "command", "_result")

    def __init__(self, job_uuid: str, command: str) -> None:
        self.job_uuid = job_uuid
        self.command = command
        self._result: gevent.event.AsyncResult = gevent.event.AsyncResult()

    def get(self, timeout: float | None = None) -> str:
        """The job's result text (e.g. "+OK <uuid>\\n" or "-ERR NO_ANSWER\\n").

        Raises CommandTimeout after `timeout` seconds, NotConnected if the connection is lost.
        """
        try:
            return self._result.get(timeout=timeout)
        except gevent.Timeout:
            raise CommandTimeout(
                f"bgapi {self.command} (Job-UUID {self.job_uuid}): no result after {timeout}s"
            ) from None

    def ready(self) -> bool:
        return self._result.ready()

    def on_done(self, callback: Callable[[str | None, ESLError | None], None]) -> None:
        """`callback(result, None)` once the job ends, or `(None, error)` if its connection is
        lost first. Called from the hub's loop: it must not block."""
        def done(result: gevent.event.AsyncResult) -> None:
            if result.successful():
                callback(result.value, None)
            else:
                callback(None, result.exception)
        self._result.rawlink(done)

    def __repr__(self) -> str:
        return f"<Job {self.job_uuid} {self.command!r} ready={self.ready()}>"


class _Accepting:
    """The reply slot of a posted bgapi: a refusal (-ERR) forgets its job, whose result event
    will never come; the reply goes on to the poster's slot either way."""

    __slots__ = ("_jobs", "_job", "_slot")

    def __init__(self, jobs: dict[str, Job], job: Job, slot: Any) -> None:
        self._jobs, self._job, self._slot = jobs, job, slot

    def set(self, frame: Frame) -> None:
        if not frame.headers.get("Reply-Text", "").startswith("+OK"):
            self._jobs.pop(self._job.job_uuid, None)
        self._slot.set(frame)

    def set_exception(self, error: BaseException) -> None:
        self._slot.set_exception(error)


class Connection(InboundESL):
    """One authenticated Event Socket connection; build a new one to reconnect.

    `on_event`, `on_overflow` and `on_disconnect` are all called from this connection's one
    dispatcher greenlet, in order: on_disconnect comes after the events received before the
    loss. on_disconnect is not called when we close the connection ourselves.
    """

    def __init__(
        self,
        host: str,
        port: int,
        password: str,
        *,
        connect_timeout: float = 5.0,
        command_timeout: float = 10.0,
        queue_size: int = 10000,
        on_event: Callable[[Event], None] | None = None,
        on_overflow: Callable[[], None] | None = None,
        on_disconnect: Callable[[ESLError], None] | None = None,
    ) -> None:
        super().__init__(host, port, password, timeout=connect_timeout)
        self.address = f"{host}:{port}"
        self.command_timeout = command_timeout
        self.queue_size = queue_size
        self._on_event = on_event
        self._on_overflow = on_overflow
        self._on_disconnect = on_disconnect
        self.sock: socket.socket | None = None
        # Unbounded underneath: the bound is enforced in _queue_event for event frames only,
        # so control items (resync, stop) can always be queued.
        self._esl_event_queue: Queue = Queue()
        self._command_replies: deque[gevent.event.AsyncResult] = deque()
        self._api_replies: deque[gevent.event.AsyncResult] = deque()
        self._jobs: dict[str, Job] = {}
        self._send_lock = gevent.lock.Semaphore()
        self._parser = FrameParser()
        self._authenticated = False
        self._closing = False
        self._lost: ESLError | None = None
        self._overflowing = False
        self.max_queue_depth = 0
        self.events_received = 0
        self.events_dropped = 0
        self.overflows = 0

    # -- connecting ----------------------------------------------------------------------

    def connect(self) -> None:
        """TCP connect, wait for auth/request, authenticate: all within connect_timeout."""
        if self.sock is not None:
            raise ESLError("a Connection connects once; build a new one to reconnect")
        deadline = time.monotonic() + self.timeout
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except TimeoutError:
            raise NotConnected(
                f"no TCP connection to FreeSWITCH at {self.address} within {self.timeout}s: "
                "check the host, the port and any firewall"
            ) from None
        except OSError as exc:
            raise NotConnected(
                f"cannot reach FreeSWITCH's Event Socket at {self.address}: "
                f"{exc.strerror or exc}; is FreeSWITCH running with mod_event_socket "
                "listening on that address?"
            ) from exc
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        self.sock = sock
        self.start_event_handlers()
        try:
            if not self._auth_request_event.wait(max(0.0, deadline - time.monotonic())):
                raise ESLError(
                    f"{self.address} accepted the TCP connection but sent no auth/request "
                    f"within {self.timeout}s: is that FreeSWITCH's Event Socket port?"
                )
            if self._lost is not None:
                raise NotConnected(f"{self._lost} (before authentication)")
            self.authenticate(max(0.0, deadline - time.monotonic()))
        except BaseException:
            self._closing = True
            self._lose(NotConnected(f"connection to {self.address} abandoned during connect"))
            raise
        self._authenticated = True
        self.connected = True
        log.info("connected to FreeSWITCH at %s", self.address)

    def authenticate(self, timeout: float | None = None) -> None:
        try:
            reply = self._request(
                self._command_replies,
                encode_command(f"auth {self.password}"),
                self.timeout if timeout is None else timeout,
                "auth",  # never the password
            )
        except CommandTimeout:
            raise ESLError(
                f"FreeSWITCH at {self.address} did not answer auth within {self.timeout}s"
            ) from None
        text = reply.headers.get("Reply-Text", "")
        if not text.startswith("+OK"):
            raise AuthenticationFailed(
                f"FreeSWITCH at {self.address} refused the Event Socket password ({text}): "
                "set the password from event_socket.conf.xml in the controller's configuration"
            )

    def subscribe(self, events: Iterable[str] = SWITCHBOARD_EVENTS, fmt: str = "plain") -> None:
        """Ask for `events` (names; "a::b" are CUSTOM subclasses) in `fmt` ("plain"/"json")."""
        if fmt not in ("plain", "json"):
            raise ValueError(f"event format must be 'plain' or 'json', not {fmt!r}")
        names: list[str] = []
        subclasses: list[str] = []
        for name in events:
            if _SUBCLASS.fullmatch(name):
                subclasses.append(name)
            elif _EVENT_NAME.fullmatch(name):
                if name != "CUSTOM":
                    names.append(name)
            else:
                raise ValueError(f"not an event name or CUSTOM subclass: {name!r}")
        if subclasses:
            # FreeSWITCH reads every word after CUSTOM as a subclass.
            names += ["CUSTOM", *subclasses]
        if not names:
            raise ValueError("subscribe() needs at least one event name")
        reply = self.send(f"event {fmt} {' '.join(names)}")
        text = reply.headers.get("Reply-Text", "")
        if not text.startswith("+OK"):
            raise ESLError(f"FreeSWITCH at {self.address} refused the subscription: {text}")
        log.info("subscribed to %d event kinds (%s) on %s", len(names), fmt, self.address)

    # -- commands --------------------------------------------------------------------------

    def send(
        self, command: str, timeout: float | None = None, headers: Iterable[tuple[str, str]] = ()
    ) -> Frame:
        """Send one ESL command and return its reply frame (api/response for `api ...`)."""
        fifo = self._api_replies if command.startswith("api ") else self._command_replies
        return self._request(fifo, encode_command(command, headers), timeout, command)

    def api(self, command: str, timeout: float | None = None) -> str:
        """Run `api <command>` and return FreeSWITCH's reply body ("-ERR ..." included)."""
        return self.send(f"api {command}", timeout).text

    def bgapi(self, command: str, timeout: float | None = None) -> Job:
        """Start `bgapi <command>` with our own Job-UUID; the Job exists before the reply."""
        job = Job(str(uuid.uuid4()), command)
        self._jobs[job.job_uuid] = job
        try:
            reply = self.send(f"bgapi {command}", timeout, [("Job-UUID", job.job_uuid)])
        except ESLError:
            self._jobs.pop(job.job_uuid, None)
            raise
        text = reply.headers.get("Reply-Text", "")
        if not text.startswith("+OK"):
            self._jobs.pop(job.job_uuid, None)
            raise ESLError(f"FreeSWITCH refused bgapi {command}: {text}")
        log.debug("bgapi %s started (Job-UUID %s)", command, job.job_uuid)
        return job

    def post(self, commands: Sequence[tuple[str, Any]]) -> list[Job | None]:
        """Write `commands` (`api ...` or `bgapi ...`, each with the slot its reply goes to) in
        order, in one write, and return without waiting for any reply. A slot's `set(frame)` or
        `set_exception(error)` is called later, from the reader greenlet (it must not block);
        if the connection is lost, each slot hears it. A bgapi gets a Job of ours (its Job-UUID
        set before it is written), in the list returned at its command's place (None for the
        others); a refused bgapi's job is forgotten when its reply comes. Raises NotConnected
        when there is no connection to write to (then no slot hears anything)."""
        if self._lost is not None or self.sock is None:
            raise NotConnected(f"not connected to FreeSWITCH at {self.address}")
        jobs: list[Job | None] = []
        chunks: list[bytes] = []
        for command, _slot in commands:
            job = None
            if command.startswith("bgapi "):
                job = Job(str(uuid.uuid4()), command[len("bgapi "):])
                chunks.append(encode_command(command, [("Job-UUID", job.job_uuid)]))
            else:
                chunks.append(encode_command(command))
            jobs.append(job)
        timer = gevent.Timeout(self.command_timeout)
        timer.start()
        try:
            with self._send_lock:
                # Under the lock, FIFO order is wire order: replies come back in that order.
                for (command, slot), job in zip(commands, jobs, strict=True):
                    if job is not None:
                        self._jobs[job.job_uuid] = job
                        slot = _Accepting(self._jobs, job, slot)
                    fifo = self._api_replies if command.startswith("api ") \
                        else self._command_replies
                    fifo.append(slot)
                self.sock.sendall(b"".join(chunks))
        except gevent.Timeout as exc:
            if exc is not timer:
                raise
            self._lose(NotConnected(f"sending to {self.address} stalled"))
        except OSError as exc:
            self._lose(NotConnected(f"lost FreeSWITCH at {self.address}: {exc}"))
        finally:
            timer.close()
        return jobs

    def _request(
        self,
        fifo: deque[gevent.event.AsyncResult],
        data: bytes,
        timeout: float | None,
        what: str,
    ) -> Frame:
        if self._lost is not None or self.sock is None:
            raise NotConnected(f"{what}: not connected to FreeSWITCH at {self.address}")
        timeout = self.command_timeout if timeout is None else timeout
        waiter = gevent.event.AsyncResult()
        timer = gevent.Timeout(timeout)
        timer.start()
        sending = False
        try:
            with self._send_lock:
                # Under the lock, FIFO order is wire order: replies come back in that order.
                fifo.append(waiter)
                sending = True
                self.sock.sendall(data)
                sending = False
            # A timed-out waiter stays in the FIFO: its late reply must still pop it.
            return waiter.get()
        except gevent.Timeout as exc:
            if exc is not timer:
                raise
            if sending:  # half a command on the wire: the stream cannot be trusted any more
                self._lose(NotConnected(f"{what}: sending to {self.address} stalled"))
            raise CommandTimeout(
                f"{what}: no reply from FreeSWITCH at {self.address} within {timeout}s"
            ) from None
        except OSError as exc:
            lost = NotConnected(f"{what}: lost FreeSWITCH at {self.address}: {exc}")
            self._lose(lost)
            raise lost from exc
        finally:
            timer.close()

    # -- reading (runs in greenswitch's receive greenlet) -----------------------------------

    def receive_events(self) -> None:
        sock, feed, route = self.sock, self._parser.feed, self._route
        try:
            while self._lost is None:
                data = sock.recv(_CHUNK)
                if not data:
                    raise NotConnected(f"FreeSWITCH at {self.address} closed the connection")
                for frame in feed(data):
                    route(frame)
                # recv() does not yield while data is waiting: let the dispatcher and the
                # greenlets waiting for replies run between chunks.
                gevent.sleep(0)
        except ESLError as exc:
            self._lose(exc)
        except ProtocolError as exc:
            self._lose(NotConnected(f"unreadable data from FreeSWITCH at {self.address}: {exc}"))
        except OSError as exc:
            self._lose(NotConnected(f"lost FreeSWITCH at {self.address}: {exc}"))

    def _route(self, frame: Frame) -> None:
        kind = frame.content_type
        if kind in _EVENT_TYPES:
            self._queue_event(frame)
        elif kind == "api/response":
            self._reply(self._api_replies, frame)
        elif kind == "command/reply":
            self._reply(self._command_replies, frame)
        elif kind == "auth/request":
            self._auth_request_event.set()
        elif kind == "text/disconnect-notice":
            notice = frame.text.strip().splitlines()
            raise NotConnected(
                f"FreeSWITCH at {self.address} disconnected us: {notice[0] if notice else ''}"
            )
        elif kind == "text/rude-rejection":
            raise NotConnected(
                f"FreeSWITCH at {self.address} rejected this client "
                f"({frame.text.strip()}): allow the controller's "
                "address in event_socket.conf.xml apply-inbound-acl"
            )
        else:
            log.debug("ignoring a %s frame from %s", kind, self.address)

    def _reply(self, fifo: deque[gevent.event.AsyncResult], frame: Frame) -> None:
        if not fifo:
            log.warning("%s from %s with no command waiting", frame.content_type, self.address)
            return
        fifo.popleft().set(frame)

    def _queue_event(self, frame: Frame) -> None:
        self.events_received += 1
        if self._overflowing:
            self._drop(frame)
            return
        queue = self._esl_event_queue
        depth = queue.qsize()
        if depth >= self.queue_size:
            self._overflowing = True
            self.overflows += 1
            log.error(
                "event queue from %s is full (%d events waiting, limit %d): the switchboard "
                "is not keeping up; dropping events until it drains, then resyncing",
                self.address,
                depth,
                self.queue_size,
            )
            self._drop(frame)
            return
        queue.put(frame)
        if depth >= self.max_queue_depth:
            self.max_queue_depth = depth + 1

    def _drop(self, frame: Frame) -> None:
        self.events_dropped += 1
        # A job's result must not be lost with the flood: its waiter would hang until timeout.
        if self._jobs and b"BACKGROUND_JOB" in frame.body:
            try:
                event = parse_event(frame)
            except ProtocolError:
                return
            if event.name == "BACKGROUND_JOB":
                self._finish_job(event)

    # -- dispatching (runs in greenswitch's event-processing greenlet) ----------------------

    def process_events(self) -> None:
        queue = self._esl_event_queue
        handled = 0
        while True:
            item = queue.get()
            if isinstance(item, Frame):
                self._deliver(item)
            elif item is _STOP:
                break
            else:
                self._call(item)
            if self._overflowing and not queue.qsize():
                self._overflow_drained()
            handled += 1
            if handled % _YIELD_EVERY == 0:
                gevent.sleep(0)
        if self._authenticated and not self._closing and self._on_disconnect is not None:
            self._call(self._on_disconnect, self._lost)

    def _deliver(self, frame: Frame) -> None:
        try:
            event = parse_event(frame)
        except ProtocolError as exc:
            log.error("dropping an unreadable event from %s: %s", self.address, exc)
            return
        if event.name == "BACKGROUND_JOB":
            self._finish_job(event)
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:
            log.exception("event handler failed on %s", describe(event))

    def _overflow_drained(self) -> None:
        self._overflowing = False
        log.warning(
            "event queue from %s drained after dropping events (%d dropped so far): resyncing",
            self.address,
            self.events_dropped,
        )
        if self._on_overflow is not None:
            self._call(self._on_overflow)

    def _call(self, callback: Callable, *args) -> None:
        try:
            callback(*args)
        except Exception:
            log.exception("ESL callback %r failed", callback)

    def _post(self, callback: Callable[[], None]) -> None:
        """Run `callback` in the dispatcher greenlet, after the events already queued."""
        self._esl_event_queue.put(callback)

    def _finish_job(self, event: Event) -> None:
        job = self._jobs.pop(event.job_uuid or "", None)
        if job is None:
            return
        result = event.body or ""
        log.debug("bgapi %s done (Job-UUID %s): %s", job.command, job.job_uuid, result.strip())
        job._result.set(result)

    # -- ending ------------------------------------------------------------------------------

    def _lose(self, reason: ESLError) -> None:
        """The connection is over: fail every waiting command and job at once."""
        if self._lost is not None:
            return
        self._lost = reason
        was_connected, self.connected = self.connected, False
        if was_connected and not self._closing:
            log.error("%s", reason)
        else:  # closing, or still connecting: the caller gets the reason as an exception
            log.debug("%s", reason)
        if self.sock is not None:
            self.sock.close()
        message = str(reason)
        for fifo in (self._command_replies, self._api_replies):
            while fifo:
                fifo.popleft().set_exception(NotConnected(message))
        jobs, self._jobs = self._jobs, {}
        for job in jobs.values():
            job._result.set_exception(
                NotConnected(f"bgapi {job.command} (Job-UUID {job.job_uuid}): {message}")
            )
        self._auth_request_event.set()  # wakes a connect() still waiting for auth/request
        self._esl_event_queue.put(_STOP)

    def close(self) -> None:
        """Say goodbye (`exit`) if connected and close; waiting commands fail with NotConnected."""
        if self._lost is None and self.connected:
            self._closing = True
            try:
                self.send("exit", timeout=min(1.0, self.command_timeout))
            except ESLError:
                pass
        self._closing = True
        self._lose(NotConnected(f"connection to {self.address} closed by us"))
        current = gevent.getcurrent()
        for greenlet in (self._receive_events_greenlet, self._process_events_greenlet):
            if greenlet is not None and greenlet is not current:
                greenlet.kill(block=False)

    def stop(self) -> None:  # greenswitch's name, used by its context manager
        self.close()

    # -- metrics -----------------------------------------------------------------------------

    @property
    def queue_depth(self) -> int:
        return self._esl_event_queue.qsize()


def describe(event: Event) -> str:
    """An event's name with the leg and job it belongs to, for log lines."""
    parts = [event.key or "?"]
    if event.uuid:
        parts.append(f"Unique-ID {event.uuid}")
    if event.job_uuid:
        parts.append(f"Job-UUID {event.job_uuid}")
    return " ".join(parts)


class Link:
    """The link to FreeSWITCH the application uses: reconnects forever, resubscribes, resyncs.

    Handlers, resync and disconnect callbacks run in the current connection's dispatcher
    greenlet, one at a time and in wire order. After every (re)connect and after every event
    queue overflow, the resync handlers run so the switchboard can rebuild its state from
    `show channels as json` and `show registrations as json`.
    """

    def __init__(
        self,
        host: str,
        port: int,
        password: str,
        *,
        events: Iterable[str] = SWITCHBOARD_EVENTS,
        event_format: str = "plain",
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        connect_timeout: float = 5.0,
        command_timeout: float = 10.0,
        queue_size: int = 10000,
        rng: random.Random | None = None,
    ) -> None:
        self.host, self.port, self.address = host, port, f"{host}:{port}"
        self._password = password
        self.events = tuple(events)
        self.event_format = event_format
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self.queue_size = queue_size
        self._rng = rng or random.Random()
        self._handlers: dict[str, list[Callable[[Event], None]]] = {}
        self._resync_handlers: list[Callable[[], None]] = []
        self._disconnect_handlers: list[Callable[[ESLError], None]] = []
        self._connection: Connection | None = None
        self._runner: gevent.Greenlet | None = None
        self._stopped = gevent.event.Event()
        self._up = gevent.event.Event()
        self._totals = {"events_received": 0, "events_dropped": 0, "overflows": 0}
        self._max_queue_depth = 0
        self.reconnects = 0

    # -- wiring ------------------------------------------------------------------------------

    def on(self, key: str, handler: Callable[[Event], None]) -> None:
        """Call `handler(event)` for events whose Event.key is `key` ("*" for every event)."""
        self._handlers.setdefault(key, []).append(handler)

    def on_resync(self, handler: Callable[[], None]) -> None:
        self._resync_handlers.append(handler)

    def on_disconnect(self, handler: Callable[[ESLError], None]) -> None:
        self._disconnect_handlers.append(handler)

    # -- running -----------------------------------------------------------------------------

    def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("Link already started")
        self._stopped.clear()
        self._runner = gevent.spawn(self._run)

    def stop(self) -> None:
        self._stopped.set()
        runner, self._runner = self._runner, None
        if runner is not None and runner is not gevent.getcurrent():
            runner.kill()
        connection, self._connection = self._connection, None
        if connection is not None:
            self._retire(connection)
            connection.close()
        self._up.clear()

    def wait_connected(self, timeout: float) -> bool:
        return self._up.wait(timeout)

    @property
    def connected(self) -> bool:
        return self._connection is not None and self._connection.connected

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before attempt `attempt` (1, 2, ...): capped exponential, full jitter."""
        cap = min(self.backoff_max, self.backoff_initial * 2 ** min(attempt - 1, 62))
        return self._rng.uniform(0, cap)

    def _run(self) -> None:
        attempt = 0
        while not self._stopped.is_set():
            if attempt and self._stopped.wait(self.backoff(attempt)):
                return
            attempt += 1
            opened = self._open(attempt)
            if opened is None:
                continue
            connection, lost = opened
            attempt = 1  # the first reconnect after a loss still waits a little, with jitter
            reason = lost.get()
            self._up.clear()
            self._connection = None
            self._retire(connection)
            self.reconnects += 1
            log.info("FreeSWITCH link to %s lost (%s); reconnecting", self.address, reason)
            for handler in self._disconnect_handlers:
                try:
                    handler(reason)
                except Exception:
                    log.exception("disconnect handler %r failed", handler)

    def _open(self, attempt: int) -> tuple[Connection, gevent.event.AsyncResult] | None:
        """A fresh, subscribed connection (a greenswitch connection cannot reconnect)."""
        lost = gevent.event.AsyncResult()
        connection = Connection(
            self.host,
            self.port,
            self._password,
            connect_timeout=self.connect_timeout,
            command_timeout=self.command_timeout,
            queue_size=self.queue_size,
            on_event=self._dispatch,
            on_overflow=self._resync,
            on_disconnect=lost.set,
        )
        try:
            connection.connect()
            connection.subscribe(self.events, self.event_format)
        except ESLError as exc:
            connection.close()
            log.warning("FreeSWITCH link to %s: %s (attempt %d)", self.address, exc, attempt)
            return None
        except BaseException:  # stopped while connecting
            connection.close()
            raise
        self._connection = connection
        connection._post(self._resync)  # after subscribing: no event falls between the two
        self._up.set()
        return connection, lost

    def _retire(self, connection: Connection) -> None:
        for key in self._totals:
            self._totals[key] += getattr(connection, key)
        self._max_queue_depth = max(self._max_queue_depth, connection.max_queue_depth)

    def _dispatch(self, event: Event) -> None:
        handlers = self._handlers.get(event.key, ())
        everything = self._handlers.get("*", ())
        for handler in (*handlers, *everything):
            try:
                handler(event)
            except Exception:
                log.exception("handler %r failed on %s", handler, describe(event))

    def _resync(self) -> None:
        for handler in self._resync_handlers:
            try:
                handler()
            except Exception:
                log.exception("resync handler %r failed", handler)

    # -- commands ----------------------------------------------------------------------------

    def _current(self) -> Connection:
        connection = self._connection
        if connection is None or not connection.connected:
            raise NotConnected(f"no connection to FreeSWITCH at {self.address} (reconnecting)")
        return connection

    def api(self, command: str, timeout: float | None = None) -> str:
        return self._current().api(command, timeout)

    def bgapi(self, command: str, timeout: float | None = None) -> Job:
        return self._current().bgapi(command, timeout)

    def post(self, commands: Sequence[tuple[str, Any]]) -> list[Job | None]:
        """Connection.post on the current connection (NotConnected while reconnecting)."""
        return self._current().post(commands)

    @property
    def queue_depth(self) -> int:
        """Events waiting now: cheap enough to read on every event (stats() builds a dict)."""
        connection = self._connection
        return connection.queue_depth if connection is not None else 0

    def stats(self) -> dict[str, int | bool]:
        connection = self._connection
        totals = dict(self._totals)
        depth = max_depth = 0
        if connection is not None:
            for key in totals:
                totals[key] += getattr(connection, key)
            depth, max_depth = connection.queue_depth, connection.max_queue_depth
        return {
            "connected": self.connected,
            **totals,
            "queue_depth": depth,
            "max_queue_depth": max(self._max_queue_depth, max_depth),
            "reconnects": self.reconnects,
        }
