"""The live socket `/live`: a browser's WebSocket onto the live hub (flask-sock).

The web session authenticates it, or a wall display's token (its cookie, see displays.py):
a display hears read-only topics only, each queue's row and today's figures. A handshake is a
GET, so no CSRF token protects it; the Origin header does instead: a page on another site could
otherwise open the socket with the user's cookie (cross-site WebSocket hijacking). Both are
checked before the upgrade, in `refuse_before_upgrade`, because flask-sock upgrades before it
calls the view.

Frames: the server sends JSON text, a snapshot first and then deltas, each with `seq`. The
client may send `{"type": "ping"}` (answered `{"type": "pong"}`); any other frame is answered
with `{"type": "error", "error": ...}` and the connection stays open. A close with code
`REFUSED` (4403) is final: reconnecting cannot help (an agent user with no agent record); so is
`SIGNED_OUT` (4401): the socket's login ended (logout, sign-out everywhere, deactivation,
expiry), and the page goes to the login page.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextlib import contextmanager
from urllib.parse import urlsplit

import gevent
from flask import Blueprint, current_app, g, jsonify, request
from flask_sock import Sock
from gevent.lock import Semaphore
from simple_websocket import ConnectionClosed
from sqlalchemy import select
from wsproto.frame_protocol import CloseReason

from ..credentials import Credentials, Owner, keep_alive_while_open
from ..live import Hub, Subscription, encode, queue_topic
from ..models import Agent, Queue, Role
from ..switchboard.figures_feed import TOPIC as FIGURES_TOPIC
from .access import Access, access_of

log = logging.getLogger(__name__)

bp = Blueprint("live", __name__)
sock = Sock()

LIVE_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})
PING_INTERVAL = 25.0        # the server pings; a client that stops answering is dropped
SEND_TIMEOUT = 30.0         # a client that reads nothing for this long is dropped
MAX_CLIENT_FRAME = 4096     # clients only send pings
REFUSED = 4403              # close code: this user cannot have a live view (do not retry)
SIGNED_OUT = 4401           # close code: the socket's login ended (log in again, do not retry)


@bp.record_once
def _socket_options(state) -> None:
    state.app.config.setdefault("SOCK_SERVER_OPTIONS", {
        "ping_interval": PING_INTERVAL, "max_message_size": MAX_CLIENT_FRAME})


def live_session(view: Callable) -> Callable:
    """Declares a live route's access: a web session of any role, or a display token.
    `refuse_before_upgrade` enforces it (and the Origin) for every route of this blueprint."""
    view.access = Access("session", LIVE_ROLES, displays=True)
    return view


@bp.before_request
def refuse_before_upgrade():
    user = g.get("user")
    g.live_display = g.live_topics = None
    if user is None:
        g.live_display = _display()
        if g.live_display is None:
            return jsonify(error="log in first"), 401
    elif user.role not in access_of(current_app, request.endpoint).roles:
        return jsonify(error="your role may not open the live socket"), 403
    settings = current_app.extensions["callcenter"].settings
    if not origin_allowed(request.headers.get("Origin"), settings.public_url, request.host_url):
        return jsonify(error="the live socket accepts only this site's own pages "
                             "(Origin header missing or foreign)"), 403
    # Whose view: looked up before the upgrade, so a database error is still an HTTP answer.
    g.live_agent_id = None
    if g.live_display is not None:
        g.live_topics = display_topics(current_app.extensions["callcenter"].db_session())
    elif user.role is Role.AGENT:
        g.live_agent_id = current_app.extensions["callcenter"].db_session().scalar(
            select(Agent.id).where(Agent.user_id == user.id))
    return None


def _display():
    from ..displays import COOKIE, valid

    token = request.cookies.get(COOKIE)
    if token is None:
        return None
    return valid(current_app.extensions["callcenter"].db_session(), token)


def display_topics(session) -> frozenset[str]:
    """A wall display hears every queue's row and today's figures: nothing else."""
    ids = session.scalars(select(Queue.id)).all()
    return frozenset({FIGURES_TOPIC, *(queue_topic(queue_id) for queue_id in ids)})


def origin_allowed(origin: str | None, public_url: str, host_url: str) -> bool:
    """True when the browser says the page came from our public URL or from the host it asked."""
    sender = _origin(origin or "")
    return sender is not None and sender in (_origin(public_url), _origin(host_url))


def _origin(url: str) -> str | None:
    """scheme://host[:port], the way browsers write an Origin (default port left out)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if port is None or port == {"http": 80, "https": 443}[parts.scheme]:
        return f"{parts.scheme}://{parts.hostname}"
    return f"{parts.scheme}://{parts.hostname}:{port}"


