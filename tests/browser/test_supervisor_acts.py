"""A supervisor acts from the dashboard, for real: the supervisor's SIP.js softphone registers
with its per-login credential against the SIP-over-WebSocket test endpoint (tests/sipws.py, which
checks the digest against the controller's directory); Listen on an agent's call makes the
switch eavesdrop on the agent's leg and the page shows the mode; Whisper sends key 2 to the
supervisor's leg and the switch mixes the supervisor into the agent's ear only; Leave hangs up
the supervisor's leg alone. With CALLCENTER_MONITOR_NOTICE=on the agent's page (a second browser
context) shows who hears it, also after a reload, and not once the supervisor left. A forced On
break shows on the agent's page live.

The switch is the simulator behind tests/browser/listen_switch.py, which prints what the
controller made it do. Screenshots go to build/test-artifacts/supervisor-acts (look at them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter import db as dbmod
from callcenter.models import Role
from tests.browser.conftest import DOMAIN
from tests.browser.test_agent_page import log_in
from tests.browser.test_softphone_sip import Directory
from tests.browser.test_supervising import log_in as log_in_supervisor
from tests.process import ServerProcess

pytestmark = pytest.mark.slow

SHOTS = Path(__file__).parents[2] / "build" / "test-artifacts" / "supervisor-acts"
ESL_PASSWORD = "listen-switch-password"
AGENT, SUPERVISOR = "1000", "2001"


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def floor(env, settings, database, admin, make_user, endpoint):
    """The switch, and `callcenter serve` on it with the notice on; softphones point at the
    endpoint, which checks digests against the controller's directory."""
    dbmod.upgrade(settings.database_url)
    make_user("alice", extension=AGENT)
    make_user("sue", Role.SUPERVISOR, extension=SUPERVISOR)
    processes = []
    try:
        switch = ServerProcess([ESL_PASSWORD, AGENT, SUPERVISOR], env,
                               module="tests.browser.listen_switch")
        processes.append(switch)
        port = switch.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1)
        server = ServerProcess(["serve"], {
            **env, "CALLCENTER_HTTP_BIND": "127.0.0.1:0", "CALLCENTER_ESL_HOST": "127.0.0.1",
            "CALLCENTER_ESL_PORT": port, "CALLCENTER_ESL_PASSWORD": ESL_PASSWORD,
            "CALLCENTER_SIP_DOMAIN": DOMAIN, "CALLCENTER_SOFTPHONE_WSS_URL": endpoint.url,
            "CALLCENTER_MONITOR_NOTICE": "on"})
        processes.append(server)
        base = server.wait_for(r"serving on (http://127\.0\.0\.1:\d+)").group(1)
        server.wait_for(r"switch link up")
        endpoint.a1_of = Directory(base, settings.freeswitch_http_user,
                                   settings.freeswitch_http_password).a1_of
        yield base, switch
    finally:
        for process in reversed(processes):
            process.stop()


def notice(page) -> str | None:
    """The agent page's indicator: its words, or None while it is hidden."""
    return page.evaluate("(() => { const n = document.getElementById('monitor-notice');"
                         " return n.hidden ? null : n.textContent; })()")


