"""The shipped tree in a real FreeSWITCH 1.10 (skipped unless CALLCENTER_TEST_FREESWITCH names its
binary): site.xml written by `callcenter fs-config`, everything on 127.0.0.1 with -nonat, in
temporary run/log/db/certs directories; a stand-in plays the controller's HTTP endpoints."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import gevent.queue
import pytest

from callcenter.config import Settings
from callcenter.esl import commands
from callcenter.esl.connection import AuthenticationFailed, Connection
from callcenter.fsconf.checks import REQUIRED_MODULES, check_tree
from tests.freeswitch.support import (
    ESL_PASSWORD,
    HTTP_PASSWORD,
    HTTP_USER,
    controller_env,
    copy_tree,
    make_certificate,
)
from tests.freeswitch.switch import (
    DIRECTORY_USER,
    FreeSwitch,
    StandIn,
    free_port,
    freeswitch_binary,
)

pytestmark = pytest.mark.slow
SIP_PASSWORD = "sip-Secret-42"


@dataclass
class Lab:
    switch: FreeSwitch
    standin: StandIn
    settings: Settings
    certs: Path


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    binary = freeswitch_binary()
    root = tmp_path_factory.mktemp("freeswitch")
    conf = copy_tree(root / "conf")
    certs = root / "certs"
    make_certificate(certs)
    standin = StandIn("127.0.0.1", SIP_PASSWORD)
    standin.start()
    env = controller_env(root, CALLCENTER_ESL_PORT=str(free_port()),
                         CALLCENTER_FREESWITCH_HTTP_URL=standin.url,
                         CALLCENTER_SOFTPHONE_WSS_URL=f"wss://127.0.0.1:{free_port()}")
    written = subprocess.run(
        [sys.executable, "-m", "callcenter.cli", "fs-config", str(conf / "site.xml")],
        env={**_without_settings(), **env}, capture_output=True, text=True, timeout=60)
    assert written.returncode == 0, written.stderr
    settings = Settings.from_env(env)
    assert check_tree(conf, settings, environ={}, certs_dir=certs) == []
    # FreeSWITCH gets none of the controller's variables: site.xml alone must be enough.
    switch = FreeSwitch(binary, conf, root, certs, _without_settings())
    try:
        switch.start()
        yield Lab(switch, standin, settings, certs)
    finally:
        switch.stop()
        standin.stop()


def _without_settings() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}


@contextmanager
def esl(lab: Lab, password: str = ESL_PASSWORD, on_event=None):
    connection = Connection("127.0.0.1", lab.settings.esl_port, password, on_event=on_event)
    connection.connect()
    try:
        yield connection
    finally:
        connection.close()


def test_every_module_loads_and_nothing_is_logged_as_an_error(lab):
    startup = lab.standin.wait_for(lambda r: r.form.get("purpose") == "network-list")
    assert startup.path == "/freeswitch/directory"
    with esl(lab) as connection:
        missing = [m for m in REQUIRED_MODULES
                   if connection.api(f"module_exists {m}").strip() != "true"]
    assert missing == []
    assert lab.switch.log_entries("ERR", "CRIT", "ALERT") == []
    # FreeSWITCH logs two of its own threads' start as warnings; nothing else may warn.
    warnings = [w for w in lab.switch.log_entries("WARNING") if not any(
        benign in w for benign in ("MSG Thread 0 Started", "Create additional event dispatch"))]
    assert warnings == []


def test_both_profiles_run_with_ws_and_wss(lab):
    wss_port = int(lab.settings.softphone_wss_url.rsplit(":", 1)[1])
    with esl(lab) as connection:
        status = connection.api("sofia status")
        internal = connection.api("sofia status profile internal")
    rows = {line.split()[0]: line.split() for line in status.splitlines() if "\t" in line}
    assert rows["internal"][1:] == ["profile", "sip:mod_sofia@127.0.0.1:5060", "RUNNING", "(0)"]
    assert rows["external"][1:] == ["profile", "sip:mod_sofia@127.0.0.1:5080", "RUNNING", "(0)"]
    assert rows["external::carrier"][1] == "gateway"
    assert "sip:mod_sofia@127.0.0.1:5066;transport=ws" in internal
    assert f"sips:mod_sofia@127.0.0.1:{wss_port};transport=wss" in internal
    # The WSS port serves our certificate (not one FreeSWITCH made up) and speaks WebSocket.
    context = ssl.create_default_context(cafile=str(lab.certs / "wss.pem"))
    context.check_hostname = False
    with socket.create_connection(("127.0.0.1", wss_port), timeout=10) as raw, \
            context.wrap_socket(raw) as tls:
        assert _websocket_upgrade(tls).startswith("HTTP/1.1 101")
    with socket.create_connection(("127.0.0.1", 5066), timeout=10) as plain:
        assert _websocket_upgrade(plain).startswith("HTTP/1.1 101")


def _websocket_upgrade(sock) -> str:
    sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n")
    return sock.recv(4096).decode(errors="replace")


def test_the_controller_connects_with_the_site_password_only(lab):
    with esl(lab) as connection:
        assert connection.api("status").startswith("UP ")
    for wrong in ("ClueCon", "not-the-password"):
        with pytest.raises(AuthenticationFailed):
            with esl(lab, wrong):
                pass


def test_directory_lookups_reach_the_controller(lab):
    credentials = f"{HTTP_USER}:{HTTP_PASSWORD}"
    startup = lab.standin.wait_for(lambda r: r.form.get("purpose") == "network-list")
    assert startup.basic_credentials() == credentials
    assert {k: startup.form[k] for k in ("section", "tag_name", "key_name", "key_value")} == {
        "section": "directory", "tag_name": "domain", "key_name": "name",
        "key_value": "127.0.0.1"}
    leg = str(uuid.uuid4())
    command = commands.originate(leg, commands.user_endpoint(DIRECTORY_USER, "127.0.0.1"),
                                 {"cc_call_id": "fs-directory",
                                  **commands.auto_answer_variables("127.0.0.1")})
    with esl(lab) as connection:
        # Known to the controller, registered nowhere.
        assert connection.api(command, timeout=20) == "-ERR USER_NOT_REGISTERED\n"
    lookup = lab.standin.wait_for(lambda r: r.form.get("action") == "user_call")
    assert lookup.basic_credentials() == credentials
    assert (lookup.form["user"], lookup.form["domain"]) == (DIRECTORY_USER, "127.0.0.1")


def _park_then_hang_up(lab: Lab, number: str) -> tuple[str, str, str]:
    """Originate a loopback leg to an inbound number; once the far side is parked in the
    queue, hang up; return (leg uuid, far leg uuid, call id) when both legs are destroyed."""
    events: gevent.queue.Queue = gevent.queue.Queue()
    leg, call_id = str(uuid.uuid4()), f"fs-{uuid.uuid4().hex[:12]}"
    with esl(lab, on_event=events.put) as connection:
        connection.subscribe(["CHANNEL_PARK", "CHANNEL_DESTROY"])
        connection.bgapi(commands.originate(leg, commands.loopback_endpoint(number, "public"),
                                            {"cc_call_id": call_id}))
        parked = _next(events, lambda e: e.name == "CHANNEL_PARK"
                       and e.get("variable_cc_queue") == "sales")
        far = parked.get("Unique-ID")
        assert parked.get("variable_cc_call_id") == call_id
        assert connection.api(commands.uuid_kill(leg)) == "+OK\n"
        destroyed = set()
        while destroyed != {leg, far}:  # CDRs are posted (or saved) before a leg is destroyed
            destroyed.add(_next(events, lambda e: e.name == "CHANNEL_DESTROY").get("Unique-ID"))
    return leg, far, call_id


def _next(events: gevent.queue.Queue, predicate, timeout: float = 30.0):
    with gevent.Timeout(timeout, AssertionError("the expected event did not come")):
        while not predicate(event := events.get()):
            pass
    return event


def test_cdrs_reach_the_controller_through_json_cdr(lab):
    leg, far, call_id = _park_then_hang_up(lab, "5550100")
    for uuid_ in (leg, far):
        post = lab.standin.wait_for(lambda r, u=uuid_: r.path == "/freeswitch/cdr"
                                    and r.query.get("uuid") == u)
        assert post.content_type == "application/json"
        assert post.basic_credentials() == f"{HTTP_USER}:{HTTP_PASSWORD}"
        cdr = json.loads(post.body)
        assert cdr["variables"]["uuid"] == uuid_
        assert cdr["variables"]["cc_call_id"] == call_id
    far_cdr = json.loads(next(r.body for r in lab.standin.requests if r.query.get("uuid") == far))
    assert far_cdr["variables"]["cc_queue"] == "sales"  # the DID table did its job


def test_cdrs_the_controller_refused_wait_in_the_error_directory(lab):
    lab.standin.cdr_status = "503 Service Unavailable"
    try:
        leg, far, call_id = _park_then_hang_up(lab, "5550100")
    finally:
        lab.standin.cdr_status = "200 OK"
    tries = [r for r in lab.standin.requests if r.query.get("uuid") == leg]
    assert len(tries) == 3  # the first post and two retries
    saved = lab.switch.dirs["log"] / "json_cdr" / f"{leg}.cdr.json"
    assert json.loads(saved.read_text())["variables"]["cc_call_id"] == call_id


@pytest.mark.parametrize("endpoint, cause", [
    # The controller's context refuses a leg it did not tag.
    ("loopback/15551234567/default", "CALL_REJECTED"),
    # A phone's own call lands in agents and is refused.
    ("loopback/15551234567/agents", "CALL_REJECTED"),
    # The carrier calling a number not in dids.xml.
    ("loopback/5559999/public", "UNALLOCATED_NUMBER"),
])
def test_calls_no_one_may_place_are_refused(lab, endpoint, cause):
    with esl(lab) as connection:
        reply = connection.api(commands.originate(str(uuid.uuid4()), endpoint), timeout=20)
    assert reply == f"-ERR {cause}\n"
