"""Calls per second: click-to-dial through the real HTTP API and the real ESL link.

Three processes, as in production: the simulator (`callcenter simulate`, FreeSWITCH's side of
the Event Socket), the controller (`callcenter serve` on SQLite in a temporary instance
directory, pointed at the simulator), and this driver. Agents are created in bulk straight in
the database before the controller starts (one shared password hash of PBKDF2 with a single
iteration: logging thousands of agents in through scrypt would take minutes and measures
nothing here); each then logs in over HTTP (session cookie + CSRF token) as a browser does.

For each rate the driver places click-to-dial calls through POST /api/calls, paced evenly,
over a pool of keep-alive HTTP connections. The simulator's softphones answer at once, its
customers ring, answer after --answer-ms and hang up after --talk seconds. Once every call of
the step has ended and its writes are committed, the step's figures come from two snapshots
of GET /api/stats (histograms subtract exactly), the CDRs are counted in the database (Call
rows with ended_at among the step's call ids), the simulator is asked for legs still up, and
the controller's RSS was sampled from /proc/<pid>/status throughout. Before the rates, on the
fresh controller, --concurrent calls are held up at once (customers that never hang up), the
controller's RSS is read, and they are all hung up through the API.

Run from the repository root: python -m bench.cps [--quick] [--rates 25,50,...] (or
BENCH_QUICK=1). Importable: main(argv) prints the table, run(plan) returns the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlencode

import gevent
import gevent.pool
import gevent.queue
from gevent import socket

from callcenter.switchboard.stats import Latency, subtract, summary

ROOT = Path(__file__).resolve().parent.parent
AGENT_PASSWORD = "bench-agent-passphrase"  # noqa: S105 - throwaway users of a throwaway database
NUMBER = "5551000"          # customers who hang up after --talk seconds
HOLD_NUMBER = "5552000"     # customers who stay until hung up (the concurrency phase)
FIRST_EXTENSION = 10000
GOAL_CPS = 300
GOAL_P99_BRIDGE_MS = 50.0
CSRF_META = re.compile(rb'name="csrf-token" content="([^"]+)"')


@dataclass(frozen=True)
class Plan:
    rates: tuple[int, ...] = (25, 50, 75, 100, 150, 200, 300, 500)
    seconds: float = 10.0          # dialing time per rate
    talk: float = 3.0              # seconds a customer talks before hanging up
    answer_ms: int = 200           # the customer's ring time
    agents: int = 5000
    concurrent: int = 5000         # calls held up at once in the last phase (0: skip it)
    concurrent_rate: int = 100     # how fast they are placed and hung up
    connections: int = 64          # keep-alive HTTP connections to the controller
    settle: float = 60.0           # longest wait, after dialing, for a step's calls to end
    log_level: str = "WARNING"
    database: str = "sqlite"       # or "postgresql": a throwaway server (tests/postgres.py)

    def check(self) -> None:
        busy = max(self.rates, default=0) * (self.talk + self.answer_ms / 1000 + 2)
        if self.agents < busy * 1.5:
            raise SystemExit(f"{self.agents} agents are too few for {max(self.rates)} calls/s "
                             f"of {self.talk} s: give --agents {int(busy * 1.5) + 1} or more")
        if self.concurrent > self.agents:
            raise SystemExit(f"--concurrent {self.concurrent} needs as many agents "
                             f"(--agents {self.agents})")


QUICK = Plan(rates=(10, 20), seconds=1.0, talk=0.5, answer_ms=50, agents=80, concurrent=40,
             concurrent_rate=40, connections=8, settle=20.0)


# -- child processes ------------------------------------------------------------------------------


class Child:
    """A `callcenter` subprocess whose output is read by a thread (a full pipe would stall it),
    kept, and searched for the line a caller waits on."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
        full_env |= env | {"PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "callcenter.cli", *args], cwd=ROOT,
                                     env=full_env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for raw in self.proc.stdout:
            with self._changed:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self.lines.append("<exited>")
            self._changed.notify_all()

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match:
        regex = re.compile(pattern)
        seen = 0
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    if match := regex.search(line):
                        return match
                seen = len(self.lines)
                remaining = deadline - time.monotonic()
                if (self.lines and self.lines[-1] == "<exited>") or remaining <= 0:
                    raise RuntimeError(f"no line matching {pattern!r}:\n" + self.tail())
                self._changed.wait(remaining)

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.lines[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)


class RssSampler:
    """A thread reading a process's VmRSS every 20 ms: the peak between two reset() calls."""

    def __init__(self, pid: int) -> None:
        self.path = Path(f"/proc/{pid}/status")
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def now_mb(self) -> float:
        try:
            text = self.path.read_text()
        except OSError:
            return 0.0
        found = re.search(r"^VmRSS:\s+(\d+) kB", text, re.M)
        return int(found.group(1)) / 1024 if found else 0.0

    def reset(self) -> float:
        peak, self.peak_mb = self.peak_mb, self.now_mb()
        return peak

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_mb = max(self.peak_mb, self.now_mb())

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(pid: int) -> float:
    """CPU time of a server and its children: the living ones (PostgreSQL's backends) and the
    ones it has reaped."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    reaped = (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return cpu_seconds(pid) + reaped + sum(cpu_seconds(int(child)) for child in children)


# -- HTTP: a keep-alive client on gevent sockets --------------------------------------------------


class HttpError(Exception):
    pass


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    cookie: str | None = None     # the session cookie, when the response set one

    def json(self) -> dict:
        return json.loads(self.body)


class Connection:
    """One HTTP/1.1 connection, reopened when the server closes it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.buffer = b""

    def request(self, method: str, path: str, *, body: bytes = b"",
                headers: dict[str, str] | None = None) -> Response:
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port))
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buffer = b""
        head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
        head += [f"{name}: {value}" for name, value in (headers or {}).items()]
        try:
            self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            response = self._read()
        except OSError as exc:
            self.close()
            raise HttpError(f"{method} {path}: {exc}") from None
        if response.headers.get("connection", "").lower() == "close":
            self.close()
        return response

    def _read(self) -> Response:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        raw, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *lines = raw.decode("latin-1").split("\r\n")
        headers, cookie = {}, None
        for line in lines:
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            headers[name] = value
            if name == "set-cookie" and value.startswith("callcenter_session="):
                cookie = value.split(";", 1)[0]
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._chunks()
        else:
            length = int(headers.get("content-length", "0"))
            while len(self.buffer) < length:
                self._fill()
            body, self.buffer = self.buffer[:length], self.buffer[length:]
        return Response(int(status_line.split()[1]), headers, body, cookie)

    def _chunks(self) -> bytes:
        body = b""
        while True:
            while b"\r\n" not in self.buffer:
                self._fill()
            size_line, self.buffer = self.buffer.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            while len(self.buffer) < size + 2:
                self._fill()
            body, self.buffer = body + self.buffer[:size], self.buffer[size + 2:]
            if not size:
                return body

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionResetError("the server closed the connection")
        self.buffer += data

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class Pool:
    """Keep-alive connections shared by every agent (the cookie says who is asking)."""

    def __init__(self, port: int, size: int) -> None:
        self._idle: gevent.queue.Queue = gevent.queue.Queue()
        self._all = [Connection(port) for _ in range(size)]
        for conn in self._all:
            self._idle.put(conn)

    def request(self, method: str, path: str, **kw) -> Response:
        conn = self._idle.get()
        try:
            return conn.request(method, path, **kw)
        finally:
            self._idle.put(conn)

    def close(self) -> None:
        for conn in self._all:
            conn.close()


