"""Inbound queues under load: callers arrive, wait, are offered to agents and talk.

Two processes: the controller (`callcenter serve` on SQLite in a temporary instance directory)
and this driver, which runs the FreeSWITCH simulator in its own gevent loop (so it can place
each caller with its own behaviour) and asks the controller for its figures over HTTP.

1,000 agents (all Available, registered, wrap-up 0) across 10 queues of 100, longest-idle,
answering callers on entry (hold music plays). For each rate, callers arrive evenly for
--seconds at the queues in turn; each talks 3-10 s after it is bridged to an agent, and one in
twenty has almost no patience (hangs up 0-0.5 s after entering if no agent took it: abandoned,
or cancelling the offer under way). With about 1,000 / 6.5 s ≈ 150 calls/s of
capacity, callers rarely wait for a free agent.

Per rate: callers placed, answered, abandoned; lost (placed minus CDRs ended: must be 0);
agents not Idle once everything ended (must be 0); the auditor's runs and repairs (it audits
every second here, five times as often as by default; repairs must be 0 on this healthy run);
p50/p99 of dispatch (a caller waiting and an agent free → the agent's originate sent) and of
agent answer → uuid_bridge sent (from the controller's own histograms, subtracted per step);
the callers' queue wait (connected_at - entered_at from the CDRs); the event lag; the
controller's peak RSS and CPU per call.
Then the last rate once more, losing --faults talking calls' channels in the simulator without
an event (as after an event-socket gap): the auditor must release each stuck agent — repairs
equal to faults, and still nothing lost. Goal: dispatch p99 < 20 ms at 100 calls/s.

Run from the repository root: python -m bench.acd [--quick] [--rates 25,50,100].
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import gevent

from bench.cps import (
    AGENT_PASSWORD,
    FIRST_EXTENSION,
    Browser,
    Child,
    HttpError,
    Pool,
    RssSampler,
    cpu_seconds,
    prepare_database,
)
from callcenter.switchboard.stats import subtract, summary

GOAL_DISPATCH_P99_MS = 20.0
QUEUE_SIZE = 100
FIRST_DID = 5550200


@dataclass(frozen=True)
class Plan:
    rates: tuple[int, ...] = (25, 50, 100)
    seconds: float = 10.0
    agents: int = 1000
    queues: int = 10
    talk: tuple[float, float] = (3.0, 10.0)
    impatient: float = 0.05          # share of callers who hang up within half a second
    settle: float = 60.0
    faults: int = 20                 # the last step again, with this many talking calls lost
    log_level: str = "WARNING"


QUICK = Plan(rates=(10, 20), seconds=1.0, agents=40, queues=2, talk=(0.3, 1.0), settle=30.0,
             faults=3)


@dataclass
class Step:
    rate: float
    placed: int = 0
    seconds: float = 0.0
    counts: dict = field(default_factory=dict)
    cdrs: int = 0
    stuck_agents: int = 0
    left_in_switch: int = 0
    dispatch: dict = field(default_factory=dict)
    answer_to_bridge: dict = field(default_factory=dict)
    event_lag: dict = field(default_factory=dict)
    wait: dict = field(default_factory=dict)
    rss_peak_mb: float = 0.0
    cpu_ms_per_call: float = 0.0
    settled: bool = True
    audits: int = 0                  # the auditor's runs during the step ...
    repairs: dict = field(default_factory=dict)   # ... and its repairs by kind
    faults: int = 0                  # talking calls whose channels vanished without a word

    @property
    def repaired(self) -> int:
        return sum(self.repairs.values())

    @property
    def lost(self) -> int:
        return self.placed - self.cdrs

    def meets_goal(self) -> bool:
        p99 = self.dispatch.get("p99_ms")
        return (self.lost == 0 and not self.stuck_agents and not self.left_in_switch
                and self.settled and self.repaired == self.faults
                and p99 is not None and p99 < GOAL_DISPATCH_P99_MS)


def prepare_queues(url: str, agents: int, queues: int) -> None:
    """Queues q0.. with agents spread evenly, every agent with wrap-up 0, no ring limit."""
    from sqlalchemy import insert, select, update

    from callcenter import db
    from callcenter.models import Agent, Queue, QueueAgent, QueueStrategy

    database = db.Database(url)
    with database.session() as session:
        session.execute(update(Agent).values(wrapup_seconds=0))
        session.execute(insert(Queue), [
            {"name": f"q{n}", "strategy": QueueStrategy.LONGEST_IDLE_AGENT,
             "max_wait_seconds": 0} for n in range(queues)])
        queue_ids = dict(session.execute(select(Queue.name, Queue.id)).all())
        agent_ids = list(session.scalars(select(Agent.id).order_by(Agent.id)))
        session.execute(insert(QueueAgent), [
            {"queue_id": queue_ids[f"q{i % queues}"], "agent_id": agent_id, "level": 1,
             "position": i // queues + 1} for i, agent_id in enumerate(agent_ids)])
        session.commit()
    database.dispose()


def cdr_figures(url: str, numbers: list[str]) -> tuple[int, list[float]]:
    """Ended CDRs among the callers' numbers, and the waits of those an agent answered."""
    from sqlalchemy import select

    from callcenter import db
    from callcenter.models import Call

    database = db.Database(url)
    ended, waits = 0, []
    try:
        with database.session() as session:
            for start in range(0, len(numbers), 500):
                rows = session.execute(select(Call.ended_at, Call.entered_at, Call.connected_at)
                                       .where(Call.customer_number.in_(numbers[start:start + 500]))
                                       ).all()
                for ended_at, entered_at, connected_at in rows:
                    ended += ended_at is not None
                    if entered_at is not None and connected_at is not None:
                        waits.append((connected_at - entered_at).total_seconds())
    finally:
        database.dispose()
    return ended, waits


