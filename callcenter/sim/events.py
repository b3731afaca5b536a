"""Header blocks of the events the simulator fires, in FreeSWITCH 1.10's order.

Every event starts with the same core block (Event-Name ... Event-Sequence); a channel event
then carries event-specific leading headers, the channel's block, its variables (only for
the event types FreeSWITCH extends with them) and event-specific trailing headers.
"""

from __future__ import annotations

import itertools
import time
import uuid as uuidlib
from collections.abc import Iterable

from callcenter.esl.protocol import Event
from callcenter.sim.channels import Channel

Headers = list[tuple[str, str]]

# Event-Calling-File/-Function/-Line-Number as FreeSWITCH 1.10.12 reports them.
CALLING: dict[str, tuple[str, str, int]] = {
    "API": ("switch_loadable_module.c", "switch_api_execute", 2954),
    "BACKGROUND_JOB": ("mod_event_socket.c", "api_exec", 1572),
    "CHANNEL_OUTGOING": ("switch_core_session.c", "switch_core_session_outgoing_channel", 768),
    "CHANNEL_STATE": ("switch_channel.c", "switch_channel_perform_set_running_state", 2408),
    "CHANNEL_CALLSTATE": ("switch_channel.c", "switch_channel_perform_set_callstate", 301),
    "CHANNEL_CREATE": ("switch_core_state_machine.c", "switch_core_session_run", 626),
    "CHANNEL_ORIGINATE": ("switch_core_state_machine.c", "switch_core_session_run", 632),
    "CHANNEL_PROGRESS": ("switch_channel.c", "switch_channel_perform_mark_ring_ready_value", 3505),
    "CHANNEL_PROGRESS_MEDIA": ("switch_channel.c", "switch_channel_perform_mark_pre_answered",
                               3560),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", 3846),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", 2944),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", 2967),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", 1002),
    "CHANNEL_UNPARK": ("switch_ivr.c", "switch_ivr_park", 1213),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1689),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1879),
    "CHANNEL_HOLD": ("switch_ivr.c", "switch_ivr_hold", 1558),
    "CHANNEL_UNHOLD": ("switch_ivr.c", "switch_ivr_unhold", 1638),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", 3445),
    "CHANNEL_HANGUP_COMPLETE": ("switch_core_state_machine.c",
                                "switch_core_session_reporting_state", 943),
    "CHANNEL_DESTROY": ("switch_core_session.c", "switch_core_session_perform_destroy", 1584),
    "RECORD_START": ("switch_ivr_async.c", "record_callback", 1481),
    "RECORD_STOP": ("switch_ivr_async.c", "send_record_stop_event", 1240),
    "MEDIA_BUG_START": ("switch_core_media_bug.c", "switch_core_media_bug_add", 1014),
    "MEDIA_BUG_STOP": ("switch_core_media_bug.c", "switch_core_media_bug_destroy", 84),
    "PLAYBACK_START": ("switch_ivr_play_say.c", "switch_ivr_play_file", 1646),
    "PLAYBACK_STOP": ("switch_ivr_play_say.c", "switch_ivr_play_file", 2020),
    "PRIVATE_COMMAND": ("switch_ivr.c", "switch_ivr_parse_next_event", 804),
    "SHUTDOWN": ("switch_core.c", "switch_core_destroy", 3023),
    "MODULE_UNLOAD": ("switch_loadable_module.c", "switch_loadable_module_unprocess", 1297),
    "UNPUBLISH": ("sofia.c", "sofia_profile_thread_run", 3552),
    "HEARTBEAT": ("switch_core.c", "send_heartbeat", 95),
    "sofia::pre_register": ("sofia_reg.c", "sofia_reg_handle_register_token", 1810),
    "sofia::register_attempt": ("sofia_reg.c", "sofia_reg_handle_register_token", 1606),
    "sofia::register": ("sofia_reg.c", "sofia_reg_handle_register_token", 2059),
    "sofia::unregister": ("sofia_reg.c", "sofia_reg_handle_register_token", 2213),
    "sofia::gateway_delete": ("sofia_reg.c", "sofia_reg_check_gateway", 343),
}

# The event types FreeSWITCH adds channel variables to (switch_channel_event_set_extended_data).
WITH_VARIABLES = frozenset({
    "CHANNEL_CREATE", "CHANNEL_ORIGINATE", "CHANNEL_ANSWER", "CHANNEL_PARK", "CHANNEL_UNPARK",
    "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_DESTROY", "API", "RECORD_START", "RECORD_STOP", "PLAYBACK_START", "PLAYBACK_STOP",
    "CALL_UPDATE", "MEDIA_BUG_START", "MEDIA_BUG_STOP", "CHANNEL_HOLD", "CHANNEL_UNHOLD",
})


class EventFactory:
    """Builds events stamped with this switch's identity, the clock's time and a sequence."""

    def __init__(self, clock, *, hostname: str = "fs1", ipv4: str = "192.0.2.2",
                 ipv6: str = "fd00::2") -> None:
        self.clock = clock
        self.core_uuid = str(uuidlib.uuid4())
        self.hostname = hostname
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self._sequence = itertools.count(1)

    def skip(self) -> None:
        """An event nobody listens to still takes its sequence number."""
        next(self._sequence)

    def now_us(self) -> int:
        return int(self.clock.now() * 1_000_000)

    def core(self, name: str, calling: tuple[str, str, int] | None = None,
             subclass: str | None = None) -> Headers:
        now = self.clock.now()
        file, function, line = calling or CALLING.get(subclass or name, ("", "", 0))
        head: Headers = [("Event-Subclass", subclass)] if subclass else []
        head += [
            ("Event-Name", name),
            ("Core-UUID", self.core_uuid),
            ("FreeSWITCH-Hostname", self.hostname),
            ("FreeSWITCH-Switchname", self.hostname),
            ("FreeSWITCH-IPv4", self.ipv4),
            ("FreeSWITCH-IPv6", self.ipv6),
            ("Event-Date-Local", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))),
            ("Event-Date-GMT", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now))),
            ("Event-Date-Timestamp", str(int(now * 1_000_000))),
            ("Event-Calling-File", file),
            ("Event-Calling-Function", function),
            ("Event-Calling-Line-Number", str(line)),
            ("Event-Sequence", str(next(self._sequence))),
        ]
        return head

    def plain(self, name: str, headers: Iterable[tuple[str, str]] = (), *,
              subclass: str | None = None, body: str | None = None,
              calling: tuple[str, str, int] | None = None) -> Event:
        """An event that belongs to no channel (API, BACKGROUND_JOB, CUSTOM, SHUTDOWN ...)."""
        return Event(dict([*self.core(name, calling, subclass), *headers]), body)

    def channel(self, name: str, ch: Channel, *, before: Iterable[tuple[str, str]] = (),
                after: Iterable[tuple[str, str]] = (),
                calling: tuple[str, str, int] | None = None) -> Event:
        """An event about one channel: leading headers, the channel block, its variables (for
        the event types that carry them), trailing headers."""
        headers = self.core(name, calling)
        headers += before
        headers += ch.header_block()
        if name in WITH_VARIABLES:
            headers += ch.variable_block()
        headers += after
        # A repeated name (HANGUP_COMPLETE's leading Hangup-Cause) keeps its first place.
        return Event(dict(headers))
