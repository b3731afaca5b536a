"""The shipped tree in a real FreeSWITCH 1.10 (skipped unless CALLCENTER_TEST_FREESWITCH names its
binary): site.xml written by `callcenter fs-config`, everything on 127.0.0.1 with -nonat, in
temporary run/log/db/certs directories; a stand-in plays the controller's HTTP endpoints."""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import gevent.queue
import gevent.socket
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
    # Each profile looks its gateways up in the directory as it starts.
    startup = lab.standin.wait_for(lambda r: r.form.get("purpose") == "gateways")
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


def test_hold_is_a_tone_and_silent_legs_time_out(lab):
    with esl(lab) as connection:
        values = {name: connection.api(f"global_getvar {name}").strip()
                  for name in ("hold_music", "media_timeout", "media_hold_timeout")}
    assert values == {"hold_music": "tone_stream://%(200,3800,440);loops=-1",
                      "media_timeout": "60000", "media_hold_timeout": "1800000"}


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
    for profile in ("internal", "external"):
        startup = lab.standin.wait_for(lambda r, p=profile: r.form.get("purpose") == "gateways"
                                       and r.form.get("profile") == p)
        assert startup.basic_credentials() == credentials
        assert startup.form["section"] == "directory"
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


def test_a_phone_registers_with_credentials_from_the_controller(lab):
    """REGISTER, 401 challenge, REGISTER with the digest of the password only the controller's
    directory knows: 200, and FreeSWITCH lists the registration."""
    with Phone() as phone:
        challenge = phone.request("REGISTER", "sip:127.0.0.1", expires=60)
        assert challenge.startswith("SIP/2.0 401"), challenge
        accepted = phone.request("REGISTER", "sip:127.0.0.1", expires=60,
                                 authorization=phone.digest(challenge, "REGISTER",
                                                            "sip:127.0.0.1"))
        assert accepted.startswith("SIP/2.0 200"), accepted
        lookup = lab.standin.wait_for(lambda r: r.form.get("action") == "sip_auth")
        assert (lookup.form["user"], lookup.form["sip_auth_method"]) == (DIRECTORY_USER,
                                                                         "REGISTER")
        with esl(lab) as connection:
            registrations = connection.api("sofia status profile internal reg")
        assert f"{DIRECTORY_USER}@127.0.0.1" in registrations
        again = phone.request("REGISTER", "sip:127.0.0.1", expires=0)  # a nonce serves once
        gone = phone.request("REGISTER", "sip:127.0.0.1", expires=0,
                             authorization=phone.digest(again, "REGISTER", "sip:127.0.0.1"))
        assert gone.startswith("SIP/2.0 200"), gone


def test_a_call_a_phone_places_itself_is_refused_with_a_reason(lab):
    """Even authenticated, a phone's own INVITE reaches no one: 403 with the reason."""
    uri = "sip:15551234567@127.0.0.1"
    with Phone() as phone:
        challenge = phone.request("INVITE", uri)
        assert challenge.startswith("SIP/2.0 407"), challenge
        phone.ack(challenge, uri)
        refused = phone.request("INVITE", uri, authorization=phone.digest(challenge, "INVITE",
                                                                          uri, proxy=True))
        phone.ack(refused, uri)
    assert refused.splitlines()[0] == "SIP/2.0 403 Dial from the agent page"


class Phone:
    """Just enough of a SIP phone over UDP (gevent, so the stand-in answers meanwhile)."""

    def __init__(self):
        self.sock = gevent.socket.socket(gevent.socket.AF_INET, gevent.socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(20)
        self.port = self.sock.getsockname()[1]
        self.call_id = f"{uuid.uuid4().hex}@127.0.0.1"
        self.cseq = 0
        self.branch = ""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.sock.close()

    def _send(self, method: str, uri: str, cseq: int, to_tag: str = "",
              extra: tuple[str, ...] = ()) -> None:
        # FreeSWITCH hangs up an INVITE without an offer (no 3pcc): offer PCMU.
        body = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                f"m=audio {self.port + 2} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
                if method == "INVITE" else "")
        lines = [
            f"{method} {uri} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch={self.branch};rport",
            "Max-Forwards: 70",
            f"From: <sip:{DIRECTORY_USER}@127.0.0.1>;tag=cc-test",
            f"To: <{uri if method != 'REGISTER' else f'sip:{DIRECTORY_USER}@127.0.0.1'}>"
            + (f";tag={to_tag}" if to_tag else ""),
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: <sip:{DIRECTORY_USER}@127.0.0.1:{self.port}>",
            *extra,
            *(["Content-Type: application/sdp"] if body else []),
            f"Content-Length: {len(body)}",
        ]
        message = "\r\n".join(lines) + "\r\n\r\n" + body
        self.sock.sendto(message.encode(), ("127.0.0.1", 5060))

    def request(self, method: str, uri: str, authorization: str = "",
                expires: int | None = None) -> str:
        """Send a request in a new transaction; its final response."""
        self.cseq += 1
        self.branch = f"z9hG4bK{uuid.uuid4().hex}"
        extra = tuple(x for x in (authorization,
                                  f"Expires: {expires}" if expires is not None else "") if x)
        self._send(method, uri, self.cseq, extra=extra)
        while True:
            reply = self.sock.recv(65536).decode(errors="replace")
            if not reply.startswith("SIP/2.0 1"):
                return reply

    def ack(self, response: str, uri: str) -> None:
        """ACK a final non-2xx answer to INVITE (same transaction, the answer's To tag)."""
        to_tag = re.search(r"^To:.*;tag=([^;\s]+)", response, re.M | re.I).group(1)
        self._send("ACK", uri, self.cseq, to_tag)

    def digest(self, challenge: str, method: str, uri: str, proxy: bool = False) -> str:
        header = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
        line = re.search(rf"^{header}: Digest (.*)$", challenge, re.M | re.I).group(1)
        fields = dict(re.findall(r'(\w+)="?([^",]+)"?', line))

        def md5(text: str) -> str:  # SIP digest is MD5 by definition (RFC 2617)
            return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

        nc, cnonce = "00000001", uuid.uuid4().hex[:16]
        ha1 = md5(f"{DIRECTORY_USER}:{fields['realm']}:{SIP_PASSWORD}")
        response = md5(f"{ha1}:{fields['nonce']}:{nc}:{cnonce}:auth:{md5(f'{method}:{uri}')}")
        name = "Proxy-Authorization" if proxy else "Authorization"
        return (f'{name}: Digest username="{DIRECTORY_USER}", realm="{fields["realm"]}", '
                f'nonce="{fields["nonce"]}", uri="{uri}", response="{response}", '
                f'algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}"')


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
    # ... where `callcenter cdr import` can load every file (exit 1 if one fails).
    env = {**_without_settings(), "CALLCENTER_INSTANCE_DIR": str(saved.parents[2] / "import")}
    for args in (["db", "upgrade"], ["cdr", "import", str(saved.parent)]):
        done = subprocess.run([sys.executable, "-m", "callcenter.cli", *args], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr


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
