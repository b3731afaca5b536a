"""`make bench`: every benchmark in one run, each printing its figures and ratios.

`python -m bench [--quick] [NAME ...]` — NAME is a module in bench/ (default: all of them).
"""

from __future__ import annotations

import argparse
import importlib
import sys

BENCHMARKS = ("esl_throughput", "sender", "cps", "login_lookup", "acd", "strategies",
              "login_flood", "live", "figures", "metrics_scrape", "writer", "ended_calls",
              "records")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small runs, for a smoke check")
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, []], metavar="NAME")
    args = parser.parse_args(argv)
    status = 0
    for name in args.names or BENCHMARKS:
        print(f"== bench.{name} ==", flush=True)
        module = importlib.import_module(f"bench.{name}")
        status |= module.main(["--quick"] if args.quick else [])
    return status


if __name__ == "__main__":
    sys.exit(main())
