"""uuid_bridge and the end of a bridge, as FreeSWITCH 1.10 does them.

CHANNEL_BRIDGE/UNBRIDGE fire once per bridge, on the first uuid given to uuid_bridge (the
"a" side). When one leg of a bridge hangs up or leaves it (a transfer, a new bridge), the switch
hangs up the other, unless that one has park_after_bridge=true: then it parks. A mixin of the
Switch (switch.py).
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import replace
from typing import TYPE_CHECKING

from callcenter.sim import variables as V
from callcenter.sim.channels import Channel

if TYPE_CHECKING:
    from callcenter.sim.switch import Switch

BRIDGE_CALLING_A = ("switch_ivr_bridge.c", "uuid_bridge_on_soft_execute", 1236)
BRIDGE_CALLING_B = ("switch_ivr_bridge.c", "uuid_bridge_on_soft_execute", 1243)


class Bridging:
    def bridge(self: Switch, a: Channel, b: Channel) -> bool:
        if a is b or not a.alive or not b.alive:
            return False
        if a.partner is b:
            return True
        held = next((leg for leg in (a, b) if leg.answered and leg.job is not None
                     and not leg.job.done), None)
        if held is not None:
            self._wait_for_originate(a, b, held)
            return True
        for leg in (a, b):
            if leg.partner is not None:
                self.leave_bridge(leg)
        now = self.now_us()
        seconds = now // 1_000_000
        source_b = f"{seconds}:{uuidlib.uuid4()}:uuid_br:{a.uuid}"
        source_a = f"{seconds}:{uuidlib.uuid4()}:uuid_br:{b.uuid}"
        # Each leg keeps a copy of the other's profile as it was (the originator's copy has
        # no timetable), then both leave what they run (park) for a new profile: a transfer.
        V.transfer(b, a, source_b, first=False)
        V.transfer(a, b, source_a, first=True)
        for leg in (a, b):
            self.flip_caller_id(leg)  # a leg bridged before its app started
        snapshot_a = replace(a.profile, index=0, transfer_source="", logical_direction="inbound")
        snapshot_b = replace(b.profile, index=0, transfer_source="", logical_direction="inbound")
        self.new_profile(b, caller_id_name=a.profile.caller_id_name,
                         caller_id_number=a.profile.caller_id_number, transfer_source=source_b)
        b.other, b.other_type, b.other_times = snapshot_a, "originator", None
        b.hit_dialplan = False
        self.new_profile(a, logical_direction="inbound", transfer_source=source_a,
                         callee_id_number=snapshot_b.orig_caller_id_number or
                         snapshot_b.caller_id_number)
        a.other, a.other_type, a.other_times = snapshot_b, "originatee", dict(b.times)
        for leg in (b, a):
            if leg.job is not None and not leg.job.done:
                leg.job.bridged_early = True     # in early media: the bridge wins the race
            self._leave_app(leg)
        self.run_state(a, "CS_SOFT_EXECUTE")
        self.run_state(b, "CS_SOFT_EXECUTE")
        a.set_var("uuid_bridge", None)
        a.apps.append(("uuid_bridge", b.uuid, ""))
        b.apps.append(("uuid_bridge", a.uuid, ""))
        self.fire("CHANNEL_EXECUTE", a, calling=BRIDGE_CALLING_A,
                  after=[("Application", "uuid_bridge"), ("Application-Data", b.uuid)])
        self.fire("CHANNEL_EXECUTE", b, calling=BRIDGE_CALLING_B,
                  after=[("Application", "uuid_bridge"), ("Application-Data", a.uuid)])
        a.partner, b.partner = b, a
        a.bridge_a, b.bridge_a = True, False
        a.times["bridged"] = b.times["bridged"] = now
        for leg, other in ((a, b), (b, a)):
            if leg.direction == "inbound" and not leg.answered and other.answered:
                self.answer_inbound(leg)
            if leg.direction == "inbound":
                self.caller_bridged(leg)
        self.fire("CHANNEL_BRIDGE", a, before=[("Bridge-A-Unique-ID", a.uuid),
                                               ("Bridge-B-Unique-ID", b.uuid)])
        b.set_var("call_uuid", a.uuid)
        self.run_state(b, "CS_EXCHANGE_MEDIA")
        if a.answered and b.answered:
            self.media_joined(a, b)
        return True

    def _wait_for_originate(self: Switch, a: Channel, b: Channel, held: Channel) -> None:
        """A uuid_bridge to a leg its originate still holds (answered, not returned; seen on
        FreeSWITCH 1.10.12 under load): the originate will say ORIGINATOR_CANCEL, and the
        other leg leaves what it runs and waits (uuid_bridge_on_soft_execute, no
        CHANNEL_BRIDGE yet) until the originate lets go; then they bridge."""
        held.job.bridged_early = True
        held.bridge_waiting = (a, b)
        waiter = a if held is b else b
        if waiter.partner is not None:
            self.leave_bridge(waiter)
        self._leave_app(waiter)

    def originate_let_go(self: Switch, held: Channel) -> None:
        """The originate returned: a uuid_bridge that waited for the leg goes ahead."""
        waiting, held.bridge_waiting = held.bridge_waiting, None
        if waiting is not None and all(leg.alive for leg in waiting):
            self.bridge(*waiting)

    def bridge_cancelled(self: Switch, held: Channel) -> None:
        """The leg a uuid_bridge waited for hung up first: the waiting leg is hung up
        (ORIGINATOR_CANCEL), or parks with uuid_bridge_park_on_cancel=true."""
        waiting, held.bridge_waiting = held.bridge_waiting, None
        if waiting is None:
            return
        waiter = waiting[0] if waiting[1] is held else waiting[1]
        if not waiter.alive:
            return
        if waiter.variables.get("uuid_bridge_park_on_cancel", "").lower() == "true":
            self.run_state(waiter, "CS_EXECUTE")
            self.park(waiter)
        else:
            self.hangup(waiter, "ORIGINATOR_CANCEL")

    def media_joined(self: Switch, a: Channel, b: Channel) -> None:
        """Both legs of the bridge answered: each side learns who the other is."""
        for leg, other in ((a, b), (b, a)):
            if "bridge_to" not in leg.variables:
                V.bridged(leg, other)
        # The b leg is told the a leg's caller id; the a leg the b leg's callee id.
        V.sent_callee(b, a.profile.caller_id_name, a.profile.caller_id_number)
        V.sent_callee(a, b.profile.callee_id_name, b.profile.callee_id_number)

    def _leave_app(self: Switch, leg: Channel) -> None:
        """Stop what a leg runs before it is bridged (park, playback, echo ...)."""
        if leg.parked:
            leg.state = "CS_HIBERNATE"
            self.unpark(leg)
            self.run_state(leg, "CS_HIBERNATE")
            leg.state = "CS_RESET"
            self.run_state(leg, "CS_RESET")
        self.stop_playback(leg, "break")
        while leg.apps:
            if leg.apps[-1][0] == "eavesdrop":
                self._end_eavesdrop(leg)
            self.complete(leg)

    def end_bridge(self: Switch, ch: Channel, partner: Channel) -> None:
        """`ch` is hanging up (its CHANNEL_HANGUP already fired): end the bridge and hang
        up the partner."""
        ch.partner = partner.partner = None
        cause = ch.hangup_cause
        partner_cause = cause
        if partner.direction == "outbound" and not partner.answered:
            partner_cause = "ORIGINATOR_CANCEL"
        by_bye = ch.hangup_disposition == "recv_bye"
        if partner.alive and partner.variables.get("park_after_bridge", "").lower() == "true":
            # switch_ivr_bridge.c: a partner with park_after_bridge parks, whoever hung up.
            a, b = (ch, partner) if ch.bridge_a else (partner, ch)
            a.set_var("bridge_to", None)
            self._fire_unbridge(a, b)
            if partner.apps and partner.apps[-1][0] == "uuid_bridge":
                partner.apps.pop()
            self.run_state(partner, "CS_EXECUTE")
            self.park(partner)
            return
        if ch.bridge_a:
            self._hangup_partner(partner, ch, partner_cause, by_bye)
            ch.set_var("bridge_hangup_cause", partner.hangup_cause or partner_cause)
            ch.set_var("bridge_to", None)
            self._fire_unbridge(ch, partner)
        else:
            ch.set_var("bridge_to", None)
            self._hangup_partner(partner, ch, partner_cause, by_bye)

    def _hangup_partner(self: Switch, partner: Channel, ch: Channel, cause: str,
                        by_bye: bool) -> None:
        if not partner.alive:
            return
        if partner.bridge_a:
            # The a side reports the end of the bridge before it hangs up.
            if by_bye:
                partner.set_var("sip_hangup_phrase", "OK")
            partner.set_var("last_bridge_hangup_cause", ch.hangup_cause)
            if by_bye:
                partner.set_var("last_bridge_proto_specific_hangup_cause", "sip:200")
            partner.set_var("bridge_hangup_cause", ch.hangup_cause)
            partner.set_var("bridge_to", None)
            self._fire_unbridge(partner, ch)
            self.run_state(partner, "CS_EXECUTE")
        else:
            partner.set_var("bridge_to", None)
            partner.set_var("last_bridge_to", ch.uuid)
            partner.set_var("call_uuid", ch.uuid)
            partner.set_var("last_bridge_hangup_cause", ch.hangup_cause)
            late = partner.report_vars if partner.answered else partner.destroy_vars
            late.append(("bridge_hangup_cause", ch.hangup_cause))
        if partner.apps and partner.apps[-1][0] == "uuid_bridge":
            partner.apps.pop()
        self.hangup(partner, cause)

    def _fire_unbridge(self: Switch, a: Channel, b: Channel) -> None:
        self.fire("CHANNEL_UNBRIDGE", a, before=[("Bridge-A-Unique-ID", a.uuid),
                                                 ("Bridge-B-Unique-ID", b.uuid)])

    def leave_bridge(self: Switch, leg: Channel, *, both: bool = False) -> None:
        """`leg` leaves its bridge alive (transfer, new bridge); its partner is hung up, or
        parks if it has park_after_bridge=true. With `both` (uuid_transfer -both: CF_REDIRECT
        on each) the partner leaves too, untouched: it is being transferred as well."""
        partner = leg.partner
        if partner is None:
            return
        leg.partner = partner.partner = None
        a, b = (leg, partner) if leg.bridge_a else (partner, leg)
        a.set_var("bridge_to", None)
        self._fire_unbridge(a, b)
        for one in (leg, partner):
            if one.apps and one.apps[-1][0] == "uuid_bridge":
                one.apps.pop()
        if not partner.alive or both:
            return
        if partner.variables.get("park_after_bridge", "").lower() == "true":
            self.run_state(partner, "CS_EXECUTE")
            self.park(partner)
        else:
            self.run_state(partner, "CS_EXECUTE")
            self.hangup(partner, "NORMAL_CLEARING")