@dataclass
class Browser:
    """One logged-in user: a session cookie and its CSRF token."""
    username: str
    cookie: str = ""
    csrf: str = ""

    def headers(self, json_body: bool = False) -> dict[str, str]:
        headers = {"Cookie": self.cookie, "X-CSRF-Token": self.csrf}
        if json_body:
            headers["Content-Type"] = "application/json"
        return headers

    def keep(self, response: Response) -> Response:
        if response.cookie:
            self.cookie = response.cookie
        return response

    def log_in(self, pool: Pool, password: str) -> None:
        self._read_csrf(pool)
        form = urlencode({"username": self.username, "password": password,
                          "csrf_token": self.csrf}).encode()
        done = self.keep(pool.request("POST", "/login", body=form, headers={
            "Cookie": self.cookie, "Content-Type": "application/x-www-form-urlencoded"}))
        if done.status != 302:
            raise HttpError(f"{self.username} could not log in: HTTP {done.status}")
        self._read_csrf(pool)  # the login started a new session, with a new token

    def _read_csrf(self, pool: Pool) -> None:
        page = self.keep(pool.request("GET", "/login", headers={"Cookie": self.cookie}))
        found = CSRF_META.search(page.body)
        if page.status != 200 or not found:
            raise HttpError(f"no CSRF token on /login (HTTP {page.status})")
        self.csrf = found.group(1).decode()


