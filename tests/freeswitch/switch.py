"""A real FreeSWITCH for the integration tests, and a stand-in for the controller's HTTP side.

Everything runs in gevent, in this one process: FreeSWITCH as a child (its console output read
by a greenlet), the stand-in's WSGI server, and the controller's ESL connection, so a test
waits on events and never sleeps.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import signal
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

import gevent
import gevent.event
import gevent.pywsgi
import gevent.subprocess
import pytest

BINARY_VARIABLE = "CALLCENTER_TEST_FREESWITCH"
DIRECTORY_USER = "1050"
NOT_FOUND = ('<document type="freeswitch/xml"><section name="result">'
             '<result status="not found"/></section></document>')


def freeswitch_binary() -> str:
    binary = os.environ.get(BINARY_VARIABLE, "")
    if not binary:
        pytest.skip(f"{BINARY_VARIABLE} does not name a freeswitch binary")
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        pytest.fail(f"{BINARY_VARIABLE}={binary} is not an executable file")
    return binary


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Request:
    path: str
    query: dict[str, str]
    authorization: str
    content_type: str
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.body.decode()).items()}

    def basic_credentials(self) -> str:
        scheme, _, encoded = self.authorization.partition(" ")
        assert scheme == "Basic", self.authorization
        return base64.b64decode(encoded).decode()


class StandIn:
    """The controller's endpoints FreeSWITCH calls, recording every request."""

    def __init__(self, domain: str, password: str):
        self.domain = domain
        self.password = password
        self.requests: list[Request] = []
        self.cdr_status = "200 OK"
        self._arrived = gevent.event.Event()
        self.server = gevent.pywsgi.WSGIServer(("127.0.0.1", 0), self._app, log=None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop(timeout=1)

    def wait_for(self, predicate, timeout: float = 20.0) -> Request:
        """The first request that matches, waiting for it to arrive if need be."""
        with gevent.Timeout(timeout, AssertionError(
                f"no such request within {timeout}s; got {self.requests}")):
            while True:
                self._arrived.clear()
                for request in self.requests:
                    if predicate(request):
                        return request
                self._arrived.wait()

    def _app(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        request = Request(
            path=environ["PATH_INFO"],
            query={k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()},
            authorization=environ.get("HTTP_AUTHORIZATION", ""),
            content_type=environ.get("CONTENT_TYPE", ""),
            body=environ["wsgi.input"].read(length) if length else b"",
        )
        self.requests.append(request)
        self._arrived.set()
        if request.path == "/freeswitch/directory":
            start_response("200 OK", [("Content-Type", "text/xml")])
            return [self._directory(request.form).encode()]
        if request.path == "/freeswitch/dialplan":      # the static dialplan applies
            start_response("200 OK", [("Content-Type", "text/xml")])
            return [NOT_FOUND.encode()]
        start_response(self.cdr_status, [("Content-Type", "application/json")])
        return [b"{}"]

    def _directory(self, form: dict[str, str]) -> str:
        if form.get("action") not in ("sip_auth", "user_call") or \
                form.get("user") != DIRECTORY_USER:
            return NOT_FOUND
        # SIP digest is MD5 by definition (RFC 2617 A1), not our choice.
        a1 = hashlib.md5(f"{DIRECTORY_USER}:{self.domain}:{self.password}".encode(),
                         usedforsecurity=False).hexdigest()
        return (
            '<document type="freeswitch/xml"><section name="directory">'
            f'<domain name="{self.domain}"><params><param name="dial-string" value="'
            '{^^:sip_invite_domain=${dialed_domain}:presence_id=${dialed_user}@${dialed_domain}}'
            '${sofia_contact(*/${dialed_user}@${dialed_domain})}"/></params>'
            f'<groups><group name="default"><users><user id="{DIRECTORY_USER}">'
            f'<params><param name="a1-hash" value="{a1}"/></params>'
            '<variables><variable name="user_context" value="agents"/></variables>'
            '</user></users></group></groups></domain></section></document>')


class FreeSwitch:
    """One FreeSWITCH process on a configuration tree, with its own run/log/db/certs dirs."""

    def __init__(self, binary: str, conf: Path, workdir: Path, certs: Path,
                 environ: dict[str, str]):
        self.binary = binary
        self.conf = conf
        self.dirs = {name: workdir / name for name in ("log", "db", "run")}
        self.certs = certs
        self.environ = environ
        self.lines: list[str] = []
        self._line = gevent.event.Event()
        self._exited = gevent.event.Event()
        self.proc: gevent.subprocess.Popen | None = None

    @property
    def log_file(self) -> Path:
        return self.dirs["log"] / "freeswitch.log"

    def start(self, timeout: float = 60.0) -> None:
        for directory in self.dirs.values():
            directory.mkdir(parents=True, exist_ok=True)
        # Console mode (-nf, no -nc) prints the log on stdout, where we wait for the start;
        # line-buffered, or the last lines stay in stdio's buffer while nothing else happens.
        stdbuf = shutil.which("stdbuf")
        if stdbuf is None:
            pytest.skip("stdbuf (coreutils) is needed to read FreeSWITCH's console")
        self.proc = gevent.subprocess.Popen(
            [stdbuf, "-oL", self.binary, "-nonat", "-nf", "-conf", str(self.conf),
             "-log", str(self.dirs["log"]), "-db", str(self.dirs["db"]),
             "-run", str(self.dirs["run"]), "-certs", str(self.certs)],
            stdin=gevent.subprocess.PIPE, stdout=gevent.subprocess.PIPE,
            stderr=gevent.subprocess.STDOUT, env=self.environ, cwd=str(self.dirs["run"]))
        gevent.spawn(self._read)
        self.wait_for_line(r"^FreeSWITCH Started", timeout)

    def _read(self) -> None:
        for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))
            self._line.set()
        self._exited.set()
        self._line.set()

    def wait_for_line(self, pattern: str, timeout: float = 20.0) -> re.Match:
        regex = re.compile(pattern)
        seen = 0
        with gevent.Timeout(timeout, AssertionError(
                f"FreeSWITCH printed no line matching {pattern!r} within {timeout}s:\n"
                + "\n".join(self.lines[-60:]))):
            while True:
                self._line.clear()
                for line in self.lines[seen:]:
                    if match := regex.search(line):
                        return match
                seen = len(self.lines)
                if self._exited.is_set():
                    raise AssertionError("FreeSWITCH exited:\n" + "\n".join(self.lines[-60:]))
                self._line.wait()

    def log_entries(self, *levels: str) -> list[str]:
        """Lines of freeswitch.log at the given levels, e.g. ("ERR", "CRIT")."""
        marks = tuple(f"[{level}]" for level in levels)
        return [line for line in self.log_file.read_text(errors="replace").splitlines()
                if any(mark in line for mark in marks)]

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except gevent.subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._exited.wait(5)
        return self.proc.returncode