def test_a_supervisor_listens_whispers_leaves_and_sets_a_break(floor, endpoint,
                                                               launch_chromium):
    base, switch = floor
    chromium = launch_chromium(media=True)
    agent = chromium.new_context().new_page()
    log_in(agent, base, "alice")
    agent.wait_for_selector("#live-status:text('live')")
    supervisor = chromium.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    log_in_supervisor(supervisor, base, "sue")
    supervisor.goto(base + "/supervisor")
    supervisor.wait_for_selector("#live-status:text('live')")

    # The supervisor's softphone registers with its own per-login credential.
    supervisor.wait_for_selector("#softphone-status[data-state=registered]", timeout=15000)
    assert supervisor.text_content("#softphone-status") == f"Registered as {SUPERVISOR}@{DOMAIN}"
    endpoint.wait_registered(SUPERVISOR)
    assert ("2001", 200, "accepted") in [(r.user, r.status, r.why)
                                         for r in endpoint.registrations]

    agent.select_option("#status-select", "available")
    agent.wait_for_selector("#status[data-status=available]")

    # The agent calls a customer (the switch plays both legs).
    agent.fill("#number", "15551234567")
    agent.click("#dial-button")
    agent.wait_for_selector("#call-progress[data-progress=answered]", timeout=10000)
    agent_leg = switch.wait_for(rf"^leg (\S+) {AGENT}$").group(1)
    assert notice(agent) is None

    # Listen: the switch eavesdrops on the agent's leg from the supervisor's phone.
    row = "#calls tbody tr:has(td:text-is('15551234567'))"
    supervisor.click(f"{row} button[data-mode=listen]")
    listener = switch.wait_for(rf"^eavesdrop (\S+) {agent_leg}$").group(1)
    switch.wait_for(rf"^leg {listener} {SUPERVISOR}$")
    supervisor.wait_for_selector(f"{row} td:text-is('sue: listening')")
    assert supervisor.get_attribute(f"{row} button[data-mode=listen]", "aria-pressed") == "true"
    agent.wait_for_selector("#monitor-notice:text-is('A supervisor is listening')")
    assert agent.get_attribute("#monitor-notice", "role") == "status"
    agent.reload()                       # the agent's snapshot carries it too
    agent.wait_for_selector("#live-status:text('live')")
    agent.wait_for_selector("#monitor-notice:text-is('A supervisor is listening')")
    shot(supervisor, "1-supervisor-listening")
    shot(agent, "1-agent-notice-listening")

    # Whisper: key 2 to the supervisor's leg; only the agent hears the supervisor.
    supervisor.click(f"{row} button[data-mode=whisper]")
    switch.wait_for(rf"^dtmf {listener} 2$")
    supervisor.wait_for_selector(f"{row} td:text-is('sue: whispering to the agent')")
    assert supervisor.get_attribute(f"{row} button[data-mode=whisper]", "aria-pressed") == "true"
    assert supervisor.get_attribute(f"{row} button[data-mode=listen]", "aria-pressed") == "false"
    switch.send(f"heard {listener}")
    assert switch.wait_for(rf"^heard {listener} (\S+)$").group(1) == agent_leg
    agent.wait_for_selector("#monitor-notice:text-is('A supervisor is whispering to you')")
    shot(supervisor, "2-supervisor-whispering")
    shot(agent, "2-agent-notice-whispering")

    # Leave: the supervisor's leg alone hangs up; the call goes on.
    supervisor.click(f"{row} button:text-is('Leave')")
    switch.wait_for(rf"^hangup {listener} NORMAL_CLEARING$")
    supervisor.wait_for_selector(f"{row} button:text-is('Leave')", state="detached")
    agent.wait_for_selector("#monitor-notice", state="hidden")
    assert not [line for line in switch.output if line.startswith("hangup ")
                and not line.startswith(f"hangup {listener} ")], "only the supervisor's leg"
    assert supervisor.text_content(f"{row} td:nth-child(2)") == "Talking"
    assert agent.get_attribute("#call-progress", "data-progress") == "answered"

    # On break, forced by the supervisor, shows on the agent's page live.
    supervisor.click("#agents tr:has(td:text-is('alice')) button:text-is('On break')")
    reason = supervisor.get_by_label("Why (optional, the agent sees it)")
    reason.fill("x" * 65)                      # too long: refused, said in the dialog
    supervisor.click("#caller-picker-go")
    supervisor.wait_for_selector("#caller-picker-error:text('at most 64 characters')")
    assert reason.get_attribute("aria-invalid") == "true"
    reason.fill("coaching")
    reason.press("Enter")
    supervisor.wait_for_selector("#caller-picker", state="hidden")
    agent.wait_for_selector("#status[data-status=on_break]")
    assert agent.text_content("#status") == "On break — coaching"
    supervisor.wait_for_selector(
        "#agents tr[data-status=on_break] td:text-is('On break: coaching')")
    shot(agent, "3-agent-on-break")
    shot(supervisor, "3-supervisor-after")
