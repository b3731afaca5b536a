"""What a Prometheus scrape of GET /metrics costs at 500 agents and 50 queues.

A fresh, migrated SQLite database gets 500 agents (statuses and states spread, every softphone
registered) and 50 queues of 10 agents each; a switchboard loads them (its link never connects:
the link's figures are read all the same) and an app serves /metrics with a token. Each route
is requested once first, so the HTTP series are there as in production. Printed: the median and
the worst wall time of a scrape through the app, the CPU time of this process per scrape,
the exposition's size and samples, and the goal: a scrape under 50 ms (Prometheus scrapes every
15 s by default, so that is 0.3 % of one core).

Today's figures (the service level per queue) are computed at a scrape unless a page is
listening to them; this day has no calls, so that part is the figures' floor, not a busy day's
(bench/figures.py measures that: up to 0.4 s of a thread of gevent's pool at 20,000 calls).

Run from the repository root: python -m bench.metrics_scrape [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from callcenter import db
from callcenter.app import create_app
from callcenter.config import Settings
from callcenter.esl.connection import Link
from callcenter.live import Hub
from callcenter.models import Agent, AgentState, AgentStatus, Queue, QueueAgent, User
from callcenter.switchboard import Switchboard

AGENTS, QUEUES, PER_QUEUE = 500, 50, 10
GOAL_MS = 50.0
TOKEN = secrets.token_urlsafe(24)   # this run only
STATES = [(AgentStatus.AVAILABLE, AgentState.IDLE), (AgentStatus.AVAILABLE, AgentState.IN_CALL),
          (AgentStatus.ON_BREAK, AgentState.IDLE), (AgentStatus.AVAILABLE, AgentState.WRAP_UP),
          (AgentStatus.LOGGED_OUT, AgentState.IDLE)]


def fill(database: db.Database) -> None:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    with database.session() as s:
        s.execute(insert(User), [dict(id=n, username=f"agent{n}", password_hash="!",  # noqa: S106 - no login
                                      role="agent", active=True, created_at=created)
                                 for n in range(1, AGENTS + 1)])
        s.execute(insert(Agent), [dict(id=n, user_id=n, extension=str(10000 + n),
                                       status=STATES[n % len(STATES)][0])
                                  for n in range(1, AGENTS + 1)])
        s.execute(insert(Queue), [dict(id=n, name=f"queue{n}") for n in range(1, QUEUES + 1)])
        s.execute(insert(QueueAgent), [dict(queue_id=q, agent_id=(q - 1) * PER_QUEUE + i + 1)
                                       for q in range(1, QUEUES + 1) for i in range(PER_QUEUE)])
        s.commit()


def measure(scrapes: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        settings = dataclasses.replace(
            Settings.from_env({"CALLCENTER_INSTANCE_DIR": str(Path(tmp) / "instance")}),
            metrics_token=TOKEN)
        Path(tmp, "instance").mkdir(exist_ok=True)
        db.upgrade(settings.database_url)
        database = db.Database(settings.database_url)
        fill(database)
        board = Switchboard(Link("127.0.0.1", 1, "never-connects-0123456789"), database,
                            hub=Hub(), audit_seconds=0, spool_dir=tmp)
        board.start()
        for agent in board.roster.agents.values():
            board.note_registration(agent.extension, f"contact-{agent.id}")
            agent.state = STATES[agent.id % len(STATES)][1]   # as calls would have left them
        app = create_app(settings, database, board, board.hub)
        client = app.test_client()
        for rule in app.url_map.iter_rules():
            client.get(rule.rule)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        text = client.get("/metrics", headers=headers).get_data(as_text=True)  # warm
        walls, cpus = [], []
        for _ in range(scrapes):
            wall, cpu = time.perf_counter(), time.process_time()
            reply = client.get("/metrics", headers=headers)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            assert reply.status_code == 200
        text = reply.get_data(as_text=True)
        families = list(text_string_to_metric_families(text))
        samples = sum(len(family.samples) for family in families)
        agents = sum(sample.value for family in families if family.name == "callcenter_agents"
                     for sample in family.samples)
        queues = {sample.labels["queue"] for family in families
                  if family.name == "callcenter_queue_waiting" for sample in family.samples}
        board.stop()
        database.dispose()
    return {"median_ms": statistics.median(walls) * 1000, "max_ms": max(walls) * 1000,
            "cpu_ms": statistics.median(cpus) * 1000, "bytes": len(text), "samples": samples,
            "agents": agents, "queues": len(queues)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.metrics_scrape", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer scrapes")
    args = parser.parse_args(argv)
    scrapes = 5 if args.quick else 50
    found = measure(scrapes)
    print(f"{found['agents']:.0f} agents, {found['queues']} queues, {scrapes} scrapes of "
          "GET /metrics")
    print(f"  scrape wall   median {found['median_ms']:.1f} ms   worst {found['max_ms']:.1f} ms")
    print(f"  scrape CPU    median {found['cpu_ms']:.1f} ms")
    print(f"  exposition    {found['bytes'] / 1024:.0f} KiB, {found['samples']} samples")
    met = found["median_ms"] < GOAL_MS
    print(f"  goal          median under {GOAL_MS:.0f} ms: {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
