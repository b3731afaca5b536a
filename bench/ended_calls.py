"""The database writer's cost per ended call: statements and CPU.

Each ended call gives the writer what the switchboard submits for it: its CDR (two legs, as
the hangup events make them) and its outcome update, a few calls per hub turn. The calls and
their legs are inserted first (as when they were placed), then the endings are timed: SQL
statements run per ended call (executemany counts once), records committed, and this
process's CPU (the writer's thread and the hub) per ended call. Statements are the figure to
compare across machines; CPU depends on the machine and its load.

Run from the repository root: python -m bench.ended_calls [--quick] [--calls N]
[--database postgresql]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta

import gevent
from sqlalchemy import event

from callcenter import db
from callcenter.cdr import LegRecord
from callcenter.models import Direction, LegRole, Outcome
from callcenter.switchboard import records
from callcenter.switchboard.store import Store

PER_TURN = 20          # calls ending in one turn of the hub
ROLES = (("a", LegRole.AGENT), ("c", LegRole.CUSTOMER))


def legs(call_id: str, began: datetime) -> list[LegRecord]:
    def at(seconds: float) -> datetime:
        return began + timedelta(seconds=seconds)
    return [LegRecord(uuid=f"{call_id}-{suffix}", call_id=call_id, role=role,
                      direction=Direction.OUTBOUND, customer_number="5551000", caller_id="1000",
                      channel_name=f"sofia/internal/{call_id}-{suffix}", started=at(0),
                      progress=at(1), answered=at(2), bridged=at(2), ended=at(5), billsec=3,
                      hangup_cause="NORMAL_CLEARING", hangup_disposition="recv_bye")
            for suffix, role in ROLES]


def run(url: str, calls: int) -> dict:
    db.upgrade(url)
    database = db.Database(url)
    statements = [0]

    def counted(*_args) -> None:
        statements[0] += 1

    event.listen(database.engine, "before_cursor_execute", counted)
    store = Store(database.sessions, reopen=database.dispose)
    store.start()
    began = datetime(2026, 1, 1, tzinfo=UTC)
    ids = [f"bench-{i}" for i in range(calls)]
    try:
        for call_id in ids:
            store.submit(records.insert("calls", [dict(
                id=call_id, direction=Direction.OUTBOUND, customer_number="5551000",
                caller_id="1000", created_at=began)]))
            store.submit(records.insert("call_legs", [dict(
                uuid=f"{call_id}-{suffix}", call_id=call_id, role=role, channel_name="",
                created_at=began) for suffix, role in ROLES]))
        if not store.flush(600):
            raise SystemExit("the writer did not insert the calls within 600 s")
        statements[0], written = 0, store.written
        cpu, started = time.process_time(), time.perf_counter()
        for i, call_id in enumerate(ids):
            store.submit(records.cdr_legs(legs(call_id, began)))
            store.submit(records.update_rows("calls", [dict(
                id=call_id, outcome=Outcome.ANSWERED, sip_status=None, sip_reason=None)]))
            if i % PER_TURN == PER_TURN - 1:
                gevent.sleep(0)
        if not store.flush(600):
            raise SystemExit("the writer did not end the calls within 600 s")
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        store.stop()
        database.dispose()
    return {"calls": calls, "statements": statements[0], "records": store.written - written,
            "seconds": seconds, "cpu": cpu}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ended_calls", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer calls")
    parser.add_argument("--calls", type=int, help="calls ended")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args(argv)
    calls = args.calls or (200 if args.quick else 2000)
    if calls <= 0:
        parser.error("--calls: give a positive number")
    workdir = tempfile.mkdtemp(prefix="bench-ended-")
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
        figures = run(url, calls)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    n = figures["calls"]
    print(f"{n} calls ended through the database writer ({args.database}): "
          f"{figures['statements'] / n:.2f} SQL statements per call, "
          f"{figures['records']} records in {figures['seconds']:.1f} s, "
          f"{figures['cpu'] * 1000 / n:.2f} ms of CPU per call (this process)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
