"""The hub while the database writer works: how late a 1 ms timer on the hub fires at rest, and
while the store commits a burst of records (a call insert and an update each, as a burst of
ended calls makes), side by side in one run.

The writer runs in an OS thread (switchboard/store.py): its commits must not hold up the hub's
timers, socket reads and requests beyond the GIL's switch interval, where a writer on the hub
held them for as long as each batch ran. Also printed: records per second and this process's CPU
per record while the burst is written.

Run from the repository root: python -m bench.writer [--quick] [--records N]
[--database postgresql]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import UTC, datetime

import gevent

from callcenter import db
from callcenter.models import Direction
from callcenter.switchboard import records
from callcenter.switchboard.store import Store

TICK = 0.001


class Ticker:
    """A greenlet sleeping TICK at a time, noting how late each wake-up is."""

    def __init__(self) -> None:
        self.late: list[float] = []
        self._running = True
        self._greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        while self._running:
            started = time.perf_counter()
            gevent.sleep(TICK)
            self.late.append(time.perf_counter() - started - TICK)

    def stop(self) -> list[float]:
        self._running = False
        self._greenlet.join()
        return sorted(self.late)


def lateness(late: list[float]) -> str:
    if not late:
        return "no ticks"
    def at(q: float) -> float:
        return late[min(len(late) - 1, int(len(late) * q))] * 1000
    return (f"p50 {at(0.5):.2f} ms, p99 {at(0.99):.2f} ms, max {late[-1] * 1000:.1f} ms "
            f"({len(late)} ticks)")


def burst(store: Store, count: int) -> None:
    created = datetime.now(UTC)
    for i in range(count):
        store.submit(records.insert("calls", [dict(
            id=f"bench-{i}", direction=Direction.OUTBOUND, customer_number="15550100",
            created_at=created)]))
        store.submit(records.update_rows("calls", [{"id": f"bench-{i}", "caller_id": "5550100"}]))
        if i % 50 == 49:
            gevent.sleep(0)    # the event handlers submitting them yield too


def run(url: str, count: int) -> dict:
    db.upgrade(url)
    database = db.Database(url)
    store = Store(database.writer.sessions, reopen=database.writer.dispose)
    store.start()
    try:
        ticker = Ticker()
        gevent.sleep(0.5)
        at_rest = ticker.stop()
        ticker = Ticker()
        cpu, started = time.process_time(), time.perf_counter()
        burst(store, count)
        if not store.flush(300):
            raise SystemExit("the writer did not finish within 300 s")
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        busy = ticker.stop()
    finally:
        store.stop()
        database.dispose()
    return {"rest": at_rest, "busy": busy, "seconds": seconds, "cpu": cpu,
            "records": 2 * count, "written": store.written}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.writer", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smaller burst")
    parser.add_argument("--records", type=int, help="calls in the burst (two records each)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args(argv)
    count = args.records or (1000 if args.quick else 10000)
    workdir = tempfile.mkdtemp(prefix="bench-writer-")
    server = None
    try:
        if args.database == "postgresql":
            from tests.postgres import PostgresServer

            server = PostgresServer()
            if not server.available:
                raise SystemExit("--database postgresql: PostgreSQL's binaries are not installed")
            url = server.start()
        else:
            url = f"sqlite:///{workdir}/callcenter.db"
        figures = run(url, count)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"the hub while the writer commits {figures['records']} records ({args.database}):")
    print(f"  1 ms timer lateness at rest:       {lateness(figures['rest'])}")
    print(f"  1 ms timer lateness while writing: {lateness(figures['busy'])}")
    print(f"  {figures['written']} written in {figures['seconds']:.2f} s "
          f"({figures['records'] / figures['seconds']:.0f} records/s), "
          f"{figures['cpu'] / figures['records'] * 1e6:.0f} µs of CPU per record (this process)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
