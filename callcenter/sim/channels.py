"""A simulated FreeSWITCH channel: its states, caller profile, timestamps and variables.

The header block every channel event carries (Channel-*, Caller-*, Other-Leg-*) is computed
here from the channel, in the order and with the optional members FreeSWITCH 1.10 uses.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

# FreeSWITCH's switch_channel_state_t numbering (Channel-State-Number).
STATE_NUMBERS = {
    "CS_NEW": 0, "CS_INIT": 1, "CS_ROUTING": 2, "CS_SOFT_EXECUTE": 3, "CS_EXECUTE": 4,
    "CS_EXCHANGE_MEDIA": 5, "CS_PARK": 6, "CS_CONSUME_MEDIA": 7, "CS_HIBERNATE": 8,
    "CS_RESET": 9, "CS_HANGUP": 10, "CS_REPORTING": 11, "CS_DESTROY": 12, "CS_NONE": 13,
}

# Channel-Call-State-Number on CHANNEL_CALLSTATE.
CALLSTATE_NUMBERS = {
    "DOWN": 0, "DIALING": 1, "RINGING": 2, "EARLY": 3, "ACTIVE": 4, "HELD": 5,
    "RING_WAIT": 6, "HANGUP": 7, "UNHELD": 8,
}

TIME_FIELDS = (
    "created", "answered", "progress", "progress_media", "hangup", "transfer", "resurrect",
    "bridged", "last_hold", "hold_accum",
)
# Header suffix of each timetable field in a profile block.
_TIME_LABELS = (
    "Channel-Created-Time", "Channel-Answered-Time", "Channel-Progress-Time",
    "Channel-Progress-Media-Time", "Channel-Hangup-Time", "Channel-Transfer-Time",
    "Channel-Resurrect-Time", "Channel-Bridged-Time", "Channel-Last-Hold",
    "Channel-Hold-Accum",
)
_TIME_HEADERS = tuple(zip(TIME_FIELDS, _TIME_LABELS, strict=True))


@dataclass
class Profile:
    """A caller profile (FreeSWITCH's switch_caller_profile_t), rendered as Caller-* headers."""

    direction: str
    logical_direction: str
    caller_id_number: str
    destination_number: str
    uuid: str
    chan_name: str
    source: str = "src/switch_ivr_originate.c"
    context: str = "default"
    username: str = ""
    dialplan: str = ""
    caller_id_name: str = ""
    orig_caller_id_name: str = ""
    orig_caller_id_number: str = ""
    callee_id_name: str = ""
    callee_id_number: str = ""
    network_addr: str = ""
    ani: str = ""
    transfer_source: str = ""
    index: int = 1
    created_us: int = 0

    def headers(self, prefix: str, times: dict[str, int] | None) -> list[tuple[str, str]]:
        out = [
            (f"{prefix}-Direction", self.direction),
            (f"{prefix}-Logical-Direction", self.logical_direction),
        ]
        optional = (
            ("Username", self.username),
            ("Dialplan", self.dialplan),
            ("Caller-ID-Name", self.caller_id_name),
            ("Caller-ID-Number", self.caller_id_number),
            # FreeSWITCH only adds the Orig-* twins when the current value is set.
            ("Orig-Caller-ID-Name", self.orig_caller_id_name if self.caller_id_name else ""),
            ("Orig-Caller-ID-Number", self.orig_caller_id_number if self.caller_id_number else ""),
            ("Callee-ID-Name", self.callee_id_name),
            ("Callee-ID-Number", self.callee_id_number),
            ("Network-Addr", self.network_addr),
            ("ANI", self.ani),
            ("Destination-Number", self.destination_number),
            ("Unique-ID", self.uuid),
            ("Source", self.source),
            ("Transfer-Source", self.transfer_source),
            ("Context", self.context),
            ("Channel-Name", self.chan_name),
            ("Profile-Index", str(self.index) if self.index else ""),
        )
        out.extend((f"{prefix}-{name}", value) for name, value in optional if value)
        t = times or {}
        out.append((f"{prefix}-Profile-Created-Time", str(self.created_us if times else 0)))
        out.extend((f"{prefix}-{header}", str(t.get(name, 0))) for name, header in _TIME_HEADERS)
        out += [
            (f"{prefix}-Screen-Bit", "true"),
            (f"{prefix}-Privacy-Hide-Name", "false"),
            (f"{prefix}-Privacy-Hide-Number", "false"),
        ]
        return out


@dataclass
class Channel:
    """One leg. `kind` says which far end it talks to: "user" (a registered extension),
    "gateway" (the carrier), "inbound" (a caller from the carrier), "loopback"."""

    uuid: str
    name: str
    direction: str
    kind: str
    profile: Profile
    session_id: int
    initial: Profile | None = None  # the profile as created (show channels' initial_*)
    # FreeSWITCH reports the running state in Channel-State and the requested one as a number.
    running: str = "CS_NONE"
    state: str = "CS_INIT"
    callstate: str = "DOWN"
    answered: bool = False
    early: bool = False
    down: bool = False
    hangup_cause: str = ""
    codec: bool = False  # media negotiated: the codec headers appear
    read_codec: str = "PCMU"
    hit_dialplan: bool = False
    # The other leg's profile as it was when the legs were joined (Other-Leg-* headers).
    other: Profile | None = None
    other_type: str = ""
    other_times: dict[str, int] | None = None
    times: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TIME_FIELDS, 0))
    variables: dict[str, str] = field(default_factory=dict)
    # Call control state.
    partner: Channel | None = None  # the leg we are bridged to
    bridge_a: bool = False  # first uuid of the bridge: CHANNEL_(UN)BRIDGE fire here
    parked: bool = False
    # A uuid_bridge waiting for this leg's originate to return: (a, b) as given to it.
    bridge_waiting: tuple[Channel, Channel] | None = None
    apps: list[tuple[str, str, str]] = field(default_factory=list)  # (name, data, app uuid)
    last_app: tuple[str, str] | None = None
    # show channels' application column: FreeSWITCH's channels table takes it from each
    # CHANNEL_EXECUTE and blanks it on CHANNEL_(UN)HOLD (switch_core_sqldb.c), so a parked
    # caller whose hold music was broken still shows "playback".
    application: tuple[str, str] = ("", "")
    held: bool = False
    hold_events: list[tuple[int, int]] = field(default_factory=list)
    flip_pending: bool = False  # answered: its caller id flips when its app starts
    job: Any = None  # the originate waiting on this leg (originate.OriginateJob)
    request: Any = None  # that originate's parsed request
    behaviour: Any = None  # endpoints.Behaviour of the far end
    timers: list[Any] = field(default_factory=list)
    park_timer: Any = None
    patience_timer: Any = None  # an inbound caller gives up when it fires (Behaviour.patience_s)
    talk_timer: Any = None  # an inbound caller hangs up when it fires (talk_after_bridge_s)
    recordings: dict[str, Any] = field(default_factory=dict)  # path -> apps.Recording
    playback: Any = None  # apps.Playback running now
    broadcasts: deque[str] = field(default_factory=deque)  # uuid_broadcast paths queued
    eavesdropping: Channel | None = None  # the leg this one listens to
    eavesdroppers: list[Channel] = field(default_factory=list)
    room: str | None = None  # the conference room it is in (conference.py)
    member_id: int = 0
    member_flags: set[str] = field(default_factory=set)
    eavesdrop_key: str = "0"  # the last mode key an eavesdropping leg read (0: listen only)
    # Variables FreeSWITCH sets late in the hangup: before HANGUP_COMPLETE, before DESTROY.
    report_vars: list[tuple[str, str]] = field(default_factory=list)
    destroy_vars: list[tuple[str, str]] = field(default_factory=list)
    hangup_disposition: str = ""
    far_port: int = 0  # the far end's SIP port (made up, stable per leg)
    # A real SIP far end (a website visitor, guests.py): told "answered" and "hangup".
    far_end: Any = None

    @property
    def alive(self) -> bool:
        return not self.down

    def set_var(self, name: str, value: str | int | None) -> None:
        # Setting a variable moves it to the end, as FreeSWITCH's variable list does; an
        # empty value unsets it.
        self.variables.pop(name, None)
        if value is not None and value != "":
            self.variables[name] = str(value)

    def header_block(self) -> list[tuple[str, str]]:
        """Channel-*, Caller-* and Other-Leg-* headers (switch_channel_event_set_basic_data)."""
        v = self.variables
        out = [
            ("Channel-State", self.running),
            ("Channel-Call-State", self.callstate),
            ("Channel-State-Number", str(STATE_NUMBERS[self.state])),
            ("Channel-Name", self.name),
            ("Unique-ID", self.uuid),
            ("Call-Direction", self.direction),
            ("Presence-Call-Direction", self.direction),
            ("Channel-HIT-Dialplan",
             "true" if self.direction == "inbound" or self.hit_dialplan else "false"),
        ]
        if v.get("presence_id"):
            out.append(("Channel-Presence-ID", v["presence_id"]))
        out.append(("Channel-Call-UUID", v.get("call_uuid") or self.uuid))
        if self.down:
            answer_state = "hangup"
        elif self.answered:
            answer_state = "answered"
        elif self.early:
            answer_state = "early"
        else:
            answer_state = "ringing"
        out.append(("Answer-State", answer_state))
        if self.hangup_cause:
            out.append(("Hangup-Cause", self.hangup_cause))
        if self.codec:
            linear = self.read_codec == "L16"  # eavesdropping reads linear audio
            out += [
                ("Channel-Read-Codec-Name", self.read_codec), ("Channel-Read-Codec-Rate", "8000"),
                ("Channel-Read-Codec-Bit-Rate", "128000" if linear else "64000"),
                ("Channel-Write-Codec-Name", "PCMU"), ("Channel-Write-Codec-Rate", "8000"),
                ("Channel-Write-Codec-Bit-Rate", "64000"),
            ]
        out += self.profile.headers("Caller", self.times)
        if self.other is not None:
            out.append(("Other-Type", self.other_type))
            out += self.other.headers("Other-Leg", self.other_times)
        return out

    def variable_block(self) -> list[tuple[str, str]]:
        return [(f"variable_{name}", value) for name, value in self.variables.items()]
