"""Dialplan applications and media on a channel: park, playback, hold music, recording,
eavesdrop, and the public dialplan that parks an inbound caller with its queue.

A mixin of the Switch (switch.py), which provides fire(), run_state(), hangup() and the clock.
"""

from __future__ import annotations

import os
import time
import uuid as uuidlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from callcenter.sim import variables as V
from callcenter.sim.channels import Channel
from callcenter.sim.wav import write_silence

if TYPE_CHECKING:
    from callcenter.sim.switch import Switch

NONE = "_none_"
# The DIDs of the shipped freeswitch-conf/dids.xml and their queues (a test checks they agree).
SHIPPED_DIDS = {"5550100": "sales"}
HOLD_MUSIC = "local_stream://moh"
DEFAULT_PLAY_S = 3.0  # how long a plain sound file "plays" in the simulator


@dataclass
class Playback:
    path: str
    started_us: int
    timer: object = None


@dataclass
class Recording:
    path: str
    started_us: int


def file_type(path: str) -> str:
    if "://" in path:
        return path.split("://", 1)[0]
    return os.path.splitext(path)[1].lstrip(".") or "wav"


def play_seconds(path: str) -> float | None:
    """How long a playback lasts: None for endless streams (loops=-1, music on hold)."""
    if "loops=-1" in path or path.startswith("local_stream://"):
        return None
    if path.startswith("silence_stream://"):
        ms = path.split("://", 1)[1].split(",")[0]
        return int(ms) / 1000 if ms.isdigit() and int(ms) >= 0 else None
    return DEFAULT_PLAY_S


