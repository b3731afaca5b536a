"""PostgreSQL under gevent: a slow query on one greenlet does not hold up a dial being bridged on
another. psycopg's C wait function (3.1.5 on) cannot be patched and blocks the whole hub;
psycopg 3.1.14 on leaves it aside when gevent has patched the process before psycopg is
imported — which `callcenter serve` does first thing. These run in a subprocess (slow_query.py)
that patches the way `callcenter serve` does, since this pytest process is not patched."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a subprocess each

ROOT = Path(__file__).resolve().parents[2]


def run_probe(url: str, *flags: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "tests.switchboard.slow_query", url, *flags],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_a_slow_query_does_not_delay_a_dial_being_bridged(postgres_migrated_url):
    figures = run_probe(postgres_migrated_url)
    assert figures["wait"] != "wait_c"
    assert figures["query_ended"] >= 1.0
    assert 0 < figures["bridged"] < figures["query_ended"], figures


def test_unpatched_the_same_query_holds_the_bridge_up_until_it_returns(postgres_migrated_url):
    """What the check above guards against: psycopg's C wait blocks every greenlet."""
    figures = run_probe(postgres_migrated_url, "--unpatched")
    assert figures["wait"] == "wait_c"
    assert figures["bridged"] >= figures["query_ended"] >= 1.0, figures


def test_the_command_imports_no_database_driver_before_serve_patches():
    """`callcenter` (the console script) imports callcenter.cli, then main() patches: psycopg
    chooses its wait function when first imported, so it must not be imported by then."""
    code = ("import sys, callcenter.cli; print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'psycopg', 'sqlalchemy', 'flask'}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
