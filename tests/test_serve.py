"""`callcenter serve` as a subprocess: SQLite, the embedded simulator, the banner, clean stop."""

from __future__ import annotations

import json
import urllib.request

import pytest

from callcenter import db as dbmod
from tests.process import ServerProcess

pytestmark = pytest.mark.slow


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:     # noqa: S310 - loopback only
        return response.status, response.read().decode()


def test_serve_runs_the_embedded_simulator_and_says_so(env, settings):
    dbmod.upgrade(settings.database_url)
    server = ServerProcess(["serve"], {**env, "CALLCENTER_HTTP_BIND": "127.0.0.1:0"})
    try:
        base = server.wait_for(r"serving on (http://127\.0\.0\.1:\d+)").group(1)
        server.wait_for(r"switch link up: 127\.0\.0\.1:\d+")
        status, page = get(base + "/setup")
        assert status == 200 and 'id="simulated-banner"' in page
        assert "create the administrator" in page
        status, body = get(base + "/healthz")
        health = json.loads(body)
        assert {key: health[key] for key in ("ok", "switch", "switch_connected", "database")} \
            == {"ok": True, "switch": "simulated", "switch_connected": True, "database": "ok"}
    finally:
        assert server.stop() == 0


def test_embedded_simulator_registers_every_agent(settings, database, make_user):
    from callcenter.server import start_switch

    make_user("alice", extension="1001")
    make_user("bob", extension="1002")
    switch = start_switch(settings, database)
    try:
        assert switch.link.wait_connected(10)
        rows = json.loads(switch.link.api("show registrations as json")).get("rows", [])
        assert sorted(row["reg_user"] for row in rows) == ["1001", "1002"]
    finally:
        switch.stop()
