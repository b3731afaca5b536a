"""Restarts, with every part in its own process: `callcenter simulate` stands in for FreeSWITCH,
`callcenter serve` is the controller, and an agent drives a call over HTTP and the live socket."""

from __future__ import annotations

import json
import subprocess

import pytest

from callcenter import db as dbmod
from callcenter.cdr import LegRecord, raw_cdr
from callcenter.models import CallLeg, Role
from tests.cdrdocs import leg_doc, own
from tests.process import ServerProcess
from tests.test_live_socket import Live, receive

pytestmark = pytest.mark.slow
ESL_PASSWORD = "restart-test-password"
NUMBER = "15551234567"


class Setup:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.sim: ServerProcess | None = None
        self.port = 0
        self.server: ServerProcess | None = None
        self.live: Live | None = None

    def start_switch(self) -> None:
        self.sim = ServerProcess(["simulate", "--port", str(self.port), "--password",
                                  ESL_PASSWORD, "--register", "1000"], self.env)
        self.port = int(self.sim.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1))

    def start_controller(self) -> Live:
        self.server = ServerProcess(["serve"], {
            **self.env, "CALLCENTER_HTTP_BIND": "127.0.0.1:0", "CALLCENTER_ESL_HOST": "127.0.0.1",
            "CALLCENTER_ESL_PORT": str(self.port), "CALLCENTER_ESL_PASSWORD": ESL_PASSWORD})
        base = self.server.wait_for(r"serving on (http://127\.0\.0\.1:\d+)").group(1)
        self.server.wait_for(r"switch link up")
        self.live = Live(self.server, base)
        return self.live

    def stop(self) -> None:
        if self.live is not None:
            self.live.close_all()
        for process in (self.server, self.sim):
            if process is not None:
                process.stop()


@pytest.fixture
def setup(env, settings, database, admin, make_user):
    dbmod.upgrade(settings.database_url)
    make_user("alice", Role.AGENT, "1000")
    setup = Setup(env)
    setup.start_switch()
    try:
        yield setup
    finally:
        setup.stop()


def call_updates(live: Live):
    """A socket as alice's page, past its snapshot."""
    ws = live.connect(live.login("alice"))
    assert receive(ws)["type"] == "snapshot"
    return ws


def wait_call(ws, call_id: str, progress: str) -> dict:
    while True:
        message = receive(ws, timeout=20)
        if message["type"] == "call" and message["call"]["id"] == call_id \
                and message["call"]["progress"] == progress:
            return message["call"]


def get(live: Live, path: str) -> dict:
    _cookie, opener, _token = live._log_in("alice")
    return json.loads(opener.open(live.base + path, timeout=10).read())


def test_the_controller_restarts_mid_call_and_the_call_goes_on(setup):
    live = setup.start_controller()
    ws = call_updates(live)
    call_id = live.api("alice", "POST", "/api/calls", {"number": NUMBER})["call"]["id"]
    wait_call(ws, call_id, "answered")
    assert setup.server.stop() == 0     # the controller goes away; the switch keeps the call
    live = setup.start_controller()
    rebuilt = get(live, f"/api/calls/{call_id}")["call"]
    assert rebuilt["progress"] == "answered", "rebuilt from the switch and the database"
    ws = call_updates(live)
    assert live.api("alice", "POST", f"/api/calls/{call_id}/hangup", {})["call"]["id"] == call_id
    ended = wait_call(ws, call_id, "ended")
    assert ended["hangup_by"] == "agent"
    cdr = get(live, f"/api/calls/{call_id}")["call"]
    assert cdr["progress"] == "ended" and cdr["cause"] == "NORMAL_CLEARING"
    assert cdr["hangup_by"] == "agent" and cdr["answered_at"] and cdr["ended_at"]