@bp.get("/live", endpoint="not_upgraded")
@live_session
def not_upgraded():
    """A plain GET of /live (no Upgrade header) ends here, beside the WebSocket rule."""
    return (jsonify(error="/live is a WebSocket: open it with new WebSocket(...)"), 426,
            {"Upgrade": "websocket", "Connection": "Upgrade"})


def live_hub() -> Hub:
    services = current_app.extensions["callcenter"]
    if services.hub is None:
        # Until `serve` wires the switchboard's hub into Services: a hub with empty snapshots.
        services.hub = Hub()
    return services.hub


@live_session
def live_socket(ws) -> None:
    try:
        _serve(ws)
    finally:
        _end_http_connection()


def _serve(ws) -> None:
    if g.live_display is not None:
        _serve_display(ws, g.live_display, g.live_topics)
        return
    user, agent_id, login = g.user, g.live_agent_id, g.login_key
    who = (f"{user.username} (agent {agent_id})" if agent_id
           else f"{user.username} ({user.role.value})")
    # A socket lives for hours: hold no pooled database connection meanwhile.
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()
    if user.role is Role.AGENT and agent_id is None:
        ws.close(REFUSED, "this user has no agent record (no extension): ask an admin to add one")
        return
    hub = live_hub()
    subscription = hub.subscribe(agent_id)
    log.info("live: %s connected; %d subscribed", who, hub.subscribers)
    live = LiveSocket(ws, subscription)
    # Ending the login closes this socket; while it is open, the login does not idle out.
    forget = current_app.extensions["callcenter"].sessions.sockets.add(login, user.id,
                                                                       live.sign_out)
    keeper = _keep_softphone_alive(agent_id, user)
    try:
        live.run()
    finally:
        forget()
        if keeper is not None:
            keeper.stop()
        subscription.close()
        log.info("live: %s disconnected; %d subscribed", who, hub.subscribers)


def _serve_display(ws, display, topics: frozenset[str]) -> None:
    """A wall display: read-only topics; revoking its token closes it (as signed out)."""
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()
    services = current_app.extensions["callcenter"]
    hub = live_hub()
    subscription = hub.subscribe(topics=topics)
    log.info("live: display %d (%s) connected; %d subscribed", display.id, display.name,
             hub.subscribers)
    live = LiveSocket(ws, subscription)
    forget = services.display_sockets.add(display_key(display.id), 0, live.sign_out)
    try:
        live.run()
    finally:
        forget()
        subscription.close()
        log.info("live: display %d disconnected; %d subscribed", display.id, hub.subscribers)


def display_key(display_id: int) -> str:
    return f"display:{display_id}"


sock.route("/live", bp=bp, endpoint="socket")(live_socket)


def _keep_softphone_alive(agent_id: int | None, user):
    """While an agent's (or a supervisor's) page is open, its SIP credential does not
    expire."""
    if agent_id is not None:
        owner = Owner(agent_id=agent_id)
    elif user.extension:
        owner = Owner(user_id=user.id)
    else:
        return None
    services = current_app.extensions["callcenter"]
    credentials = Credentials.of(services.settings, services.switchboard)
    return keep_alive_while_open(credentials, services.db, owner)


def _end_http_connection() -> None:
    """After a WebSocket, gevent's server would wait on the connection for another HTTP request,
    and a client waiting for the server to close TCP after the close handshake would hang. A
    closed request stream tells gevent to close the connection instead."""
    if not request.environ.get("SERVER_SOFTWARE", "").startswith("gevent"):
        return
    stream = request.environ.get("wsgi.input")
    stream = getattr(stream, "rfile", stream)      # gevent's Input, or its rfile itself
    if stream is not None:
        stream.close()


