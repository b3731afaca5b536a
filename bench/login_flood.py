"""Login flood: does a crowd guessing passwords stall the switchboard?

A real `callcenter serve` (built-in simulated switch, SQLite in a temporary instance directory)
runs as a subprocess. One agent logs in and dials; once the customer has answered, two probes
run side by side, each one request at a time over its own keep-alive connection: GET /healthz,
and a call control on that live call (POST /api/calls/<id>/hold, then /unhold, and so on). Each
probe's latency is measured at rest, then while --clients clients POST /login with wrong
passwords as fast as the server answers them, all from one address (given in X-Forwarded-For:
the controller trusts the driver as its reverse proxy). Meanwhile another agent logs in with the
right password, from an address that never failed, once a second: how long a real login takes
under the flood.

The whole run is done twice, on a fresh controller each time: with the login limiter on (the
flood is mostly answered 429), and with it off (CALLCENTER_LOGIN_LIMITS=off: every guess is
hashed, so the flood measures the password-hashing pool, not 429 answers).

Run from the repository root: python -m bench.login_flood [--quick] [--seconds S]
[--clients N] (or BENCH_QUICK=1). Importable: main(argv) prints the table, run(plan) returns
the figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlencode

import gevent
import gevent.event

from bench.cps import CSRF_META, Browser, Child, Connection, HttpError, Pool
from callcenter.audit import CLI

PASSWORD = "bench-Login-Flood-42"  # noqa: S105 - throwaway users of a throwaway database
ATTACKER = "203.0.113.66"       # where every flooding client comes from
NUMBER = "5551000"              # the built-in simulator's customers answer and stay on the line
GOAL_HEALTHZ_P99_MS = 250.0     # /healthz p99 under the flood, limiter off


@dataclass(frozen=True)
class Plan:
    seconds: float = 10.0       # of each phase: at rest, then flooded
    clients: int = 20           # flooding clients
    probe_gap: float = 0.02     # pause between one probe's requests
    login_gap: float = 1.0      # pause between the real agent's logins under the flood


QUICK = Plan(seconds=2.0, clients=20, login_gap=0.5)


def percentiles(samples: list[float]) -> dict:
    """count, p50 and p99 in milliseconds (nearest rank)."""
    if not samples:
        return {"count": 0}
    ordered = sorted(samples)

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p * len(ordered)) - 1))] * 1000

    return {"count": len(ordered), "p50_ms": rank(0.50), "p99_ms": rank(0.99),
            "max_ms": ordered[-1] * 1000}


@dataclass
class Phase:
    """What the probes saw in one phase."""
    healthz: list[float] = field(default_factory=list)
    control: list[float] = field(default_factory=list)
    control_status: dict[int, int] = field(default_factory=dict)
    login: list[float] = field(default_factory=list)          # the real agent's logins
    login_status: dict[int, int] = field(default_factory=dict)
    flood_status: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    def figures(self) -> dict:
        return {"healthz": percentiles(self.healthz), "control": percentiles(self.control),
                "control_status": self.control_status, "login": percentiles(self.login),
                "login_status": self.login_status, "flood_status": self.flood_status,
                "flood_per_s": sum(self.flood_status.values()) / self.seconds
                if self.seconds else 0.0}


def _count(table: dict[int, int], status: int) -> None:
    table[status] = table.get(status, 0) + 1


def prepare_database(url: str) -> None:
    """The schema, an admin (so the first-run page is gone) and two agents, hashed the way the
    product hashes every password."""
    from callcenter import db
    from callcenter.accounts import create_user
    from callcenter.models import Role

    db.upgrade(url)
    database = db.Database(url)
    with database.session() as session:
        create_user(session, "bench-admin", PASSWORD, Role.ADMIN, who=CLI)
        create_user(session, "caller", PASSWORD, Role.AGENT, "10000", who=CLI)
        create_user(session, "latecomer", PASSWORD, Role.AGENT, "10001", who=CLI)
    database.dispose()


class Controller:
    """One `callcenter serve` with the limiter on or off, its agent on a live call."""

    def __init__(self, workdir: Path, limits: bool) -> None:
        self.url = f"sqlite:///{workdir}/callcenter.db"
        prepare_database(self.url)
        self.child = Child(["serve"], {
            "CALLCENTER_INSTANCE_DIR": str(workdir),
            "CALLCENTER_DATABASE_URL": self.url,
            "CALLCENTER_HTTP_BIND": "127.0.0.1:0",
            "CALLCENTER_LOG_LEVEL": "WARNING",
            "CALLCENTER_LOGIN_LIMITS": "on" if limits else "off",
            # The driver is the reverse proxy: each flooding client gets an address of its own.
            "CALLCENTER_TRUSTED_PROXIES": "127.0.0.1",
        })
        try:
            self.port = int(self.child.wait_for(
                r"callcenter serving on http://127\.0\.0\.1:(\d+)").group(1))
            self.agent = Browser("caller")
            self.agent_pool = Pool(self.port, 1)
            self.agent.log_in(self.agent_pool, PASSWORD)
            self.call_id = self._dial()
        except BaseException:
            self.child.stop()
            raise

    def _dial(self) -> str:
        """Dial a customer and wait (polling: the controller is another process) until the call
        takes a hold: the customer has answered and the legs are bridged."""
        deadline = time.monotonic() + 30
        call_id = None
        while time.monotonic() < deadline:
            if call_id is None:
                answer = self.agent_pool.request(
                    "POST", "/api/calls", body=f'{{"number": "{NUMBER}"}}'.encode(),
                    headers=self.agent.headers(json_body=True))
                if answer.status == 201:
                    call_id = answer.json()["call"]["id"]
            else:
                held = self.agent_pool.request("POST", f"/api/calls/{call_id}/hold",
                                               headers=self.agent.headers())
                if held.status == 200:
                    return call_id
            gevent.sleep(0.2)
        raise TimeoutError("the agent's call never came up:\n" + self.child.tail())

    def stop(self) -> None:
        self.agent_pool.close()
        self.child.stop()


class Run:
    """The probes and the flood against one controller."""

    def __init__(self, controller: Controller, plan: Plan) -> None:
        self.c, self.plan = controller, plan
        self.phase = Phase()
        self.flooding = False
        self.done = gevent.event.Event()

    def healthz(self) -> None:
        conn = Connection(self.c.port)
        try:
            while not self.done.is_set():
                sent = time.perf_counter()
                answer = conn.request("GET", "/healthz")
                if answer.status == 200:
                    self.phase.healthz.append(time.perf_counter() - sent)
                gevent.sleep(self.plan.probe_gap)
        finally:
            conn.close()

    def control(self) -> None:
        """Alternate unhold and hold (the call starts held); every answer is timed."""
        conn = Connection(self.c.port)
        action = "unhold"
        try:
            while not self.done.is_set():
                sent = time.perf_counter()
                answer = conn.request("POST", f"/api/calls/{self.c.call_id}/{action}",
                                      headers=self.c.agent.headers())
                self.phase.control.append(time.perf_counter() - sent)
                _count(self.phase.control_status, answer.status)
                # 409 "already on hold": the switch's hold event came late; flip anyway.
                action = "hold" if action == "unhold" else "unhold"
                gevent.sleep(self.plan.probe_gap)
        finally:
            conn.close()

    def guess(self, n: int) -> None:
        """One flooding client: wrong passwords for the caller's account, one after another."""
        conn = Connection(self.c.port)
        address = ATTACKER
        try:
            page = conn.request("GET", "/login")
            cookie = page.cookie or ""
            token = CSRF_META.search(page.body).group(1).decode()
            form = urlencode({"username": "caller", "password": f"wrong-{n}",
                              "csrf_token": token}).encode()
            headers = {"Cookie": cookie, "X-Forwarded-For": address,
                       "Content-Type": "application/x-www-form-urlencoded"}
            while self.flooding:
                answer = conn.request("POST", "/login", body=form, headers=headers)
                _count(self.phase.flood_status, answer.status)
        except HttpError:
            pass
        finally:
            conn.close()

    def real_logins(self) -> None:
        """The latecomer logs in with the right password from an address that never failed."""
        while self.flooding:
            conn = Connection(self.c.port)
            try:
                page = conn.request("GET", "/login")
                token = CSRF_META.search(page.body).group(1).decode()
                form = urlencode({"username": "latecomer", "password": PASSWORD,
                                  "csrf_token": token}).encode()
                sent = time.perf_counter()
                answer = conn.request("POST", "/login", body=form, headers={
                    "Cookie": page.cookie or "", "X-Forwarded-For": "198.51.100.7",
                    "Content-Type": "application/x-www-form-urlencoded"})
                self.phase.login.append(time.perf_counter() - sent)
                _count(self.phase.login_status, answer.status)
            finally:
                conn.close()
            gevent.sleep(self.plan.login_gap)

    def measure(self) -> dict:
        probes = [gevent.spawn(self.healthz), gevent.spawn(self.control)]
        try:
            gevent.sleep(min(1.0, self.plan.seconds / 2))   # warm-up, not counted
            self.phase = Phase()
            started = time.perf_counter()
            gevent.sleep(self.plan.seconds)
            self.phase.seconds = time.perf_counter() - started
            rest, self.phase = self.phase.figures(), Phase()
            self.flooding = True
            flood = [gevent.spawn(self.guess, n) for n in range(self.plan.clients)]
            logins = gevent.spawn(self.real_logins)
            started = time.perf_counter()
            gevent.sleep(self.plan.seconds)
            self.phase.seconds = time.perf_counter() - started
            self.flooding = False
            gevent.killall(flood, timeout=5)
            logins.join(timeout=60)      # the login under way when the flood ended counts too
            logins.kill()
            return {"rest": rest, "flood": self.phase.figures()}
        finally:
            self.done.set()
            gevent.joinall(probes, timeout=5)
            gevent.killall(probes)