def test_the_switch_restarts_and_the_calls_it_lost_are_closed(setup):
    live = setup.start_controller()
    ws = call_updates(live)
    call_id = live.api("alice", "POST", "/api/calls", {"number": NUMBER})["call"]["id"]
    wait_call(ws, call_id, "answered")
    # The page hears "answered" on the customer's answer; the bridge event may come just after.
    known = get(live, f"/api/calls/{call_id}")["call"]
    setup.sim.stop()                     # FreeSWITCH dies, and every call with it
    setup.start_switch()                 # same port: the controller reconnects by itself
    ended = wait_call(ws, call_id, "ended")
    assert (ended["outcome"], ended["cause"]) == ("cut_off", None)
    cdr = get(live, f"/api/calls/{call_id}")["call"]
    assert (cdr["outcome"], cdr["cause"]) == ("cut_off", None), "no invented cause"
    assert cdr["answered_at"] and cdr["ended_at"], "what the page was told"
    assert cdr["bridged_at"] or not known["bridged_at"], "what the controller knew"
    assert get(live, "/api/calls?mine=1")["calls"][0]["id"] == call_id
    # The agent is back to a sane state: a new call can be placed at once.
    again = live.api("alice", "POST", "/api/calls", {"number": NUMBER})
    assert again["call"]["progress"] == "dialing_agent"


def test_the_link_drops_mid_call_and_the_call_is_kept(setup):
    live = setup.start_controller()
    ws = call_updates(live)
    call_id = live.api("alice", "POST", "/api/calls", {"number": NUMBER})["call"]["id"]
    wait_call(ws, call_id, "answered")
    # Cut the controller's TCP connection to the switch (both processes live on).
    cut = subprocess.run(["ss", "-K", "dst", "127.0.0.1", "dport", "=", str(setup.port)],
                         capture_output=True, text=True)
    if cut.returncode != 0:
        pytest.skip(f"cannot cut a TCP connection here: {cut.stderr.strip()}")
    seen = len(setup.server.output)
    setup.server.wait_for(r"FreeSWITCH link to .* lost", after=seen)
    setup.server.wait_for(r"switch link up", after=seen)
    assert get(live, f"/api/calls/{call_id}")["call"]["progress"] == "answered"
    live.api("alice", "POST", f"/api/calls/{call_id}/hangup", {})
    ended = wait_call(ws, call_id, "ended")
    assert ended["hangup_by"] == "agent"
    cdr = get(live, f"/api/calls/{call_id}")["call"]
    assert cdr["cause"] == "NORMAL_CLEARING" and cdr["ended_at"]



def test_the_spool_directory_is_loaded_at_start_and_after_the_link_returns(setup, database,
                                                                           tmp_path):
    """CDRs FreeSWITCH could not post while the controller was down arrive with nobody running
    `callcenter cdr import`."""
    spool = tmp_path / "json_cdr"
    spool.mkdir()
    setup.env = {**setup.env, "CALLCENTER_CDR_SPOOL_DIR": str(spool)}
    first, second = (f"5b0c6d4e-0000-4000-8000-00000000001{n}" for n in (1, 2))
    documents = {uuid: leg_doc(uuid, f"call-{uuid[-1]}", start=0, answer=1, bridge=1, end=9,
                               role="customer") for uuid in (first, second)}
    own(database, *(LegRecord.from_json_cdr(d) for d in documents.values()))
    (spool / f"{first}.cdr.json").write_text(documents[first])
    setup.start_controller()
    setup.server.wait_for(r"CDR spool .*: imported 1, ")
    assert not (spool / f"{first}.cdr.json").exists()
    (spool / f"{second}.cdr.json").write_text(documents[second])
    cut = subprocess.run(["ss", "-K", "dst", "127.0.0.1", "dport", "=", str(setup.port)],
                         capture_output=True, text=True)
    if cut.returncode != 0:
        pytest.skip(f"cannot cut a TCP connection here: {cut.stderr.strip()}")
    seen = len(setup.server.output)
    setup.server.wait_for(r"FreeSWITCH link to .* lost", after=seen)
    setup.server.wait_for(r"CDR spool .*: imported 1, ", after=seen)
    assert not (spool / f"{second}.cdr.json").exists()
    with database.session() as session:
        assert {leg.uuid: raw_cdr(session, leg.uuid) for leg in session.query(CallLeg)} \
            == documents
