"""Supervisors listen in on a live call, whisper to the agent or barge in, from their own
softphone; the legs they do it with (cc_role=supervisor) are this feature's alone.

Listening is `originate {...}user/<supervisor> &eavesdrop(<agent leg>)` (capture 06): no bridge
events, the call stays bridged, and hanging up the supervisor's leg ends only the listening.
The leg carries `eavesdrop_enable_dtmf=true`, so the eavesdrop reads keys as its mode, and the
page switches modes by making FreeSWITCH act as if the supervisor's phone sent the key:
`uuid_recv_dtmf <supervisor leg> <digit>`.

Which key speaks to whom, eavesdropping on the *agent's* leg (switch_ivr_async.c, 1.10.12):
'1' mixes the supervisor into what the agent's channel reads (ED_MUX_READ), which the bridge
carries on to the customer; '2' mixes it into what the channel writes to the agent's own phone
(ED_MUX_WRITE). So 2 whispers to the agent, 1 would speak to the customer alone, 3 is both
(barge) and 0 is listening again. tests/freeswitch/test_supervision.py checks this on a real
FreeSWITCH 1.10.12 by the audio each phone receives while the supervisor's phone sends a 1 kHz
tone and the other two send silence: after key 2 the agent's phone heard the tone (median
|sample| 7133) and the carrier's nothing (0); after 1 the reverse; after 3 both; after 0
neither. The simulator follows it (sim/apps.py heard_by).

A supervisor leg is not one of the call's legs (Legs.add_listener): the call never waits for it
to end, its CDR never changes the call's summary (cdr/summary.py passes over it), and when the
call is over the leg is hung up. The modes used and when go to the events table (kind monitor),
which is what the call's story says about who monitored it.
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import CallEnded, Conflict
from ..esl import commands
from ..esl.protocol import Event
from ..models import EventKind, LegRole
from .calls import Calls
from .controls import Controls
from .legs import Call, Happened, Leg

log = logging.getLogger(__name__)

FEATURE = "supervision"       # call.features: the call's monitors, by supervisor leg uuid


class Mode(enum.StrEnum):
    LISTEN = "listen"         # the supervisor hears both sides; nobody hears the supervisor
    WHISPER = "whisper"       # the agent hears the supervisor, the customer does not
    BARGE = "barge"           # both hear the supervisor


# The eavesdrop key for each mode, on the agent's leg (see above: 2 reaches the agent).
KEYS = {Mode.LISTEN: "0", Mode.WHISPER: "2", Mode.BARGE: "3"}


@dataclass(frozen=True)
class Supervisor:
    user_id: int
    name: str
    extension: str


@dataclass
class Monitor:
    """One supervisor on one call."""
    leg: str
    supervisor: Supervisor
    requested: Mode            # what the page asked for last
    started: float
    mode: Mode | None = None   # what FreeSWITCH was told (None: the phone still rings)
    answered: bool = False     # the supervisor's phone picked up: keys can be sent
    gone: bool = False         # the leg hung up (kept until its CDR is in, then released)
    modes: list[tuple[str, float]] = field(default_factory=list)   # (mode, since)

    def as_message(self) -> dict:
        return {"supervisor": self.supervisor.name, "user_id": self.supervisor.user_id,
                "mode": (self.mode or self.requested).value, "answered": self.answered,
                "since": self.started}


class SupervisionError(Conflict):
    """A supervisor's action that cannot be done now; the message says why."""


