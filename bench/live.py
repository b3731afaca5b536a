"""Live dashboard: switchboard changes -> the live hub -> supervisors' sockets and screens.

Two processes. The controller side (`python -m bench.live --serve DIR`, gevent-patched) holds
a real Switchboard (roster, distributor, queue rows, figures feed, store on SQLite; its ESL link
is never started: no switch is needed to change agents) with --agents agents in --queues queues,
the real hub, and the real web app served on a loopback port. On "go" it makes --rate
switchboard changes per second for --seconds (agents' statuses and states, each a roster
change: an agent delta plus its queues' coalesced rows), noting for each published seq the
monotonic time of the change behind it, and its own CPU time.

This driver logs --supervisors supervisors in over HTTP and reads their /live sockets (real
WebSockets, one thread each), and drives one more supervisor's /supervisor page in headless
Chromium, sampling the seq on its screen (`body[data-rendered-seq]`). It prints: p50/p99 from a
change to its delta arriving on each socket (CLOCK_MONOTONIC is one clock for both processes,
so this is "leaving the socket" plus loopback), the controller's CPU per change, bytes per
second per supervisor, whether any socket got a snapshot after its first, and how far behind
the screen fell (the age of the oldest change not yet drawn, sampled every 50 ms).

Run from the repository root: python -m bench.live [--quick]. Importable: run(plan) returns the
figures, main(argv) prints them.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-live-passphrase"  # noqa: S105 - throwaway users of a throwaway database
CHROMIUM = "/usr/bin/chromium"
GOAL_P99_MS = 50.0
GOAL_SCREEN_S = 1.0


@dataclass(frozen=True)
class Plan:
    agents: int = 500
    queues: int = 50
    rate: float = 100.0             # switchboard changes per second
    seconds: float = 20.0
    supervisors: int = 20
    browser: bool = True


QUICK = Plan(agents=100, queues=10, rate=50.0, seconds=3.0, supervisors=4)


# -- the controller side (a child process, gevent-patched) -----------------------------------


def serve(workdir: Path, plan: Plan) -> None:
    from gevent import monkey

    monkey.patch_all()
    import random

    import gevent
    from sqlalchemy import insert, select
    from werkzeug.security import generate_password_hash

    from callcenter import db
    from callcenter.app import create_app
    from callcenter.config import Settings
    from callcenter.esl.connection import Link
    from callcenter.live import Hub
    from callcenter.models import Agent, AgentState, AgentStatus, Queue, QueueAgent, Role, User
    from callcenter.server import HttpServer
    from callcenter.switchboard import Switchboard

    url = f"sqlite:///{workdir}/live.db"
    db.upgrade(url)
    database = db.Database(url)
    hashed = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1")
    with database.session() as session:
        session.execute(insert(User), [
            {"username": "bench-admin", "password_hash": hashed, "role": Role.ADMIN}] + [
            {"username": f"sup{i}", "password_hash": hashed, "role": Role.SUPERVISOR}
            for i in range(plan.supervisors + 1)] + [
            {"username": f"agent{i}", "password_hash": hashed, "role": Role.AGENT}
            for i in range(plan.agents)])
        ids = dict(session.execute(select(User.username, User.id)).all())
        session.execute(insert(Agent), [
            {"user_id": ids[f"agent{i}"], "extension": str(10000 + i),
             "status": AgentStatus.ON_BREAK} for i in range(plan.agents)])
        agents = dict(session.execute(select(Agent.extension, Agent.id)).all())
        session.execute(insert(Queue), [{"name": f"q{n}"} for n in range(plan.queues)])
        queues = dict(session.execute(select(Queue.name, Queue.id)).all())
        per_queue = plan.agents // plan.queues
        session.execute(insert(QueueAgent), [
            {"queue_id": queues[f"q{i // per_queue}"], "agent_id": agents[str(10000 + i)]}
            for i in range(per_queue * plan.queues)])
        session.commit()

    env = {"CALLCENTER_INSTANCE_DIR": str(workdir), "CALLCENTER_DATABASE_URL": url,
           "CALLCENTER_HTTP_BIND": "127.0.0.1:0", "CALLCENTER_LOG_LEVEL": "WARNING",
           "CALLCENTER_LOGIN_LIMITS": "off"}
    settings = Settings.from_env(env)
    hub = Hub()
    link = Link("127.0.0.1", 9, "never-connected-bench")       # never started
    board = Switchboard.from_settings(settings, link, database, hub)
    board.start()
    for view in list(board.roster.agents.values()):
        board.note_registration(view.extension, f"bench-{view.extension}")
    app = create_app(settings, database, board, hub)
    server = HttpServer(("127.0.0.1", 0), app, log=None)
    server.start()
    print(f"serving on http://127.0.0.1:{server.server_port}", flush=True)

    changed_at: dict[int, float] = {}
    current = {"t": 0.0}
    publish = hub.publish

    def noting(message, agent_id=None, topics=()):
        publish(message, agent_id, topics)
        changed_at[hub.seq] = current["t"]

    hub.publish = noting
    wait_line = gevent.get_hub().threadpool.apply      # reading stdin must not block the hub
    wait_line(sys.stdin.readline)              # "go"
    rng = random.Random(7)
    views = list(board.roster.agents.values())
    changes = int(plan.rate * plan.seconds)
    pauses: list[tuple[float, float, float]] = []
    watch = gevent.spawn(_watch_hub, pauses)
    cpu = time.process_time()
    start = time.monotonic()
    for n in range(changes):
        gevent.sleep(max(0.0, start + n / plan.rate - time.monotonic()))
        view = rng.choice(views)
        current["t"] = time.monotonic()
        if rng.random() < 0.5:
            board.roster.set_status(view.id, AgentStatus.AVAILABLE
                                    if view.status is not AgentStatus.AVAILABLE
                                    else AgentStatus.ON_BREAK)
        else:
            state = AgentState.WRAP_UP if view.state is AgentState.IDLE else AgentState.IDLE
            board.roster.set_state(view, state, "bench" if state is AgentState.WRAP_UP else None)
    gevent.sleep(1.0)                          # the last coalesced rows and figures go out
    cpu = time.process_time() - cpu
    watch.kill()
    (workdir / "changes.json").write_text(json.dumps(
        {"changed_at": changed_at, "changes": changes, "cpu_s": cpu,
         "last_seq": hub.seq, "pauses": pauses}))
    print("done", flush=True)
    wait_line(sys.stdin.readline)
    os._exit(0)                   # a throwaway process: nothing of it is kept


PAUSE_S = 0.020          # a hub pause worth explaining
WATCH_S = 0.005


def _watch_hub(pauses: list) -> None:
    """Wakes every WATCH_S; for each wake-up PAUSE_S late or later notes (how late, the hub
    thread's CPU meanwhile, the whole process's CPU meanwhile): the hub busy with its own work,
    waiting for another thread of the process (the GIL: database writer, threadpool), or the
    process not running at all (waiting for a core the machine gave to others)."""
    import gevent

    at, hub_cpu, all_cpu = time.monotonic(), time.thread_time(), time.process_time()
    while True:
        gevent.sleep(WATCH_S)
        now, hub_now, all_now = time.monotonic(), time.thread_time(), time.process_time()
        if now - at - WATCH_S >= PAUSE_S:
            pauses.append((now - at - WATCH_S, hub_now - hub_cpu, all_now - all_cpu))
        at, hub_cpu, all_cpu = now, hub_now, all_now


# -- the driver ------------------------------------------------------------------------------


def log_in(base: str, username: str) -> str:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/login", timeout=10).read().decode()
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"username": username, "password": PASSWORD,
                                   "csrf_token": token}).encode()
    landed = opener.open(base + "/login", data=form, timeout=10)
    if "/login" in landed.url:
        raise SystemExit(f"{username} could not log in")
    return "; ".join(f"{c.name}={c.value}" for c in jar)


class Reader(threading.Thread):
    """One supervisor's socket: (arrival time, seq, type, bytes) of each frame."""

    def __init__(self, base: str, cookie: str) -> None:
        super().__init__(daemon=True)
        from simple_websocket import Client

        class BrowserLike(Client):
            def handshake(self):
                self.host = f"{self.host}:{self.port}"     # a browser's Host keeps the port
                super().handshake()

            def _thread(self):
                self._handle_events()                      # frames that came with the 101
                super()._thread()

        self.ws = BrowserLike("ws" + base.removeprefix("http") + "/live",
                              headers={"Cookie": cookie, "Origin": base})
        self.frames: list[tuple[float, int, str, int]] = []
        self.snapshot = threading.Event()

    def run(self) -> None:
        from simple_websocket import ConnectionClosed

        try:
            while (text := self.ws.receive()) is not None:
                message = json.loads(text)
                self.frames.append((time.monotonic(), message.get("seq", -1),
                                    message.get("type", ""), len(text)))
                if message.get("type") == "snapshot":
                    self.snapshot.set()
        except ConnectionClosed:
            pass


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def run(plan: Plan) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="bench-live-"))
    child = subprocess.Popen([sys.executable, "-m", "bench.live", "--serve", str(workdir),
                              *_plan_args(plan)], cwd=ROOT, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = child.stdout.readline()
        base = re.search(r"serving on (http://\S+)", line).group(1)
        readers = [Reader(base, log_in(base, f"sup{i}")) for i in range(plan.supervisors)]
        for reader in readers:
            reader.start()
        screen = _Screen(base, log_in(base, f"sup{plan.supervisors}")) if plan.browser \
            and os.path.exists(CHROMIUM) else None
        for reader in readers:                 # measure from the snapshots on: steady state
            reader.snapshot.wait(60)
        child.stdin.write("go\n")
        child.stdin.flush()
        samples = screen.sample_until(child) if screen else _wait_done(child)
        data = json.loads((workdir / "changes.json").read_text())
        if screen:
            screen.close()
    finally:
        child.terminate()
        child.wait(timeout=15)
    changed_at = {int(seq): t for seq, t in data["changed_at"].items()}
    latencies, snapshots_after_first, byte_rates = [], 0, []
    for reader in readers:
        first = True
        deltas = [f for f in reader.frames if f[2] != "snapshot" or not first]
        for t, seq, kind, _size in reader.frames:
            if kind == "snapshot":
                snapshots_after_first += 0 if first else 1
                first = False
            elif seq in changed_at:
                latencies.append(t - changed_at[seq])
        timed = [f for f in deltas if f[1] in changed_at]
        if len(timed) > 1:
            span = timed[-1][0] - timed[0][0]
            byte_rates.append(sum(f[3] for f in timed) / span if span > 0 else 0.0)
    lags = []
    ordered = sorted(changed_at.items())
    for t, rendered in samples:
        pending = next((at for seq, at in ordered if seq > rendered), None)
        lags.append(max(0.0, t - pending) if pending is not None and pending < t else 0.0)
    late = sum(p[0] for p in data["pauses"])
    hub_busy = sum(min(p[1], p[0]) for p in data["pauses"])
    others = sum(min(max(0.0, p[2] - p[1]), p[0] - min(p[1], p[0])) for p in data["pauses"])
    return {"plan": plan, "changes": data["changes"], "deltas": len(changed_at),
            "pauses": len(data["pauses"]),
            "pause_max_ms": max((p[0] for p in data["pauses"]), default=0.0) * 1000,
            "pause_split": (hub_busy / late, others / late, 1 - (hub_busy + others) / late)
            if late else None,
            "p50_ms": (_percentile(latencies, 0.5) or 0) * 1000,
            "p99_ms": (_percentile(latencies, 0.99) or 0) * 1000,
            "cpu_us_per_change": data["cpu_s"] / max(1, data["changes"]) * 1e6,
            "bytes_per_s": sum(byte_rates) / max(1, len(byte_rates)),
            "snapshots_after_first": snapshots_after_first,
            "screen_samples": len(samples),
            "browser_cpu_share": screen.cpu_share if screen else None,
            "page_ms_per_s": screen.page_ms_per_s if screen else None,
            "screen_lag_max_s": max(lags, default=None),
            "screen_lag_p99_s": _percentile(lags, 0.99)}


def _wait_done(child) -> list:
    while (line := child.stdout.readline()) and line.strip() != "done":
        pass
    return []


PAGE_TIMES = ("ScriptDuration", "RecalcStyleDuration", "LayoutDuration", "TaskDuration")


class _Screen:
    """One more supervisor's /supervisor page in headless Chromium."""

    def __init__(self, base: str, cookie: str) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self._chromium = self._playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        context = self._chromium.new_context(viewport={"width": 1500, "height": 1000})
        name, _, value = cookie.partition("=")
        context.add_cookies([{"name": name, "value": value, "url": base}])
        self.page = context.new_page()
        self._devtools = context.new_cdp_session(self.page)
        self._devtools.send("Performance.enable")
        self.page.goto(base + "/supervisor")
        self.page.wait_for_selector("#live-status:text('live')")
        self.page.wait_for_function("document.body.dataset.renderedSeq !== undefined")

    def sample_until(self, child) -> list[tuple[float, int]]:
        done = threading.Event()
        threading.Thread(target=lambda: (_wait_done(child), done.set()), daemon=True).start()
        samples = []
        cpu, started, before = _browser_cpu(), time.monotonic(), self._page_times()
        while not done.is_set():
            seq = self.page.evaluate("Number(document.body.dataset.renderedSeq)")
            samples.append((time.monotonic(), seq))
            self.page.wait_for_timeout(50)
        lasted = time.monotonic() - started
        self.cpu_share = (_browser_cpu() - cpu) / lasted
        after = self._page_times()
        self.page_ms_per_s = {k: (after[k] - before[k]) * 1000 / lasted for k in PAGE_TIMES}
        return samples

    def _page_times(self) -> dict[str, float]:
        """The page's main thread so far, in seconds (Chromium's Performance.getMetrics)."""
        metrics = self._devtools.send("Performance.getMetrics")["metrics"]
        return {m["name"]: m["value"] for m in metrics if m["name"] in PAGE_TIMES}

    def close(self) -> None:
        self._chromium.close()
        self._playwright.stop()


def _browser_cpu() -> float:
    """CPU seconds used so far by this process's descendants (Playwright's driver and every
    Chromium process): what the page takes from the two cores the controller runs on."""
    children: dict[int, list[int]] = {}
    used: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue                    # gone meanwhile
        pid = int(entry)
        children.setdefault(int(fields[1]), []).append(pid)
        used[pid] = (int(fields[11]) + int(fields[12])) / tick     # utime + stime
    total, todo = 0.0, list(children.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        total += used.get(pid, 0.0)
        todo.extend(children.get(pid, []))
    return total


def _plan_args(plan: Plan) -> list[str]:
    return ["--agents", str(plan.agents), "--queues", str(plan.queues), "--rate", str(plan.rate),
            "--seconds", str(plan.seconds), "--supervisors", str(plan.supervisors)]


def report(figures: dict) -> str:
    plan = figures["plan"]
    lines = [
        f"{plan.agents} agents, {plan.queues} queues, {plan.rate:g} changes/s for "
        f"{plan.seconds:g} s, {plan.supervisors} supervisor sockets",
        f"  changes {figures['changes']}, deltas published {figures['deltas']}",
        f"  change -> delta on each socket: p50 {figures['p50_ms']:.1f} ms, "
        f"p99 {figures['p99_ms']:.1f} ms (goal p99 < {GOAL_P99_MS:g} ms)",
        f"  controller CPU per change (roster, rows, hub, database writes, every socket's "
        f"sends): {figures['cpu_us_per_change']:.0f} us",
        f"  bytes/s per supervisor: {figures['bytes_per_s']:.0f}",
        f"  snapshots after the first: {figures['snapshots_after_first']} (goal 0)",
        f"  hub pauses of {PAUSE_S * 1000:g} ms or more: {figures['pauses']}, longest "
        f"{figures['pause_max_ms']:.0f} ms",
    ]
    if figures["pause_split"]:
        busy, others, away = figures["pause_split"]
        lines.append(f"    of their time: the hub's own work {busy:.0%}, other threads of the "
                     f"controller (database writer, threadpool) {others:.0%}, the controller "
                     f"not running (the cores busy elsewhere) {away:.0%}")
    if figures["screen_samples"]:
        lines.append(f"  /supervisor in Chromium: screen behind by at most "
                     f"{figures['screen_lag_max_s']:.2f} s (p99 {figures['screen_lag_p99_s']:.2f}"
                     f" s over {figures['screen_samples']} samples; goal <= {GOAL_SCREEN_S:g} s)")
        page = figures["page_ms_per_s"]
        lines.append(f"  the browser's CPU meanwhile: {figures['browser_cpu_share']:.0%} "
                     f"of one core; the page's main thread per second: "
                     f"{page['TaskDuration']:.0f} ms busy, of which script "
                     f"{page['ScriptDuration']:.0f}, style {page['RecalcStyleDuration']:.0f}, "
                     f"layout {page['LayoutDuration']:.0f} ms")
    else:
        lines.append("  /supervisor in Chromium: skipped (--no-browser, or no /usr/bin/chromium)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.live", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--serve", metavar="DIR", help=argparse.SUPPRESS)
    parser.add_argument("--agents", type=int, default=Plan.agents)
    parser.add_argument("--queues", type=int, default=Plan.queues)
    parser.add_argument("--rate", type=float, default=Plan.rate)
    parser.add_argument("--seconds", type=float, default=Plan.seconds)
    parser.add_argument("--supervisors", type=int, default=Plan.supervisors)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args(argv)
    plan = Plan(args.agents, args.queues, args.rate, args.seconds, args.supervisors,
                not args.no_browser)
    if args.serve:
        serve(Path(args.serve), plan)
        return 0
    if args.quick or os.environ.get("BENCH_QUICK"):
        plan = replace(QUICK, browser=plan.browser)
    print(report(run(plan)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
