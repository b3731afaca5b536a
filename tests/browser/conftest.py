"""A real `callcenter serve` (built-in simulator) and headless Debian Chromium driven by
Playwright's sync API (the pytest process stays unpatched)."""

from __future__ import annotations

import os

import pytest

from callcenter import db as dbmod
from tests.process import ServerProcess

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def server(env, settings, database, admin):
    dbmod.upgrade(settings.database_url)
    process = ServerProcess(["serve"], {**env, "CALLCENTER_HTTP_BIND": "127.0.0.1:0"})
    try:
        base = process.wait_for(r"serving on (http://127\.0\.0\.1:\d+)").group(1)
        process.wait_for(r"switch link up")
        yield base
    finally:
        process.stop()


@pytest.fixture
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"])
        try:
            yield chromium
        finally:
            chromium.close()
