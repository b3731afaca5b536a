"""The simulated switch: channels and what happens to them, event by event.

The order of events, the state each event reports and the variables set on the way follow
the captures of FreeSWITCH 1.10.12 (tests/fixtures/esl/). Applications (park, playback,
eavesdrop, recording, hold) live in apps.py, bridging in bridging.py, conference rooms in
conference.py; this module holds
the channel lifecycle: originate, the far end's answers, inbound calls and hangup.
"""

from __future__ import annotations

import itertools
import uuid as uuidlib
from collections.abc import Callable, Iterable
from dataclasses import replace

from callcenter.clock import Clock
from callcenter.sim import variables as V
from callcenter.sim.apps import SHIPPED_DIDS, Apps
from callcenter.sim.bridging import Bridging
from callcenter.sim.bus import EventBus
from callcenter.sim.channels import CALLSTATE_NUMBERS, Channel, Profile
from callcenter.sim.conference import Conferences, Room
from callcenter.sim.dialplan import ControllerDialplan
from callcenter.sim.directory import Directory
from callcenter.sim.endpoints import Behaviour, Endpoints
from callcenter.sim.events import EventFactory
from callcenter.sim.originate import Originate, OriginateJob

GATEWAY_PORT = V.CARRIER_PORT
# Events that set the application column of `show channels` (see Channel.application).
APPLICATION_EVENTS = frozenset({"CHANNEL_EXECUTE", "CHANNEL_HOLD", "CHANNEL_UNHOLD"})
# A key's DTMF-Duration in samples: an RFC 2833 key reports its own length (a 160 ms key from
# tests/freeswitch's caller said 1280); this is FreeSWITCH's default length, 250 ms at 8 kHz.
DTMF_SAMPLES = 2000