def run(plan: Plan) -> dict:
    """Both runs, limiter on then off, each on a fresh controller; returns their figures."""
    figures = {}
    for limits in (True, False):
        workdir = Path(tempfile.mkdtemp(prefix="bench-login-flood-"))
        try:
            controller = Controller(workdir, limits)
            try:
                figures["on" if limits else "off"] = Run(controller, plan).measure()
            finally:
                controller.stop()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    return figures


# -- the table ------------------------------------------------------------------------------------


def _pair(summary: dict) -> str:
    if not summary.get("count"):
        return "-"
    return f"{summary['p50_ms']:.0f}/{summary['p99_ms']:.0f}"


def _statuses(table: dict[int, int]) -> str:
    return " ".join(f"{status}x{count}" for status, count in sorted(table.items())) or "-"


def report(figures: dict, plan: Plan) -> str:
    lines = [
        f"login flood: {plan.clients} clients POST /login with wrong passwords (from one "
        f"address) against `callcenter serve` (built-in simulated switch, SQLite) "
        f"on {os.cpu_count()} cores; {plan.seconds:g} s at rest, then {plan.seconds:g} s "
        "flooded, per run",
        "p50/p99 ms of each probe, one request at a time; control = POST hold/unhold on the "
        "agent's live call through the API; real login = another agent's right password from "
        "an address with no failures, during the flood",
        "",
        f"{'':24}{'limiter on':>24}{'limiter off':>24}",
        f"{'':24}{'at rest':>12}{'flooded':>12}{'at rest':>12}{'flooded':>12}",
    ]

    def row(label: str, cell) -> str:
        cells = [cell(figures[run][phase]) for run in ("on", "off") for phase in ("rest", "flood")]
        return f"{label:24}" + "".join(f"{c:>12}" for c in cells)

    lines += [
        row("/healthz", lambda f: _pair(f["healthz"])),
        row("call control", lambda f: _pair(f["control"])),
        row("real login", lambda f: _pair(f["login"])),
        row("probe samples h/c", lambda f: f"{f['healthz']['count']}/{f['control']['count']}"),
        row("flood answers/s", lambda f: f"{f['flood_per_s']:.0f}" if f["flood_status"] else "-"),
        "",
    ]
    for run in ("on", "off"):
        flood = figures[run]["flood"]
        lines.append(f"limiter {run}: flood answers {_statuses(flood['flood_status'])}; "
                     f"real logins {_statuses(flood['login_status'])}; controls "
                     f"{_statuses(flood['control_status'])}")
    p99 = figures["off"]["flood"]["healthz"].get("p99_ms")
    met = p99 is not None and p99 < GOAL_HEALTHZ_P99_MS
    lines.append(f"goal: /healthz p99 under the flood, limiter off, < {GOAL_HEALTHZ_P99_MS:g} ms: "
                 + ("MET" if met else "NOT MET") + (f" ({p99:.0f} ms)" if p99 is not None else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.login_flood", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few seconds (BENCH_QUICK=1)")
    parser.add_argument("--seconds", type=float, help="length of each phase")
    parser.add_argument("--clients", type=int, help="flooding clients")
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get("BENCH_QUICK", "") not in ("", "0")
    plan = QUICK if quick else Plan()
    if args.seconds is not None:
        if args.seconds <= 0:
            parser.error("--seconds must be positive")
        plan = replace(plan, seconds=args.seconds)
    if args.clients is not None:
        if args.clients < 1:
            parser.error("--clients must be at least 1")
        plan = replace(plan, clients=args.clients)
    started = time.monotonic()
    figures = run(plan)
    print(report(figures, plan))
    print(f"\n(whole benchmark: {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