class Apps:
    # --- executing applications ----------------------------------------------------------

    def execute(self: Switch, ch: Channel, app: str, data: str = "") -> None:
        app_uuid = str(uuidlib.uuid4())
        ch.apps.append((app, data, app_uuid))
        ch.last_app = (app, data)
        ch.set_var("current_application", app)
        if data:
            ch.set_var("current_application_data", data)
        else:
            ch.set_var("current_application_data", None)
        after = [("Application", app)]
        if data:
            after.append(("Application-Data", data))
        after.append(("Application-UUID", app_uuid))
        self.fire("CHANNEL_EXECUTE", ch, after=after)

    def complete(self: Switch, ch: Channel, response: str = NONE) -> None:
        if not ch.apps:
            return
        app, data, app_uuid = ch.apps.pop()
        if response != NONE:
            ch.set_var("current_application_response", response)
        after = [("Application", app)]
        if data:
            after.append(("Application-Data", data))
        after += [("Application-Response", response), ("Application-UUID", app_uuid)]
        self.fire("CHANNEL_EXECUTE_COMPLETE", ch, after=after)

    def start_app(self: Switch, ch: Channel, app: str, data: str) -> None:
        """Run the application an originate named (&app(data)) on the answered leg."""
        if app == "park":
            self.park(ch)
        elif app == "eavesdrop":
            self.eavesdrop(ch, data)
        elif app == "playback":
            self.execute(ch, "playback", data)
            self.start_playback(ch, data, then_hangup=True)
        elif app in ("echo", "conference", "delay_echo"):
            self.execute(ch, app, data)  # runs until the leg hangs up
        elif app == "hangup":
            self.execute(ch, app, data)
            self.hangup(ch, data.strip().upper() or "NORMAL_CLEARING")
        else:
            self.execute(ch, app, data)
            self.complete(ch)
            self.hangup(ch, "NORMAL_CLEARING")  # executed the last dialplan instruction

    def run_dialplan(self: Switch, ch: Channel, exten: str) -> None:
        """The shipped dialplan: a DID from the carrier parks with cc_queue=<queue>. Pointed at
        a controller (`controller_dialplan`), the public context is the controller's answer,
        and the static DIDs only when it gives none (mod_xml_curl's fallback)."""
        queue = self.dialplan_queues.get(exten.removeprefix("+"))
        if ch.profile.context == "public":
            self._set(ch, "outside_call", "true")
            self.fire_plain("API", [("API-Command", "strftime"),
                                    ("API-Command-Argument", "%a, %d %b %Y %T %z")])
            date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(self.clock.now()))
            self.execute(ch, "export", f"RFC2822_DATE={date}")
            ch.set_var("RFC2822_DATE", date)
            ch.set_var("export_vars", "RFC2822_DATE")
            self.complete(ch)
            if self.controller_dialplan is not None:
                actions = self.controller_dialplan.lookup(ch, "public", exten)
                if actions is not None:
                    self.run_actions(ch, actions)
                    return
        if queue is not None:
            self._set(ch, "cc_queue", queue)
        self.park(ch)

    def run_actions(self: Switch, ch: Channel, actions: list[tuple[str, str]]) -> None:
        """An extension the controller served: set, log and respond run and complete, park
        parks, hangup hangs up with its cause. An extension that ends without parking or
        hanging up leaves nothing to run: FreeSWITCH hangs up (NORMAL_CLEARING)."""
        for application, data in actions:
            if not ch.alive:
                return
            if application == "park":
                self.park(ch)
                return
            if application == "hangup":
                self.execute(ch, application, data)
                self.hangup(ch, data.strip().upper() or "NORMAL_CLEARING")
                return
            if application == "set":
                name, _, value = data.partition("=")
                self._set(ch, name, value)
            else:
                self.execute(ch, application, data)
                self.complete(ch)
        self.hangup(ch, "NO_ROUTE_DESTINATION" if not actions else "NORMAL_CLEARING")

    def _set(self: Switch, ch: Channel, name: str, value: str) -> None:
        self.execute(ch, "set", f"{name}={value}")
        ch.set_var(name, value)
        self.complete(ch)

    def transfer(self: Switch, ch: Channel, dest: str, dialplan: str = "XML") -> None:
        """uuid_transfer: leave the bridge (or app) and run the dialplan for `dest` (inline:
        the application it names, conference.py)."""
        if ch.partner is not None:
            self.leave_bridge(ch)
        self._leave_app(ch)
        now = self.now_us()
        source = f"{now // 1_000_000}:{uuidlib.uuid4()}:bl_xfer:{dest}/XML/{ch.profile.context}"
        ch.set_var("transfer_history", source)
        ch.set_var("transfer_source", source)
        self.new_profile(ch, destination_number=dest, transfer_source=source)
        ch.times["transfer"] = now
        self.run_state(ch, "CS_ROUTING")
        self.run_state(ch, "CS_EXECUTE")
        if dialplan == "inline":
            self.run_inline(ch, dest)
        elif dest == "park":
            self.park(ch)
        else:
            self.run_dialplan(ch, dest)

    # --- park ----------------------------------------------------------------------------

    def park(self: Switch, ch: Channel) -> None:
        self.execute(ch, "park")
        ch.parked = True
        timeout = ch.variables.get("park_timeout")
        if timeout:
            seconds, _, cause = timeout.partition(":")
            ch.set_var("park_timeout", None)
            ch.set_var("park_after_bridge", None)
            if seconds.strip().isdigit():
                ch.park_timer = self.clock.call_later(
                    int(seconds), self._park_expired, ch, cause.strip() or "NORMAL_CLEARING")
                ch.timers.append(ch.park_timer)
        self.fire("CHANNEL_PARK", ch)

    def _park_expired(self: Switch, ch: Channel, cause: str) -> None:
        if ch.alive and ch.parked:
            self.hangup(ch, cause)

    def unpark(self: Switch, ch: Channel) -> None:
        if not ch.parked:
            return
        ch.parked = False
        if ch.park_timer is not None:
            ch.park_timer.cancel()
            ch.park_timer = None
        self.stop_playback(ch, "break")
        ch.set_var("current_loop", None)
        ch.set_var("total_loops", None)
        self.fire("CHANNEL_UNPARK", ch)
        self.complete(ch, ch.variables.get("current_application_response", NONE))

    # --- playback ------------------------------------------------------------------------

    def broadcast(self: Switch, ch: Channel, path: str, legs: str = "aleg") -> bool:
        """Like FreeSWITCH, a broadcast is queued on the leg (event-lock): it plays once what
        the leg plays now has ended, stopped (uuid_break) or not."""
        targets = {"aleg": [ch], "bleg": [ch.partner], "both": [ch, ch.partner],
                   "holdb": [ch.partner]}.get(legs, [ch])
        for target in targets:
            if target is None or not target.alive:
                continue
            target.broadcasts.append(path)
            if target.playback is None:
                self._next_broadcast(target)
        return True

    def _next_broadcast(self: Switch, ch: Channel) -> None:
        """The leg's next queued broadcast, if it is free to play it. A phrase (phrase:NAME:N)
        plays nothing: the shipped configuration has no sound files, so the switch skips each
        of its prompts without a playback event."""
        while ch.alive and ch.playback is None and ch.broadcasts:
            path = ch.broadcasts.popleft()
            ch.set_var("current_loop", "1")
            ch.set_var("total_loops", "1")
            if ch.direction == "inbound" and not ch.answered:
                self.pre_answer(ch)         # playback needs media: 183 first
            self.execute(ch, "playback", path)
            if path.startswith("phrase:"):
                self.complete(ch, "FILE NOT FOUND")
                continue
            self.start_playback(ch, path)

    def break_playback(self: Switch, ch: Channel, everything: bool) -> None:
        """uuid_break: stop what plays (the next queued broadcast starts), or with `all` drop
        the queued ones first."""
        if everything:
            ch.broadcasts.clear()
        self.stop_playback(ch, "break")

    def start_playback(self: Switch, ch: Channel, path: str, then_hangup: bool = False) -> None:
        ch.playback = Playback(path, self.now_us())
        self.fire("PLAYBACK_START", ch, after=[("Playback-File-Type", file_type(path)),
                                               ("Playback-File-Path", path)])
        seconds = play_seconds(path)
        if seconds is not None:
            ch.playback.timer = self.clock.call_later(seconds, self._playback_done, ch,
                                                      ch.playback, then_hangup)
            ch.timers.append(ch.playback.timer)

    def _playback_done(self: Switch, ch: Channel, playback: Playback, then_hangup: bool) -> None:
        if ch.alive and ch.playback is playback:
            self.stop_playback(ch, "done")
            if then_hangup:
                self.hangup(ch, "NORMAL_CLEARING")

    def stop_playback(self: Switch, ch: Channel, status: str) -> bool:
        playback = ch.playback
        if playback is None:
            return False
        ch.playback = None
        if playback.timer is not None:
            playback.timer.cancel()
        samples = (self.now_us() - playback.started_us) * 8000 // 1_000_000
        ch.set_var("playback_last_offset_pos", samples)
        ch.set_var("playback_seconds", samples // 8000)
        ch.set_var("playback_ms", samples // 8)
        ch.set_var("playback_samples", samples)
        self.fire("PLAYBACK_STOP", ch, after=[
            ("Playback-File-Type", file_type(playback.path)),
            ("Playback-File-Path", playback.path), ("Playback-Status", status)])
        self.complete(ch, "FILE PLAYED")
        self._next_broadcast(ch)
        return True

    # --- hold ----------------------------------------------------------------------------

    def hold(self: Switch, ch: Channel) -> bool:
        if not ch.alive or ch.held or not (ch.answered or ch.early):
            return False
        ch.held = True
        ch.times["last_hold"] = self.now_us()
        self.set_callstate(ch, "HELD")
        self.fire("CHANNEL_HOLD", ch)
        partner = ch.partner
        if partner is not None and partner.alive:
            # Music on hold for the partner; the captured switch had no MOH files, so the
            # playback ended at once ("FILE NOT FOUND").
            partner.set_var("switch_m_sdp", ch.variables.get("switch_r_sdp", ""))
            partner.set_var("current_loop", "1")
            partner.set_var("total_loops", "-1")
            self.execute(partner, "playback", HOLD_MUSIC)
            self.complete(partner, "FILE NOT FOUND")
            self.fire("PRIVATE_COMMAND", partner, before=[
                ("call-command", "execute"), ("execute-app-name", "playback"),
                ("execute-app-arg", HOLD_MUSIC), ("event-lock", "true"),
                ("lead-frames", "5"), ("loops", "-1")])
        return True

    def unhold(self: Switch, ch: Channel) -> bool:
        if not ch.alive or not ch.held:
            return False
        ch.held = False
        now = self.now_us()
        ch.times["hold_accum"] += now - ch.times["last_hold"]
        ch.hold_events.append((ch.times["last_hold"], now))
        self.set_callstate(ch, "UNHELD")
        self.fire("CHANNEL_UNHOLD", ch)
        if ch.partner is not None:
            ch.partner.set_var("current_loop", None)
            ch.partner.set_var("total_loops", None)
        self.set_callstate(ch, "ACTIVE" if ch.answered else "EARLY")
        return True

    # --- recording -----------------------------------------------------------------------

    def record_path(self: Switch, path: str) -> str:
        if self.recordings_dir and not os.path.isabs(path):
            return os.path.join(self.recordings_dir, path)
        return path

    def record_start(self: Switch, ch: Channel, path: str) -> bool:
        if not ch.alive or path in ch.recordings:
            return False
        path = self.record_path(path)
        try:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            write_silence(path, 0)
        except OSError:
            return False
        ch.recordings[path] = Recording(path, self.now_us())
        self.fire("RECORD_START", ch, after=[("Record-File-Path", path)])
        self.fire("MEDIA_BUG_START", ch, before=[("Media-Bug-Function", "session_record"),
                                                 ("Media-Bug-Target", path)])
        return True

    def record_stop(self: Switch, ch: Channel, path: str) -> bool:
        if path == "all":
            for each in list(ch.recordings):
                self.record_stop(ch, each)
            return True
        path = self.record_path(path)
        recording = ch.recordings.pop(path, None)
        if recording is None:
            return False
        elapsed_us = self.now_us() - recording.started_us
        samples = elapsed_us * 8000 // 1_000_000
        try:
            size = write_silence(path, samples)
        except OSError:
            size = 0
        ch.set_var("record_file_size", size)
        ch.set_var("record_samples", samples)
        ch.set_var("record_seconds", samples // 8000)
        ch.set_var("record_ms", samples // 8)
        ch.set_var("record_completion_cause", "success-maxtime")
        self.fire("RECORD_STOP", ch, after=[("Record-File-Path", path),
                                            ("Record-Completion-Cause", "success-maxtime")])
        self.fire("MEDIA_BUG_STOP", ch, before=[("Media-Bug-Function", "session_record"),
                                                ("Media-Bug-Target", path)])
        return True

    # --- eavesdrop -----------------------------------------------------------------------

    def eavesdrop(self: Switch, ch: Channel, target_uuid: str) -> None:
        self.execute(ch, "eavesdrop", target_uuid)
        target = self.channels.get(target_uuid.strip())
        if target is None or not target.alive or target is ch:
            self.complete(ch)
            self.hangup(ch, "NORMAL_CLEARING")
            return
        ch.eavesdropping = target
        target.eavesdroppers.append(ch)
        ch.set_var("read_codec", "L16")
        ch.read_codec = "L16"
        self.fire("MEDIA_BUG_START", target, before=[("Media-Bug-Function", "eavesdrop"),
                                                     ("Media-Bug-Target", target.uuid)])
        V.sent_callee(ch, target.profile.caller_id_name, target.profile.caller_id_number)

    def receive_dtmf(self: Switch, ch: Channel, digits: str) -> None:
        """uuid_recv_dtmf: the digits as if the leg's own phone sent them. FreeSWITCH fires
        DTMF as the leg's application reads each one; an eavesdrop started with
        eavesdrop_enable_dtmf=true takes 0-3 as its mode."""
        for key in digits:
            self.press(ch, key, source="APP")
            if ch.eavesdropping is not None and key in "0123" \
                    and ch.variables.get("eavesdrop_enable_dtmf") == "true":
                ch.eavesdrop_key = key

    def heard_by(self: Switch, listener: Channel) -> set[str]:
        """The legs whose phones hear an eavesdropping leg's voice, by its mode key, as
        FreeSWITCH 1.10 mixes it (tests/freeswitch/test_supervision.py measured it): 1 into
        what the target leg reads, so its bridged partner hears; 2 into what the target's own
        phone is sent; 3 both; 0 nobody."""
        target = listener.eavesdropping
        if target is None:
            return set()
        heard = set()
        if listener.eavesdrop_key in "23":
            heard.add(target.uuid)
        if listener.eavesdrop_key in "13" and target.partner is not None:
            heard.add(target.partner.uuid)
        return heard

    def _end_eavesdrop(self: Switch, listener: Channel) -> None:
        target = listener.eavesdropping
        listener.eavesdropping = None
        if target is not None and listener in target.eavesdroppers:
            target.eavesdroppers.remove(listener)
            self.fire("MEDIA_BUG_STOP", target, before=[("Media-Bug-Function", "eavesdrop"),
                                                        ("Media-Bug-Target", target.uuid)])
        listener.set_var("read_codec", "PCMU")
        listener.read_codec = "PCMU"

    # --- at hangup -----------------------------------------------------------------------

    def stop_media(self: Switch, ch: Channel) -> None:
        """Media bugs on a leg that is going away: its recordings, its eavesdroppers."""
        for path in list(ch.recordings):
            self.record_stop(ch, path)
        for listener in list(ch.eavesdroppers):
            self._end_eavesdrop(listener)
            if listener.apps and listener.apps[-1][0] == "eavesdrop":
                self.complete(listener)
            self.hangup(listener, "NORMAL_CLEARING")

    def stop_apps(self: Switch, ch: Channel) -> None:
        """Unwind what the leg was executing, innermost first (as its hangup interrupts it)."""
        ch.broadcasts.clear()
        self.stop_playback(ch, "done")
        while ch.apps:
            app = ch.apps[-1][0]
            if app == "park":
                self.unpark(ch)
            elif app == "uuid_bridge":
                ch.apps.pop()
            elif app == "eavesdrop":
                self._end_eavesdrop(ch)
                self.complete(ch)
            else:
                self.complete(ch)
