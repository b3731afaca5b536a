"""Growing delays after failed logins, per (account, address) pair and per address.

Failures are counted per pair and per address, never per account alone: someone guessing an
agent's password from elsewhere slows only themselves, and a right password from an address
with no recent failures is never delayed. Past a few free failures each new one doubles the wait
before the next try (up to MAX_DELAY). Failures are forgiven one at a time as time passes (a
leaky bucket), so an office whose agents mistype now and then never builds up a delay. A success
clears its pair (not its address: a valid account must not buy an address fresh guesses).

Logins not yet judged count too, so a burst of guesses for one account sent at once cannot all
slip through before the first one fails. (Per address they count only once the address has
failed: an office behind one NAT address logging in at nine must not wait.)

Memory is bounded: each table keeps at most `max_entries` keys, dropping the least recently
failed first, so spraying addresses cannot grow it without end.

In memory, for one process; the clock is injectable (callcenter.clock).
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict
from dataclasses import dataclass

from .clock import Clock

PAIR_FREE = 5            # failures of one account from one address before delays start
ADDRESS_FREE = 20        # failures from one address, all accounts together
PAIR_FORGIVE = 600.0     # seconds for one failure of a pair to be forgiven
ADDRESS_FORGIVE = 60.0
FIRST_DELAY = 2.0        # seconds, doubled by each further failure
MAX_DELAY = 15 * 60.0
MAX_ENTRIES = 10_000


@dataclass
class _Failures:
    count: float = 0.0     # recent failures, as of `updated` (forgiveness makes it fractional)
    updated: float = 0.0
    until: float = 0.0     # no new attempt before this
    pending: int = 0       # attempts admitted and not yet judged


def _recent(entry: _Failures) -> int:
    """Failures not yet wholly forgiven."""
    return math.ceil(entry.count - 1e-9)


class _Table:
    """Failures per key, the least recently failed first."""

    def __init__(self, free: int, forgive: float, max_entries: int,
                 clean_goes_ahead: bool) -> None:
        self.free, self.forgive, self.max_entries = free, forgive, max_entries
        self.clean_goes_ahead = clean_goes_ahead   # no recent failure: pending ones don't count
        self.entries: OrderedDict[object, _Failures] = OrderedDict()

    def get(self, key: object, now: float) -> _Failures | None:
        entry = self.entries.get(key)
        if entry is not None:
            entry.count = max(0.0, entry.count - max(0.0, now - entry.updated) / self.forgive)
            entry.updated = now
        return entry

    def wait(self, key: object, now: float) -> float:
        """Seconds before this key may try again (0: now)."""
        entry = self.get(key, now)
        if entry is None or _recent(entry) + entry.pending < self.free:
            return 0.0
        if self.clean_goes_ahead and not _recent(entry):
            return 0.0
        if entry.pending == 0 and now >= entry.until:
            return 0.0
        return max(1.0, entry.until - now)     # one at a time once delays have started

    def delay(self, count: int) -> float:
        if count < self.free:
            return 0.0
        return min(MAX_DELAY, FIRST_DELAY * 2.0 ** min(count - self.free, 32))

    def entry(self, key: object, now: float) -> _Failures:
        entry = self.get(key, now)
        if entry is None:
            while len(self.entries) >= self.max_entries:
                self.entries.popitem(last=False)
            entry = self.entries[key] = _Failures(updated=now)
        return entry

    def settle(self, key: object, now: float, failed: bool) -> None:
        entry = self.get(key, now)
        if entry is not None:
            entry.pending = max(0, entry.pending - 1)
        elif failed:                     # dropped meanwhile to keep the table bounded
            entry = self.entry(key, now)
        else:
            return
        if failed:
            entry.count += 1
            entry.until = now + self.delay(_recent(entry))
            self.entries.move_to_end(key)
        elif not _recent(entry) and not entry.pending:
            del self.entries[key]        # nothing recent to remember


def address_key(address: str) -> str:
    """An IPv6 client is counted by its /64 (one host usually holds all of it); anything else by
    the address itself."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


class LoginLimiter:
    """admit() before checking a password; settle() with the verdict, always, afterwards."""

    def __init__(self, clock: Clock, *, enabled: bool = True,
                 max_entries: int = MAX_ENTRIES) -> None:
        self.clock = clock
        self.enabled = enabled
        self.pairs = _Table(PAIR_FREE, PAIR_FORGIVE, max_entries, clean_goes_ahead=False)
        self.addresses = _Table(ADDRESS_FREE, ADDRESS_FORGIVE, max_entries, clean_goes_ahead=True)

    @staticmethod
    def _keys(username: str, address: str) -> tuple[tuple[str, str], str]:
        where = address_key(address)
        # Usernames are at most 64 characters: a longer guess must not make a bigger key.
        return (username.strip().lower()[:64], where), where

    def admit(self, username: str, address: str) -> int:
        """0 when this attempt may go ahead (it then counts as pending until settled), else the
        whole seconds to wait (the Retry-After)."""
        if not self.enabled:
            return 0
        now = self.clock.now()
        pair, where = self._keys(username, address)
        wait = max(self.pairs.wait(pair, now), self.addresses.wait(where, now))
        if wait:
            return math.ceil(wait)
        self.pairs.entry(pair, now).pending += 1
        self.addresses.entry(where, now).pending += 1
        return 0

    def settle(self, username: str, address: str, succeeded: bool | None) -> None:
        """The verdict on an admitted attempt: True right password, False wrong, None no verdict
        (an error: the attempt only stops being pending)."""
        if not self.enabled:
            return
        now = self.clock.now()
        pair, where = self._keys(username, address)
        self.addresses.settle(where, now, failed=succeeded is False)
        self.pairs.settle(pair, now, failed=succeeded is False)
        if succeeded:
            self.pairs.entries.pop(pair, None)
