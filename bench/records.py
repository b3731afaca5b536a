"""Call records at scale: generate N calls (default 1,000,000: two legs each, their offers, the
agents' parts and both legs' compressed raw CDRs) over 90 days, 200 agents and 10 queues, on
SQLite and on PostgreSQL (a throwaway server, tests/postgres.py), then time what the records
page does: the first page (50 calls and the capped total) of typical searches, the 100th page
by keyset, a call's raw CDRs, and a CSV export of every call (rows/s, and the exporting
process's peak RSS). Prints the database's size per million calls, and the plan each search
runs (EXPLAIN), which shows the index serving it.

Goals: every search page p99 < 50 ms; the export of a million rows under 150 MB RSS.

    python -m bench.records [--calls N] [--database sqlite|postgresql|both] [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from callcenter.records.search import Filters, Search

CALLS = 1_000_000
QUICK_CALLS = 3_000
AGENTS, QUEUES, DAYS = 200, 10, 90
PAGE = 50
RUNS = 40
BATCH = 20_000
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DISPOSITIONS = ("sale", "no_sale", "callback", "wrong_number", "complaint", "info")
CAUSES = {"answered": "NORMAL_CLEARING", "busy": "USER_BUSY", "no_answer": "NO_ANSWER",
          "abandoned": "ORIGINATOR_CANCEL", "failed": "CALL_REJECTED"}
OUTCOMES = (("answered", 80), ("abandoned", 8), ("no_answer", 6), ("busy", 4), ("failed", 2))
GOAL_MS, GOAL_RSS_MB = 50.0, 150.0


# -- generating --------------------------------------------------------------------------------

def _document(leg: str, call_id: str, number: str, start: datetime, talk: int) -> str:
    """A FreeSWITCH-like JSON CDR of about 3 KB (the variables a real one carries)."""
    epoch = int(start.timestamp())
    variables = {f"sip_h_X-Bench-{i}": f"value-{i}-{leg[:8]}" for i in range(56)}
    variables.update(uuid=leg, cc_call_id=call_id, caller_id_number=number,
                     start_epoch=str(epoch), answer_epoch=str(epoch + 5),
                     end_epoch=str(epoch + 5 + talk), billsec=str(talk),
                     hangup_cause="NORMAL_CLEARING", sip_term_status="200",
                     sip_user_agent="SIP.js/0.21.2 BenchPhone", read_codec="PCMU",
                     write_codec="PCMU", remote_media_ip="192.0.2.10", remote_media_port="31337")
    return json.dumps({"core-uuid": "c0ffee00-0000-4000-8000-000000000000",
                       "switchname": "bench", "channel_data": {"state": "CS_REPORTING",
                                                               "direction": "inbound"},
                       "variables": variables,
                       "callflow": [{"profile_index": "1", "caller_profile": {
                           "caller_id_number": number, "destination_number": "5550100",
                           "uuid": leg}}]}, separators=(",", ":"))


@dataclass
class Generated:
    calls: int = 0
    seconds: float = 0.0
    numbers: list[str] = field(default_factory=list)   # a sample of customers' numbers


def generate(url: str, calls: int, seed: int = 20) -> Generated:
    """The schema, 200 agents and 10 queues, then `calls` calls written in big batches (COPY on
    PostgreSQL, executemany on SQLite)."""
    from sqlalchemy import insert, select
    from werkzeug.security import generate_password_hash

    from callcenter import db
    from callcenter.cdr.documents import packed
    from callcenter.models import Agent, Disposition, Queue, Role, User

    began = time.perf_counter()
    db.upgrade(url)
    database = db.Database(url)
    hashed = generate_password_hash("bench", method="pbkdf2:sha256:1")
    with database.session() as session:
        session.execute(insert(User), [{"username": f"agent{i}", "password_hash": hashed,
                                        "role": Role.AGENT} for i in range(AGENTS)])
        users = dict(session.execute(select(User.username, User.id)).all())
        session.execute(insert(Agent), [{"user_id": users[f"agent{i}"],
                                         "extension": str(2000 + i)} for i in range(AGENTS)])
        session.execute(insert(Queue), [{"name": f"queue{i}"} for i in range(QUEUES)])
        session.execute(insert(Disposition), [{"code": code, "label": code, "position": n}
                                              for n, code in enumerate(DISPOSITIONS)])
        agents = list(session.scalars(select(Agent.id)))
        queues = list(session.scalars(select(Queue.id)))
    rng = random.Random(seed)
    customers = [f"+1{rng.randint(200, 999)}{rng.randint(0, 9999999):07d}"
                 for _ in range(max(1000, calls // 5))]   # repeat callers, as in life
    outcomes = [name for name, weight in OUTCOMES for _ in range(weight)]
    template: dict[str, bytes] = {}
    span = DAYS * 86400
    out = Generated(numbers=customers[:1000])
    writer = _Writer(database)
    try:
        for start in range(0, calls, BATCH):
            tables: dict[str, list[tuple]] = {name: [] for name in _COLUMNS}
            for _ in range(start, min(calls, start + BATCH)):
                # Whole seconds: at a million calls, thousands share theirs with another.
                created = NOW - timedelta(seconds=rng.randrange(span))
                call_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                number = rng.choice(customers)
                agent = rng.choice(agents)
                queue = rng.choice(queues)
                inbound = rng.random() < 0.7
                outcome = rng.choice(outcomes) if inbound else rng.choice(
                    ("answered", "answered", "no_answer", "busy"))
                talked = outcome == "answered"
                talk = int(rng.expovariate(1 / 180)) if talked else 0
                wait = rng.randrange(60) if inbound else None
                answered = created + timedelta(seconds=5) if talked else None
                ended = created + timedelta(seconds=5 + talk)
                recording = f"/recordings/{call_id}.wav" if talked and rng.random() < 0.3 \
                    else None
                customer_leg = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                agent_leg = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                tables["calls"].append((
                    call_id, "inbound" if inbound else "outbound",
                    agent if talked or not inbound else None, queue if inbound else None,
                    number, number if inbound else "5550100", created, answered, answered,
                    ended, 5, talk, 0, CAUSES[outcome], "customer", outcome,
                    rng.choice(DISPOSITIONS) if talked and rng.random() < 0.6 else None,
                    created if inbound else None, answered if inbound else None,
                    (created + timedelta(seconds=wait)) if inbound else None, wait,
                    recording))
                if recording is not None:
                    tables["recordings"].append((call_id, agent_leg, recording, answered, ended,
                                                 float(talk), talk * 16_000))
                for leg, role in ((customer_leg, "customer"), (agent_leg, "agent")):
                    tables["call_legs"].append((leg, call_id, role, "sofia/internal/x",
                                                created, answered, ended, CAUSES[outcome]))
                    key = role
                    if key not in template:   # one real compression per leg kind: the same
                        template[key] = packed(_document(leg, call_id, number, created, talk))
                    tables["leg_cdrs"].append((leg, call_id, template[key]))
                if inbound:
                    tables["offers"].append((agent_leg, call_id, agent, queue, created,
                                             answered or ended,
                                             "answered" if talked else "missed"))
                if talked:
                    tables["call_agents"].append((agent_leg, call_id, agent, answered, ended,
                                                  float(talk), 0.0))
            for name, rows in tables.items():
                writer.write(name, rows)
            writer.commit()
            out.calls = min(calls, start + BATCH)
    finally:
        writer.close()
    if database.engine.dialect.name == "postgresql":
        # What autovacuum does a while after a bulk load (its insert threshold, PostgreSQL
        # 13+): the planner's statistics, the visibility map that lets an agent's calls be
        # counted from call_handlers' index alone, and the trigram index's pending list merged.
        with database.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM ANALYZE")
    database.dispose()
    out.seconds = time.perf_counter() - began
    return out


_COLUMNS = {
    "calls": ("id", "direction", "agent_id", "queue_id", "customer_number", "caller_id",
              "created_at", "answered_at", "bridged_at", "ended_at", "ring_seconds",
              "talk_seconds", "hold_seconds", "hangup_cause", "hangup_by", "outcome",
              "disposition", "entered_at", "connected_at", "left_at", "wait_seconds",
              "recording_path"),
    "call_legs": ("uuid", "call_id", "role", "channel_name", "created_at", "answered_at",
                  "ended_at", "hangup_cause"),
    "leg_cdrs": ("leg_uuid", "call_id", "document"),
    "offers": ("leg_uuid", "call_id", "agent_id", "queue_id", "offered_at", "ended_at",
               "outcome"),
    "call_agents": ("leg_uuid", "call_id", "agent_id", "joined_at", "left_at", "talk_seconds",
                    "hold_seconds"),
    "recordings": ("call_id", "leg_uuid", "path", "started_at", "ended_at", "seconds", "bytes"),
}


class _Writer:
    """Rows straight through the driver: COPY on PostgreSQL, executemany on SQLite (times as
    SQLAlchemy's SQLite DateTime writes them)."""

    def __init__(self, database) -> None:
        self.conn = database.engine.raw_connection()
        self.postgres = database.engine.dialect.name == "postgresql"

    def write(self, table: str, rows: list[tuple]) -> None:
        columns = _COLUMNS[table]
        cursor = self.conn.cursor()
        if self.postgres:
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(  # our own table and column names
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES "  # noqa: S608
                f"({', '.join('?' * len(columns))})",
                [tuple(_sqlite(value) for value in row) for row in rows])
        cursor.close()

    def commit(self) -> None:
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()


def _sqlite(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


# -- measuring ---------------------------------------------------------------------------------

def searches(rng: random.Random, numbers: list[str], agents: list[int], queues: list[int],
             ) -> dict[str, Callable[[], Search]]:
    """The typical searches, each drawing its own values on every run."""
    def day() -> datetime:
        return (NOW - timedelta(days=rng.randrange(DAYS))).replace(hour=0, minute=0, second=0)

    def agent_day() -> Search:
        since = day()
        return Search(Filters(agent_id=rng.choice(agents), since=since,
                              until=since + timedelta(days=1)))

    def contains() -> Search:
        number = rng.choice(numbers)
        at = rng.randrange(2, len(number) - 5)
        return Search(Filters(number=number[at:at + 5], number_match="contains"))

    return {
        "agent and day": agent_day,
        "number prefix": lambda: Search(Filters(number=rng.choice(numbers)[:8])),
        "number contains (5 digits)": contains,
        "queue and outcome": lambda: Search(Filters(queue_id=rng.choice(queues),
                                                    outcome="abandoned")),
        "last hour": lambda: Search(Filters(since=NOW - timedelta(hours=1))),
        "disposition": lambda: Search(Filters(disposition=rng.choice(DISPOSITIONS))),
        "long calls (>= 20 min)": lambda: Search(Filters(talk_min=1200)),
        "hangup cause, a week": lambda: Search(Filters(cause="USER_BUSY",
                                                       since=NOW - timedelta(days=7))),
        "recorded outbound": lambda: Search(Filters(direction="outbound", recorded=True)),
        "everything": lambda: Search(Filters()),
        "an agent's own calls": lambda: Search(Filters(), viewer_agent=rng.choice(agents)),
    }


def _ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


def _plan(session, search: Search) -> str:
    """The plan of the search's first page, its lines naming a table or index: the statement
    as the driver gets it (values through their column types), with EXPLAIN in front."""
    postgres = session.get_bind().dialect.name == "postgresql"
    connection = session.connection()
    compiled = (search.statement(session).order_by(*search.newest_first()).limit(PAGE)
                .compile(bind=connection))
    processors = compiled._bind_processors
    values = {name: processors[name](value) if name in processors else value
              for name, value in compiled.construct_params().items()}
    parameters = values if postgres else tuple(values[name] for name in compiled.positiontup)
    rows = connection.exec_driver_sql(("EXPLAIN " if postgres else "EXPLAIN QUERY PLAN ")
                                      + compiled.string, parameters).all()
    if postgres:
        return "; ".join(row[0].strip().removeprefix("->  ").split("  (cost")[0]
                         for row in rows if "Scan" in row[0] or "Index" in row[0])
    return "; ".join(row[-1] for row in rows)


def measure(url: str, generated: Generated, runs: int = RUNS) -> dict:
    """The timings and sizes for one database."""
    from sqlalchemy import func, select

    from callcenter import db
    from callcenter.cdr.documents import raw_cdrs
    from callcenter.models import Agent, Call, Queue

    database = db.Database(url)
    rng = random.Random(7)
    figures: dict = {"searches": {}, "plans": {}}
    with database.session() as session:
        agents = list(session.scalars(select(Agent.id)))
        queues = list(session.scalars(select(Queue.id)))
        kinds = searches(rng, generated.numbers, agents, queues)
        for name, make in kinds.items():
            figures["plans"][name] = _plan(session, make())
            samples, found = [], []
            for _ in range(runs):
                search = make()
                began = time.perf_counter()
                search.page(session, PAGE)
                total = search.total(session)
                samples.append(time.perf_counter() - began)
                found.append(math.inf if total[0] is None else total[0])  # None: "many"
            figures["searches"][name] = (*_ms(samples), statistics.median(found))
        # The 100th page: the cursor is the 4,950th call (found once, by OFFSET, untimed).
        samples = []
        for _ in range(max(5, runs // 4)):
            search = kinds["everything" if rng.random() < 0.5 else "an agent's own calls"]()
            cursor = session.scalar(search.statement(session, (Call.id,))
                                    .order_by(*search.newest_first())
                                    .offset(99 * PAGE - 1).limit(1))
            if cursor is None:
                continue
            began = time.perf_counter()
            search.page(session, PAGE, before=cursor)
            samples.append(time.perf_counter() - began)
        figures["page 100"] = _ms(samples) if samples else (0.0, 0.0)
        ids = list(session.scalars(select(Call.id).limit(2000)))
        samples = []
        for _ in range(runs):
            call_id = rng.choice(ids)
            began = time.perf_counter()
            raw_cdrs(session, call_id=call_id)
            samples.append(time.perf_counter() - began)
        figures["raw cdrs"] = _ms(samples)
        figures["calls"] = session.scalar(select(func.count()).select_from(Call))
    figures["size_bytes"] = _size(database)
    database.dispose()
    figures["export"] = _export_in_child(url)
    return figures


def _size(database) -> int:
    if database.engine.dialect.name == "postgresql":
        with database.engine.connect() as conn:
            return conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar()
    with database.engine.connect() as conn:   # the WAL's pages into the file, before sizing
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    path = database.engine.url.database
    return sum(os.path.getsize(path + tail) for tail in ("", "-wal") if
               os.path.exists(path + tail))


def export(url: str) -> dict:
    """Every call as CSV (written nowhere), in this process: rows, seconds, peak RSS."""
    from callcenter import db
    from callcenter.records import export as csv_export

    database = db.Database(url)
    rows, size = 0, 0
    began = time.perf_counter()
    for text in csv_export.lines(Search(Filters()), database.session):
        rows += text.count("\n")
        size += len(text)
    seconds = time.perf_counter() - began
    database.dispose()
    return {"rows": rows - 1, "seconds": seconds, "megabytes": size / 1e6,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _export_in_child(url: str) -> dict:
    """The export in a process of its own, so its peak RSS is the export's alone."""
    done = subprocess.run([sys.executable, "-m", "bench.records", "--export-only", url],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- running -----------------------------------------------------------------------------------

def run(calls: int, kinds: list[str], runs: int = RUNS) -> dict[str, dict]:
    results = {}
    for kind in kinds:
        with _database(kind) as url:
            if url is None:
                results[kind] = {"skipped": "PostgreSQL's binaries are not installed"}
                continue
            generated = generate(url, calls)
            figures = measure(url, generated, runs)
            figures["generate_s"] = generated.seconds
            results[kind] = figures
    return results


class _database:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.server = None
        self.dir = None

    def __enter__(self) -> str | None:
        if self.kind == "postgresql":
            from tests.postgres import PostgresServer

            self.server = PostgresServer()
            if not self.server.available:
                return None
            return self.server.start()
        self.dir = tempfile.TemporaryDirectory(prefix="cc-records-")
        return f"sqlite:///{self.dir.name}/records.db"

    def __exit__(self, *exc) -> None:
        if self.server is not None:
            self.server.stop()
        if self.dir is not None:
            self.dir.cleanup()


def report(results: dict[str, dict], calls: int) -> str:
    lines = [f"Call records: {calls:,} calls over {DAYS} days, {AGENTS} agents, {QUEUES} "
             f"queues; a page is {PAGE} calls and the total (capped at 10,000)"]
    for kind, figures in results.items():
        if "skipped" in figures:
            lines.append(f"\n{kind}: skipped ({figures['skipped']})")
            continue
        per_million = figures["size_bytes"] / figures["calls"] * 1e6 / 1e9
        lines.append(f"\n{kind}: generated in {figures['generate_s']:.0f} s; database "
                     f"{figures['size_bytes'] / 1e6:,.0f} MB ({per_million:.2f} GB per "
                     "million calls)")
        lines.append(f"  {'search (first page + total)':34} {'p50 ms':>8} {'p99 ms':>8} "
                     f"{'matches':>9}  goal p99 < {GOAL_MS:.0f} ms")
        for name, (p50, p99, found) in figures["searches"].items():
            mark = "" if p99 < GOAL_MS else "  MISSED"
            shown = "many" if found == math.inf else f"{found:,.0f}"
            lines.append(f"  {name:34} {p50:8.1f} {p99:8.1f} {shown:>9}{mark}")
        p50, p99 = figures["page 100"]
        lines.append(f"  {'100th page by keyset':34} {p50:8.1f} {p99:8.1f}")
        p50, p99 = figures["raw cdrs"]
        lines.append(f"  {'a call' + chr(39) + 's raw CDRs (both legs)':34} {p50:8.1f} "
                     f"{p99:8.1f}")
        out = figures["export"]
        lines.append(f"  CSV export: {out['rows']:,} rows in {out['seconds']:.1f} s = "
                     f"{out['rows'] / out['seconds']:,.0f} rows/s, {out['megabytes']:,.0f} MB;"
                     f" peak RSS {out['rss_mb']:.0f} MB (goal < {GOAL_RSS_MB:.0f} MB)")
        lines.append("  plans:")
        for name, plan in figures["plans"].items():
            lines.append(f"    {name}: {plan}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.records", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_CALLS:,} calls")
    parser.add_argument("--calls", type=int, help=f"calls to generate ({CALLS:,})")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--runs", type=int, default=RUNS, help="timed runs of each search")
    parser.add_argument("--export-only", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.export_only:
        print(json.dumps(export(args.export_only)))
        return 0
    calls = args.calls or (QUICK_CALLS if args.quick or os.environ.get("BENCH_QUICK")
                           else CALLS)
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    results = run(calls, kinds, 10 if args.quick else args.runs)
    print(report(results, calls), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
