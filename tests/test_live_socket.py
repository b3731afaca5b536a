"""The live socket end to end: a real `callcenter serve` (gevent, the built-in simulator) and a
real WebSocket client in this (unpatched) process; plus the checks made before the upgrade,
through Flask's test client."""

from __future__ import annotations

import functools
import http.cookiejar
import json
import os
import re
import shutil
import socket
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from simple_websocket import Client, ConnectionClosed
from simple_websocket import ConnectionError as HandshakeRefused
from sqlalchemy import delete, select
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Request, TextMessage

from callcenter.models import Agent, Role, User
from callcenter.web.live import REFUSED, SIGNED_OUT, answer, origin_allowed
from tests.conftest import PASSWORD
from tests.process import ServerProcess

pytestmark = pytest.mark.both_databases  # the tests that use the database run on both

# --- before the upgrade, in process ---------------------------------------------------------


def test_origin_must_be_the_public_url_or_the_host_asked():
    public, host = "https://cc.example.com", "http://127.0.0.1:8080/"
    assert origin_allowed("https://cc.example.com", public, host)
    assert origin_allowed("https://CC.example.com:443", public, host)
    assert origin_allowed("http://127.0.0.1:8080", public, host)
    for foreign in (None, "", "null", "https://evil.example", "http://cc.example.com",
                    "https://cc.example.com:8443", "http://127.0.0.1:8081", "file://",
                    "https://cc.example.com:99999", "javascript:alert(1)"):
        assert not origin_allowed(foreign, public, host), foreign


def test_plain_get_is_refused_anonymous_then_wrong_origin_then_told_to_upgrade(
        client, auth, admin, make_user):
    make_user("alice", Role.AGENT)
    assert client.get("/live", headers={"Origin": "http://localhost"}).status_code == 401
    auth.login("alice")
    refused = client.get("/live", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403 and "Origin" in refused.get_json()["error"]
    assert client.get("/live").status_code == 403
    plain = client.get("/live", headers={"Origin": "http://localhost"})
    assert plain.status_code == 426 and "WebSocket" in plain.get_json()["error"]


@pytest.mark.parametrize("frame, problem", [
    ("not json", "not JSON"),
    ("[1, 2]", "JSON object"),
    ('"ping"', "JSON object"),
    ('{"type": "dial"}', "unknown frame type 'dial'"),
    ("{}", "unknown frame type None"),
    (b"\x00\x01", "binary"),
])
def test_a_malformed_frame_gets_an_error_naming_the_problem(frame, problem):
    reply = answer(frame)
    assert reply["type"] == "error" and problem in reply["error"]


def test_ping_gets_pong():
    assert answer('{"type": "ping"}') == {"type": "pong"}


# --- end to end against `callcenter serve` --------------------------------------------------


class BrowserClient(Client):
    """simple_websocket's client, behaving like a browser in two ways it does not by itself."""

    def handshake(self):
        self.host = f"{self.host}:{self.port}"      # it leaves the port out of Host
        super().handshake()

    def _thread(self):
        # Frames that arrived in the same read as the 101 response (the server sends at once)
        # would wait in wsproto's buffer until more bytes came: take them first.
        self._handle_events()
        super()._thread()


class Live:
    """The running server: log users in over HTTP and open WebSockets to /live."""

    def __init__(self, server: ServerProcess, base: str):
        self.server = server
        self.base = base
        self.origin = base
        self.url = "ws" + base.removeprefix("http") + "/live"
        self._sockets: list[Client] = []

    def login(self, username: str) -> str:
        """The session cookie of a browser that logged in as username."""
        return self._log_in(username)[0]

    def api(self, username: str, method: str, path: str, body: dict) -> dict:
        """Call the JSON API as username, the way the agent's page does."""
        _cookie, opener, token = self._log_in(username)
        call = urllib.request.Request(self.base + path, method=method,  # noqa: S310 - loopback
                                      data=json.dumps(body).encode(),
                                      headers={"Content-Type": "application/json",
                                               "X-CSRF-Token": token})
        return json.loads(opener.open(call, timeout=10).read())

    def _log_in(self, username: str):
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(self.base + "/login", timeout=10).read().decode()
        token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"username": username, "password": PASSWORD,
                                       "csrf_token": token}).encode()
        landed = opener.open(self.base + "/login", data=form, timeout=10)
        assert "/login" not in landed.url, f"{username} could not log in"
        # Logging in starts a new session, with a CSRF token of its own.
        token = re.search(r'name="csrf-token" content="([^"]+)"', landed.read().decode()).group(1)
        return "; ".join(f"{c.name}={c.value}" for c in jar), opener, token

    def browser(self, username: str) -> Browser:
        """A browser logged in as username (a login of its own)."""
        return Browser(self.base, *self._log_in(username))

    def connect(self, cookie: str | None = None, origin: str | None = "same") -> Client:
        headers = {}
        if cookie:
            headers["Cookie"] = cookie
        if origin is not None:
            headers["Origin"] = self.origin if origin == "same" else origin
        ws = BrowserClient.connect(self.url, headers=headers)
        self._sockets.append(ws)
        return ws

    def close_all(self) -> None:
        for ws in self._sockets:
            if ws.connected:
                ws.close()