class LiveSocket:
    """One connection: this greenlet sends the subscription's messages, a second one reads and
    answers the client's frames. Either side ending closes the subscription."""

    def __init__(self, ws, subscription: Subscription) -> None:
        self.ws = ws
        self.subscription = subscription
        self._sending = Semaphore()          # two greenlets send; frames must not interleave
        self._signed_out = False
        ws.sock = _WholeSends(ws.sock, SEND_TIMEOUT)

    def sign_out(self) -> None:
        """The login ended (called from another greenlet): the sender stops and closes the
        socket with SIGNED_OUT, so the page goes to log in instead of reconnecting."""
        self._signed_out = True
        self.subscription.close()

    def run(self) -> None:
        reader = gevent.spawn(self._read)
        try:
            while (message := self.subscription.get()) is not None:
                # One change publishes several messages in one hub turn (an agent, then its
                # queues' coalesced rows a callback later): let the turn finish, then send what
                # has queued as one write. Each message stays a frame of its own (same seqs);
                # the socket costs one system call per turn instead of one per message.
                gevent.sleep(0)
                self._send_all([message, *self.subscription.take_queued()])
            if self._signed_out:
                self._close(SIGNED_OUT, "signed out: log in again")
        except (ConnectionClosed, OSError):
            pass
        except Exception:
            log.exception("live: could not send the live view")
            self._close(CloseReason.INTERNAL_ERROR, "the server could not build your live view")
        finally:
            self.subscription.close()
            reader.kill(block=False)

    def _read(self) -> None:
        try:
            while True:
                frame = self.ws.receive()
                if frame is not None:
                    self._send(encode(answer(frame)))
        except (ConnectionClosed, OSError):
            pass
        finally:
            self.subscription.close()       # wakes the sender, which then returns

    def _send(self, text: str) -> None:
        with self._sending:
            self.ws.send(text)

    def _send_all(self, messages: list) -> None:
        with self._sending, self.ws.sock.together():
            for message in messages:
                self.ws.send(encode(message))

    def _close(self, reason: int, message: str) -> None:
        try:
            with self._sending:
                self.ws.close(reason, message)
        except (ConnectionClosed, OSError):
            pass


def answer(frame: str | bytes) -> dict:
    """The reply to one client frame."""
    if isinstance(frame, bytes):
        return _error('binary frames are not accepted: send JSON text like {"type": "ping"}')
    try:
        data = json.loads(frame)
    except ValueError:
        return _error('frame is not JSON: send {"type": "ping"}')
    if not isinstance(data, dict):
        return _error('a frame must be a JSON object like {"type": "ping"}')
    if data.get("type") == "ping":
        return {"type": "pong"}
    return _error(f"unknown frame type {data.get('type')!r}: the live socket accepts only ping")


def _error(text: str) -> dict:
    return {"type": "error", "error": text}


class _WholeSends:
    """simple_websocket writes a frame with one socket.send(); under gevent that may write only
    part of a large frame (a snapshot) to a slow client and corrupt the stream. Send it whole,
    and give up on a client that has read nothing for `timeout` seconds."""

    def __init__(self, sock, timeout: float) -> None:
        self._sock = sock
        self._timeout = timeout
        self._held: list[bytes] | None = None

    def send(self, data: bytes) -> int:
        if self._held is not None:
            self._held.append(data)
            return len(data)
        with gevent.Timeout(self._timeout, OSError("the client stopped reading")):
            self._sock.sendall(data)
        return len(data)

    @contextmanager
    def together(self):
        """Frames sent inside are written at once when it ends: one system call for a turn's
        messages (each still a whole frame). Frames are held only while inside."""
        self._held = []
        try:
            yield
        finally:
            held, self._held = self._held, None
        if held:
            self.send(b"".join(held))

    def __getattr__(self, name: str):
        return getattr(self._sock, name)