# -- the database, before the controller starts ---------------------------------------------------


def prepare_database(url: str, agents: int) -> None:
    """The schema, an admin and `agents` agents with extensions FIRST_EXTENSION + i."""
    from sqlalchemy import insert, select
    from werkzeug.security import generate_password_hash

    from callcenter import db
    from callcenter.models import Agent, AgentStatus, Role, User

    db.upgrade(url)
    database = db.Database(url)
    hashed = generate_password_hash(AGENT_PASSWORD, method="pbkdf2:sha256:1")
    with database.session() as session:
        session.execute(insert(User), [
            {"username": "bench-admin", "password_hash": hashed, "role": Role.ADMIN}] + [
            {"username": f"agent{i}", "password_hash": hashed, "role": Role.AGENT}
            for i in range(agents)])
        ids = dict(session.execute(select(User.username, User.id)).all())
        session.execute(insert(Agent), [
            {"user_id": ids[f"agent{i}"], "extension": str(FIRST_EXTENSION + i),
             "status": AgentStatus.AVAILABLE} for i in range(agents)])
    database.dispose()


def count_cdrs(url: str, call_ids: list[str]) -> int:
    """Call rows among `call_ids` that have ended (ended_at set)."""
    from sqlalchemy import func, select

    from callcenter import db
    from callcenter.models import Call

    database = db.Database(url)
    total = 0
    try:
        with database.session() as session:
            for start in range(0, len(call_ids), 500):
                chunk = call_ids[start:start + 500]
                total += session.scalar(select(func.count()).select_from(Call).where(
                    Call.id.in_(chunk), Call.ended_at.is_not(None)))
    finally:
        database.dispose()
    return total


# -- the run --------------------------------------------------------------------------------------


@dataclass
class Step:
    """What one load step measured."""
    rate: float
    offered: int = 0
    placed: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    dial_seconds: float = 0.0
    completed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    cdrs: int = 0
    api_to_originate: dict = field(default_factory=dict)
    media_to_bridge: dict = field(default_factory=dict)
    event_lag: dict = field(default_factory=dict)
    http_dial: dict = field(default_factory=dict)
    event_queue_peak: int = 0
    store_queue_peak: int = 0
    rss_peak_mb: float = 0.0
    cpu: dict = field(default_factory=dict)   # % of one core while dialing, by process
    cpu_ms_per_call: float = 0.0              # controller CPU, dialing to all written, per call
    left_in_switch: int = 0                   # simulator channels still up once all ended
    settled: bool = True

    @property
    def achieved(self) -> float:
        return self.placed / self.dial_seconds if self.dial_seconds else 0.0

    @property
    def lost(self) -> int:
        return self.placed - self.cdrs

    def meets_goal(self) -> bool:
        p99 = self.media_to_bridge.get("p99_ms")
        return (self.placed == self.offered and self.achieved >= 0.95 * self.rate
                and self.lost == 0 and self.completed == self.placed and not self.left_in_switch
                and p99 is not None and p99 < GOAL_P99_BRIDGE_MS)


