"""A waiting caller's estimated wait, from its queue's recent handle times (talk and wrap-up of
its last answered calls, kept in memory) and the agents Available to the queue; and the
estimate rounded the way it is spoken ("about 3 minutes")."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from statistics import fmean

WINDOW = 20                  # the last handled calls of a queue the estimate reads
DEFAULT_HANDLE_S = 180.0     # before a queue has handled any call: a typical 3 minutes
LONGEST_SPOKEN_MIN = 120     # past two hours a number is a guess: nothing is said


def estimated_wait(position: int, handle_times: Sequence[float], agents: int,
                   default_handle: float = DEFAULT_HANDLE_S) -> float | None:
    """Seconds until the caller at `position` (1: next) is served: each Available agent frees
    up once per average handle time, so the callers ahead go `agents` at a time. None when no
    agent is Available (no honest number) or the position is unknown."""
    if agents < 1 or position < 1:
        return None
    average = fmean(handle_times) if handle_times else default_handle
    return position * average / agents


def spoken_minutes(seconds: float | None) -> int | None:
    """The estimate as said to the caller: whole minutes, at least one; to the nearest five
    past ten minutes; None for no estimate or one too long to be worth a number."""
    if seconds is None or seconds < 0:
        return None
    minutes = seconds / 60
    if minutes <= 10:
        return max(1, round(minutes))
    rounded = 5 * round(minutes / 5)
    return rounded if rounded <= LONGEST_SPOKEN_MIN else None


class HandleTimes:
    """Each queue's last WINDOW handle times, newest last."""

    def __init__(self, window: int = WINDOW) -> None:
        self._window = window
        self._queues: dict[str, deque[float]] = {}

    def add(self, queue: str, seconds: float) -> None:
        times = self._queues.get(queue)
        if times is None:
            times = self._queues[queue] = deque(maxlen=self._window)
        times.append(max(0.0, seconds))

    def of(self, queue: str) -> Sequence[float]:
        return tuple(self._queues.get(queue, ()))
