"""A caller in a queue: what the distributor keeps of it (in `call.features["queue"]`), and each
queue's line of callers in the order they came."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..legs import Call

FEATURE = "queue"


@dataclass
class Waiting:
    queue: str
    entered: float                 # clock time it entered its first queue (kept on overflow)
    ready_since: float             # since when it waits for an offer (dispatch latency)
    offers: dict[str, int] = field(default_factory=dict)   # ringing offer leg -> agent id
    auto_answer: set[str] = field(default_factory=set)     # offer legs that answer by themselves
    round_started: float | None = None    # ring-progressively: when this round's first rang
    round_order: list[int] = field(default_factory=list)   # ... and its agents, in order
    last_offered: tuple[int, int] | None = None   # (level, position) it was offered to last
    connected: str | None = None   # the agent leg that took the call
    left: float | None = None      # when it left the queue (to an agent, or gone)

    @property
    def idle(self) -> bool:
        """Waiting with no agent's phone ringing for it."""
        return self.connected is None and self.left is None and not self.offers


def waiting_of(call: Call) -> Waiting | None:
    return call.features.get(FEATURE)


class Line:
    """One queue's callers, first come first served: in the order they entered the queue
    system (a caller moved from another queue, or found again after a restart, takes the place
    its entry time gives it)."""

    def __init__(self) -> None:
        self._calls: OrderedDict[str, Call] = OrderedDict()

    def join(self, call: Call) -> None:
        entered = waiting_of(call).entered
        last = next(reversed(self._calls.values()), None)
        self._calls[call.id] = call
        if last is not None and waiting_of(last).entered > entered:
            ordered = sorted(self._calls.values(), key=lambda c: waiting_of(c).entered)
            self._calls = OrderedDict((c.id, c) for c in ordered)

    def leave(self, call: Call) -> None:
        self._calls.pop(call.id, None)

    def __len__(self) -> int:
        return len(self._calls)

    def __iter__(self) -> Iterator[Call]:
        return iter(list(self._calls.values()))

    def position(self, call: Call) -> int | None:
        """1 for the next caller to be served."""
        for n, queued in enumerate(self._calls.values(), 1):
            if queued is call:
                return n
        return None

    def first_idle(self) -> Call | None:
        for call in self._calls.values():
            waiting = waiting_of(call)
            if waiting is not None and waiting.idle:
                return call
        return None
