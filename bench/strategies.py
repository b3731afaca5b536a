"""Queue strategies: what choosing the agents for one waiting caller costs, per strategy.

The queue engine calls `order` (and `open_levels`) on every dispatch; at 100 calls/s with 100
free agents per queue that must stay a small share of the 20 ms dispatch goal. Each strategy
orders a seeded roster of N free agents over three levels (round-robin and top-down with a
memory to continue from), timed with timeit in this process.

Run from the repository root: python -m bench.strategies [--quick]
"""

from __future__ import annotations

import argparse
import random
import timeit

from callcenter.models import QueueStrategy
from callcenter.switchboard.queues.strategies import Candidate, TierRules, open_levels, order

SIZES = (10, 100, 1000)
DISPATCH_GOAL_US = 20_000


def roster(size: int, rng: random.Random) -> list[Candidate]:
    return [Candidate(agent_id=i, level=rng.randrange(1, 4), position=rng.randrange(1, 50),
                      idle_since=rng.random() * 1e5, talk_seconds=rng.random() * 1e4,
                      calls=rng.randrange(60)) for i in range(size)]


def microseconds(fn, repeat: int) -> float:
    return min(timeit.repeat(fn, number=repeat, repeat=3)) / repeat * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.strategies", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args(argv)
    repeat = 200 if args.quick else 2000
    rng = random.Random(15)
    rosters = {size: roster(size, rng) for size in SIZES}
    print(f"{'strategy':<30}" + "".join(f"{f'{n} agents':>14}" for n in SIZES)
          + f"{'share of 20 ms @100':>22}")
    for strategy in QueueStrategy:
        cost = {n: microseconds(lambda s=strategy, r=rosters[n]: order(
            s, r, last_offered=(2, 7), caller_last_offered=(1, 3), rng=rng), repeat)
            for n in SIZES}
        print(f"{strategy.value:<30}" + "".join(f"{cost[n]:>11.1f} us" for n in SIZES)
              + f"{cost[100] / DISPATCH_GOAL_US:>21.2%}")
    levels = [c.level for c in rosters[100]]
    rules = TierRules(wait_seconds=30, multiply=True)
    cost = microseconds(lambda: open_levels(levels, {1, 3}, 45.0, rules), repeat)
    print(f"{'open_levels (100 tiers)':<30}{cost:>25.1f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
