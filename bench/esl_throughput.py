"""ESL event throughput: stock greenswitch vs our Connection vs bare framing, side by side.

A sender in another process speaks FreeSWITCH's side of the Event Socket (auth/request,
accepts auth and the subscription), blasts real event frames from tests/fixtures/esl, then
sends a disconnect notice. Each reader runs in its own child process, so its peak RSS is its
own:

  stock    greenswitch InboundESL, a counting handler registered for every event name
  ours     callcenter.esl.connection.Connection with a counting on_event
  framing  a plain socket into protocol.FrameParser, no event decoding: the transport ceiling

"large" replays the CHANNEL_* events (full variable blocks, ~4.5 KB each), "small" the API,
HEARTBEAT and RE_SCHEDULE events (~0.6 KB). A last "flood" run gives ours a handler that
yields on every event (a switchboard slower than the wire), so the bounded queue overflows;
it reports drops, resyncs and peak RSS.

Run from the repository root: python -m bench.esl_throughput [--quick] [--runs N] [--events N]
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
FIXTURES = ROOT / "tests" / "fixtures" / "esl"
PASSWORD = "bench-password"  # noqa: S105 - a loopback sender of our own
SMALL_NAMES = {"API", "HEARTBEAT", "RE_SCHEDULE"}
# ours: a counting handler, as stock's; ours-sb: a handler that reads what the switchboard
# reads of each event; ours-all: one that decodes every header, as stock always does.
READERS = ("stock", "ours", "ours-sb", "ours-all", "framing")
SWITCHBOARD_READS = ("Channel-Call-State", "Answer-State", "variable_cc_call_id", "Hangup-Cause",
                     "Other-Leg-Unique-ID", "Event-Date-Timestamp")
TARGET_RATIO = 3.0
TARGET_RSS_MB = 100.0
GOODBYE = b"Content-Type: text/disconnect-notice\nContent-Length: 23\n\nDisconnected, goodbye.\n"


# -- the payload -------------------------------------------------------------------------------


def load_frames(size: str) -> list[tuple[str, bytes]]:
    """(event name, whole frame) for every plain event of that size class in the captures."""
    from callcenter.esl.protocol import FrameParser, parse_event

    frames = []
    for path in sorted(FIXTURES.glob("*.plain.esl")):
        for frame in FrameParser().feed(path.read_bytes()):
            if frame.content_type != "text/event-plain":
                continue
            name = parse_event(frame).name
            if (size == "large") == name.startswith("CHANNEL_") and (
                size == "large" or name in SMALL_NAMES
            ):
                head = b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(frame.body)
                frames.append((name, head + frame.body))
    if not frames:
        raise SystemExit(f"no {size} event frames found in {FIXTURES}")
    return frames


# -- the sender (a forked process playing FreeSWITCH) ------------------------------------------


def _read_command(sock: socket.socket, buffer: bytearray) -> str:
    while b"\n\n" not in buffer:
        data = sock.recv(4096)
        if not data:
            raise ConnectionError("reader went away during the handshake")
        buffer += data
    raw, _, rest = bytes(buffer).partition(b"\n\n")
    buffer[:] = rest
    return raw.decode().split("\n", 1)[0]


def _reply(text: str) -> bytes:
    return f"Content-Type: command/reply\nReply-Text: {text}\n\n".encode()


def _send_events(
    listener: socket.socket, cycle: bytes, cycles: int, tail: bytes, until_exit: bool
) -> None:
    sock, _ = listener.accept()
    listener.close()
    with sock:
        buffer = bytearray()
        sock.sendall(b"Content-Type: auth/request\n\n")
        command = _read_command(sock, buffer)
        if command != f"auth {PASSWORD}":
            sock.sendall(_reply("-ERR invalid"))
            return
        sock.sendall(_reply("+OK accepted"))
        command = _read_command(sock, buffer)
        sock.sendall(_reply(f"+OK event listener enabled {command.split()[1]}"))
        for _ in range(cycles):
            sock.sendall(cycle)
        sock.sendall(tail)
        if until_exit:  # the reader says when it is done, as a client's `exit` would
            _read_command(sock, buffer)
            sock.sendall(_reply("+OK bye"))
        sock.sendall(GOODBYE)
        # Stay open until the reader is done: stock greenswitch stops dispatching on EOF.
        sock.settimeout(600)
        while sock.recv(65536):
            pass


def _start_sender(
    frames: list[bytes], events: int, until_exit: bool = False
) -> tuple[multiprocessing.Process, int]:
    listener = socket.create_server(("127.0.0.1", 0))
    cycles, extra = divmod(events, len(frames))
    sender = multiprocessing.get_context("fork").Process(
        target=_send_events,
        args=(listener, b"".join(frames), cycles, b"".join(frames[:extra]), until_exit),
        daemon=True,
    )
    sender.start()
    port = listener.getsockname()[1]
    listener.close()
    return sender, port


# -- the readers (each in a child process of its own) ------------------------------------------


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def read_stock(port: int, names: list[str]) -> dict:
    import gevent.event
    from greenswitch.esl import InboundESL

    esl = InboundESL("127.0.0.1", port, PASSWORD)
    esl.connect()
    done = gevent.event.Event()
    count = 0

    def on_event(event) -> None:
        nonlocal count
        count += 1

    for name in names:
        esl.register_handle(name, on_event)
    esl.register_handle("DISCONNECT", lambda event: done.set())
    # The clock starts before subscribing: a reader may only get back to this greenlet once
    # the flood has been read.
    started = time.perf_counter()
    esl.send("event plain ALL")
    done.wait()
    return {"events": count, "seconds": time.perf_counter() - started}


def read_ours(port: int, events: int, flood: bool = False, reads: str = "none") -> dict:
    import gevent
    import gevent.event

    from callcenter.esl.connection import Connection

    done = gevent.event.Event()
    count = resyncs = 0
    conn: Connection

    def finished() -> None:
        # In a flood the last frames may be dropped: done once all arrived and none wait.
        if flood and conn.events_received == events and not conn.queue_depth:
            done.set()

    def on_event(event) -> None:
        nonlocal count
        count += 1
        if reads == "switchboard":
            event.key, event.uuid  # noqa: B018 - the reads are the work being measured
            for name in SWITCHBOARD_READS:
                event.get(name)
        elif reads == "all":
            event.headers  # noqa: B018
        if flood:
            gevent.sleep(0)  # a switchboard that yields on every event: slower than the wire
            finished()

    def on_overflow() -> None:
        nonlocal resyncs
        resyncs += 1
        finished()

    conn = Connection(
        "127.0.0.1",
        port,
        PASSWORD,
        on_event=on_event,
        on_overflow=on_overflow,
        on_disconnect=lambda reason: done.set(),
    )
    conn.connect()
    started = time.perf_counter()
    conn.subscribe(["ALL"])
    done.wait()
    seconds = time.perf_counter() - started
    if flood:
        conn.close()
    return {
        "events": count,
        "received": conn.events_received,
        "seconds": seconds,
        "dropped": conn.events_dropped,
        "overflows": conn.overflows,
        "resyncs": resyncs,
        "max_queue_depth": conn.max_queue_depth,
    }


def read_framing(port: int) -> dict:
    from callcenter.esl.protocol import FrameParser

    sock = socket.create_connection(("127.0.0.1", port))
    parser = FrameParser()
    frames: list = []

    def next_frame():
        while not frames:
            frames.extend(parser.feed(sock.recv(65536)))
        return frames.pop(0)

    next_frame()  # auth/request
    sock.sendall(f"auth {PASSWORD}\n\n".encode())
    next_frame()
    started = time.perf_counter()
    sock.sendall(b"event plain ALL\n\n")
    next_frame()
    count = 0
    feed, recv = parser.feed, sock.recv
    finished = False
    while not finished:
        for frame in frames or feed(recv(65536)):
            if frame.headers["Content-Type"] == "text/event-plain":
                count += 1
            elif frame.content_type == "text/disconnect-notice":
                finished = True
        frames = []
    seconds = time.perf_counter() - started
    sock.close()
    return {"events": count, "seconds": seconds}


def _reader_main(kind: str, port: int, events: int, names: list[str]) -> None:
    if kind == "stock":
        result = read_stock(port, names)
    elif kind in ("ours", "flood"):
        result = read_ours(port, events, flood=kind == "flood")
    elif kind == "ours-sb":
        result = read_ours(port, events, reads="switchboard")
    elif kind == "ours-all":
        result = read_ours(port, events, reads="all")
    else:
        result = read_framing(port)
    result["rss_mb"] = _peak_rss_mb()
    print(json.dumps(result), flush=True)
    os._exit(0)  # greenlets of stock greenswitch would otherwise keep the process alive


def run_reader(kind: str, frames: list[tuple[str, bytes]], events: int) -> dict:
    """One reader in a fresh child process against a fresh sender process."""
    sender, port = _start_sender([frame for _, frame in frames], events, kind == "flood")
    names = sorted({name for name, _ in frames})
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.esl_throughput", "--reader", kind, "--port", str(port)]
            + ["--events", str(events), "--names", ",".join(names)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        sender.join(timeout=10)
        if sender.is_alive():
            sender.kill()
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"{kind} reader failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    delivered = result["events"] + result.get("dropped", 0)
    if delivered != events:
        raise RuntimeError(f"{kind} reader counted {delivered} of {events} events: {result}")
    return result


# -- the table -----------------------------------------------------------------------------------


def _spread(values: list[float], fmt: str) -> str:
    return (
        f"{format(statistics.median(values), fmt)} ({format(min(values), fmt)}-"
        + format(max(values), fmt)
        + ")"
    )


def parse_cost(size: str, repeat: int = 5) -> float:
    """Microseconds protocol.parse_event takes per event of that size, best of `repeat`."""
    from callcenter.esl.protocol import FrameParser, parse_event

    frames = [FrameParser().feed(frame)[0] for _, frame in load_frames(size)]
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for frame in frames:
            parse_event(frame)
        best = min(best, time.perf_counter() - started)
    return best / len(frames) * 1e6


def run(events: int = 50_000, runs: int = 5, flood_events: int | None = None) -> dict:
    """Measure every reader `runs` times per size; returns {size: {reader: [results]}}."""
    figures: dict = {}
    for size in ("large", "small"):
        frames = load_frames(size)
        figures[size] = {kind: [] for kind in READERS}
        for _ in range(runs):
            for kind in READERS:  # interleaved, so drift on the machine hits all alike
                figures[size][kind].append(run_reader(kind, frames, events))
    figures["flood"] = run_reader("flood", load_frames("large"), flood_events or events)
    figures["parse_us"] = {size: parse_cost(size) for size in ("large", "small")}
    return figures


def report(figures: dict, events: int, runs: int) -> str:
    lines = [
        f"ESL event throughput: {events} events per run, {runs} runs per reader, sender in "
        "another process over loopback TCP; median (min-max)",
        "",
        f"{'size':6} {'reader':9} {'events/s':>28} {'us/event':>24} {'peak RSS MB':>18}",
    ]
    medians: dict = {}
    for size in ("large", "small"):
        for kind in READERS:
            results = figures[size][kind]
            rates = [r["events"] / r["seconds"] for r in results]
            micros = [r["seconds"] / r["events"] * 1e6 for r in results]
            rss = [r["rss_mb"] for r in results]
            medians[size, kind] = statistics.median(rates)
            lines.append(
                f"{size:6} {kind:9} {_spread(rates, ',.0f'):>28} {_spread(micros, '.1f'):>24} "
                f"{_spread(rss, '.0f'):>18}"
            )
    lines.append("")
    for size in ("large", "small"):
        ours = medians[size, "ours"]
        parse = figures["parse_us"][size]
        stock = medians[size, "stock"]
        lines.append(
            f"{size:6} vs stock: ours {ours / stock:.2f}x   ours-sb "
            f"{medians[size, 'ours-sb'] / stock:.2f}x   ours-all "
            f"{medians[size, 'ours-all'] / stock:.2f}x")
        lines.append(
            f"{size:6} ours/stock {ours / medians[size, 'stock']:.2f}x   "
            f"ours/framing {ours / medians[size, 'framing']:.2f}x   "
            f"protocol.parse_event alone {parse:.1f} us/event = {parse * ours / 1e4:.0f}% of ours"
        )
    flood = figures["flood"]
    lines += [
        "",
        f"flood  ours, a handler that yields on every event, queue limit 10000: "
        f"{flood['received']} received, {flood['events']} handled, {flood['dropped']} dropped, "
        f"{flood['overflows']} overflows, {flood['resyncs']} resyncs, max queue depth "
        f"{flood['max_queue_depth']}, peak RSS {flood['rss_mb']:.0f} MB",
    ]
    ratio = medians["large", "ours"] / medians["large", "stock"]
    ratio_sb = medians["large", "ours-sb"] / medians["large", "stock"]
    rss_peak = max(
        [flood["rss_mb"]] + [r["rss_mb"] for s in ("large", "small") for r in figures[s]["ours"]]
    )
    lines += [
        "",
        f"target ours >= {TARGET_RATIO:.0f}x stock on large events, counting handlers on both: "
        f"{ratio:.2f}x {'MET' if ratio >= TARGET_RATIO else 'NOT MET'}",
        f"  (with a handler reading what the switchboard reads, ours-sb: {ratio_sb:.2f}x "
        f"{'MET' if ratio_sb >= TARGET_RATIO else 'NOT MET'})",
        f"target ours < {TARGET_RSS_MB:.0f} MB RSS, flooded included: {rss_peak:.0f} MB "
        f"{'MET' if rss_peak < TARGET_RSS_MB else 'NOT MET'}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.esl_throughput", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10k events, 2 runs (BENCH_QUICK=1)")
    parser.add_argument("--events", type=int, help="events per run (default 50000)")
    parser.add_argument("--runs", type=int, help="runs per reader and size (default 5)")
    parser.add_argument("--reader", choices=(*READERS, "flood"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--names", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.reader:
        _reader_main(args.reader, args.port, args.events, args.names.split(","))
        return 0
    quick = args.quick or os.environ.get("BENCH_QUICK", "") not in ("", "0")
    events = args.events or (10_000 if quick else 50_000)
    runs = args.runs or (2 if quick else 5)
    started = time.monotonic()
    # The flood must exceed the 10000-event queue whatever the run size.
    figures = run(events, runs, flood_events=max(events, 30_000))
    print(report(figures, events, runs))
    print(f"\n(whole benchmark: {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
