"""Commands to FreeSWITCH, sent without stopping the event handler that decided them.

An event handler must not wait for a reply (every other event would wait with it), so each
command runs in its own greenlet and its reply, if anyone cares, goes to a callback. Greenlets
start in the order they were spawned and the connection writes commands in that order, so
`uuid_break` then `uuid_bridge` reach FreeSWITCH in that order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import gevent
import gevent.event

from ..esl.connection import ESLError

log = logging.getLogger(__name__)

# A reply callback gets FreeSWITCH's reply text, or the ESLError that prevented one.
Reply = Callable[[str | None, ESLError | None], None]
# Called in the command's greenlet just before it is written (the latency figures end there).
Sent = Callable[[], None]


class Sender:
    def __init__(self, link) -> None:
        self._link = link
        self._in_flight = 0
        self._idle = gevent.event.Event()
        self._idle.set()
        self.sent = 0
        self.failed = 0

    def api(self, command: str, then: Reply | None = None, sent: Sent | None = None) -> None:
        self._spawn(self._api, command, then, sent)

    def bgapi(self, command: str, then: Reply | None = None, sent: Sent | None = None) -> None:
        """Start a background job; `then` gets the job's result (the BACKGROUND_JOB body)."""
        self._spawn(self._bgapi, command, then, sent)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every command sent so far has FreeSWITCH's reply (a background job's
        reply is its acceptance; its result comes later)."""
        return self._idle.wait(timeout)

    def _spawn(self, run: Callable, command: str, then: Reply | None, sent: Sent | None) -> None:
        self.sent += 1
        self._in_flight += 1
        self._idle.clear()
        gevent.spawn(run, command, then, sent)

    def _api(self, command: str, then: Reply | None, sent: Sent | None) -> None:
        _note_sent(sent)
        try:
            self._finish(command, then, self._link.api(command), None)
        except ESLError as exc:
            self._finish(command, then, None, exc)

    def _bgapi(self, command: str, then: Reply | None, sent: Sent | None) -> None:
        _note_sent(sent)
        try:
            job = self._link.bgapi(command)
        except ESLError as exc:
            self._finish(command, then, None, exc)
            return
        self._acknowledged()  # the job runs on in FreeSWITCH; its result comes as an event
        try:
            # FreeSWITCH ends a job within originate_timeout; the margin covers a busy switch.
            result, error = job.get(timeout=600), None
        except ESLError as exc:
            result, error = None, exc
        self._finish(command, then, result, error, acknowledged=True)

    def _acknowledged(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self._idle.set()

    def _finish(self, command: str, then: Reply | None, reply: str | None,
                error: ESLError | None, acknowledged: bool = False) -> None:
        try:
            if error is not None:
                self.failed += 1
                log.warning("%s: %s", command.split(" ", 1)[0], error)
            if then is not None:
                then(reply, error)
        except Exception:
            log.exception("reply handler for %r failed", command)
        finally:
            if not acknowledged:
                self._acknowledged()


def _note_sent(sent: Sent | None) -> None:
    if sent is None:
        return
    try:
        sent()
    except Exception:  # a figure must never stop a command
        log.exception("sent hook %r failed", sent)
