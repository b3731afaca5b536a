"""Scripted far ends: how the phone or carrier at the other end of a leg behaves.

A `Behaviour` says when the far end rings (180), sends early media (183), answers (200),
refuses (486, 503 ...) and hangs up (BYE). The simulator looks one up per number or
extension, falling back to its defaults, and plays it on the injectable clock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from callcenter.sim.variables import SIP_FOR_CAUSE

DTMF_KEYS = "0123456789*#ABCD"


@dataclass(frozen=True)
class Behaviour:
    """Times are from the INVITE (ms) or, for the *_s fields, in seconds.

    ring_ms: when 180 Ringing arrives (None: never, e.g. an immediate 486).
    early_media_ms: when 183 with SDP arrives (None: no early media).
    answer_after_ms: when 200 OK arrives (None: never answers; the originate times out).
    reject_cause: refuse the call with this FreeSWITCH cause (USER_BUSY = 486,
        NORMAL_TEMPORARY_FAILURE = 503, CALL_REJECTED = 603 ...) after reject_after_ms.
    hangup_after_s: the far end sends BYE this long after the leg is answered (None: stays).
        An inbound caller is answered when the switch answers it, which for a queue that
        answers on entry is the moment it arrives: use talk_after_bridge_s for its talk time.
    patience_s: an inbound caller hangs up if no agent is bridged to it within this long
        (BYE if it was answered meanwhile, CANCEL if not).
    talk_after_bridge_s: an inbound caller hangs up (BYE) this long after it is first
        bridged to an agent.
    press_key, press_after_s: an inbound caller presses this key (RFC 2833: a DTMF event
        with DTMF-Source RTP) this long after it called, if it is still up and not bridged.
    """

    ring_ms: int | None = 0
    early_media_ms: int | None = None
    answer_after_ms: int | None = 0
    reject_cause: str | None = None
    reject_after_ms: int = 0
    hangup_after_s: float | None = None
    patience_s: float | None = None
    talk_after_bridge_s: float | None = None
    press_key: str | None = None
    press_after_s: float | None = None

    @classmethod
    def answer(cls, after_ms: int = 0, *, ring: bool = True,
               hangup_after_s: float | None = None) -> Behaviour:
        """Rings (unless ring=False), then answers after_ms after the INVITE."""
        return cls(ring_ms=0 if ring else None, answer_after_ms=after_ms,
                   hangup_after_s=hangup_after_s)

    @classmethod
    def early_media(cls, after_ms: int = 0, answer_after_ms: int | None = None, *,
                    hangup_after_s: float | None = None) -> Behaviour:
        """Rings, sends 183 with SDP after after_ms, answers later or never."""
        return cls(ring_ms=0, early_media_ms=after_ms, answer_after_ms=answer_after_ms,
                   hangup_after_s=hangup_after_s)

    @classmethod
    def ringing(cls) -> Behaviour:
        """Rings and never answers (no early media)."""
        return cls(ring_ms=0, answer_after_ms=None)

    @classmethod
    def no_answer(cls) -> Behaviour:
        return cls.ringing()

    @classmethod
    def busy(cls, after_ms: int = 0) -> Behaviour:
        """486 Busy Here, without ringing first."""
        return cls.reject("USER_BUSY", after_ms)

    @classmethod
    def reject(cls, cause: str = "CALL_REJECTED", after_ms: int = 0) -> Behaviour:
        if cause not in SIP_FOR_CAUSE:
            raise ValueError(f"no SIP response known for cause {cause!r}; "
                             f"one of {sorted(SIP_FOR_CAUSE)}")
        return cls(ring_ms=None, answer_after_ms=None, reject_cause=cause,
                   reject_after_ms=after_ms)

    def then_press(self, key: str, after_s: float) -> Behaviour:
        """The same caller, pressing `key` after_s seconds after it called."""
        if len(key) != 1 or key not in DTMF_KEYS:
            raise ValueError(f"{key!r} is not one DTMF key (0-9, *, #, A-D)")
        return replace(self, press_key=key, press_after_s=after_s)

    def then_hangup(self, after_s: float) -> Behaviour:
        """The same far end, hanging up after_s seconds after it answers."""
        return replace(self, hangup_after_s=after_s)


class Endpoints:
    """Behaviours per number or extension, with defaults for agents and customers."""

    def __init__(self) -> None:
        self.scripts: dict[str, Behaviour] = {}
        # Softphones auto-answer (Call-Info answer-after=0); customers ring ~1.5 s.
        self.default_agent = Behaviour.answer(0)
        self.default_customer = Behaviour.answer(1500)
        self.default_caller = Behaviour()

    def script(self, target: str, behaviour: Behaviour) -> None:
        self.scripts[target] = behaviour

    def for_agent(self, extension: str) -> Behaviour:
        return self.scripts.get(extension, self.default_agent)

    def for_customer(self, number: str) -> Behaviour:
        return self.scripts.get(number, self.default_customer)

    def for_caller(self, number: str) -> Behaviour:
        return self.scripts.get(number, self.default_caller)