class Bench:
    def __init__(self, plan: Plan, workdir: Path) -> None:
        self.plan = plan
        self.workdir = workdir
        self.url = f"sqlite:///{workdir}/callcenter.db"
        self.postgres = None       # tests/postgres.py's server, with --database postgresql
        self.children: list[Child] = []
        self.pool: Pool | None = None
        self.rss: RssSampler | None = None
        self.agents: list[Browser] = []
        self.admin = Browser("bench-admin")
        self._next_agent = 0

    # -- setting up --

    def start(self) -> dict:
        plan = self.plan
        started = time.monotonic()
        if plan.database == "postgresql":
            from tests.postgres import PostgresServer

            self.postgres = PostgresServer()
            if not self.postgres.available:
                raise SystemExit("--database postgresql: PostgreSQL's binaries are not installed")
            self.url = self.postgres.start()
        prepare_database(self.url, plan.agents)
        created = time.monotonic()
        password = "bench-" + os.urandom(9).hex()
        last = FIRST_EXTENSION + plan.agents - 1
        sim = self._spawn(["simulate", "--password", password,
                           "--register", f"{FIRST_EXTENSION}-{last}",
                           "--customer-answer-ms", str(plan.answer_ms),
                           "--customer-hangup-s", str(plan.talk),
                           "--script", f"{HOLD_NUMBER}={plan.answer_ms}"], {})
        esl_port = sim.wait_for(r"ESL simulator listening on 127\.0\.0\.1:(\d+)").group(1)
        self.esl = (int(esl_port), password)
        serve = self._spawn(["serve"], {
            "CALLCENTER_INSTANCE_DIR": str(self.workdir),
            "CALLCENTER_DATABASE_URL": self.url,
            "CALLCENTER_HTTP_BIND": "127.0.0.1:0",
            "CALLCENTER_ESL_HOST": "127.0.0.1",
            "CALLCENTER_ESL_PORT": esl_port,
            "CALLCENTER_ESL_PASSWORD": password,
            "CALLCENTER_LOG_LEVEL": plan.log_level,
        })
        http_port = int(serve.wait_for(r"callcenter serving on http://127\.0\.0\.1:(\d+)").group(1))
        self.controller, self.simulator = serve, sim
        self.rss = RssSampler(serve.proc.pid)
        self.pool = Pool(http_port, plan.connections)
        self.admin.log_in(self.pool, AGENT_PASSWORD)
        self.agents = [Browser(f"agent{i}") for i in range(plan.agents)]
        group = gevent.pool.Pool(plan.connections)
        for agent in self.agents:
            group.spawn(agent.log_in, self.pool, AGENT_PASSWORD)
        group.join(raise_error=True)
        logged_in = time.monotonic()
        self._wait(lambda s: s["link"]["connected"] and s["agents"]["registered"] == plan.agents,
                   30, "the controller to connect and see every agent registered")
        return {"create_s": created - started, "login_s": logged_in - created,
                "baseline_rss_mb": self.rss.now_mb()}

    def _spawn(self, args: list[str], env: dict[str, str]) -> Child:
        child = Child(args, env)
        self.children.append(child)
        return child

    def stop(self) -> None:
        if self.pool is not None:
            self.pool.close()
        if self.rss is not None:
            self.rss.stop()
        for child in reversed(self.children):
            child.stop()
        if self.postgres is not None:
            self.postgres.stop()

    def postgres_pid(self) -> int | None:
        if self.postgres is None:
            return None
        pid_file = Path(self.postgres.dir) / "data" / "postmaster.pid"
        return int(pid_file.read_text().split()[0])

    # -- asking the controller --

    def stats(self, since: float | None = None) -> dict:
        path = "/api/stats" + (f"?since={since}" if since is not None else "")
        response = self.pool.request("GET", path, headers=self.admin.headers())
        if response.status != 200:
            raise HttpError(f"GET {path}: HTTP {response.status} {response.body[:200]!r}")
        return response.json()

    def switch_legs(self) -> int:
        """Channels the simulator still has (legs the controller lost track of stay parked)."""
        from callcenter.esl.connection import Connection as EslConnection

        conn = EslConnection("127.0.0.1", *self.esl)
        conn.connect()
        try:
            return json.loads(conn.api("show channels as json"))["row_count"]
        finally:
            conn.close()

    def _wait_until(self, ready, timeout: float) -> tuple[dict, bool]:
        """Poll /api/stats until ready(stats) or timeout (the controller is another process:
        there is nothing to wait on); returns the last figures and whether they were ready."""
        deadline = time.monotonic() + timeout
        while True:
            figures = self.stats()
            if ready(figures) or time.monotonic() > deadline:
                return figures, ready(figures)
            gevent.sleep(0.1)

    def _wait(self, ready, timeout: float, what: str) -> dict:
        figures, done = self._wait_until(ready, timeout)
        if not done:
            raise TimeoutError(f"waited {timeout:.0f} s for {what}; last figures: "
                               f"{json.dumps({k: figures[k] for k in ('calls', 'store')})}"
                               f"\ncontroller output:\n{self.controller.tail()}")
        return figures

    # -- placing calls --

    def _dial(self, agent: Browser, number: str, step: Step, ids: list, http: Latency) -> None:
        body = json.dumps({"number": number}).encode()
        sent = time.perf_counter()
        try:
            response = self.pool.request("POST", "/api/calls", body=body,
                                         headers=agent.headers(json_body=True))
        except HttpError as exc:
            step.refused[str(exc)] = step.refused.get(str(exc), 0) + 1
            return
        http.add(time.perf_counter() - sent)
        if response.status == 201:
            step.placed += 1
            ids.append((agent, response.json()["call"]["id"]))
        else:
            reason = f"HTTP {response.status}: {response.json().get('error', '')[:60]}"
            step.refused[reason] = step.refused.get(reason, 0) + 1

    def _pace(self, rate: float, count: int, action) -> float:
        """Start action(i) for i < count, evenly at `rate` per second; wait for them all."""
        group = gevent.pool.Group()
        start = time.perf_counter()
        for i in range(count):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                gevent.sleep(delay)  # the load generator's own clock
            group.spawn(action, i)
        group.join()
        return time.perf_counter() - start

    def step(self, rate: float, count: int, number: str, agents: list[Browser] | None = None,
             settle: bool = True) -> tuple[Step, list]:
        """Dial `count` calls at `rate`; with settle, wait until they have all ended."""
        step = Step(rate=rate, offered=count)
        ids: list = []
        http = Latency()
        since = time.time()
        before = self.stats()
        self.rss.reset()
        chosen = agents or [self._take_agent() for _ in range(count)]
        pids = {"controller": self.controller.proc.pid, "simulator": self.simulator.proc.pid,
                "driver": os.getpid()}
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        postgres = self.postgres_pid()
        if postgres is not None:
            cpu_before["postgresql"] = server_cpu_seconds(postgres)
        step.dial_seconds = self._pace(
            rate, count, lambda i: self._dial(chosen[i], number, step, ids, http))
        step.cpu = {name: (cpu_seconds(pid) - cpu_before[name]) / step.dial_seconds * 100
                    for name, pid in pids.items()}
        if postgres is not None:
            step.cpu["postgresql"] = ((server_cpu_seconds(postgres) - cpu_before["postgresql"])
                                      / step.dial_seconds * 100)
        if settle:
            target = before["calls"]["completed"] + step.placed
            try:
                self._wait(lambda s: s["calls"]["completed"] >= target and not s["store"]["depth"],
                           self.plan.talk + self.plan.settle, f"the {rate}/s calls to end")
            except TimeoutError as exc:
                print(f"  rate {rate}/s: {exc.args[0].splitlines()[0]}", flush=True)
                step.settled = False
        if step.placed:
            used = cpu_seconds(pids["controller"]) - cpu_before["controller"]
            step.cpu_ms_per_call = used * 1000 / step.placed
        after = self.stats(since)
        step.rss_peak_mb = self.rss.reset()
        step.completed = after["calls"]["completed"] - before["calls"]["completed"]
        step.outcomes = {k: v - before["calls"]["outcomes"].get(k, 0)
                         for k, v in after["calls"]["outcomes"].items()
                         if v - before["calls"]["outcomes"].get(k, 0)}
        for name in ("api_to_originate", "media_to_bridge", "event_lag"):
            setattr(step, name, summary(subtract(after["latency"][name]["buckets"],
                                                 before["latency"][name]["buckets"])))
        step.http_dial = summary(http.counts)
        step.event_queue_peak = after["peaks"]["event_queue_peak_since"]
        step.store_queue_peak = after["peaks"]["store_queue_peak_since"]
        if settle:
            step.cdrs = count_cdrs(self.url, [call_id for _, call_id in ids])
            step.left_in_switch = self.switch_legs()
        return step, ids

    def _take_agent(self) -> Browser:
        agent = self.agents[self._next_agent % len(self.agents)]
        self._next_agent += 1
        return agent

    def hold_many(self) -> dict:
        """--concurrent calls up at once: the controller's RSS then; then all hung up through
        the API. Calls that fail on the way are counted, not fatal: they are a finding."""
        plan = self.plan
        before_rss, since = self.rss.now_mb(), time.time()
        completed = self.stats()["calls"]["completed"]
        step, ids = self.step(plan.concurrent_rate, plan.concurrent, HOLD_NUMBER,
                              agents=self.agents[:plan.concurrent], settle=False)
        self._wait_until(lambda s: s["bridged_calls"] + s["calls"]["completed"] - completed
                         >= step.placed, plan.settle)
        figures = self.stats(since)
        held = {"calls_up": figures["bridged_calls"], "rss_mb": self.rss.now_mb(),
                "rss_before_mb": before_rss, "placed": step.placed, "refused": step.refused,
                "failed_early": figures["calls"]["completed"] - completed,
                "cpu": step.cpu, "event_lag": step.event_lag}
        hung_up: dict[int, int] = {}

        def hang_up(i: int) -> None:
            agent, call_id = ids[i]
            response = self.pool.request("POST", f"/api/calls/{call_id}/hangup",
                                         headers=agent.headers())
            hung_up[response.status] = hung_up.get(response.status, 0) + 1

        held["hangup_seconds"] = self._pace(plan.concurrent_rate, len(ids), hang_up)
        held["hangup_status"] = hung_up
        _, held["settled"] = self._wait_until(
            lambda s: s["calls"]["completed"] >= completed + len(ids) and not s["store"]["depth"],
            plan.settle)
        held["cdrs"] = count_cdrs(self.url, [call_id for _, call_id in ids])
        held["left_in_switch"] = self.switch_legs()
        return held


