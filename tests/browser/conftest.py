"""A real `callcenter serve` (built-in simulator) and headless Debian Chromium driven by
Playwright's sync API (the pytest process stays unpatched)."""

from __future__ import annotations

import os

import pytest

from callcenter import db as dbmod
from tests.process import ServerProcess

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def serving(env, settings, database, admin):
    """The running `callcenter serve` (built-in simulator): its output, and `.base` its URL."""
    dbmod.upgrade(settings.database_url)
    process = ServerProcess(["serve"], {**env, "CALLCENTER_HTTP_BIND": "127.0.0.1:0"})
    try:
        process.base = process.wait_for(r"serving on (http://127\.0\.0\.1:\d+)").group(1)
        process.wait_for(r"switch link up")
        yield process
    finally:
        process.stop()


@pytest.fixture
def server(serving):
    """The base URL of a running `callcenter serve` (built-in simulator)."""
    return serving.base


# The flags Chromium needs on these machines (no sandbox as root, no calls home).
BASE_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"]
FAKE_MICROPHONE = "--use-fake-device-for-media-stream"
GRANT_MICROPHONE = "--use-fake-ui-for-media-stream"


@pytest.fixture
def launch_chromium():
    """launch(media=False, grant=True): a headless Chromium, closed after the test. `media`
    gives it a fake microphone; `grant=False` then refuses it as a person would."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    launched = []
    with sync_playwright() as playwright:
        def launch(media: bool = False, grant: bool = True):
            args = list(BASE_ARGS)
            if media:
                args.append(FAKE_MICROPHONE)
                if grant:
                    args.append(GRANT_MICROPHONE)
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                  args=args)
            launched.append(chromium)
            return chromium
        try:
            yield launch
        finally:
            for chromium in launched:
                chromium.close()


@pytest.fixture
def browser(launch_chromium):
    return launch_chromium()


DOMAIN = "pbx.example.test"     # the SIP domain the WSS phone server (tests/sipws.py) serves


@pytest.fixture
def endpoint():
    """A SIP-over-WebSocket phone server the browser's softphone registers with."""
    from tests.sipws import SipWsEndpoint

    endpoint = SipWsEndpoint(DOMAIN)
    endpoint.start()
    yield endpoint
    endpoint.stop()
