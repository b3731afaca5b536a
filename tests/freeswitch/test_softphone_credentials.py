"""Per-login SIP credentials in a real FreeSWITCH 1.10 (skipped unless CALLCENTER_TEST_FREESWITCH
names its binary): the controller's own app serves the directory over mod_xml_curl; an agent (or a
supervisor, with its own extension to listen in from) logs in, a SIP phone registers with the
password /api/softphone gave it, and after logout the registration is flushed and the same
password is refused."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import uuid

import gevent.event
import gevent.pywsgi
import gevent.socket
import pytest

from callcenter import db as dbmod
from callcenter.accounts import create_user
from callcenter.app import create_app
from callcenter.audit import CLI
from callcenter.config import Settings
from callcenter.esl.connection import Link
from callcenter.live import Hub
from callcenter.models import Role
from callcenter.switchboard import Switchboard
from tests.conftest import PASSWORD, AuthActions
from tests.freeswitch.support import controller_env, copy_tree, make_certificate
from tests.freeswitch.switch import FreeSwitch, free_port, freeswitch_binary

pytestmark = pytest.mark.slow
EXTENSION = "1077"
SUPERVISOR_EXTENSION = "2077"


@pytest.fixture
def controller(tmp_path):
    """FreeSWITCH on the shipped tree, and the controller's app and switchboard beside it."""
    binary = freeswitch_binary()
    env = controller_env(tmp_path, CALLCENTER_ESL_PORT=str(free_port()),
                         CALLCENTER_SECRET_KEY="secret-of-this-test",
                         CALLCENTER_SOFTPHONE_WSS_URL=f"wss://127.0.0.1:{free_port()}")
    settings = Settings.from_env(env)
    dbmod.upgrade(settings.database_url)
    database = dbmod.Database(settings.database_url)
    with database.session() as s:
        create_user(s, "root", PASSWORD, Role.ADMIN, who=CLI)
        create_user(s, "alice", PASSWORD, Role.AGENT, EXTENSION, who=CLI)
        create_user(s, "sue", PASSWORD, Role.SUPERVISOR, SUPERVISOR_EXTENSION, who=CLI)
    link = Link("127.0.0.1", settings.esl_port, settings.esl_password, backoff_initial=0.1)
    hub = Hub()
    board = Switchboard.from_settings(settings, link, database, hub)
    app = create_app(settings, database, board, hub)
    http = gevent.pywsgi.WSGIServer(("127.0.0.1", 0), app, log=None)
    http.start()
    env["CALLCENTER_FREESWITCH_HTTP_URL"] = f"http://127.0.0.1:{http.server_port}"
    conf = copy_tree(tmp_path / "conf")
    base = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    written = subprocess.run([sys.executable, "-m", "callcenter.cli", "fs-config",
                              str(conf / "site.xml")], env={**base, **env},
                             capture_output=True, text=True, timeout=60)
    assert written.returncode == 0, written.stderr
    certs = tmp_path / "certs"
    make_certificate(certs)
    switch = FreeSwitch(binary, conf, tmp_path, certs, base)
    try:
        switch.start()
        board.start()
        link.start()
        assert link.wait_connected(20), "the switchboard never connected to FreeSWITCH"
        yield app, link, board, switch
    finally:
        link.stop()
        board.stop()
        switch.stop()
        http.stop(timeout=1)
        database.dispose()


@pytest.mark.parametrize(("username", "extension"), [("alice", EXTENSION),
                                                     ("sue", SUPERVISOR_EXTENSION)])
def test_a_phone_registers_with_the_login_password_until_logout(controller, username,
                                                                 extension):
    app, link, board, switch = controller
    web = app.test_client()
    auth = AuthActions(web)
    auth.login(username)
    heard = gevent.event.Event()     # the switchboard heard FreeSWITCH's sofia::register
    link.on("sofia::register", lambda event: heard.set()
            if board.roster.phone_registered(extension) else None)
    phone = web.get("/api/softphone").json
    assert (phone["extension"], phone["domain"], phone["simulated"]) == (extension, "127.0.0.1",
                                                                        False)
    with Phone(extension, phone["password"]) as sip:
        assert sip.register(60).startswith("SIP/2.0 200")
        assert f"{extension}@127.0.0.1" in link.api("sofia status profile internal reg")
        with Phone(extension, "not-the-password") as guesser:
            assert guesser.register(60).startswith("SIP/2.0 403")
        # The switchboard knows the phone is there: a supervisor may listen in from it now.
        assert heard.wait(10), "the switchboard never heard the registration"
        auth.logout()
        # The flush goes through the switchboard's Sender: wait for its reply.
        assert board.sender.wait_idle(10)
        assert f"{extension}@127.0.0.1" not in link.api("sofia status profile internal reg")
        refused = sip.register(60)
        assert not refused.startswith("SIP/2.0 200"), refused
    assert switch.log_entries("CRIT", "ALERT") == []


class Phone:
    """A SIP phone that only registers, over UDP (gevent: the app answers FreeSWITCH meanwhile)."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password
        self.sock = gevent.socket.socket(gevent.socket.AF_INET, gevent.socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(20)
        self.port = self.sock.getsockname()[1]
        self.call_id = f"{uuid.uuid4().hex}@127.0.0.1"
        self.cseq = 0

    def __enter__(self) -> Phone:
        return self

    def __exit__(self, *exc) -> None:
        self.sock.close()

    def register(self, expires: int) -> str:
        """REGISTER, and again with the digest answering the challenge: the final response."""
        reply = self._send("", expires)
        if reply.startswith("SIP/2.0 401"):
            reply = self._send(self._digest(reply), expires)
        return reply

    def _send(self, authorization: str, expires: int) -> str:
        self.cseq += 1
        lines = [
            "REGISTER sip:127.0.0.1 SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bK{uuid.uuid4().hex};rport",
            "Max-Forwards: 70",
            f"From: <sip:{self.user}@127.0.0.1>;tag=cc-cred",
            f"To: <sip:{self.user}@127.0.0.1>",
            f"Call-ID: {self.call_id}",
            f"CSeq: {self.cseq} REGISTER",
            f"Contact: <sip:{self.user}@127.0.0.1:{self.port}>",
            f"Expires: {expires}",
            *([authorization] if authorization else []),
            "Content-Length: 0",
        ]
        self.sock.sendto(("\r\n".join(lines) + "\r\n\r\n").encode(), ("127.0.0.1", 5060))
        while True:
            reply = self.sock.recv(65536).decode(errors="replace")
            if not reply.startswith("SIP/2.0 1"):
                return reply

    def _digest(self, challenge: str) -> str:
        line = re.search(r"^WWW-Authenticate: Digest (.*)$", challenge, re.M | re.I).group(1)
        fields = dict(re.findall(r'(\w+)="?([^",]+)"?', line))

        def md5(text: str) -> str:  # SIP digest is MD5 by definition (RFC 2617)
            return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

        uri, nc, cnonce = "sip:127.0.0.1", "00000001", uuid.uuid4().hex[:16]
        ha1 = md5(f"{self.user}:{fields['realm']}:{self.password}")
        response = md5(f"{ha1}:{fields['nonce']}:{nc}:{cnonce}:auth:{md5(f'REGISTER:{uri}')}")
        return (f'Authorization: Digest username="{self.user}", realm="{fields["realm"]}", '
                f'nonce="{fields["nonce"]}", uri="{uri}", response="{response}", '
                f'algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}"')
