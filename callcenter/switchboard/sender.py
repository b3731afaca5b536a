"""Commands to FreeSWITCH, sent without stopping the event handler that decided them.

An event handler must not wait for a reply (every other event would wait with it), so a command
only joins a FIFO here; one sender greenlet writes what has gathered in one write, in the order
it was given (`uuid_break` then `uuid_bridge` reach FreeSWITCH in that order), and hands each
reply, when it comes, to the command's callback, in the same greenlet. A greenlet, a timer and a
lock per command cost more than the command itself at a few hundred calls a second.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

import gevent
import gevent.event

from ..esl.connection import CommandTimeout, ESLError

log = logging.getLogger(__name__)

# A reply callback gets FreeSWITCH's reply text, or the ESLError that prevented one.
Reply = Callable[[str | None, ESLError | None], None]
# Called in the sender's greenlet just before the command is written (latency figures end there).
Sent = Callable[[], None]

JOB_TIMEOUT = 600.0   # FreeSWITCH ends a job within originate_timeout; the margin covers a busy one


class _Command:
    """One command on its way. The link calls `set` / `set_exception` with its reply (from the
    reader greenlet: nothing here blocks); a bgapi's job ends it later. Its outcome is kept
    once, and the sender greenlet hands it on."""

    __slots__ = ("sender", "text", "then", "sent", "background", "due", "outcome", "accepted")

    def __init__(self, sender: Sender, text: str, then: Reply | None, sent: Sent | None,
                 background: bool) -> None:
        self.sender, self.text, self.then, self.sent = sender, text, then, sent
        self.background = background
        self.due = 0.0                  # when its reply (or its job's end) is late
        self.outcome: tuple[str | None, ESLError | None] | None = None
        self.accepted = False           # a bgapi FreeSWITCH took on (its job runs)

    @property
    def wire(self) -> str:
        return f"{'bgapi' if self.background else 'api'} {self.text}"

    def set(self, frame) -> None:
        if self.outcome is not None:    # timed out, or its job's end came first: too late
            return
        if not self.background:
            self.end(frame.text, None)
            return
        reply = frame.headers.get("Reply-Text", "")
        if not reply.startswith("+OK"):
            self.end(None, ESLError(f"FreeSWITCH refused bgapi {self.text}: {reply}"))
            return
        self.accepted = True
        self.due = time.monotonic() + JOB_TIMEOUT
        self.sender._acknowledged()     # the job runs on in FreeSWITCH; its result comes later

    def set_exception(self, error: BaseException) -> None:
        self.end(None, error if isinstance(error, ESLError) else ESLError(str(error)))

    def end(self, reply: str | None, error: ESLError | None) -> None:
        if self.outcome is None:
            self.outcome = (reply, error)
            self.sender._answered(self)


class Sender:
    def __init__(self, link) -> None:
        self._link = link
        self._timeout = float(getattr(link, "command_timeout", 10.0))
        self._queue: deque[_Command] = deque()      # not written yet
        self._written: deque[_Command] = deque()    # written, oldest first (for the timeouts)
        self._running: deque[_Command] = deque()    # bgapi jobs FreeSWITCH took on, oldest first
        self._answers: deque[_Command] = deque()    # with their outcome, to hand on
        self._wake = gevent.event.Event()
        self._greenlet: gevent.Greenlet | None = None
        self._in_flight = 0
        self._idle = gevent.event.Event()
        self._idle.set()
        self.sent = 0
        self.failed = 0

    def api(self, command: str, then: Reply | None = None, sent: Sent | None = None) -> None:
        self._put(_Command(self, command, then, sent, background=False))

    def bgapi(self, command: str, then: Reply | None = None, sent: Sent | None = None) -> None:
        """Start a background job; `then` gets the job's result (the BACKGROUND_JOB body)."""
        self._put(_Command(self, command, then, sent, background=True))

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every command sent so far has FreeSWITCH's reply (a background job's
        reply is its acceptance; its result comes later)."""
        return self._idle.wait(timeout)

    # -- the sender greenlet -----------------------------------------------------------------

    def _put(self, command: _Command) -> None:
        self.sent += 1
        self._in_flight += 1
        self._idle.clear()
        self._queue.append(command)
        self._wake.set()
        if self._greenlet is None or self._greenlet.dead:
            self._greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        while True:
            self._wake.clear()
            if self._queue:
                self._write()
            while self._answers:
                self._hand_on(self._answers.popleft())
            self._expire()
            if self._queue or self._answers:
                continue
            if not self._written and not self._running:
                if not self._wake.wait(60.0):
                    return              # idle a minute: the next command starts another
            else:
                self._wake.wait(1.0)    # the timeouts are checked at least every second

    def _write(self) -> None:
        batch = list(self._queue)
        self._queue.clear()
        for command in batch:
            _note_sent(command.sent)
        try:
            jobs = self._link.post([(command.wire, command) for command in batch])
        except ESLError as exc:
            for command in batch:
                command.end(None, exc)
            return
        due = time.monotonic() + self._timeout
        for command, job in zip(batch, jobs, strict=True):
            command.due = due
            self._written.append(command)
            if job is not None:
                job.on_done(command.end)

    def _answered(self, command: _Command) -> None:
        self._answers.append(command)
        self._wake.set()

    def _expire(self) -> None:
        """Drop finished commands from the heads of the waiting ones; a late one fails with
        CommandTimeout (its reply, if it comes after all, is ignored). Replies come in the
        order commands were written, and jobs are taken on in that order too: each queue's
        deadlines only grow, so a head not yet due means nothing behind it is."""
        now = time.monotonic()
        written, running = self._written, self._running
        while written and (written[0].outcome is not None or written[0].accepted
                           or now >= written[0].due):
            command = written.popleft()
            if command.outcome is None and command.accepted:
                running.append(command)
            elif command.outcome is None:
                command.end(None, CommandTimeout(
                    f"{command.wire}: no reply from FreeSWITCH within {self._timeout:g}s"))
        while running and (running[0].outcome is not None or now >= running[0].due):
            command = running.popleft()
            if command.outcome is None:
                command.end(None, CommandTimeout(
                    f"{command.wire}: the job did not end within {JOB_TIMEOUT:g}s"))

    def _hand_on(self, command: _Command) -> None:
        reply, error = command.outcome
        try:
            if error is not None:
                self.failed += 1
                log.warning("%s: %s", command.text.split(" ", 1)[0], error)
            if command.then is not None:
                command.then(reply, error)
        except Exception:
            log.exception("reply handler for %r failed", command.text)
        finally:
            if not command.accepted:
                self._acknowledged()

    def _acknowledged(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self._idle.set()


def _note_sent(sent: Sent | None) -> None:
    if sent is None:
        return
    try:
        sent()
    except Exception:  # a figure must never stop a command
        log.exception("sent hook %r failed", sent)