def stuck_agents(url: str) -> int:
    from sqlalchemy import func, select

    from callcenter import db
    from callcenter.models import Agent, AgentState

    database = db.Database(url)
    try:
        with database.session() as session:
            return session.scalar(select(func.count()).select_from(Agent)
                                  .where(Agent.state != AgentState.IDLE))
    finally:
        database.dispose()


class Bench:
    def __init__(self, plan: Plan, workdir: Path) -> None:
        from callcenter.sim import Simulator

        self.plan, self.workdir = plan, workdir
        self.url = f"sqlite:///{workdir}/callcenter.db"
        self.password = "bench-" + os.urandom(9).hex()
        self.sim = Simulator(self.password)
        self.rng = random.Random(7)
        self.admin = Browser("bench-admin")
        self.controller: Child | None = None
        self.pool: Pool | None = None
        self.rss: RssSampler | None = None
        self._callers = 0

    def start(self) -> None:
        plan = self.plan
        prepare_database(self.url, plan.agents)
        prepare_queues(self.url, plan.agents, plan.queues)
        self.sim.start()
        for i in range(plan.agents):
            self.sim.register(str(FIRST_EXTENSION + i))
        self.controller = Child(["serve"], {
            "CALLCENTER_INSTANCE_DIR": str(self.workdir),
            "CALLCENTER_DATABASE_URL": self.url,
            "CALLCENTER_HTTP_BIND": "127.0.0.1:0",
            "CALLCENTER_ESL_HOST": "127.0.0.1",
            "CALLCENTER_ESL_PORT": str(self.sim.port),
            "CALLCENTER_ESL_PASSWORD": self.password,
            "CALLCENTER_LOG_LEVEL": plan.log_level,
            "CALLCENTER_AUDIT_SECONDS": "1",
        })
        port = int(self.controller.wait_for(
            r"callcenter serving on http://127\.0\.0\.1:(\d+)").group(1))
        self.rss = RssSampler(self.controller.proc.pid)
        self.pool = Pool(port, 8)
        self.admin.log_in(self.pool, AGENT_PASSWORD)
        self._wait(lambda s: s["link"]["connected"] and s["agents"]["registered"] == plan.agents,
                   60, "every agent registered")

    def stop(self) -> None:
        if self.pool is not None:
            self.pool.close()
        if self.rss is not None:
            self.rss.stop()
        if self.controller is not None:
            self.controller.stop()
        self.sim.stop()

    def stats(self) -> dict:
        response = self.pool.request("GET", "/api/stats", headers=self.admin.headers())
        if response.status != 200:
            raise HttpError(f"GET /api/stats: HTTP {response.status}")
        return response.json()

    def _wait(self, ready, timeout: float, what: str) -> bool:
        deadline = time.monotonic() + timeout
        while not ready(self.stats()):
            if time.monotonic() > deadline:
                print(f"  waited {timeout:.0f} s for {what}", flush=True)
                return False
            gevent.sleep(0.1)   # the controller is another process: nothing to wait on
        return True

    def _caller(self, numbers: list[str]) -> None:
        from callcenter.sim import Behaviour

        n = self._callers
        self._callers += 1
        number = str(15550000000 + n)
        talk = self.rng.uniform(*self.plan.talk)
        patience = self.rng.uniform(0, 0.5) if self.rng.random() < self.plan.impatient else None
        self.sim.endpoints.script(number, Behaviour(talk_after_bridge_s=talk,
                                                    patience_s=patience))
        queue = n % self.plan.queues
        self.sim.inject_inbound(str(FIRST_DID + queue), number, f"q{queue}")
        numbers.append(number)

    def _lose_calls(self, count: int) -> int:
        """Make `count` talking calls vanish from the switch without an event (both channels),
        as after an event-socket gap: the controller is never told; its auditor must find each
        agent stuck In call and release it — one repair per fault."""
        pairs = [(uuid, ch.partner.uuid) for uuid, ch in list(self.sim.channels.items())
                 if ch.direction == "inbound" and ch.partner is not None]
        lost = 0
        for caller, agent in pairs[:count]:
            lost += self.sim.vanish(caller) and self.sim.vanish(agent)
        return lost

    def step(self, rate: float, faults: int = 0) -> Step:
        plan = self.plan
        step = Step(rate=rate)
        numbers: list[str] = []
        before = self.stats()
        self.rss.reset()
        pid = self.controller.proc.pid
        cpu_before = cpu_seconds(pid)
        count = int(rate * plan.seconds)
        start = time.perf_counter()
        for i in range(count):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                gevent.sleep(delay)   # the load generator's own clock
            self._caller(numbers)
        step.seconds = time.perf_counter() - start
        step.placed = len(numbers)
        if faults:
            step.faults = self._lose_calls(faults)
        step.settled = self._wait(
            lambda s: s["live_calls"] == 0 and not s["store"]["depth"],
            plan.talk[1] + plan.settle, f"the {rate}/s callers to end")
        step.cpu_ms_per_call = (cpu_seconds(pid) - cpu_before) * 1000 / max(1, step.placed)
        after = self.stats()
        step.rss_peak_mb = self.rss.reset()
        queues_before, queues_after = before["queues"], after["queues"]
        step.counts = {k: queues_after[k] - queues_before[k]
                       for k in ("entered", "answered", "abandoned", "offers", "missed",
                                 "cancelled", "lost_race")}
        for name in ("dispatch", "answer_to_bridge"):
            setattr(step, name, summary(subtract(queues_after[name]["buckets"],
                                                 queues_before[name]["buckets"])))
        audit_before, audit_after = before["auditor"], after["auditor"]
        step.audits = audit_after["runs"] - audit_before["runs"]
        step.repairs = {kind: n - audit_before["repairs"][kind]
                        for kind, n in audit_after["repairs"].items()}
        step.event_lag = summary(subtract(after["latency"]["event_lag"]["buckets"],
                                          before["latency"]["event_lag"]["buckets"]))
        step.cdrs, waits = cdr_figures(self.url, numbers)
        waits.sort()
        step.wait = {"p50_s": _pick(waits, 50), "p99_s": _pick(waits, 99),
                     "max_s": waits[-1] if waits else None}
        step.stuck_agents = stuck_agents(self.url)
        step.left_in_switch = len(self.sim.channels)
        return step