class Browser:
    """One login: its cookie for sockets, and forms posted the way its pages post them."""

    def __init__(self, base: str, cookie: str, opener, token: str) -> None:
        self.base, self.cookie, self._opener, self._token = base, cookie, opener, token

    def post(self, path: str, form: dict | None = None) -> str:
        """POST a form; the URL it landed on after redirects."""
        data = urllib.parse.urlencode({"csrf_token": self._token, **(form or {})}).encode()
        return self._opener.open(self.base + path, data=data, timeout=10).url


def receive(ws: Client, timeout: float = 10) -> dict:
    frame = ws.receive(timeout=timeout)
    assert frame is not None, "nothing received"
    return json.loads(frame)


def receive_reply(ws: Client, timeout: float = 10) -> dict:
    """The next frame that answers the client (pong or error), past any hub messages."""
    while "seq" in (message := receive(ws, timeout)):
        pass
    return message


PUBLIC_URL = "http://cc.example.test"     # as if behind a proxy: pages come from there


@pytest.fixture
def live(env, settings, database, admin, make_user):
    make_user("alice", Role.AGENT, "1001")
    make_user("bob", Role.AGENT, "1002")
    make_user("sam", Role.SUPERVISOR)
    server = ServerProcess(["serve"], {**env, "CALLCENTER_HTTP_BIND": "127.0.0.1:0",
                                       "CALLCENTER_PUBLIC_URL": PUBLIC_URL})
    live = None
    try:
        base = server.wait_for(r"serving on (http://127\.0\.0\.1:\d+)").group(1)
        live = Live(server, base)
        yield live
    finally:
        if live is not None:
            live.close_all()
        assert server.stop() == 0


@pytest.mark.slow
def test_anonymous_is_refused_before_the_upgrade(live):
    with pytest.raises(HandshakeRefused) as refused:
        live.connect()
    assert refused.value.status_code == 401


@pytest.mark.slow
def test_wrong_or_missing_origin_is_refused_before_the_upgrade(live):
    cookie = live.login("alice")
    for origin in ("http://evil.example", None, "null"):
        with pytest.raises(HandshakeRefused) as refused:
            live.connect(cookie, origin=origin)
        assert refused.value.status_code == 403, origin
    for origin in ("same", PUBLIC_URL):                   # the same user, from our own pages
        assert receive(live.connect(cookie, origin=origin))["type"] == "snapshot"


@pytest.mark.slow
def test_an_agent_gets_its_snapshot_then_pong_and_errors_on_one_connection(live, database):
    live.server.wait_for(r"switch link up")
    ws = live.connect(live.login("alice"))
    snapshot = receive(ws)
    assert snapshot["type"] == "snapshot" and isinstance(snapshot["seq"], int)
    assert isinstance(snapshot["agents"], list) and isinstance(snapshot["calls"], list)
    assert snapshot["switch"] == {"connected": True}      # the page's banner stays hidden
    assert snapshot["agents"][0]["status"] == "on_break"  # logged in: not ready for the queue
    with database.session() as s:
        alice = s.scalar(select(Agent.id).join(User).where(User.username == "alice"))
    live.server.wait_for(rf"live: alice \(agent {alice}\) connected; 1 subscribed")

    ws.send(json.dumps({"type": "ping"}))
    assert receive_reply(ws) == {"type": "pong"}
    for frame in ("not json", "[1]", '{"type": "dial", "number": "5551234"}', b"\x00"):
        ws.send(frame)
        reply = receive_reply(ws)
        assert reply["type"] == "error" and reply["error"], frame
    ws.send('{"type": "ping"}')
    assert receive_reply(ws) == {"type": "pong"}          # the connection was kept


