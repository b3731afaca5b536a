"""In-call controls: hold, blind transfer, DTMF, recording, and the disposition afterwards.

Hold is `uuid_hold` on the *agent's* leg. FreeSWITCH's switch_ivr_hold (1.10) sends the held
leg's phone a re-INVITE (sendonly) and plays hold music to that leg's bridged partner (the 03
capture: `uuid_hold B` started local_stream://moh on A). So holding the agent's leg is what
lets the customer hear music while the agent speaks freely; holding the customer's leg would
play the music to the agent.

A blind transfer hands the customer to another agent or number: the new leg is originated to
`&park()`, and on its answer (or, for a number, its early media) the customer is bridged to it.
That re-bridge takes the customer out of the old bridge, and FreeSWITCH hangs the old agent leg
up itself (a partner that leaves a bridge takes the other with it unless park_after_bridge); a
leg still there when the new bridge is reported is hung up here. The call keeps its id: the new
leg becomes its agent leg, the old one stays in `Call.others` until the call ends. Each leg's
part is tagged `cc_transfer` (joining, joined, left, stayed) so the CDR never takes a leg that
left, or one that never joined, for the one that ended the call.

Recordings go to `<recordings_dir>/<YYYY>/<MM>/<DD>/<call id>.wav` (the call's start date, UTC)
on the agent's leg; a recording started again later in the same call (after a stop, or on the
new leg after a transfer) goes beside it as `<call id>-2.wav`, `-3` ..., never over it. The CDR's
recording_path names the first.

Actions run in the web request's greenlet and wait for FreeSWITCH's reply, so a refusal is the
request's error (a transfer only waits for its checks: how it goes is pushed to the page).
Event handlers never wait.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gevent.event import AsyncResult

from ..clock import Timer
from ..esl import commands
from ..esl.commands import CommandError
from ..esl.connection import ESLError
from ..esl.protocol import Event
from ..models import AgentState, HangupBy, LegRole, Outcome
from . import messages
from .agents import AgentView, Roster
from .calls import Calls, job_cause
from .dialer import SwitchUnavailable
from .legs import COMING_UP, Call, Happened, Leg, Progress
from .offers import Offers, refusal
from .persist import Persist

log = logging.getLogger(__name__)

DISPOSITION_MAX = 64     # Call.disposition's column
NOTES_MAX = 4000


class ControlError(Exception):
    """A control that cannot be used now; the message says why, for the agent to read."""


@dataclass
class Transfer:
    """A blind transfer: under way, then its result (shown until the next one)."""
    leg: str                        # the new leg
    to: str                         # the number, or the agent's extension
    agent_id: int | None            # the agent the call goes to; None for a number
    from_leg: str                   # the agent leg it replaces
    from_agent_id: int | None
    ring: int = 0                   # seconds the new leg may ring
    record: bool = False            # the old leg was recording as it left: go on on the new
    state: str = "dialing"          # dialing, ringing, connecting, done, failed
    cause: str | None = None
    timer: Timer | None = None

    @property
    def under_way(self) -> bool:
        return self.state in ("dialing", "ringing", "connecting")


class Controls:
    def __init__(self, *, calls: Calls, offers: Offers, roster: Roster, domain: str,
                 gateway: str, caller_id: str | None, persist: Persist,
                 changed: Callable[[Call], None], publish: Callable[[dict, int | None], None],
                 connected: Callable[[], bool], recordings_dir: Path | str | None) -> None:
        self.calls, self.offers, self.roster = calls, offers, roster
        self.legs, self.sender, self.clock = calls.legs, calls.sender, calls.clock
        self.times = calls.times
        self.domain, self.gateway, self.caller_id = domain, gateway, caller_id
        self.persist = persist
        self._changed = changed        # changed(call): push the call's new state
        self._publish = publish
        self._connected = connected
        self.recordings_dir = recordings_dir

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

    # -- hold, DTMF ------------------------------------------------------------------------------

    def hold(self, call: Call) -> None:
        agent, _ = self._talking(call, "put the call on hold")
        if agent.held:
            raise ControlError("the call is already on hold")
        self._ask(commands.uuid_hold(agent.uuid), "hold")

    def unhold(self, call: Call) -> None:
        agent = self._leg(call.agent_leg)
        if agent is None or not agent.alive or not agent.held:
            raise ControlError("the call is not on hold")
        self._ask(commands.uuid_hold(agent.uuid, off=True), "unhold")

    def send_dtmf(self, call: Call, digits: str) -> None:
        digits = commands.valid_digits(digits, "digits")
        _, customer = self._talking(call, "send tones")
        self._ask(commands.uuid_send_dtmf(customer.uuid, digits), "tones")

    # -- recording -------------------------------------------------------------------------------

    def start_recording(self, call: Call) -> str:
        agent, _ = self._talking(call, "record")
        if call.recording is not None:
            raise ControlError("the call is already being recorded")
        answer = AsyncResult()
        path = self._record(call, agent, lambda reply, error: answer.set((reply, error)))
        self._check(*answer.get(), "recording")
        return path

    def stop_recording(self, call: Call) -> None:
        path, leg = call.recording, self._leg(call.recording_leg)
        if path is None or leg is None or not leg.alive:
            raise ControlError("the call is not being recorded")
        self._ask(commands.uuid_record(leg.uuid, "stop", path), "stop of the recording")
        if call.recording == path:  # RECORD_STOP says the same; whichever comes first
            call.recording = call.recording_leg = None
            self._changed(call)

    def _record(self, call: Call, leg: Leg, then: Callable[[str | None, ESLError | None], None]
                ) -> str:
        path = self._recording_path(call)
        command = commands.uuid_record(leg.uuid, "start", path)
        call.recording, call.recording_leg = path, leg.uuid
        call.recordings += 1
        number = call.recordings

        def replied(reply: str | None, error: ESLError | None) -> None:
            if error is None and commands.is_ok(reply or ""):
                if number == 1:
                    self.persist.call_values(call.id, recording_path=path)
                if not call.ended:
                    self._changed(call)
            else:
                log.warning("recording %s failed: %s", path, error or (reply or "").strip(),
                            extra={"call_id": call.id})
                if call.recording == path:
                    call.recording = call.recording_leg = None
                if call.recordings == number:
                    call.recordings -= 1  # the name is free again
            then(reply, error)

        self.sender.api(command, replied)
        return path

    def _recording_path(self, call: Call) -> str:
        if self.recordings_dir is None:
            raise ControlError("recording is not set up here (no CALLCENTER_RECORDINGS_DIR)")
        day = datetime.fromtimestamp(call.created, UTC)
        suffix = "" if call.recordings == 0 else f"-{call.recordings + 1}"
        path = f"{self.recordings_dir}/{day:%Y/%m/%d}/{call.id}{suffix}.wav"
        try:
            return commands.valid_file_path(path, "recording path")
        except CommandError as exc:
            raise ControlError(f"recordings cannot be written to {self.recordings_dir}: "
                               f"{exc.reason}; set CALLCENTER_RECORDINGS_DIR to a plain "
                               "path") from None

    def on_record(self, event: Event) -> None:
        """RECORD_STOP: FreeSWITCH ended a recording (we asked, or its leg hung up)."""
        leg = self.legs.legs.get(event.uuid or "")
        call = self.legs.call_of(leg) if leg is not None else None
        if call is None or event.name != "RECORD_STOP":
            return
        if call.recording is not None and event.get("Record-File-Path") == call.recording:
            transfer = call.transfer
            if transfer is not None and transfer.state == "connecting" \
                    and call.recording_leg == transfer.from_leg:
                transfer.record = True  # stopped by the old leg leaving, not by the agent
            call.recording = call.recording_leg = None
            if not call.ended:
                self._changed(call)

    # -- blind transfer --------------------------------------------------------------------------

    def transfer_to_number(self, call: Call, number: str) -> Transfer:
        number = commands.valid_number(number, "number")
        agent_leg, _ = self._talking(call, "transfer the call")
        self._no_transfer_under_way(call)
        variables = {**self._tags(call),
                     "originate_timeout": self.times.customer_ring,
                     "park_timeout": self.times.park}
        if self.caller_id:
            variables["origination_caller_id_number"] = self.caller_id
        endpoint = commands.gateway_endpoint(self.gateway, number)
        self._reachable()
        transfer = self._start_transfer(call, agent_leg, number, None, self.times.customer_ring)
        transfer.leg = self.calls.originate(call, LegRole.AGENT, endpoint, variables,
                                            self._transfer_job_of(call, transfer),
                                            current=False)
        return self._transfer_started(call, transfer)

    def transfer_to_agent(self, call: Call, agent: AgentView) -> Transfer:
        agent_leg, _ = self._talking(call, "transfer the call")
        self._no_transfer_under_way(call)
        if agent.id == call.agent_id:
            raise ControlError("the call is already with that agent")
        refused = refusal(agent, own_call=False)
        if refused is not None:
            raise ControlError(refused)
        self._reachable()
        transfer = self._start_transfer(call, agent_leg, agent.extension, agent.id,
                                        self.times.agent_ring)
        transfer.leg = self.offers.ring(call, agent, shows=call.number, current=False,
                                        extra={"cc_transfer": "joining"},
                                        then=self._transfer_job_of(call, transfer))
        return self._transfer_started(call, transfer)

    def _reachable(self) -> None:
        if not self._connected():
            raise SwitchUnavailable("the phone system (FreeSWITCH) is unreachable; "
                                    "try again in a moment")

    def _start_transfer(self, call: Call, agent_leg: Leg, to: str, agent_id: int | None,
                        ring: int) -> Transfer:
        transfer = Transfer(leg="", to=to, agent_id=agent_id, from_leg=agent_leg.uuid,
                            from_agent_id=call.agent_id, ring=ring)
        return transfer

    def _transfer_started(self, call: Call, transfer: Transfer) -> Transfer:
        """The new leg is on its way (`transfer.leg` set)."""
        transfer.timer = self.clock.call_later(transfer.ring + self.times.timer_margin,
                                               self._transfer_timeout, call, transfer)
        call.transfer = transfer
        log.info("transfer to %s", transfer.to, extra={"call_id": call.id})
        self._changed(call)
        return transfer

    def _transfer_job_of(self, call: Call, transfer: Transfer):
        return lambda _leg, reply, error: self._transfer_job(call, transfer, reply, error)

    def _tags(self, call: Call) -> dict[str, str]:
        """A transfer to a number: the new leg serves no agent."""
        tags = self.calls.tags(call, LegRole.AGENT)
        tags.pop("cc_agent_id", None)
        return {**tags, "cc_transfer": "joining"}

    def _no_transfer_under_way(self, call: Call) -> None:
        if call.transfer is not None and call.transfer.under_way:
            raise ControlError(f"the call is already being transferred to {call.transfer.to}")

    def _transfer_job(self, call: Call, transfer: Transfer, reply: str | None,
                      error: ESLError | None) -> None:
        """The originate's result matters only for a leg that never produced an event."""
        leg = self._leg(transfer.leg)
        if leg is None or leg.seen or (reply or "").startswith("+OK"):
            return
        cause = job_cause(reply, error)
        leg.hung_up = leg.completed = True
        leg.cause = cause
        if cause == "USER_NOT_REGISTERED" and transfer.agent_id is not None:
            target = self.roster.agents.get(transfer.agent_id)
            if target is not None:
                self.roster.mark_unregistered(target.extension)
        self._failed(call, transfer, cause)

    def _transfer_timeout(self, call: Call, transfer: Transfer) -> None:
        leg = self._leg(transfer.leg)
        if call.ended or leg is None or not leg.alive or leg.answered:
            return
        if transfer.state == "done":
            # Bridged on early media and never answered: the customer goes with it.
            if call.outcome is None:
                self.calls.decide(call, Outcome.ANSWERED, "NO_ANSWER", HangupBy.SYSTEM)
        self.calls.hang_up(leg.uuid, "NO_ANSWER")

    # -- events ----------------------------------------------------------------------------------

    def on_leg(self, call: Call, leg: Leg, happened: Happened, event: Event | None = None
               ) -> bool:
        """A channel event of a live call. True when the event is the controls' alone: a
        transfer's new leg before it is bridged, and legs that left the call (the dialer must
        not take them for the call's own)."""
        transfer = call.transfer
        joining = (transfer is not None and transfer.under_way and leg.uuid == transfer.leg)
        leaving = not joining and (
            leg.uuid not in (call.agent_leg, call.customer_leg)
            or transfer is not None and transfer.state == "connecting"
            and leg.uuid == transfer.from_leg)
        if happened is Happened.BRIDGED:
            self._bridged(call)
        elif happened in (Happened.HELD, Happened.UNHELD) and leg.uuid == call.agent_leg:
            call.held = leg.held
            self._changed(call)
        if joining:
            self._joining(call, transfer, leg, happened)
            return True
        if leaving:
            if happened is Happened.HUNG_UP:
                self._left(call, leg)
            return True
        if transfer is not None and leg.uuid == transfer.leg:
            if happened is Happened.ANSWERED and transfer.timer is not None:
                transfer.timer.cancel()
            elif happened is Happened.HUNG_UP and not leg.answered and call.outcome is None:
                # A number bridged on early media that never answered: the customer had.
                self.calls.decide(call, Outcome.ANSWERED, leg.cause, HangupBy.SYSTEM)
        return False

    def _joining(self, call: Call, transfer: Transfer, leg: Leg, happened: Happened) -> None:
        self.offers.on_agent_leg(call, leg, happened, transfer.agent_id)
        if call.outcome is not None and leg.alive and happened in COMING_UP:
            # The call ended while the transfer rang: the new leg must not ring on alone.
            self.calls.hang_up(leg.uuid, "NORMAL_CLEARING" if leg.answered else
                                 "ORIGINATOR_CANCEL")
        elif happened is Happened.RINGING and transfer.state == "dialing":
            transfer.state = "ringing"
            self._changed(call)
        elif (happened is Happened.ANSWERED or happened is Happened.EARLY_MEDIA
              and transfer.agent_id is None) and transfer.state in ("dialing", "ringing"):
            self._connect(call, transfer)
        elif happened is Happened.HUNG_UP:
            self._failed(call, transfer, leg.cause or "NORMAL_CLEARING")

    def _connect(self, call: Call, transfer: Transfer) -> None:
        """The new leg has media: bridge the customer to it before the old leg leaves."""
        transfer.state = "connecting"
        customer = call.customer_leg
        self.sender.api(commands.uuid_setvar(transfer.from_leg, "cc_transfer", "left"))
        self.sender.api(commands.uuid_bridge(transfer.leg, customer),
                        lambda reply, error: self._connect_reply(call, transfer, reply, error))
        self._changed(call)

    def _connect_reply(self, call: Call, transfer: Transfer, reply: str | None,
                       error: ESLError | None) -> None:
        if error is None and commands.is_ok(reply or "") or transfer.state != "connecting":
            return
        # Either leg left meanwhile: the customer stays where it was.
        log.info("transfer bridge failed: %s", (reply or str(error)).strip(),
                 extra={"call_id": call.id})
        old = self._leg(transfer.from_leg)
        if old is not None and old.alive:
            self.sender.api(commands.uuid_setvar(transfer.from_leg, "cc_transfer", "stayed"))
        new = self._leg(transfer.leg)
        if new is not None and new.alive:
            self.calls.hang_up(new.uuid, "NORMAL_CLEARING")
        self._failed(call, transfer, "BRIDGE_FAILED")

    def _bridged(self, call: Call) -> None:
        transfer = call.transfer
        if transfer is not None and transfer.state == "connecting":
            new = self._leg(transfer.leg)
            if new is not None and new.bridged_to == call.customer_leg:
                self._transferred(call, transfer)
        agent, customer = self._leg(call.agent_leg), self._leg(call.customer_leg)
        if (agent is None or customer is None or agent.bridged_to != customer.uuid
                or call.recording is not None or not agent.alive):
            return
        view = self.roster.agents.get(call.agent_id) if call.agent_id is not None else None
        resume = transfer is not None and transfer.state == "done" and transfer.record \
            and transfer.leg == agent.uuid
        if resume or view is not None and view.always_record:
            self._record(call, agent, lambda reply, error: None)

    def _transferred(self, call: Call, transfer: Transfer) -> None:
        """The customer is bridged to the new leg: it is the call's agent leg from now on."""
        transfer.state = "done"
        old = self._leg(transfer.from_leg)
        call.others.remove(transfer.leg)
        if call.agent_leg is not None:
            call.others.append(call.agent_leg)
        call.agent_leg = transfer.leg
        call.held = False
        if call.recording_leg == transfer.from_leg:  # it ends with that leg
            transfer.record = True
            call.recording = call.recording_leg = None
        self.sender.api(commands.uuid_setvar(transfer.leg, "cc_transfer", "joined"))
        if old is not None and old.alive:
            self.calls.hang_up(old.uuid, "NORMAL_CLEARING")
        new_agent = self.roster.agents.get(transfer.agent_id) \
            if transfer.agent_id is not None else None
        call.agent_id = transfer.agent_id
        if new_agent is not None:
            self.roster.set_state(new_agent, AgentState.IN_CALL, call.id)
            self.persist.call_values(call.id, agent_id=new_agent.id)
        log.info("transferred to %s", transfer.to, extra={"call_id": call.id})
        if transfer.from_agent_id is not None and transfer.from_agent_id != call.agent_id:
            # The old agent's page learns the call is no longer its own.
            self._publish(messages.call_changed(call), transfer.from_agent_id)
        self._changed(call)

    def _left(self, call: Call, leg: Leg) -> None:
        """A leg that left the call hung up: the agent it served wraps the call up."""
        transfer = call.transfer
        if transfer is None or leg.uuid != transfer.from_leg:
            return
        agent = self.roster.agents.get(transfer.from_agent_id) \
            if transfer.from_agent_id is not None else None
        if agent is not None and agent.call_id == call.id:
            self.roster.wrap_up(agent, call.id)
            self.roster.note_call_ended(agent)

    def _failed(self, call: Call, transfer: Transfer, cause: str) -> None:
        if not transfer.under_way:
            return
        transfer.state, transfer.cause = "failed", cause
        if transfer.timer is not None:
            transfer.timer.cancel()
        self._release_target(call, transfer)
        log.info("transfer to %s failed: %s", transfer.to, cause, extra={"call_id": call.id})
        if not call.ended:
            self._changed(call)

    def _release_target(self, call: Call, transfer: Transfer) -> None:
        self.offers.withdraw(call, transfer.agent_id)

    def finished(self, call: Call) -> None:
        """The call ended: a transfer still under way ends with it."""
        transfer = call.transfer
        if transfer is not None and transfer.under_way:
            self._failed(call, transfer, call.cause or "NORMAL_CLEARING")
        elif transfer is not None and transfer.timer is not None:
            transfer.timer.cancel()

    # -- disposition -----------------------------------------------------------------------------

    def dispose(self, call_id: str, agent: AgentView | None, disposition: object,
                notes: object) -> tuple[str, str | None]:
        """The outcome the agent files for a call, once it has ended (or, for an agent whose
        part in it is over, during its wrap-up). Ends that agent's wrap-up."""
        disposition = valid_disposition(disposition)
        notes = valid_notes(notes)
        live = self.legs.calls.get(call_id)
        wrapping = agent is not None and agent.state is AgentState.WRAP_UP \
            and agent.call_id == call_id
        if live is not None and not live.ended and not wrapping:
            raise ControlError("the call is still in progress: file its disposition when it "
                               "has ended")
        self.persist.call_values(call_id, disposition=disposition, notes=notes)
        if wrapping:
            self.roster.finish_wrap_up(agent)
        log.info("disposition %s", disposition, extra={"call_id": call_id})
        return disposition, notes

    # -- helpers ---------------------------------------------------------------------------------

    def _talking(self, call: Call, what: str) -> tuple[Leg, Leg]:
        """The agent and customer legs, bridged to each other with the customer answered."""
        if call.ended:
            raise ControlError("this call has already ended")
        agent, customer = self._leg(call.agent_leg), self._leg(call.customer_leg)
        if (call.progress is not Progress.ANSWERED or agent is None or customer is None
                or not agent.alive or not customer.alive or not customer.answered
                or agent.bridged_to != customer.uuid or call.outcome is not None):
            raise ControlError(f"you can {what} only while the customer is on the line with "
                               "you")
        if call.transfer is not None and call.transfer.state == "connecting":
            raise ControlError("the call is being handed over right now")
        return agent, customer

    def _ask(self, command: str, what: str) -> str:
        """Send a command from a web request and wait for FreeSWITCH's reply."""
        if not self._connected():
            raise SwitchUnavailable("the phone system (FreeSWITCH) is unreachable; "
                                    "try again in a moment")
        answer = AsyncResult()
        self.sender.api(command, lambda reply, error: answer.set((reply, error)))
        return self._check(*answer.get(), what)

    @staticmethod
    def _check(reply: str | None, error: ESLError | None, what: str) -> str:
        if error is not None:
            raise SwitchUnavailable(f"the phone system (FreeSWITCH) did not take the {what}: "
                                    f"{error}")
        if not commands.is_ok(reply or ""):
            raise ControlError(f"the phone system refused the {what}: {(reply or '').strip()}")
        return reply or ""

    def _leg(self, uuid: str | None) -> Leg | None:
        return self.legs.legs.get(uuid) if uuid is not None else None


def valid_disposition(value: object) -> str:
    """A short outcome label: 1-64 characters, no control characters, trimmed."""
    if not isinstance(value, str) or not value.strip():
        raise CommandError("disposition", "give the call's outcome as text, e.g. \"sale\"")
    value = value.strip()
    if len(value) > DISPOSITION_MAX:
        raise CommandError("disposition", f"at most {DISPOSITION_MAX} characters "
                           f"(got {len(value)})")
    if any(unicodedata.category(char).startswith("C") for char in value):
        raise CommandError("disposition", "no control characters or line breaks")
    return value


def valid_notes(value: object) -> str | None:
    """Free notes: up to 4000 characters; line breaks and tabs, but no other control
    characters. Empty or missing: None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise CommandError("notes", "give the notes as text")
    value = value.strip()
    if len(value) > NOTES_MAX:
        raise CommandError("notes", f"at most {NOTES_MAX} characters (got {len(value)})")
    if any(unicodedata.category(char).startswith("C") and char not in "\n\t"
           for char in value.replace("\r\n", "\n")):
        raise CommandError("notes", "no control characters other than line breaks and tabs")
    return value or None


__all__ = ["ControlError", "Controls", "Transfer", "valid_disposition", "valid_notes"]