def _pick(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, max(0, round(len(values) * q / 100) - 1))]


def run(plan: Plan) -> list[Step]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-acd-"))
    bench = Bench(plan, workdir)
    try:
        bench.start()
        steps = [bench.step(rate) for rate in plan.rates]
        if plan.faults and plan.rates:
            steps.append(bench.step(plan.rates[-1], faults=plan.faults))
        return steps
    finally:
        bench.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _ms(figures: dict) -> str:
    p50, p99 = figures.get("p50_ms"), figures.get("p99_ms")
    return "-" if p50 is None else f"{p50:.1f}/{p99:.1f}"


def report(steps: list[Step], plan: Plan) -> str:
    lines = [f"{plan.agents} agents in {plan.queues} queues, wrap-up 0; callers talk "
             f"{plan.talk[0]:g}-{plan.talk[1]:g} s, {plan.impatient:.0%} impatient; "
             f"{plan.seconds:g} s per rate. Latencies p50/p99 ms.",
             "rate | placed | answered | abandoned | lost | stuck agents | dispatch | "
             "answer→bridge | queue wait p50/p99 s | event lag | audits/faults/repairs | RSS MB | "
             "CPU ms/call | goal",
             "---|---|---|---|---|---|---|---|---|---|---|---|---|---"]
    for s in steps:
        wait = "-" if s.wait["p50_s"] is None else f"{s.wait['p50_s']:.2f}/{s.wait['p99_s']:.2f}"
        lines.append(" | ".join(str(x) for x in (
            f"{s.rate:g}/s", s.placed, s.counts.get("answered"), s.counts.get("abandoned"),
            s.lost, s.stuck_agents, _ms(s.dispatch), _ms(s.answer_to_bridge), wait,
            _ms(s.event_lag), f"{s.audits}/{s.faults}/{s.repaired}", f"{s.rss_peak_mb:.0f}",
            f"{s.cpu_ms_per_call:.1f}",
            "met" if s.meets_goal() else "missed")))
    lines.append("goal: nothing lost, no agent stuck, auditor repairs = injected faults (none "
                 "but on the last row, which loses talking calls' channels without a word), "
                 "dispatch p99 < "
                 f"{GOAL_DISPATCH_P99_MS:g} ms "
                 "(mod_callcenter on a real FreeSWITCH took p50 42 / p99 101 ms member → offer "
                 "at 5 calls/s with 20 agents: a different setting, for scale)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.acd", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rates", help="comma-separated calls per second")
    parser.add_argument("--seconds", type=float)
    args = parser.parse_args(argv)
    plan = QUICK if args.quick or os.environ.get("BENCH_QUICK") else Plan()
    if args.rates:
        plan = Plan(**{**plan.__dict__, "rates": tuple(int(r) for r in args.rates.split(","))})
    if args.seconds:
        plan = Plan(**{**plan.__dict__, "seconds": args.seconds})
    steps = run(plan)
    print(report(steps, plan), flush=True)
    return 0 if all(s.lost == 0 and not s.stuck_agents and not s.repaired for s in steps) else 1


if __name__ == "__main__":
    raise SystemExit(main())