def run(plan: Plan) -> dict:
    """Set up, hold --concurrent calls (on a fresh controller, so its RSS growth is theirs),
    warm up, then run every rate; returns the figures."""
    plan.check()
    workdir = Path(tempfile.mkdtemp(prefix="bench-cps-"))
    bench = Bench(plan, workdir)
    try:
        figures: dict = {"setup": bench.start(), "steps": []}
        if plan.concurrent:
            figures["held"] = bench.hold_many()
        if plan.rates:  # compiled SQL, imports, first allocations: not part of any step
            bench.step(min(plan.rates), max(1, int(min(plan.rates) * 2)), NUMBER)
        for rate in plan.rates:
            step, _ = bench.step(rate, int(rate * plan.seconds), NUMBER)
            figures["steps"].append(step)
            print(f"  {rate}/s: placed {step.placed}, CDRs {step.cdrs}, p99 bridge "
                  f"{step.media_to_bridge.get('p99_ms')} ms", flush=True)
        figures["final"] = bench.stats()
        return figures
    finally:
        bench.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# -- the table ------------------------------------------------------------------------------------


def _pair(summary: dict) -> str:
    if not summary.get("count"):
        return "-"
    return f"{summary['p50_ms']:.0f}/{summary['p99_ms']:.0f}"


