"""Commands out to FreeSWITCH: the switchboard's Sender against a greenlet per command, side by
side.

A responder in another process speaks FreeSWITCH's side of the Event Socket and answers every
`api` command at once. Each sender runs in a child process of its own (its CPU is its own) and
gives N commands the way event handlers do — several at a time, never waiting — then waits
until every reply reached its callback:

  greenlet  each command in a greenlet of its own, waiting on Connection.api (a timer, a lock
            and a write per command): how the Sender worked before
  fifo      callcenter.switchboard.sender.Sender: one FIFO, one greenlet, the commands given
            meanwhile written together

Run from the repository root: python -m bench.sender [--quick] [--commands N] [--runs N]
(or BENCH_QUICK=1). Importable: main(argv) prints the table, run(...) returns the figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password"  # noqa: S105 - a loopback responder of our own
SENDERS = ("greenlet", "fifo")
BURST = 8                   # commands one event gives at once (a bridge: break, setvar, bridge...)
API_REPLY = b"Content-Type: api/response\nContent-Length: 4\n\n+OK\n"


def _respond(listener: socket.socket) -> None:
    """FreeSWITCH's side: auth, then +OK to every api command, however they arrive."""
    sock, _ = listener.accept()
    listener.close()
    with sock:
        sock.sendall(b"Content-Type: auth/request\n\n")
        buffer = b""
        while True:
            data = sock.recv(65536)
            if not data:
                return
            buffer += data
            *commands, buffer = buffer.split(b"\n\n")
            out = []
            for command in commands:
                if command.startswith(b"api "):
                    out.append(API_REPLY)
                else:                                   # auth, exit
                    out.append(b"Content-Type: command/reply\nReply-Text: +OK\n\n")
            sock.sendall(b"".join(out))


def _send(kind: str, port: int, commands: int) -> dict:
    import gevent
    import gevent.event

    from callcenter.esl.connection import Connection
    from callcenter.switchboard.sender import Sender

    connection = Connection("127.0.0.1", port, PASSWORD)
    connection.connect()
    answered = 0
    done = gevent.event.Event()

    def then(reply, error) -> None:
        nonlocal answered
        answered += 1
        if answered == commands:
            done.set()

    if kind == "fifo":
        sender = Sender(connection)
        give = sender.api
    else:
        def give(command: str, then) -> None:
            gevent.spawn(lambda: then(connection.api(command), None))

    cpu, wall = time.process_time(), time.perf_counter()
    for n in range(0, commands, BURST):
        for k in range(n, min(n + BURST, commands)):
            give(f"uuid_break {k:08d} all", then)
        gevent.sleep(0)                  # the next event comes: the hub turns
    if not done.wait(120):
        raise RuntimeError(f"{kind}: {answered} of {commands} replies")
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    connection.close()
    return {"kind": kind, "commands": commands, "cpu_s": cpu, "wall_s": wall}


def run_sender(kind: str, commands: int) -> dict:
    """One sender in a fresh child process against a fresh responder process."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    responder = multiprocessing.get_context("fork").Process(target=_respond, args=(listener,),
                                                            daemon=True)
    responder.start()
    listener.close()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.sender", "--sender", kind, "--port", str(port),
             "--commands", str(commands)],
            cwd=ROOT, capture_output=True, text=True, timeout=300)
    finally:
        responder.join(timeout=10)
        if responder.is_alive():
            responder.kill()
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"{kind} sender failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(commands: int = 50_000, runs: int = 5) -> dict:
    """Each sender `runs` times, alternating, so both see the same machine."""
    figures: dict[str, list[dict]] = {kind: [] for kind in SENDERS}
    for _ in range(runs):
        for kind in SENDERS:
            figures[kind].append(run_sender(kind, commands))
    return figures


def report(figures: dict, commands: int, runs: int) -> str:
    def per_command(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in figures[kind]) / commands * 1e6

    lines = [f"commands out: {commands} api commands in bursts of {BURST}, every reply to its "
             f"callback; median of {runs} runs, each sender in its own process",
             "", f"{'sender':<10} {'CPU us/cmd':>11} {'wall us/cmd':>12} {'commands/s':>11}"]
    for kind in SENDERS:
        cpu, wall = per_command(kind, "cpu_s"), per_command(kind, "wall_s")
        lines.append(f"{kind:<10} {cpu:>11.1f} {wall:>12.1f} {1e6 / wall:>11,.0f}")
    ratio = per_command("greenlet", "cpu_s") / per_command("fifo", "cpu_s")
    lines.append(f"\nCPU per command, greenlet / fifo: {ratio:.1f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sender", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="5k commands, 2 runs")
    parser.add_argument("--commands", type=int, help="commands per run (default 50000)")
    parser.add_argument("--runs", type=int, help="runs per sender (default 5)")
    parser.add_argument("--sender", choices=SENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sender:
        print(json.dumps(_send(args.sender, args.port, args.commands)), flush=True)
        os._exit(0)
    quick = args.quick or os.environ.get("BENCH_QUICK", "") not in ("", "0")
    commands = args.commands or (5_000 if quick else 50_000)
    runs = args.runs or (2 if quick else 5)
    started = time.monotonic()
    print(report(run(commands, runs), commands, runs))
    print(f"\n(whole benchmark: {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
