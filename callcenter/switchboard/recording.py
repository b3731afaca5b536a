"""Recording a call on the agent's leg: started and stopped by the agent, started by itself
for an agent who always records, and resumed on the new leg after a transfer.

Recordings go to `<recordings_dir>/<YYYY>/<MM>/<DD>/<call id>.wav` (the call's start date, UTC)
on the agent's leg; a recording started again later in the same call (after a stop, or on the
new leg after a transfer) goes beside it as `<call id>-2.wav`, `-3` ..., never over it. Each
file gets its recordings row from FreeSWITCH's RECORD_START and RECORD_STOP; the CDR's
recording_path names the first.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import gevent
from gevent.event import AsyncResult
from gevent.pool import Group

from ..esl import commands
from ..esl.commands import CommandError
from ..esl.connection import ESLError
from ..esl.protocol import Event
from ..models import EventKind
from .controls import ControlError
from .legs import Call, Happened, Leg
from .stats import stamped_at

if TYPE_CHECKING:
    from .agents import Roster
    from .calls import Calls
    from .controls import Controls
    from .persist import Persist

log = logging.getLogger(__name__)

FEATURE = "recording"


@dataclass
class Recorded:
    """A call's recording state (in `call.features`)."""
    path: str | None = None        # the file being recorded now
    leg: str | None = None         # the leg it is recorded on
    count: int = 0                 # recordings started in this call (numbers the files)
    resume: bool = False           # its leg left in a transfer: go on on the new agent leg
    confirmed: bool = False        # FreeSWITCH said it records `path`

    def stopped(self) -> None:
        self.path = self.leg = None
        self.confirmed = False


def size_on_disk(path: str) -> int | None:
    """The file's size, or None where this controller cannot see it (another host's disk)."""
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def recorded(call: Call) -> Recorded:
    state = call.features.get(FEATURE)
    if state is None:
        state = call.features[FEATURE] = Recorded()
    return state


def recording_now(call: Call) -> str | None:
    """The file the call is being recorded to now, if any (what the pages show)."""
    state = call.features.get(FEATURE)
    return state.path if state is not None else None