COLUMNS = (
    ("rate", 5), ("placed", 6), ("refused", 7), ("got/s", 6), ("ended", 6), ("CDRs", 6),
    ("left", 4),
    ("API ms", 9), ("bridge ms", 11), ("lag ms", 11), ("HTTP ms", 9), ("evq", 4), ("dbq", 5),
    ("RSS MB", 6), ("CPU% c/s/d", 11), ("ms/call", 7), ("pg%", 4),
    ("goal", 4),
)


def _row(values) -> str:
    return " ".join(f"{value:>{width}}"
                    for value, (_, width) in zip(tuple(values), COLUMNS, strict=True))


def report(figures: dict, plan: Plan) -> str:
    setup = figures["setup"]
    lines = [
        f"calls per second: click-to-dial, driver -> HTTP POST /api/calls -> controller -> ESL "
        f"-> simulator, three processes on {os.cpu_count()} cores; "
        + ("PostgreSQL (its CPU: pg% column)" if plan.database == "postgresql" else "SQLite"),
        f"{plan.agents} agents created in {setup['create_s']:.1f} s, logged in over HTTP in "
        f"{setup['login_s']:.1f} s; customers ring {plan.answer_ms} ms, talk {plan.talk:g} s; "
        f"{plan.seconds:g} s of dialing per rate over {plan.connections} keep-alive connections",
        "",
        "got/s: dials accepted per second; ended: calls the controller finished; CDRs: Call rows "
        "with ended_at in the database; left: legs still up in the switch once all had ended",
        "ms columns p50/p99: API = request arrived -> agent originate written; bridge = "
        "customer's first media event (switch's timestamp) -> uuid_bridge written; lag = any "
        "channel event (switch's timestamp) -> handled; HTTP = dial round trip at the driver",
        "evq/dbq: peak ESL event queue / database write queue; RSS: controller peak; CPU: % of "
        "one core while dialing, controller/simulator/driver; ms/call: controller CPU from the "
        "first dial until every call ended and was written, per call; pg%: PostgreSQL's CPU "
        "while dialing, % of one core",
        "",
        _row(name for name, _ in COLUMNS),
    ]
    met = []
    first_miss = None
    for step in figures["steps"]:
        ok = step.meets_goal()
        if ok:
            met.append(step.rate)
        elif first_miss is None:
            first_miss = step.rate
        cpu = "/".join(f"{step.cpu.get(name, 0):.0f}"
                       for name in ("controller", "simulator", "driver"))
        lines.append(_row((
            f"{step.rate:g}", step.placed, sum(step.refused.values()), f"{step.achieved:.0f}",
            step.completed, step.cdrs, step.left_in_switch, _pair(step.api_to_originate),
            _pair(step.media_to_bridge), _pair(step.event_lag), _pair(step.http_dial),
            step.event_queue_peak, step.store_queue_peak, f"{step.rss_peak_mb:.0f}", cpu,
            f"{step.cpu_ms_per_call:.1f}",
            f"{step.cpu['postgresql']:.0f}" if "postgresql" in step.cpu else "-",
            ("met" if ok else "MISS") + ("" if step.settled else "*"))))
    for step in figures["steps"]:
        if step.refused:
            lines.append(f"  refused at {step.rate:g}/s: {step.refused}")
        unanswered = {k: v for k, v in step.outcomes.items() if k != "answered"}
        if unanswered:
            lines.append(f"  not answered at {step.rate:g}/s: {unanswered}")
        if not step.settled:
            lines.append(f"  * at {step.rate:g}/s some calls had not ended {plan.settle:g} s "
                         "after dialing stopped")
    held = figures.get("held")
    if held:
        lines += [
            "",
            f"{held['calls_up']} calls up at once ({held['placed']} placed at "
            f"{plan.concurrent_rate}/s on the fresh controller, {held['failed_early']} failed "
            f"before all were up; event lag p50/p99 {_pair(held['event_lag'])} ms; CPU% c/s/d "
            + "/".join(f"{held['cpu'].get(n, 0):.0f}" for n in ("controller", "simulator",
                                                                 "driver"))
            + f"): controller RSS {held['rss_mb']:.0f} MB ({held['rss_before_mb']:.0f} MB "
            f"before dialing); all hung up through the API in "
            f"{held['hangup_seconds']:.1f} s (HTTP status: count {held['hangup_status']}); CDRs "
            f"{held['cdrs']}/{held['placed']}, legs left in the switch "
            f"{held['left_in_switch']}" + ("" if held["settled"] else
                                                  " (some calls had not ended)"),
        ]
    final = figures["final"]
    lines += [
        "",
        f"controller over the whole run: peak RSS {final['memory']['peak_rss_mb']:.0f} MB, "
        f"event queue peak {final['link']['max_queue_depth']}, events dropped "
        f"{final['link']['events_dropped']}, database write failures {final['store']['failed']}",
        f"goal per rate: every call placed at the offered rate, CDRs = ended = placed, p99 "
        f"bridge < {GOAL_P99_BRIDGE_MS:g} ms. Met at: "
        + (", ".join(f"{r:g}" for r in met) or "none")
        + (f"; first missed at {first_miss:g} calls/s" if first_miss is not None else ""),
        f"goal >= {GOAL_CPS} calls/s: "
        + ("MET" if any(r >= GOAL_CPS for r in met) and (first_miss is None
                                                           or first_miss > GOAL_CPS)
           else "NOT MET"),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cps", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few seconds (BENCH_QUICK=1)")
    parser.add_argument("--rates", help="comma-separated calls per second")
    parser.add_argument("--seconds", type=float, help="dialing time per rate")
    parser.add_argument("--talk", type=float, help="seconds each customer talks")
    parser.add_argument("--answer-ms", type=int, help="how long each customer rings")
    parser.add_argument("--agents", type=int)
    parser.add_argument("--concurrent", type=int, help="calls held up at once (0: skip)")
    parser.add_argument("--concurrent-rate", type=int)
    parser.add_argument("--connections", type=int, help="keep-alive HTTP connections")
    parser.add_argument("--log-level", help="the controller's CALLCENTER_LOG_LEVEL")
    parser.add_argument("--database", choices=("sqlite", "postgresql"),
                        help="the controller's database (postgresql: a throwaway server)")
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get("BENCH_QUICK", "") not in ("", "0")
    plan = QUICK if quick else Plan()
    if args.rates:
        try:
            rates = tuple(int(r) for r in args.rates.split(","))
        except ValueError:
            parser.error(f"--rates: give whole numbers separated by commas, not {args.rates!r}")
        if any(r <= 0 for r in rates):
            parser.error("--rates: every rate must be positive")
        plan = replace(plan, rates=rates)
    for name in ("seconds", "talk", "answer_ms", "agents", "concurrent", "concurrent_rate",
                 "connections", "log_level", "database"):
        if getattr(args, name) is not None:
            plan = replace(plan, **{name: getattr(args, name)})
    started = time.monotonic()
    figures = run(plan)
    print(report(figures, plan))
    print(f"\n(whole benchmark: {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
