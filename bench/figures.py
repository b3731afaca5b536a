"""Today's figures on a busy day: how long `callcenter.figures.for_day` takes on SQLite for a day
of 1,000 and of 20,000 queued calls (goal: well under 200 ms at 20,000).

Each day is written straight into a fresh, migrated SQLite database as the switchboard would
have left it: 10 queues and 200 agents; every call entered between 08:00 and 20:00, most
answered after a short wait (an offer row, the agent's five state events with what each ended,
a wrap-up, the agent's part in call_agents), the rest abandoned, timed out or overflowed; a
month of earlier days beside it, so the day is found by the indexes and not by reading
everything. Printed: the median of several runs (wall time, and this process's CPU time), and
the figures' own counts as a check.

Then, on the biggest day, what the controller's hub feels: a greenlet that wakes every 5 ms
notes its longest pause while today's figures are computed again and again, side by side in
gevent's threadpool (how the controller computed them before: a thread of its own process, which
holds the GIL) and in their own process (callcenter/figures/worker.py, how it does now).

Run from the repository root: python -m bench.figures [--quick] [--calls 1000,20000]
[--database postgresql://user@host:port/postgres]. With --database, each day is written into a
database of its own that the bench creates on that server and drops afterwards.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from callcenter import db
from callcenter.figures import for_day
from callcenter.figures.day import local_day
from callcenter.models import Agent, Call, CallAgent, Event, Offer, Queue, User, event_id

TIMEZONE = ZoneInfo("Europe/Paris")
DAY = date(2026, 3, 10)
AGENTS, QUEUES = 200, 10
GOAL_MS = 200.0


def fill(database: db.Database, calls: int, days: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with database.session() as s:
        s.execute(insert(User), [dict(id=n, username=f"agent{n}", password_hash="!",  # noqa: S106 - no login
                                      role="agent", active=True,
                                      created_at=datetime(2026, 1, 1, tzinfo=UTC))
                                 for n in range(1, AGENTS + 1)])
        s.execute(insert(Agent), [dict(id=n, user_id=n, extension=str(10000 + n))
                                  for n in range(1, AGENTS + 1)])
        s.execute(insert(Queue), [dict(id=n, name=f"queue{n}", service_level_seconds=20)
                                  for n in range(1, QUEUES + 1)])
    count = 0
    for offset in range(-days + 1, 1):
        day = local_day(date.fromordinal(DAY.toordinal() + offset), TIMEZONE)
        call_rows, offer_rows, event_rows, part_rows = [], [], [], []
        for n in range(calls):
            entered = day.start + 8 * 3600 + rng.random() * 12 * 3600
            queue = rng.randrange(1, QUEUES + 1)
            call_id = f"{offset}-{n}"
            fate = rng.random()
            row = dict(id=call_id, direction="inbound", queue_id=queue, created_at=_t(entered),
                       entered_at=_t(entered), talk_seconds=0)
            if fate < 0.85:
                wait = rng.expovariate(1 / 15)
                talk = rng.randint(60, 400)
                agent = rng.randrange(1, AGENTS + 1)
                connected = entered + wait
                row.update(connected_at=_t(connected), left_at=_t(connected),
                           ended_at=_t(connected + talk), talk_seconds=talk, outcome="answered",
                           agent_id=agent)
                offer_rows.append(dict(leg_uuid=f"leg-{call_id}", call_id=call_id,
                                       agent_id=agent, queue_id=queue,
                                       offered_at=_t(connected - 2),
                                       ended_at=_t(connected), outcome="answered"))
                part_rows.append(dict(leg_uuid=f"leg-{call_id}", call_id=call_id, agent_id=agent,
                                      joined_at=_t(connected), left_at=_t(connected + talk),
                                      talk_seconds=talk, hold_seconds=0.0, wrapup_seconds=20.0,
                                      left_how="customer_hung_up"))
                at = connected - 2
                steps = [("reserved", 1), ("ringing", 1), ("in_call", talk), ("wrap_up", 20),
                         ("idle", 0)]
                prior, lasted = "idle", 30.0
                for state, seconds in steps:
                    count += 1
                    event_rows.append(dict(id=event_id(at, count), at=_t(at),
                                           kind="agent_state",
                                           agent_id=agent, call_id=call_id,
                                           detail=f'{{"state":"{state}"}}',
                                           prior_status="available", prior_state=prior,
                                           prior_seconds=lasted))
                    prior, lasted, at = state, seconds, at + seconds
            else:
                wait = rng.uniform(1, 120)
                outcome = "abandoned" if fate < 0.95 else "timed_out" if fate < 0.98 \
                    else "overflowed"
                row.update(left_at=_t(entered + wait), ended_at=_t(entered + wait),
                           outcome=outcome)
            call_rows.append(row)
        with database.session() as s:
            s.execute(insert(Call), call_rows)
            if offer_rows:
                s.execute(insert(Offer), offer_rows)
            if event_rows:
                s.execute(insert(Event), event_rows)
            if part_rows:
                s.execute(insert(CallAgent), part_rows)


def _t(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


@contextmanager
def fresh_database(server: str | None) -> Iterator[str]:
    """The URL of an empty database: a SQLite file, or one made on the PostgreSQL `server`."""
    if server is None:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'figures.db'}"
        return
    name = f"bench_figures_{uuid.uuid4().hex[:8]}"
    admin = create_engine(db.make_engine(server).url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def measure(calls: int, runs: int, days: int, server: str | None = None, pauses: bool = False
            ) -> tuple[float, float, dict, list]:
    """The median wall time and the median CPU time of this process (what the figures' thread
    took from the hub; unlike wall time, other work on the machine hardly moves it), in ms; and
    with `pauses`, `hub_pauses` on that day."""
    with fresh_database(server) as url:
        db.upgrade(url)
        database = db.Database(url)
        fill(database, calls, days)
        if database.engine.dialect.name == "postgresql":
            # As autovacuum would have by then (the visibility map lets the figures read the
            # events from ix_events_time_sums alone).
            with database.engine.execution_options(isolation_level="AUTOCOMMIT").connect() \
                    as conn:
                conn.execute(text("VACUUM ANALYZE"))
        now = local_day(DAY, TIMEZONE).end + 3600
        times, cpu, result = [], [], {}
        for _ in range(runs):
            started, used = time.perf_counter(), time.process_time()
            result = for_day(database, DAY, now=now, timezone=TIMEZONE)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - used) * 1000)
        database.dispose()
        paused = hub_pauses(url, runs) if pauses else []
        return statistics.median(times), statistics.median(cpu), result, paused


TICK_S = 0.005


def hub_pauses(url: str, runs: int) -> list[tuple[str, float, float]]:
    """(where, longest pause of a 5 ms ticker in ms, median wall time of a computation in ms)
    for the figures computed in gevent's threadpool, then in their own process."""
    from callcenter.figures import today
    from callcenter.figures.worker import FiguresProcess
    from callcenter.switchboard.figures_feed import in_threadpool

    now = local_day(DAY, TIMEZONE).end - 60           # late in the day measured above
    database = db.Database(url)
    process = FiguresProcess(url, TIMEZONE.key)
    ways = [("threadpool (before)",
             lambda: in_threadpool(lambda: today(database, now=now, timezone=TIMEZONE))),
            ("own process (now)", lambda: process(now))]
    measured = []
    try:
        process(now)                                  # started and warm, as after the first
        for where, compute in ways:
            measured.append((where, *_while_ticking(compute, runs)))
    finally:
        process.close()
        database.dispose()
    return measured