class Switch(Apps, Bridging, Conferences):
    def __init__(self, clock: Clock, bus: EventBus, factory: EventFactory,
                 directory: Directory, endpoints: Endpoints, *, domain: str, gateway: str,
                 recordings_dir: str | None = None, originate_settle_s: float = 0.0,
                 app_delay_s: float = 0.0) -> None:
        self.clock = clock
        self.bus = bus
        self.factory = factory
        self.directory = directory
        self.endpoints = endpoints
        self.domain = domain
        self.gateway = gateway
        self.recordings_dir = recordings_dir
        # Time between a leg's answer (or early media) and its originate returning: a
        # uuid_bridge arriving meanwhile wins the race (the job then says ORIGINATOR_CANCEL).
        self.originate_settle_s = originate_settle_s
        # Time between the originate returning (+OK) and the leg starting its application:
        # a uuid_bridge arriving meanwhile finds the leg not parked yet (05-inbound, json run).
        self.app_delay_s = app_delay_s
        self.channels: dict[str, Channel] = {}
        self.rooms: dict[str, Room] = {}
        # DID -> cc_queue of the public context: the shipped ones, and any inbound() adds.
        self.dialplan_queues: dict[str, str] = dict(SHIPPED_DIDS)
        # The controller's mod_xml_curl dialplan (sim/dialplan.py), when pointed at one.
        self.controller_dialplan: ControllerDialplan | None = None
        self.sessions_total = 0
        self.sessions_peak = 0
        self.started = clock.now()
        self._session_ids = itertools.count(1)
        self._caller_ports = itertools.count(5095)

    # --- events --------------------------------------------------------------------------

    def fire(self, name: str, ch: Channel, *, before: Iterable[tuple[str, str]] = (),
             after: Iterable[tuple[str, str]] = (),
             calling: tuple[str, str, int] | None = None) -> None:
        before, after = list(before), list(after)
        if name in APPLICATION_EVENTS:
            headers = dict(after)
            ch.application = (headers.get("Application", ""), headers.get("Application-Data", ""))
        self.bus.fire(name, lambda: self.factory.channel(
            name, ch, before=before, after=after, calling=calling))

    def fire_plain(self, name: str, headers: Iterable[tuple[str, str]] = (), *,
                   subclass: str | None = None, body: str | None = None) -> None:
        headers = list(headers)
        self.bus.fire(name, lambda: self.factory.plain(name, headers, subclass=subclass,
                                                       body=body), subclass)

    def run_state(self, ch: Channel, state: str) -> None:
        ch.running = ch.state = state
        self.fire("CHANNEL_STATE", ch)

    def set_callstate(self, ch: Channel, callstate: str) -> None:
        previous, ch.callstate = ch.callstate, callstate
        self.fire("CHANNEL_CALLSTATE", ch, before=[
            ("Original-Channel-Call-State", previous),
            ("Channel-Call-State-Number", str(CALLSTATE_NUMBERS[callstate])),
        ])

    def now_us(self) -> int:
        return self.factory.now_us()

    def later(self, ch: Channel | None, delay: float, fn: Callable, *args):
        """A timer that dies with the channel."""
        timer = self.clock.call_later(delay, fn, *args)
        if ch is not None:
            ch.timers.append(timer)
        return timer

    def _new_channel(self, uuid: str, name: str, direction: str, kind: str,
                     profile: Profile, far_port: int) -> Channel:
        if uuid in self.channels:
            raise ValueError(f"uuid {uuid} already in use")
        now = self.now_us()
        profile.created_us = now
        ch = Channel(uuid=uuid, name=name, direction=direction, kind=kind, profile=profile,
                     session_id=next(self._session_ids), far_port=far_port)
        ch.times["created"] = now
        ch.initial = replace(profile)
        self.channels[uuid] = ch
        self.sessions_total += 1
        self.sessions_peak = max(self.sessions_peak, len(self.channels))
        return ch

    # --- originate -----------------------------------------------------------------------

    def originate(self, request: Originate, job: OriginateJob) -> None:
        """Start an outbound leg; the job reports +OK at answer or early media, or -ERR."""
        endpoint = request.endpoint
        variables = dict(request.variables)
        parts = endpoint.split("/")
        kind = parts[0].lower()
        if kind == "error" and len(parts) > 1:
            job.finish(f"-ERR {parts[1].upper()}\n")
            return
        if kind == "user" and len(parts) == 2:
            extension = parts[1].partition("@")[0]
            self.fire_plain("API", [("API-Command", "sofia_contact"),
                                    ("API-Command-Argument", f"*/{extension}@{self.domain}")])
            self.fire_plain("API", [("API-Command", "verto_contact"),
                                    ("API-Command-Argument", f"{extension}@{self.domain}")])
            port = self.directory.contact_port(extension)
            if port is None:
                job.finish("-ERR USER_NOT_REGISTERED\n")
                return
            behaviour = self.endpoints.for_agent(extension)
            name = f"sofia/internal/{extension}@{V.LOCAL_IP}:{port}"
            self._outbound(request, job, variables, "user", extension, name, port, behaviour)
        elif kind == "sofia" and len(parts) == 4 and parts[1] == "gateway":
            if parts[2] != self.gateway:
                job.finish("-ERR INVALID_GATEWAY\n")
                return
            number = parts[3].partition("@")[0]
            behaviour = self.endpoints.for_customer(number)
            self._outbound(request, job, variables, "gateway", number,
                           f"sofia/external/{number}", GATEWAY_PORT, behaviour)
        elif kind == "loopback" and len(parts) >= 2:
            number = parts[1]
            behaviour = self.endpoints.scripts.get(number, Behaviour.answer(0))
            self._outbound(request, job, variables, "loopback", number,
                           f"loopback/{number}-a", 0, behaviour)
        else:
            job.finish("-ERR CHAN_NOT_IMPLEMENTED\n")

    def _outbound(self, request: Originate, job: OriginateJob, variables: dict[str, str],
                  kind: str, destination: str, name: str, far_port: int,
                  behaviour: Behaviour) -> None:
        uuid = variables.get("origination_uuid") or str(uuidlib.uuid4())
        if uuid in self.channels:
            job.finish("-ERR DESTINATION_OUT_OF_ORDER\n")
            return
        number = variables.get("origination_caller_id_number", "0000000000")
        profile = Profile(
            direction="outbound", logical_direction="outbound", caller_id_number=number,
            orig_caller_id_number=number, caller_id_name=variables.get(
                "origination_caller_id_name", ""),
            orig_caller_id_name=variables.get("origination_caller_id_name", ""),
            callee_id_name="Outbound Call", callee_id_number=destination, ani=number,
            destination_number=destination, uuid=uuid, chan_name=name)
        ch = self._new_channel(uuid, name, "outbound", kind, profile, far_port)
        ch.job = job
        ch.request = request
        ch.behaviour = behaviour
        self.fire("CHANNEL_OUTGOING", ch)
        V.outgoing(ch, variables, domain=self.domain, gateway=self.gateway)
        self.run_state(ch, "CS_INIT")
        ch.state = "CS_ROUTING"
        self.fire("CHANNEL_CREATE", ch)
        self.fire("CHANNEL_ORIGINATE", ch)
        self.run_state(ch, "CS_ROUTING")
        ch.state = "CS_CONSUME_MEDIA"
        self.run_state(ch, "CS_CONSUME_MEDIA")
        timeout = variables.get("originate_timeout", "")
        timeout_s = int(timeout) if timeout.isdigit() else request.timeout_s
        self.later(ch, timeout_s, self._originate_timeout, ch)
        self._play_far_end(ch, behaviour)

    def _play_far_end(self, ch: Channel, b: Behaviour) -> None:
        """Schedule what the far end does; zero delays happen at once, in SIP order."""
        steps: list[tuple[float, Callable[[Channel], None]]] = []
        if b.reject_cause is not None:
            steps.append((b.reject_after_ms / 1000, lambda c: self.far_refuse(c, b.reject_cause)))
        if b.ring_ms is not None:
            steps.append((b.ring_ms / 1000, self.far_ringing))
        if b.early_media_ms is not None:
            steps.append((b.early_media_ms / 1000, self.far_early_media))
        if b.answer_after_ms is not None and b.reject_cause is None:
            steps.append((b.answer_after_ms / 1000, self.far_answer))
        steps.sort(key=lambda step: step[0])
        for delay, step in steps:
            if delay <= 0:
                if ch.alive:
                    step(ch)
            else:
                self.later(ch, delay, self._step, ch, step)

    @staticmethod
    def _step(ch: Channel, step: Callable[[Channel], None]) -> None:
        if ch.alive:
            step(ch)

    def _originate_timeout(self, ch: Channel) -> None:
        if ch.alive and ch.job is not None and not ch.job.done and not (
                ch.answered or ch.early):
            ch.hangup_disposition = "send_cancel"
            self.hangup(ch, "NO_ANSWER")

    # --- the far end's responses ---------------------------------------------------------

    def far_ringing(self, ch: Channel) -> None:
        """180 Ringing."""
        if ch.answered or ch.early or ch.times["progress"]:
            return
        ch.times["progress"] = self.now_us()
        ch.profile.network_addr = V.LOCAL_IP
        V.ringing(ch)
        self.fire("CHANNEL_PROGRESS", ch)
        self.set_callstate(ch, "RINGING")

    def far_early_media(self, ch: Channel) -> None:
        """183 Session Progress with SDP."""
        if ch.answered or ch.early:
            return
        ch.early = True
        ch.times["progress_media"] = self.now_us()
        ch.profile.network_addr = V.LOCAL_IP
        V.remote_media(ch, answered=False)
        self.fire("CHANNEL_PROGRESS_MEDIA", ch)
        self.set_callstate(ch, "EARLY")
        ch.codec = True
        V.negotiated(ch)
        self._originate_answered(ch)

    def far_answer(self, ch: Channel) -> None:
        """200 OK."""
        if ch.answered or not ch.alive:
            return
        first_media = not ch.early
        ch.codec = True
        if first_media:
            V.remote_media(ch, answered=True)
        ch.profile.network_addr = V.LOCAL_IP
        self.mark_answered(ch)
        if ch.behaviour is not None and ch.behaviour.hangup_after_s is not None:
            self.later(ch, ch.behaviour.hangup_after_s, self.far_bye, ch)
        if ch.job is not None and not ch.job.done and not ch.early:
            self._originate_answered(ch)

    def mark_answered(self, ch: Channel) -> None:
        ch.answered = True
        ch.times["answered"] = self.now_us()
        partner = ch.partner
        late = partner is not None and ch.direction == "outbound"
        if late:  # answered while bridged (after early media)
            ch.profile.callee_id_name = ch.profile.callee_id_number
            V.bridged(ch, partner)
        self.fire("CHANNEL_ANSWER", ch)
        self.set_callstate(ch, "ACTIVE")
        if ch.far_end is not None:
            ch.far_end.answered()
        if ch.early and ch.direction == "outbound":
            ch.set_var("endpoint_disposition", "ANSWER")
        if late and partner.answered:
            if partner.bridge_a:
                self.media_joined(partner, ch)
            else:
                self.media_joined(ch, partner)
        if partner is not None and partner.alive and not partner.answered \
                and partner.direction == "inbound":
            self.answer_inbound(partner)

    def far_refuse(self, ch: Channel, cause: str) -> None:
        """A final error response (486 Busy Here, 503 ...)."""
        if ch.answered:
            return
        ch.profile.network_addr = V.LOCAL_IP
        status, phrase = V.SIP_FOR_CAUSE[cause]
        V.refused(ch, status, phrase, cause)
        self.hangup(ch, cause)

    def far_bye(self, ch: Channel) -> None:
        """The far end hangs up an answered call."""
        if not ch.alive:
            return
        V.far_end_hangup(ch, 200, "OK", "NORMAL_CLEARING")
        ch.hangup_disposition = "recv_bye"
        self.hangup(ch, "NORMAL_CLEARING", by_far_end=True)

    def far_cancel(self, ch: Channel) -> None:
        """An inbound caller gives up before being answered (CANCEL)."""
        if not ch.alive or ch.answered:
            return
        ch.hangup_disposition = "recv_cancel"
        self.hangup(ch, "ORIGINATOR_CANCEL", by_far_end=True)

    # --- originate completion ------------------------------------------------------------

    def _originate_answered(self, ch: Channel) -> None:
        """Answer or early media reached the originate; it returns (now or after settling)."""
        if ch.job is None or ch.job.done:
            return
        if ch.kind == "user" and ch.answered:
            self.fire("CHANNEL_OUTGOING", ch)
            V.answered_user(ch, ch.profile.destination_number)
        elif ch.answered and not ch.early:
            ch.set_var("endpoint_disposition", "ANSWER")
        if self.originate_settle_s > 0:
            self.later(ch, self.originate_settle_s, self._originate_returns, ch)
        else:
            self._originate_returns(ch)

    def flip_caller_id(self, ch: Channel) -> None:
        """An answered outbound leg shows the far end as its caller (CALL_UPDATE RECV)."""
        if not ch.flip_pending:
            return
        ch.flip_pending = False
        p = ch.profile
        previous = p.caller_id_number
        p.caller_id_name, p.caller_id_number = p.callee_id_name, p.callee_id_number
        p.callee_id_name, p.callee_id_number = "", previous
        ch.hit_dialplan = True
        V.cid_flipped(ch, previous)

    def _originate_returns(self, ch: Channel) -> None:
        job = ch.job
        if job is None or job.done or not ch.alive:
            return
        if job.bridged_early:
            # uuid_bridge took the leg before the originate returned (README, under load).
            job.finish("-ERR ORIGINATOR_CANCEL\n")
            self.originate_let_go(ch)
            return
        job.finish(f"+OK {ch.uuid}\n")
        ch.flip_pending = True
        if self.app_delay_s > 0:
            self.later(ch, self.app_delay_s, self._run_originate_app, ch)
        else:
            self._run_originate_app(ch)

    def _run_originate_app(self, ch: Channel) -> None:
        if not ch.alive or ch.partner is not None:
            return  # bridged before its application started: it never runs
        self.flip_caller_id(ch)
        request = ch.request
        self.run_state(ch, "CS_EXECUTE")
        if request.app is not None:
            self.start_app(ch, request.app, request.app_arg)
        else:
            self.run_dialplan(ch, request.exten)

    # --- inbound -------------------------------------------------------------------------

    def inbound(self, did: str, caller: str, *, caller_name: str = "",
                queue: str | None = None, uuid: str | None = None,
                behaviour: Behaviour | None = None, guest: Iterable[tuple[str, str]] = (),
                far_end=None) -> Channel:
        """A call from the carrier to one of our numbers, through the public dialplan.
        `queue` adds the DID to the dialplan; `behaviour` (else the one scripted for the
        caller's number) says how patient the caller is and how long it talks.

        With `guest` (the directory's variables for a website visitor, guests.py) the call
        comes in on the internal profile instead, authenticated, into the user's
        `user_context` (the shipped guests context parks `call`: cc_queue is already set);
        `far_end` is told when the leg is answered and hung up."""
        if queue is not None:
            self.dialplan_queues[did.removeprefix("+")] = queue
        guest = dict(guest)
        sofia = "internal" if guest else "external"
        port = next(self._caller_ports)
        name = f"sofia/{sofia}/{caller}@{V.LOCAL_IP}:{port}"
        uuid = uuid or str(uuidlib.uuid4())
        profile = Profile(
            direction="inbound", logical_direction="inbound", username=caller,
            dialplan="XML", caller_id_name=caller_name, caller_id_number=caller,
            orig_caller_id_name=caller_name, orig_caller_id_number=caller,
            network_addr=V.LOCAL_IP, ani=caller, destination_number=did, uuid=uuid,
            source="mod_sofia", context=guest.get("user_context", "public"), chan_name=name)
        ch = self._new_channel(uuid, name, "inbound", "inbound", profile, port)
        ch.running = ch.state = "CS_NEW"
        ch.far_end = far_end
        V.inbound(ch, caller, caller_name, did, port)
        if guest:
            V.guest(ch, guest)
        self.fire("CHANNEL_STATE", ch)
        self.run_state(ch, "CS_INIT")
        ch.state = "CS_ROUTING"
        self.fire("CHANNEL_CREATE", ch)
        ch.running = "CS_ROUTING"
        self.set_callstate(ch, "RINGING")
        self.fire("CHANNEL_STATE", ch)
        behaviour = behaviour or self.endpoints.for_caller(caller)
        ch.behaviour = behaviour
        if behaviour.patience_s is not None:
            ch.patience_timer = self.later(ch, behaviour.patience_s, self.caller_gives_up, ch)
        if behaviour.press_key is not None and behaviour.press_after_s is not None:
            self.later(ch, behaviour.press_after_s, self.caller_presses, ch, behaviour.press_key)
        self.run_state(ch, "CS_EXECUTE")
        self.run_dialplan(ch, did)
        return ch

    def answer_inbound(self, ch: Channel) -> None:
        """We answer an inbound caller (uuid_answer, or a bridge to an answered leg)."""
        if ch.answered or not ch.alive:
            return
        # With inbound-late-negotiation (the shipped external profile) the answer negotiates
        # the caller's SDP first, which marks it pre-answered: CHANNEL_PROGRESS_MEDIA comes
        # before CHANNEL_ANSWER unless a broadcast already pre-answered it.
        self.pre_answer(ch)
        ch.codec = True
        V.negotiated(ch)
        V.local_sdp(ch)
        self.mark_answered(ch)
        V.inbound_answered(ch)
        if ch.behaviour is not None and ch.behaviour.hangup_after_s is not None:
            self.later(ch, ch.behaviour.hangup_after_s, self.far_bye, ch)

    def caller_gives_up(self, ch: Channel) -> None:
        """No agent reached the caller in time: it hangs up (BYE once answered, as a queue
        that answers on entry does; CANCEL before)."""
        if not ch.alive or ch.times["bridged"]:
            return
        if ch.answered:
            self.far_bye(ch)
        else:
            self.far_cancel(ch)

    def caller_presses(self, ch: Channel, key: str) -> None:
        """A waiting caller's key press (the Behaviour's), unless it reached an agent."""
        if ch.alive and not ch.times["bridged"]:
            self.press(ch, key)

    def press(self, ch: Channel, key: str, source: str = "RTP") -> None:
        """The far end pressed a key: FreeSWITCH's DTMF event as switch_channel_dequeue_dtmf
        fires it (the channel's headers, no variables, then the digit, its duration in
        samples and where it came from: RTP for RFC 2833 telephone events)."""
        self.fire("DTMF", ch, after=[("DTMF-Digit", key), ("DTMF-Duration", str(DTMF_SAMPLES)),
                                     ("DTMF-Source", source)])

    def caller_bridged(self, ch: Channel) -> None:
        """An inbound caller reached an agent: its patience no longer counts, and its talk
        time starts (at its first bridge only)."""
        if ch.patience_timer is not None:
            ch.patience_timer.cancel()
            ch.patience_timer = None
        talk_s = ch.behaviour.talk_after_bridge_s if ch.behaviour is not None else None
        if talk_s is not None and ch.talk_timer is None:
            ch.talk_timer = self.later(ch, talk_s, self.far_bye, ch)

    def pre_answer(self, ch: Channel) -> None:
        """183 with our SDP to an inbound caller (playback before answer)."""
        if ch.answered or ch.early or not ch.alive:
            return
        ch.codec = True
        ch.early = True
        ch.times["progress_media"] = self.now_us()
        V.negotiated(ch)
        ch.set_var("audio_media_flow", "sendrecv")
        ch.set_var("endpoint_disposition", "EARLY MEDIA")
        self.fire("CHANNEL_PROGRESS_MEDIA", ch)
        self.set_callstate(ch, "EARLY")
        V.local_sdp(ch)

    # --- hangup --------------------------------------------------------------------------

    def hangup(self, ch: Channel, cause: str = "NORMAL_CLEARING", *,
               by_far_end: bool = False) -> None:
        if ch.down:
            return
        ch.down = True
        ch.hangup_cause = cause
        ch.state = "CS_HANGUP"
        for timer in ch.timers:
            timer.cancel()
        ch.timers.clear()
        if not ch.hangup_disposition:
            if ch.direction == "outbound" and not ch.answered:
                ch.hangup_disposition = "send_cancel" if not by_far_end else "recv_cancel"
            elif ch.direction == "inbound" and not ch.answered:
                ch.hangup_disposition = "send_refuse"
            else:
                ch.hangup_disposition = "send_bye"
        partner = ch.partner
        if partner is not None:
            if "bridge_to" not in ch.variables:
                V.bridged(ch, partner)
            ch.set_var("last_bridge_role", "originator" if ch.bridge_a else "originatee")
        self.fire("CHANNEL_HANGUP", ch)
        if ch.far_end is not None:
            ch.far_end.hung_up(cause)
        self.bridge_cancelled(ch)
        self.stop_media(ch)
        self.leave_room(ch)
        if partner is not None:
            self.end_bridge(ch, partner)
        self.stop_apps(ch)
        self.run_state(ch, "CS_HANGUP")
        ch.times["hangup"] = self.now_us()
        self.set_callstate(ch, "HANGUP")
        self.run_state(ch, "CS_REPORTING")
        for name, value in ch.report_vars:
            ch.set_var(name, value)
        ch.set_var("call_uuid", ch.uuid)  # a b leg's call was its a leg's until now
        V.reporting(ch, self.now_us())
        self.fire("CHANNEL_HANGUP_COMPLETE", ch, before=[("Hangup-Cause", cause)])
        if ch.job is not None and not ch.job.done:
            ch.job.finish(f"-ERR {cause}\n")
        for name, value in ch.destroy_vars:
            ch.set_var(name, value)
        ch.state = "CS_DESTROY"
        self.fire("CHANNEL_DESTROY", ch)
        self.run_state(ch, "CS_DESTROY")
        self.channels.pop(ch.uuid, None)

    def hangup_all(self, cause: str) -> int:
        legs = list(self.channels.values())
        for ch in legs:
            self.hangup(ch, cause)
        return len(legs)

    def new_profile(self, ch: Channel, **changes) -> None:
        """A transfer gives the channel a new caller profile (next index, new created time)."""
        ch.profile = replace(ch.profile, index=ch.profile.index + 1,
                             created_us=self.now_us(), **changes)
