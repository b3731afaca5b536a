"""The controller against a real FreeSWITCH, for the end-to-end tests: the shipped tree with
site.xml written by `callcenter fs-config` (its carrier gateway pointed where the test says),
FreeSWITCH as a child, and `callcenter serve` as a subprocess on its event socket, over a fresh
database the test seeds first. Both processes' output is kept for whoever reads a failure."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from callcenter import db as dbmod
from callcenter import numbers
from callcenter.audit import CLI
from callcenter.errors import InvalidInput
from tests.freeswitch.drained import Drained
from tests.freeswitch.sipudp import UdpSip
from tests.freeswitch.support import ESL_PASSWORD, controller_env, copy_tree, make_certificate
from tests.freeswitch.switch import free_port
from tests.test_live_socket import Live


@dataclass
class Running:
    switch: Drained
    server: Drained
    live: Live
    database: dbmod.Database
    conf: Path
    esl_port: int


def base_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}


@contextmanager
def running(root: Path, binary: str, *, carrier_port: int, seed: Callable[[Session], None],
            edit_conf: Callable[[Path], None] | None = None,
            **settings: str) -> Iterator[Running]:
    """`seed` fills the database before the controller starts; `edit_conf` changes the copied
    tree before FreeSWITCH reads it; `settings` are more CALLCENTER_* values."""
    http_port = free_port()
    env = controller_env(
        root, CALLCENTER_ESL_PORT=str(free_port()), CALLCENTER_SECRET_KEY="secret-of-this-test",
        CALLCENTER_HTTP_BIND=f"127.0.0.1:{http_port}",
        CALLCENTER_FREESWITCH_HTTP_URL=f"http://127.0.0.1:{http_port}",
        CALLCENTER_SOFTPHONE_WSS_URL=f"wss://127.0.0.1:{free_port()}",
        CALLCENTER_LOG_LEVEL="DEBUG", **settings)
    url = f"sqlite:///{root / 'instance' / 'callcenter.db'}"
    env["CALLCENTER_DATABASE_URL"] = url
    dbmod.upgrade(url)
    database = dbmod.Database(url)
    conf = copy_tree(root / "conf")
    if edit_conf is not None:
        edit_conf(conf)
    with database.session() as s:
        seed(s)
        s.commit()
        # FreeSWITCH asks the controller for the public dialplan: its table holds the tree's
        # dids.xml numbers, as `callcenter numbers import` loads them (a test with no queue for
        # them dials none).
        try:
            numbers.import_dids(s, conf / "dids.xml", who=CLI)
            s.commit()
        except InvalidInput:
            s.rollback()
    written = subprocess.run([sys.executable, "-m", "callcenter.cli", "fs-config",
                              str(conf / "site.xml"), "--set",
                              f"FREESWITCH_CARRIER_PROXY=127.0.0.1:{carrier_port}"],
                             env={**base_environ(), **env}, capture_output=True, text=True,
                             timeout=60)
    assert written.returncode == 0, written.stderr
    certs = root / "certs"
    make_certificate(certs)
    for name in ("log", "db", "run"):
        (root / name).mkdir()
    # Console mode (-nf) prints the log on stdout, which a thread keeps draining; line-buffered,
    # or the last lines stay in stdio's buffer while nothing else happens.
    stdbuf = shutil.which("stdbuf")
    if stdbuf is None:
        pytest.skip("stdbuf (coreutils) is needed to read FreeSWITCH's console")
    switch = Drained("freeswitch", [
        stdbuf, "-oL", binary, "-nonat", "-nf", "-conf", str(conf), "-log", str(root / "log"),
        "-db", str(root / "db"), "-run", str(root / "run"), "-certs", str(certs)],
        base_environ(), cwd=str(root / "run"))
    server = live = None
    try:
        switch.wait_for(r"FreeSWITCH Started", 60)
        server = Drained("callcenter", [sys.executable, "-m", "callcenter.cli", "serve"],
                         {**base_environ(), **env, "PYTHONUNBUFFERED": "1"})
        base = server.wait_for(r"serving on (http://127\.0\.0\.1:\d+)").group(1)
        server.wait_for(r"switch link up", 30)
        live = Live(server, base)
        yield Running(switch, server, live, database, conf, int(env["CALLCENTER_ESL_PORT"]))
    finally:
        if live is not None:
            live.close_all()
        if server is not None:
            server.stop()
            # Kept beside FreeSWITCH's own log, for whoever reads a failure.
            (root / "log" / "callcenter.log").write_text("\n".join(server.lines))
        switch.stop()
        database.dispose()


def switch_clean(switch: Drained, binary: str, esl_port: int, *phones: UdpSip) -> None:
    """No channel left behind, and nothing the switch or a phone found wrong."""
    assert [phone.errors for phone in phones] == [[] for _ in phones]
    crit = [line for line in switch.lines if "[CRIT]" in line or "[ALERT]" in line]
    assert crit == []
    # `show channels` reads FreeSWITCH's core database, written behind the channels by its own
    # thread: poll it (nothing signals that write).
    deadline = time.monotonic() + 15
    while True:
        channels = subprocess.run(
            [str(Path(binary).with_name("fs_cli")), "-H", "127.0.0.1", "-P", str(esl_port),
             "-p", ESL_PASSWORD, "-x", "show channels as json"],
            capture_output=True, text=True, timeout=20)
        if json.loads(channels.stdout)["row_count"] == 0:
            return
        assert time.monotonic() < deadline, f"channels left behind: {channels.stdout}"
        time.sleep(0.5)