@pytest.mark.slow
def test_supervisors_and_admins_get_the_whole_snapshot(live):
    for username, role in (("sam", "supervisor"), ("root", "admin")):
        ws = live.connect(live.login(username))
        snapshot = receive(ws)
        assert snapshot["type"] == "snapshot" and set(snapshot) >= {"seq", "agents", "calls"}
        live.server.wait_for(rf"live: {username} \({role}\) connected")


@pytest.mark.slow
def test_deltas_reach_the_agent_concerned_and_supervisors_only(live, database):
    alice, bob, sam = (live.connect(live.login(name)) for name in ("alice", "bob", "sam"))
    snapshots = [receive(ws) for ws in (alice, bob, sam)]
    assert {s["type"] for s in snapshots} == {"snapshot"}
    with database.session() as s:
        ids = dict(s.execute(select(User.username, Agent.id).join(Agent.user)).all())

    live.api("alice", "PUT", "/api/agents/me/status", {"status": "available"})
    live.api("bob", "PUT", "/api/agents/me/status", {"status": "available"})   # was On break

    alices = next_delta(alice)
    assert alices["type"] == "agent" and alices["seq"] > snapshots[0]["seq"]
    assert (alices["agent"]["id"], alices["agent"]["status"]) == (ids["alice"], "available")
    bobs = next_delta(bob)                   # not alice's: bob's page never sees hers
    assert (bobs["agent"]["id"], bobs["agent"]["status"]) == (ids["bob"], "available")
    assert bobs["seq"] > alices["seq"]
    assert [next_delta(sam)["seq"], next_delta(sam)["seq"]] == [alices["seq"], bobs["seq"]]


def next_delta(ws: Client) -> dict:
    """The next message from the hub about an agent."""
    while (message := receive(ws))["type"] != "agent":
        pass
    return message


@pytest.mark.slow
def test_an_agent_user_without_an_agent_record_is_told_why(live, database):
    cookie = live.login("alice")
    with database.session() as s:
        s.execute(delete(Agent).where(Agent.user_id == select(User.id).where(
            User.username == "alice").scalar_subquery()))
    ws = live.connect(cookie)
    with pytest.raises(ConnectionClosed) as closed:
        ws.receive(timeout=10)
    assert closed.value.reason == REFUSED and "no agent record" in closed.value.message


@pytest.mark.slow
def test_every_way_of_closing_leaves_no_subscription(live):
    alice, sam = live.login("alice"), live.login("sam")
    polite, dropped, supervisor = live.connect(alice), live.connect(alice), live.connect(sam)
    for ws in (polite, dropped, supervisor):
        assert receive(ws)["type"] == "snapshot"
    live.server.wait_for(r"live: .* connected; 3 subscribed")

    polite.close()                                   # a close frame
    live.server.wait_for(r"live: alice .* disconnected; 2 subscribed")
    dropped.sock.shutdown(socket.SHUT_RDWR)          # the network went away: no close frame
    live.server.wait_for(r"live: alice .* disconnected; 1 subscribed")
    supervisor.send("{")                             # malformed, then gone
    assert receive_reply(supervisor)["type"] == "error"
    supervisor.close()
    live.server.wait_for(r"live: sam .* disconnected; 0 subscribed")


@pytest.mark.slow
def test_the_server_ends_the_connection_after_the_close_handshake(live):
    """A client waits for the server to close TCP after the close handshake (browsers, node);
    gevent's server would otherwise keep it open for another HTTP request."""
    host, port = live.base.removeprefix("http://").split(":")
    ws = WSConnection(ConnectionType.CLIENT)
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(ws.send(Request(host=f"{host}:{port}", target="/live", extra_headers=[
            ("Cookie", live.login("alice")), ("Origin", live.origin)])))
        events = read_events(raw, ws, until=TextMessage)
        assert isinstance(events[0], AcceptConnection)
        raw.sendall(ws.send(CloseConnection(code=1000)))
        events = read_events(raw, ws, until=None)        # to the end of the stream, or timeout
    assert any(isinstance(e, CloseConnection) for e in events)