class Recording:
    def __init__(self, *, calls: Calls, controls: Controls, roster: Roster, persist: Persist,
                 changed: Callable[[Call], None], recordings_dir: Path | str | None) -> None:
        self.calls, self.controls, self.roster, self.persist = calls, controls, roster, persist
        self.legs, self.sender = calls.legs, calls.sender
        self._changed = changed
        self.recordings_dir = recordings_dir
        self.measuring = Group()    # sizes being read from the disk

    @property
    def recordings_dir(self) -> Path | None:
        return self._recordings_dir

    @recordings_dir.setter
    def recordings_dir(self, value: Path | str | None) -> None:
        self._recordings_dir = Path(value) if value is not None else None
        if self._recordings_dir is not None:
            try:
                commands.valid_file_path(f"{self._recordings_dir}/2000/01/01/x.wav")
            except CommandError:
                log.error("CALLCENTER_RECORDINGS_DIR %s cannot be named in a FreeSWITCH "
                          "command (letters, digits, '_', '.', '-', '/' only): calls will not "
                          "be recorded", self._recordings_dir)

    def start(self, call: Call) -> str:
        agent, _ = self.controls.talking(call, "record")
        if recorded(call).path is not None:
            raise ControlError("the call is already being recorded")
        answer = AsyncResult()
        path = self.record(call, agent, lambda reply, error: answer.set((reply, error)))
        self.controls.check(*answer.get(), "recording")
        return path

    def stop(self, call: Call) -> None:
        state = recorded(call)
        path, leg = state.path, self.calls.leg(state.leg)
        if path is None or leg is None or not leg.alive:
            raise ControlError("the call is not being recorded")
        self.controls.ask(commands.uuid_record(leg.uuid, "stop", path), "stop of the recording")
        if state.path == path:  # RECORD_STOP says the same; whichever comes first
            self._stopped(call, state)
            self._changed(call)

    def record(self, call: Call, leg: Leg, then: Callable[[str | None, ESLError | None], None]
                ) -> str:
        state = recorded(call)
        path = self._recording_path(call, state)
        command = commands.uuid_record(leg.uuid, "start", path)
        state.path, state.leg, state.resume = path, leg.uuid, False
        state.count += 1
        number = state.count

        def replied(reply: str | None, error: ESLError | None) -> None:
            if error is None and commands.is_ok(reply or ""):
                if number == 1:
                    self.persist.call_values(call.id, recording_path=path)
                if state.path == path:
                    state.confirmed = True
                    self.persist.call_event(EventKind.RECORDING_STARTED, call, path=path)
                if not call.ended:
                    self._changed(call)
            else:
                log.warning("recording %s failed: %s", path, error or (reply or "").strip(),
                            extra={"call_id": call.id})
                if state.path == path:
                    state.stopped()
                if state.count == number:
                    state.count -= 1  # the name is free again
            then(reply, error)

        self.sender.api(command, replied)
        return path

    def _recording_path(self, call: Call, state: Recorded) -> str:
        if self.recordings_dir is None:
            raise ControlError("recording is not set up here (no CALLCENTER_RECORDINGS_DIR)")
        day = datetime.fromtimestamp(call.created, UTC)
        suffix = "" if state.count == 0 else f"-{state.count + 1}"
        path = f"{self.recordings_dir}/{day:%Y/%m/%d}/{call.id}{suffix}.wav"
        try:
            return commands.valid_file_path(path, "recording path")
        except CommandError as exc:
            raise ControlError(f"recordings cannot be written to {self.recordings_dir}: "
                               f"{exc.reason}; set CALLCENTER_RECORDINGS_DIR to a plain "
                               "path") from None

    def on_record(self, event: Event) -> None:
        """RECORD_START / RECORD_STOP: FreeSWITCH began or ended a recording on one of our
        calls' legs (we asked, or its leg hung up): the recordings row, and the call's state."""
        leg = self.legs.legs.get(event.uuid or "")
        call = self.legs.call_of(leg) if leg is not None else None
        path = event.get("Record-File-Path")
        if call is None or not path:
            return
        at = stamped_at(event) or self.persist.clock.now()
        if event.name == "RECORD_START":
            self.persist.recording_started(call.id, leg.uuid, path, at)
            return
        if event.name != "RECORD_STOP":
            return
        self._stop_written(path, at, event)
        state = recorded(call)
        if state.path is not None and path == state.path:
            transfer = call.transfer
            resume = transfer is not None and transfer.state == "connecting" \
                and state.leg == transfer.from_leg   # the old leg left, not the agent's stop
            self._stopped(call, state)
            state.resume = resume
            if not call.ended:
                self._changed(call)

    def _stop_written(self, path: str, at: float, event: Event) -> None:
        """The row's end, length and size, as RECORD_STOP tells them (FreeSWITCH sets
        record_ms and record_file_size as it closes the file); the size from the disk, off the
        hub, when the event does not say."""
        ms = _number(event.get("variable_record_ms"))
        seconds = ms / 1000 if ms is not None else _number(event.get("variable_record_seconds"))
        size = _number(event.get("variable_record_file_size"))
        if size is not None:
            self.persist.recording_stopped(path, at, seconds, int(size))
            return

        def measured() -> None:
            on_disk = gevent.get_hub().threadpool.apply(size_on_disk, (path,))
            self.persist.recording_stopped(path, at, seconds, on_disk)

        self.measuring.spawn(measured)

    def _stopped(self, call: Call, state: Recorded) -> None:
        """A recording FreeSWITCH confirmed has ended: the call's story says so."""
        if state.confirmed:
            self.persist.call_event(EventKind.RECORDING_STOPPED, call, path=state.path)
        state.stopped()

    def on_leg(self, call: Call, leg: Leg, happened: Happened, event=None) -> None:
        if happened is Happened.BRIDGED:
            self.bridged(call)

    def bridged(self, call: Call) -> None:
        """The agent and the customer are bridged: record, if the agent always records or a
        transfer took the recording's leg away (it goes on on the new agent leg)."""
        state = recorded(call)
        if state.path is not None and state.leg != call.agent_leg:
            # Recorded on a leg that is no longer the agent's: it ends with that leg.
            self._stopped(call, state)
            state.resume = True
        agent, customer = self.calls.leg(call.agent_leg), self.calls.leg(call.customer_leg)
        if (agent is None or customer is None or agent.bridged_to != customer.uuid
                or state.path is not None or not agent.alive):
            return
        view = self.roster.agents.get(call.agent_id) if call.agent_id is not None else None
        if state.resume or view is not None and view.always_record:
            self.record(call, agent, lambda reply, error: None)
