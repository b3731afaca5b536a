"""The failed-login limiter on its own, on a hand-moved clock."""

from __future__ import annotations

import pytest

from callcenter import login_limits as limits
from callcenter.clock import ManualClock
from callcenter.login_limits import LoginLimiter, address_key

HOME = "198.51.100.7"
ATTACKER = "203.0.113.66"


def fail(limiter: LoginLimiter, username: str, address: str) -> int:
    """One attempt with a wrong password: its Retry-After if refused, else 0."""
    wait = limiter.admit(username, address)
    if not wait:
        limiter.settle(username, address, False)
    return wait


def fail_after_waiting(limiter: LoginLimiter, clock: ManualClock, username: str,
                       address: str) -> int:
    """A patient guesser: waits as long as told (returned), then fails once more."""
    wait = limiter.admit(username, address)
    if wait:
        clock.advance(wait)
        assert limiter.admit(username, address) == 0
    limiter.settle(username, address, False)
    return wait


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def limiter(clock):
    return LoginLimiter(clock)


def test_delays_start_after_the_free_failures_and_double(limiter, clock):
    for _ in range(limits.PAIR_FREE):
        assert fail(limiter, "alice", ATTACKER) == 0
    waits = []
    for _ in range(4):
        wait = limiter.admit("alice", ATTACKER)
        assert wait > 0                      # refused, without a password being checked
        waits.append(wait)
        clock.advance(wait)
        assert fail(limiter, "alice", ATTACKER) == 0
    assert waits == [2, 4, 8, 16]


def test_a_patient_guesser_gets_a_try_every_few_minutes_at_most(limiter, clock):
    waits = [fail_after_waiting(limiter, clock, "alice", ATTACKER)
             for _ in range(limits.PAIR_FREE + 60)]
    assert max(waits) == limits.MAX_DELAY
    # Forgiveness while waiting and the doubling balance out between a quarter of an hour and
    # half of it: never a try a minute again.
    assert min(waits[-30:]) >= limits.MAX_DELAY / 2


def test_a_right_password_from_elsewhere_is_never_delayed(limiter, clock):
    for _ in range(limits.PAIR_FREE + 10):
        fail_after_waiting(limiter, clock, "alice", ATTACKER)
    assert limiter.admit("alice", ATTACKER) > 0
    assert limiter.admit("alice", HOME) == 0          # the agent herself, from her desk
    limiter.settle("alice", HOME, True)
    assert limiter.admit("alice", ATTACKER) > 0       # the guesser still waits


def test_one_address_guessing_many_accounts_is_slowed(limiter):
    for n in range(limits.ADDRESS_FREE):
        assert fail(limiter, f"agent{n}", ATTACKER) == 0
    assert limiter.admit("someone-new", ATTACKER) > 0
    assert limiter.admit("someone-new", HOME) == 0


def test_a_success_clears_its_pair_but_not_its_address(limiter):
    for _ in range(limits.PAIR_FREE - 1):
        fail(limiter, "alice", HOME)
    assert limiter.admit("alice", HOME) == 0
    limiter.settle("alice", HOME, True)
    for _ in range(limits.PAIR_FREE - 1):
        assert fail(limiter, "alice", HOME) == 0      # a fresh allowance for the pair
    address = limiter.addresses.entries[HOME]
    assert int(address.count) == 2 * (limits.PAIR_FREE - 1)


def test_failures_are_forgiven_as_time_passes(limiter, clock):
    for _ in range(limits.PAIR_FREE + 3):
        fail_after_waiting(limiter, clock, "alice", ATTACKER)
    assert limiter.admit("alice", ATTACKER) > 0
    clock.advance(limits.PAIR_FORGIVE * (limits.PAIR_FREE + 3))
    for _ in range(limits.PAIR_FREE):
        assert fail(limiter, "alice", ATTACKER) == 0   # as if they had never failed


def test_an_office_mistyping_now_and_then_never_builds_a_delay(limiter, clock):
    for n in range(200):
        assert fail(limiter, f"agent{n % 30}", HOME) == 0
        clock.advance(limits.ADDRESS_FORGIVE)


def test_a_burst_sent_at_once_cannot_slip_through(limiter):
    admitted = sum(1 for _ in range(50) if limiter.admit("alice", ATTACKER) == 0)
    assert admitted == limits.PAIR_FREE              # the rest are told to wait
    assert limiter.admit("alice", HOME) == 0         # alice herself is not


def test_a_burst_after_a_failure_gets_only_the_allowance_left(limiter):
    fail(limiter, "alice", ATTACKER)
    admitted = sum(1 for _ in range(50) if limiter.admit("alice", ATTACKER) == 0)
    assert admitted == limits.PAIR_FREE - 1


def test_many_logins_at_once_from_a_clean_address_all_go_ahead(limiter):
    """An office behind one NAT address at 9:00: nobody has failed, nobody waits."""
    assert all(limiter.admit(f"agent{n}", HOME) == 0 for n in range(100))
    for n in range(100):
        limiter.settle(f"agent{n}", HOME, True)
    assert not limiter.pairs.entries and not limiter.addresses.entries


def test_an_error_frees_the_attempt_without_counting_a_failure(limiter):
    for _ in range(20):
        assert limiter.admit("alice", HOME) == 0
        limiter.settle("alice", HOME, None)
    assert not limiter.pairs.entries and not limiter.addresses.entries


def test_spraying_addresses_keeps_memory_bounded(clock):
    limiter = LoginLimiter(clock, max_entries=100)
    for n in range(5000):
        fail(limiter, f"user{n}", f"10.{n // 65536}.{n // 256 % 256}.{n % 256}")
    assert len(limiter.pairs.entries) <= 100 and len(limiter.addresses.entries) <= 100
    assert "10.0.19.135" in limiter.addresses.entries   # the most recent stay


def test_long_usernames_make_no_bigger_keys(limiter):
    fail(limiter, "x" * 100_000, ATTACKER)
    (username, _), = limiter.pairs.entries
    assert len(username) == 64


def test_ipv6_clients_count_by_their_64(limiter):
    for n in range(limits.ADDRESS_FREE):
        fail(limiter, f"agent{n}", f"2001:db8:1:2::{n + 1:x}")
    assert limiter.admit("someone", "2001:db8:1:2:ffff::1") > 0
    assert limiter.admit("someone", "2001:db8:1:3::1") == 0


@pytest.mark.parametrize("address, key", [
    ("203.0.113.5", "203.0.113.5"),
    ("::ffff:203.0.113.5", "203.0.113.5"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("unknown", "unknown"),
])
def test_address_keys(address, key):
    assert address_key(address) == key


def test_switched_off_it_refuses_nothing_and_remembers_nothing(clock):
    limiter = LoginLimiter(clock, enabled=False)
    for _ in range(100):
        assert fail(limiter, "alice", ATTACKER) == 0
    assert not limiter.pairs.entries and not limiter.addresses.entries
