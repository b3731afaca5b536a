"""Simulated inbound callers: a steady stream of customers dialling a DID, each with its own
patience and talk time. `callcenter simulate --callers RATE` (or `--demo`) and, for the
simulator inside `callcenter serve`, CALLCENTER_SIM_CALLERS start one.

The stream begins once an ESL client subscribes to events (a controller is listening), so no
caller waits, or gives up, before anyone could see it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from callcenter.esl.commands import CommandError, valid_name, valid_number
from callcenter.sim.apps import SHIPPED_DIDS
from callcenter.sim.endpoints import Behaviour

if TYPE_CHECKING:
    from callcenter.sim.simulator import CallGenerator, Simulator

DEFAULT_DID = next(iter(SHIPPED_DIDS))
MAX_RATE = 1000.0  # calls per second
MAX_SECONDS = 86400.0
MAX_COUNT = 1_000_000_000

# The live demo (`--demo`, CALLCENTER_SIM_CALLERS): gentle enough to watch.
DEMO_RATE = 0.25
DEMO_AGENTS = "1000-1009"


@dataclass(frozen=True)
class Seconds:
    """A time in seconds: fixed, or picked uniformly per caller from low to high."""

    low: float
    high: float

    def pick(self, rng: random.Random) -> float:
        return self.low if self.low == self.high else rng.uniform(self.low, self.high)

    def __str__(self) -> str:
        def text(value: float) -> str:
            return f"{value:g}"
        if self.low == self.high:
            return f"{text(self.low)} s"
        return f"{text(self.low)}-{text(self.high)} s"


DEMO_PATIENCE = Seconds(20, 60)
DEMO_TALK = Seconds(10, 40)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_rate(text: str) -> float:
    """Calls per second: a number above 0, at most MAX_RATE."""
    value = _number(text.strip())
    if value is None:
        raise ValueError(f"{text!r} is not a number of calls per second (e.g. 0.25 or 20)")
    if not 0 < value <= MAX_RATE:
        raise ValueError(f"{text!r}: the rate must be above 0 and at most {MAX_RATE:g} calls "
                         "per second")
    return value


def parse_seconds(text: str) -> Seconds:
    """`S` or `MIN-MAX`: seconds from 0 to MAX_SECONDS; a range is picked from per caller."""
    if text.strip().startswith("-"):
        raise ValueError(f"{text!r}: seconds cannot be negative")
    low_text, dash, high_text = text.strip().partition("-")
    low, high = _number(low_text), _number(high_text) if dash else _number(low_text)
    if low is None or high is None:
        raise ValueError(f"{text!r}: give seconds as S or MIN-MAX, e.g. 30 or 20-60")
    if not (0 <= low <= MAX_SECONDS and 0 <= high <= MAX_SECONDS):
        raise ValueError(f"{text!r}: seconds must be from 0 to {MAX_SECONDS:g}")
    if low > high:
        raise ValueError(f"{text!r}: MIN is more than MAX")
    return Seconds(low, high)


def parse_count(text: str) -> int:
    """How many callers in all: a whole number from 1."""
    if not text.strip().isdigit() or not 1 <= int(text) <= MAX_COUNT:
        raise ValueError(f"{text!r}: give a whole number of callers from 1 to {MAX_COUNT}")
    return int(text)


def parse_did(text: str) -> str:
    try:
        return valid_number(text.strip(), "DID")
    except CommandError as exc:
        raise ValueError(f"{text!r}: {exc}") from None


def parse_queue(text: str) -> str:
    try:
        return valid_name(text.strip(), "queue")
    except CommandError as exc:
        raise ValueError(f"{text!r}: {exc}") from None


@dataclass(frozen=True)
class Callers:
    """Who calls: `rate` per second to `did` (its queue: `queue`, else the one the shipped
    dialplan gives it), `count` in all (None: until stopped), each giving up after `patience`
    with no agent and hanging up `talk` after reaching one (None: never, by itself). The
    picks come from a random generator seeded with `seed`, so a run can be repeated."""

    rate: float
    count: int | None = None
    did: str = DEFAULT_DID
    queue: str | None = None
    patience: Seconds | None = None
    talk: Seconds | None = None
    seed: int = 15

    def __post_init__(self) -> None:
        parse_rate(str(self.rate))
        if self.queue is None and self.did.removeprefix("+") not in SHIPPED_DIDS:
            known = ", ".join(f"{did} ({queue})" for did, queue in SHIPPED_DIDS.items())
            raise ValueError(f"the simulator's dialplan has no queue for DID {self.did} (it "
                             f"knows {known}): name its queue with --queue")

    @property
    def queue_name(self) -> str:
        return self.queue or SHIPPED_DIDS[self.did.removeprefix("+")]

    def behaviour(self, rng: random.Random) -> Behaviour:
        return Behaviour(
            patience_s=self.patience.pick(rng) if self.patience is not None else None,
            talk_after_bridge_s=self.talk.pick(rng) if self.talk is not None else None)

    def describe(self) -> str:
        """One line for the console."""
        how_many = f"{self.count} callers" if self.count is not None else "callers"
        patience = f"patience {self.patience}" if self.patience else "no patience limit"
        talk = f"talk {self.talk}" if self.talk else "talk until hung up"
        return (f"{how_many} at {self.rate:g}/s to {self.did} (queue {self.queue_name}), "
                f"{patience}, {talk}, from the first event subscription")


def demo_callers(rate: float = DEMO_RATE) -> Callers:
    return Callers(rate=rate, patience=DEMO_PATIENCE, talk=DEMO_TALK)


class CallerStream:
    """Callers sent into a simulator once an ESL client subscribes to events, until stopped
    or all `count` have called."""

    def __init__(self, sim: Simulator, callers: Callers) -> None:
        self.sim = sim
        self.callers = callers
        self.generator: CallGenerator | None = None
        self._stopped = False
        # On the clock, so the subscriber's "+OK event listener enabled" goes out first.
        sim.bus.when_listened(lambda: sim.clock.call_later(0, self._begin))

    def _begin(self) -> None:
        if self._stopped or self.sim.stopped.is_set() or self.generator is not None:
            return
        callers, rng = self.callers, random.Random(self.callers.seed)
        self.generator = self.sim.generate_calls(
            callers.rate, callers.count, did=callers.did, queue=callers.queue_name,
            behaviour=lambda index: callers.behaviour(rng))

    def stop(self) -> None:
        self._stopped = True
        if self.generator is not None:
            self.generator.stop()
