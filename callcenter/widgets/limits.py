"""How many calls a widget lets start: per client address (its address through the trusted
proxies, web/addresses.py) so many new calls an hour, and per widget so many calls at once.
Beyond either the visitor is answered 429 with the seconds to wait.

The per-address count lives in this process's memory (one active controller serves the
widgets); the calls at once are counted in the database, so they hold across restarts."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ..clock import Clock
from ..models import Call, GuestCall, Widget
from .credentials import LIFETIME_S, when

WINDOW_S = 3600.0
BUSY_RETRY_S = 30          # calls at once: try again when one may have ended


@dataclass(frozen=True)
class Refusal:
    message: str
    retry_after: int       # seconds


class AddressLimits:
    """New calls per client address and widget in the last hour (a sliding window)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._started: dict[tuple[int, str], deque[float]] = {}

    def admit(self, widget: Widget, address: str) -> Refusal | None:
        """Count one call from `address`, or say how long it must wait."""
        now = self.clock.now()
        key = (widget.id, address)
        started = self._started.setdefault(key, deque())
        while started and started[0] <= now - WINDOW_S:
            started.popleft()
        if len(started) >= widget.calls_per_address_hour:
            wait = max(1, math.ceil(started[0] + WINDOW_S - now))
            return Refusal("You have made many calls in a short time: please try again later.",
                           wait)
        started.append(now)
        self._forget_idle(now)
        return None

    def _forget_idle(self, now: float) -> None:
        if len(self._started) > 10_000:      # addresses that stopped calling: keep memory flat
            self._started = {key: times for key, times in self._started.items()
                             if times and times[-1] > now - WINDOW_S}


def calls_at_once(session: Session, widget: Widget, clock: Clock) -> int:
    """The widget's calls now: credentials that may still start a call, and calls that started
    and have not ended (none outlives its maximum length, so older rows are not looked at)."""
    now = when(clock)
    fresh = now - timedelta(seconds=2 * LIFETIME_S)
    oldest = now - timedelta(seconds=2 * LIFETIME_S + widget.max_call_seconds)
    query = (select(func.count()).select_from(GuestCall)
             .outerjoin(Call, Call.id == GuestCall.call_id)
             .where(GuestCall.widget_id == widget.id, GuestCall.created_at > oldest,
                    Call.ended_at.is_(None),
                    or_(GuestCall.call_id.is_not(None), GuestCall.created_at > fresh)))
    return session.scalar(query) or 0


def admit_call(session: Session, widget: Widget, address: str, addresses: AddressLimits,
               clock: Clock) -> Refusal | None:
    if calls_at_once(session, widget, clock) >= widget.concurrent_calls:
        return Refusal("All our lines for website calls are busy: please try again in a "
                       "moment.", BUSY_RETRY_S)
    return addresses.admit(widget, address)