def _while_ticking(compute, runs: int) -> tuple[float, float]:
    """(longest pause of a greenlet waking every TICK_S, median wall time of `compute`), in ms,
    over `runs` computations."""
    import gevent
    from gevent.event import Event

    pauses: list[float] = []
    done = Event()

    def tick():
        last = time.perf_counter()
        while not done.is_set():
            gevent.sleep(TICK_S)
            at = time.perf_counter()
            pauses.append(at - last - TICK_S)
            last = at

    ticker = gevent.spawn(tick)
    gevent.sleep(0.05)
    walls = []
    for _ in range(runs):
        started = time.perf_counter()
        compute()
        walls.append((time.perf_counter() - started) * 1000)
    done.set()
    ticker.join()
    return max(pauses) * 1000, statistics.median(walls)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.figures", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small days, one earlier day")
    parser.add_argument("--calls", help="comma-separated calls per day")
    parser.add_argument("--database", metavar="URL",
                        help="a PostgreSQL server to measure on instead of SQLite")
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.calls.split(",")] if args.calls else \
        ([200, 2000] if args.quick else [1000, 20000])
    runs, days = (3, 2) if args.quick else (7, 8)
    where = make_url(args.database).get_backend_name() if args.database else "sqlite"
    print(f"figures.for_day on {where}: {AGENTS} agents, {QUEUES} queues, {days} days stored, "
          f"median of {runs} runs")
    print(f"{'calls/day':>10} {'events':>8} {'ms':>8} {'cpu ms':>8}   offered answered  SL     "
          f"ASA s  AHT s")
    status = 0
    paused = []
    for calls in sizes:
        ms, cpu, result, paused = measure(calls, runs, days, args.database,
                                          pauses=calls == max(sizes))
        totals = result["totals"]
        events = int(calls * 0.85) * 5
        print(f"{calls:>10} {events:>8} {ms:>8.1f} {cpu:>8.1f}   {totals['offered']:>7} "
              f"{totals['answered']:>8}  {totals['service_level']:.3f}  {totals['asa_s']:>5} "
              f"{totals['aht_s']:>6}")
        if calls >= 20000 and ms > GOAL_MS:
            print(f"  over the goal of {GOAL_MS:.0f} ms (off the hub since they have a process"
                  f" of their own)")
    print(f"\nthe hub while today's figures are computed {runs} times ({max(sizes)} calls/day): "
          f"longest pause of a greenlet waking every {TICK_S * 1000:g} ms")
    for where, pause, wall in paused:
        print(f"  {where:<20} longest pause {pause:6.1f} ms   a computation {wall:6.1f} ms")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