def read_events(raw: socket.socket, ws: WSConnection, until) -> list:
    events = []
    while True:
        data = raw.recv(65536)              # socket.timeout fails the test: nothing came
        ws.receive_data(data or None)
        events.extend(ws.events())
        if not data or (until is not None and any(isinstance(e, until) for e in events)):
            return events


def closed_as_signed_out(ws: Client) -> ConnectionClosed:
    """Read past any messages until the server closes the socket; how it closed."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            assert ws.receive(timeout=10) is not None, "the socket was not closed"
    return closed.value


def user_id(database, username: str) -> int:
    with database.session() as s:
        return s.scalar(select(User.id).where(User.username == username))


@pytest.mark.slow
def test_logout_closes_the_sockets_of_that_login_only(live):
    here, there = live.browser("alice"), live.browser("alice")
    mine, other = live.connect(here.cookie), live.connect(there.cookie)
    for ws in (mine, other):
        assert receive(ws)["type"] == "snapshot"
    assert "/login" in here.post("/logout")
    closed = closed_as_signed_out(mine)
    assert (closed.reason, closed.message) == (SIGNED_OUT, "signed out: log in again")
    other.send('{"type": "ping"}')
    assert receive_reply(other) == {"type": "pong"}          # the other login goes on
    with pytest.raises(HandshakeRefused) as refused:         # the copied cookie is dead
        live.connect(here.cookie)
    assert refused.value.status_code == 401


@pytest.mark.slow
def test_deactivation_closes_the_agents_sockets(live, database):
    bob = live.connect(live.login("bob"))
    assert receive(bob)["type"] == "snapshot"
    live.browser("root").post(f"/admin/users/{user_id(database, 'bob')}/active", {"active": "0"})
    assert closed_as_signed_out(bob).reason == SIGNED_OUT
    live.server.wait_for(r"live: bob .* disconnected")


@pytest.mark.slow
def test_sign_out_everywhere_closes_every_socket_of_the_user(live, database):
    admin = live.browser("root")
    watching = live.connect(admin.cookie)
    sams = [live.connect(live.login("sam")) for _ in range(2)]
    for ws in (watching, *sams):
        assert receive(ws)["type"] == "snapshot"
    admin.post(f"/admin/users/{user_id(database, 'sam')}/signout")
    for ws in sams:
        assert closed_as_signed_out(ws).reason == SIGNED_OUT
    watching.send('{"type": "ping"}')
    assert receive_reply(watching) == {"type": "pong"}


# --- the page's client, static/live.js, run by node -----------------------------------------

CLIENT_CHECKS = Path(__file__).with_name("live_client.mjs")


@functools.cache
def node(websocket: bool = False) -> list[str]:
    path = shutil.which("node")
    if path is None:
        pytest.skip("node is not installed (the SIP.js build needs it too)")
    if not websocket:
        return [path]
    probe = "process.stdout.write(typeof WebSocket)"
    for command in ([path], [path, "--experimental-websocket"]):
        found = subprocess.run([*command, "-e", probe], capture_output=True, text=True)
        if found.stdout == "function":
            return command
    pytest.skip("this node has no WebSocket (node 20.10 or newer has one)")


def run_node(command: list[str], *args: str, env: dict | None = None) -> str:
    done = subprocess.run([*command, str(CLIENT_CHECKS), *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_page_client_logic():
    passed = run_node(node(), "logic").split()
    assert passed.count("ok") == 10 and "a_signed_out_close_goes_to_the_login_page" in passed
    assert "the_tab_coming_back_or_the_network_retries_at_once" in passed


@pytest.mark.slow
def test_the_page_client_gets_a_snapshot_and_closes_cleanly(live):
    passed = run_node(node(websocket=True), "e2e", env={
        "LIVE_URL": live.url, "COOKIE": live.login("alice"), "ORIGIN": live.origin})
    assert passed.split() == ["ok", "e2e_snapshot"]
