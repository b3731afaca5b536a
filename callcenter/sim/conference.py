"""mod_conference rooms, as the controller uses them for three-way calls: a leg sent with
`uuid_transfer <uuid> [-both] conference:<room>@<profile> inline` runs the `conference`
application; everyone in a room hears everyone else. A member leaving fires `del-member`; a
member with the `endconf` flag (conference_member_flags) ends the room, and every other
member's application returns, leaving its inline dialplan with nothing to run: it is hung up.
Each change fires CUSTOM conference::maintenance with the headers the controller could read
(as tests/freeswitch/test_three_way.py saw on FreeSWITCH 1.10.12; its talking and floor-change
events are left out: nothing reads them). A mixin of the Switch.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from callcenter.sim.channels import Channel

if TYPE_CHECKING:
    from callcenter.sim.switch import Switch

MAINTENANCE = "conference::maintenance"


@dataclass
class Room:
    name: str
    profile: str
    members: list[Channel] = field(default_factory=list)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))


class Conferences:
    rooms: dict[str, Room]

    def run_inline(self: Switch, ch: Channel, dest: str) -> None:
        """An inline dialplan of one application: `conference:<room>@<profile>`."""
        app, _, data = dest.partition(":")
        if app != "conference":
            self.execute(ch, app, data)
            self.complete(ch)
            self.hangup(ch, "NORMAL_CLEARING")
            return
        name, _, profile = data.partition("@")
        self.join_room(ch, name, profile or "default")

    def join_room(self: Switch, ch: Channel, name: str, profile: str) -> None:
        room = self.rooms.get(name)
        if room is None:
            room = self.rooms[name] = Room(name, profile)
            self._room_event(room, ch, "conference-create")
        self.execute(ch, "conference", f"{name}@{profile}")
        room.members.append(ch)
        ch.room, ch.member_id = room.name, next(room.ids)
        ch.member_flags = {flag.strip() for flag in
                           ch.variables.get("conference_member_flags", "").split("|") if flag}
        self._room_event(room, ch, "add-member")

    def room_hears(self: Switch, ch: Channel) -> set[str]:
        """The legs whose phones hear `ch` in its room: every other member."""
        room = self.rooms.get(ch.room or "")
        return {m.uuid for m in room.members if m is not ch} if room is not None else set()

    def leave_room(self: Switch, ch: Channel) -> None:
        """`ch` is hanging up: it leaves its room; an `endconf` member ends the room."""
        room = self.rooms.get(ch.room or "")
        if room is None or ch not in room.members:
            return
        room.members.remove(ch)
        ch.room = None
        self._room_event(room, ch, "del-member")
        if "endconf" in ch.member_flags:
            for member in list(room.members):
                room.members.remove(member)
                member.room = None
                self._room_event(room, member, "del-member")
                self.complete(member)         # the conference application returns
                self.hangup(member, "NORMAL_CLEARING")
        if not room.members:
            del self.rooms[room.name]
            self._room_event(room, ch, "conference-destroy")

    def _room_event(self: Switch, room: Room, ch: Channel, action: str) -> None:
        """FreeSWITCH 1.10.12's order: conference-create (size 0) before the first add-member,
        each add-member/del-member with the size after it, conference-destroy at size 0; only
        member events name the leg."""
        headers = [("Conference-Name", room.name), ("Conference-Size", str(len(room.members))),
                   ("Conference-Profile-Name", room.profile)]
        if action in ("add-member", "del-member"):
            headers += [("Unique-ID", ch.uuid), ("Member-ID", str(ch.member_id)),
                        ("Member-Type", "member")]
        headers.append(("Action", action))
        self.fire_plain("CUSTOM", headers, subclass=MAINTENANCE)