class Supervision:
    def __init__(self, *, calls: Calls, controls: Controls, domain: str,
                 registered: Callable[[str], bool],
                 publish: Callable[[dict, int | None], None], notice: bool = False,
                 noted: Callable[..., None] = lambda kind, call, **detail: None) -> None:
        """`publish(message, agent_id)`: to supervisors (agent_id None) or also to an agent;
        `notice`: the agent's page is told it is monitored (CALLCENTER_MONITOR_NOTICE)."""
        self.calls, self.legs, self.controls = calls, calls.legs, controls
        self.sender, self.clock, self.domain = calls.sender, calls.clock, domain
        self._registered, self._publish, self.notice = registered, publish, notice
        self._noted = noted            # noted(kind, call, **detail): the events table

    # -- actions (from a supervisor's request) ---------------------------------------------------

    def monitor(self, call: Call, supervisor: Supervisor, mode: Mode) -> Monitor:
        """Ring the supervisor's softphone (it answers by itself) listening in on the agent's
        leg; `mode` applies once it has answered. A supervisor already on the call changes
        mode instead."""
        mine = self._of(call, supervisor.user_id)
        if mine is not None:
            return self.set_mode(call, supervisor.user_id, mode)
        agent = self.calls.leg(call.agent_leg)
        if call.ended:
            raise CallEnded()
        if agent is None or not agent.alive or not agent.answered or call.outcome is not None:
            raise SupervisionError("you can listen in only while an agent is on the call")
        if not self._registered(supervisor.extension):
            raise SupervisionError(f"your softphone (extension {supervisor.extension}) is not "
                                   "registered: open it on this page first")
        self.controls.reachable()
        leg = _new_uuid()
        variables = {**self.calls.tags(call, LegRole.SUPERVISOR),
                     **commands.auto_answer_variables(self.domain),
                     "eavesdrop_enable_dtmf": "true",
                     "originate_timeout": self.calls.times.agent_ring,
                     "origination_caller_id_name": "Listening",
                     "cc_supervisor": supervisor.name}
        command = commands.eavesdrop(leg, commands.user_endpoint(supervisor.extension,
                                                                 self.domain),
                                     agent.uuid, variables)
        self.legs.add_listener(call, leg, LegRole.SUPERVISOR)
        now = self.clock.now()
        monitor = Monitor(leg, supervisor, mode, now)
        call.features.setdefault(FEATURE, {})[leg] = monitor
        self.sender.bgapi(command, lambda reply, error: self._originated(call, leg, reply,
                                                                          error))
        log.info("%s listens in on the call of agent %s", supervisor.name, call.agent_id,
                 extra={"call_id": call.id})
        self._show(call)
        return monitor

    def set_mode(self, call: Call, user_id: int, mode: Mode) -> Monitor:
        monitor = self._mine(call, user_id)
        monitor.requested = mode       # sent when the phone picks up, if it still rings
        if monitor.answered and mode is not monitor.mode:
            self.controls.ask(commands.uuid_recv_dtmf(monitor.leg, KEYS[mode]), "mode change")
            self._now_in(call, monitor, mode)
        self._show(call)
        return monitor

    def leave(self, call: Call, user_id: int) -> Monitor:
        """Hang up the supervisor's leg: only the listening ends."""
        monitor = self._mine(call, user_id)
        self.calls.hang_up(monitor.leg, "NORMAL_CLEARING")
        return monitor

    def monitors(self, call: Call) -> list[dict]:
        return [monitor.as_message() for monitor in call.features.get(FEATURE, {}).values()
                if not monitor.gone]

    def snapshot_section(self, audience) -> dict[str, list[dict]] | None:
        """The hub's "monitors" section: {call id: monitors} of live calls being listened to,
        for supervisors; an agent's page gets its own calls' with the notice on, and nothing
        at all without it (nor does a wall display)."""
        if audience.everything:
            wanted = None
        elif audience.agent_id is not None and self.notice:
            wanted = audience.agent_id
        else:
            return None
        return {call.id: self.monitors(call) for call in self.legs.calls.values()
                if self.monitors(call) and (wanted is None or call.agent_id == wanted)}

    # -- events (a common feature: router.py) ----------------------------------------------------

    def on_leg(self, call: Call, leg: Leg, happened: Happened, event: Event | None = None
               ) -> bool:
        """The supervisor legs' events are this feature's alone (True keeps them from the
        call's owner)."""
        monitor = call.features.get(FEATURE, {}).get(leg.uuid)
        if monitor is None:
            return False
        if happened is Happened.ANSWERED and not monitor.gone:
            monitor.answered = True
            self._now_in(call, monitor, Mode.LISTEN)      # where an eavesdrop starts
            if monitor.requested is not Mode.LISTEN:
                self.sender.api(commands.uuid_recv_dtmf(leg.uuid, KEYS[monitor.requested]))
                self._now_in(call, monitor, monitor.requested)
            self._show(call)
        elif happened is Happened.HUNG_UP:
            self._gone(call, monitor)
        elif happened is Happened.COMPLETED:       # its CDR is written: forget the leg
            call.features[FEATURE].pop(leg.uuid, None)
            self.legs.release(leg.uuid)
        return True

    def finished(self, call: Call) -> None:
        """The call is over: its supervisors' legs go too (FreeSWITCH ends an eavesdrop whose
        target left, but a phone still ringing would ring on)."""
        monitors = call.features.pop(FEATURE, {})
        for monitor in monitors.values():
            self.calls.hang_up(monitor.leg, "NORMAL_CLEARING")
            self._gone(call, monitor, announce=False)
            self.legs.release(monitor.leg)     # its CDR is let in as an orphan's
        if monitors:
            self._show(call)

    # -- helpers ---------------------------------------------------------------------------------

    def _originated(self, call: Call, leg: str, reply: str | None, error) -> None:
        monitor = call.features.get(FEATURE, {}).get(leg)
        if monitor is None or (error is None and commands.is_ok(reply or "")):
            return
        log.warning("%s's phone did not take the listening: %s", monitor.supervisor.name,
                    error or (reply or "").strip(), extra={"call_id": call.id})
        if not call.ended:
            self._gone(call, monitor)
            call.features[FEATURE].pop(leg, None)
            self.legs.release(leg)

    def _show(self, call: Call) -> None:
        """The supervisors' pages (and the agent's, with the notice on) hear who listens."""
        message = {"type": "monitors", "call_id": call.id, "monitors": self.monitors(call)}
        self._publish(message, call.agent_id if self.notice else None)

    def _now_in(self, call: Call, monitor: Monitor, mode: Mode) -> None:
        monitor.mode = mode
        monitor.modes.append((mode.value, self.clock.now()))
        self._noted(EventKind.MONITOR, call, mode=mode.value,
                    supervisor=monitor.supervisor.name)

    def _gone(self, call: Call, monitor: Monitor, announce: bool = True) -> None:
        if monitor.gone:
            return
        monitor.gone = True
        if monitor.answered:
            self._noted(EventKind.MONITOR, call, mode="left",
                        supervisor=monitor.supervisor.name)
        if announce:
            self._show(call)

    def _of(self, call: Call, user_id: int) -> Monitor | None:
        return next((m for m in call.features.get(FEATURE, {}).values()
                     if m.supervisor.user_id == user_id and not m.gone), None)

    def _mine(self, call: Call, user_id: int) -> Monitor:
        if call.ended:
            raise CallEnded()
        monitor = self._of(call, user_id)
        if monitor is None:
            raise SupervisionError("you are not listening to this call")
        return monitor


def _new_uuid() -> str:
    return str(uuid.uuid4())
