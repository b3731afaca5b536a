"""A small SIP-over-WebSocket endpoint (RFC 7118) standing in for FreeSWITCH's wss-binding in
browser tests: a registrar that challenges REGISTER with an MD5 digest (401) and checks the
answer against the a1-hash a lookup gives (the controller's mod_xml_curl directory, as
FreeSWITCH does), and a caller that sends INVITE / ACK / BYE to a registered softphone.

    endpoint = SipWsEndpoint(realm="pbx.example.test", a1_of=lambda user, realm: "...")
    url = endpoint.start()                      # ws://127.0.0.1:PORT/
    binding = endpoint.wait_registered("1000")
    call = endpoint.invite("1000", offer_sdp, auto_answer=True)
    answer = call.final()                       # a SipMessage: 200 with the SDP answer
    call.ack(); call.bye()

One thread accepts, one thread per connection reads (wsproto, sans-IO, under plain sockets);
the pytest thread sends INVITEs and waits on queues and a condition, never on sleeps.
`register()` is a one-shot SIP client for the "old credentials are refused" check.

A website visitor's INVITE (the widget's guest call, sent with no REGISTER) is challenged with
407, its digest checked with the same lookup, and kept in `guests` (`wait_guest()`).
"""

from __future__ import annotations

import hashlib
import queue
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)

from callcenter.sim.sip import sdp_answer

COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact",
           "l": "content-length", "c": "content-type", "k": "supported"}
SPELLED = {"call-id": "Call-ID", "cseq": "CSeq", "www-authenticate": "WWW-Authenticate",
           "proxy-authenticate": "Proxy-Authenticate"}
REASONS = {100: "Trying", 180: "Ringing", 200: "OK", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 407: "Proxy Authentication Required",
           481: "Call/Transaction Does Not Exist", 487: "Request Terminated"}


def md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def a1_hash(user: str, realm: str, password: str) -> str:
    return md5(f"{user}:{realm}:{password}")


def token() -> str:
    return secrets.token_hex(8)


# -- messages --------------------------------------------------------------------------------------

@dataclass
class SipMessage:
    start: str                                   # "INVITE sip:... SIP/2.0" or "SIP/2.0 200 OK"
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str = ""

    @classmethod
    def parse(cls, text: str) -> SipMessage:
        head, _, body = text.partition("\r\n\r\n")
        start, *lines = head.split("\r\n")
        headers = []
        for line in lines:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            headers.append((COMPACT.get(name, name), value.strip()))
        return cls(start, headers, body)

    @property
    def is_response(self) -> bool:
        return self.start.startswith("SIP/2.0 ")

    @property
    def status(self) -> int:
        return int(self.start.split()[1]) if self.is_response else 0

    @property
    def method(self) -> str:
        return self.start.split()[0] if not self.is_response else self.header("cseq").split()[1]

    def header(self, name: str, default: str = "") -> str:
        return next((v for n, v in self.headers if n == name.lower()), default)

    def all(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n == name.lower()]

    def text(self) -> str:
        lines = [self.start, *(f"{SPELLED.get(n, n.title())}: {v}" for n, v in self.headers
                               if n != "content-length")]
        lines.append(f"Content-Length: {len(self.body.encode())}")
        return "\r\n".join(lines) + "\r\n\r\n" + self.body


def response_to(request: SipMessage, status: int, *extra: tuple[str, str],
                to_tag: str | None = None, reason: str | None = None) -> SipMessage:
    to = request.header("to")
    if to_tag and ";tag=" not in to:
        to += f";tag={to_tag}"
    headers = [*(("via", v) for v in request.all("via")), ("from", request.header("from")),
               ("to", to), ("call-id", request.header("call-id")), ("cseq", request.header("cseq")),
               *extra]
    return SipMessage(f"SIP/2.0 {status} {reason or REASONS.get(status, 'Unknown')}", headers)


def uri_of(name_addr: str) -> str:
    """The URI inside `"Name" <sip:...>;params` (or a bare URI)."""
    found = re.search(r"<([^>]*)>", name_addr)
    return found.group(1) if found else name_addr.split(";")[0].strip()


def user_of(name_addr: str) -> str:
    return uri_of(name_addr).split(":", 1)[-1].split("@")[0]


def tag_of(name_addr: str) -> str:
    found = re.search(r";\s*tag=([^;,\s]+)", name_addr)
    return found.group(1) if found else ""


def digest_fields(value: str) -> dict[str, str]:
    scheme, _, rest = value.partition(" ")
    if scheme.lower() != "digest":
        return {}
    return {k.lower(): v1 if v1 else v2
            for k, v1, v2 in re.findall(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))', rest)}


def digest_response(a1: str, method: str, fields: dict[str, str]) -> str:
    ha2 = md5(f"{method}:{fields.get('uri', '')}")
    if fields.get("qop"):
        return md5(f"{a1}:{fields.get('nonce')}:{fields.get('nc')}:{fields.get('cnonce')}:"
                   f"{fields.get('qop')}:{ha2}")
    return md5(f"{a1}:{fields.get('nonce')}:{ha2}")


# -- the endpoint ----------------------------------------------------------------------------------

@dataclass
class Registration:
    """One REGISTER the endpoint answered."""
    user: str
    status: int
    why: str                  # "challenged", "accepted", "unregistered", or why it was refused
    expires: int = 0
    contact: str = ""


@dataclass
class Binding:
    user: str
    contact: str              # the softphone's Contact URI: where INVITEs go
    connection: Connection


@dataclass
class GuestInvite:
    """A website visitor's INVITE that answered the digest challenge."""
    invite: SipMessage
    user: str                 # the digest's username
    connection: Connection
    digest_ok: bool
    tag: str = field(default_factory=lambda: token())
    ended_by_browser: threading.Event = field(default_factory=threading.Event)

    def bye(self) -> None:
        """The far end hangs up: BYE to the browser's Contact."""
        invite = self.invite
        self.connection.send(SipMessage(f"BYE {uri_of(invite.header('contact'))} SIP/2.0", [
            ("via", f"SIP/2.0/WS endpoint.invalid;branch=z9hG4bK{token()}"),
            ("max-forwards", "70"), ("from", f"{invite.header('to')};tag={self.tag}"),
            ("to", invite.header("from")), ("call-id", invite.header("call-id")),
            ("cseq", "1 BYE")]))


class Connection:
    """One WebSocket carrying SIP: reads on its own thread, sends under a lock."""

    def __init__(self, endpoint: SipWsEndpoint, sock: socket.socket) -> None:
        self.endpoint = endpoint
        self.sock = sock
        self.ws = WSConnection(ConnectionType.SERVER)
        self.lock = threading.Lock()
        self.open = True

    def send(self, message: SipMessage) -> None:
        with self.lock:
            self.sock.sendall(self.ws.send(TextMessage(data=message.text())))

    def run(self) -> None:
        text = ""
        try:
            while self.open:
                data = self.sock.recv(65536)
                if not data:
                    break
                self.ws.receive_data(data)
                for event in self.ws.events():
                    if isinstance(event, Request):
                        with self.lock:
                            if "sip" in event.subprotocols:   # RFC 7118: the "sip" subprotocol
                                self.sock.sendall(self.ws.send(AcceptConnection(subprotocol="sip")))
                            else:
                                self.sock.sendall(self.ws.send(RejectConnection(status_code=400)))
                                return
                    elif isinstance(event, TextMessage):
                        text += event.data
                        if event.message_finished:
                            if text.strip():               # CRLF keep-alives carry nothing
                                self.endpoint.received(self, SipMessage.parse(text))
                            text = ""
                    elif isinstance(event, Ping):
                        with self.lock:
                            self.sock.sendall(self.ws.send(event.response()))
                    elif isinstance(event, CloseConnection):
                        with self.lock:
                            self.sock.sendall(self.ws.send(event.response()))
                        return
        except OSError:
            pass
        finally:
            self.open = False
            self.sock.close()
            self.endpoint.closed(self)


class SipWsEndpoint:
    def __init__(self, realm: str, a1_of: Callable[[str, str], str | None] | None = None,
                 host: str = "127.0.0.1") -> None:
        self.realm = realm
        self.a1_of = a1_of            # (user, realm) -> a1-hash, or None: not in the directory
        self.host = host
        self.port = 0
        self.registrations: list[Registration] = []
        self.bindings: dict[str, Binding] = {}
        self.requests: list[SipMessage] = []     # every request the softphones sent
        self.calls: dict[str, Call] = {}
        self.nonces: set[str] = set()
        self.changed = threading.Condition()
        self.connections: list[Connection] = []
        self.listener: socket.socket | None = None
        self.answer_unregister = True   # False: a phone server that never answers an unREGISTER
        self.guests: dict[str, GuestInvite] = {}   # website visitors' INVITEs, by Call-ID
        self.answer_guests = True       # False: a visitor's call rings and is never answered
        self.guest_answer = sdp_answer  # the SDP answer to a visitor's offer

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/"

    def start(self) -> str:
        self.listener = socket.create_server((self.host, 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, name="sipws-accept", daemon=True).start()
        return self.url

    def stop(self) -> None:
        if self.listener is not None:
            self.listener.close()
        for connection in list(self.connections):
            connection.open = False
            try:
                connection.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            connection = Connection(self, sock)
            with self.changed:
                self.connections.append(connection)
            threading.Thread(target=connection.run, name="sipws-conn", daemon=True).start()

    def closed(self, connection: Connection) -> None:
        with self.changed:
            self.connections.remove(connection)
            for user, binding in list(self.bindings.items()):
                if binding.connection is connection:
                    del self.bindings[user]
            self.changed.notify_all()

    def wait(self, predicate: Callable[[], object], timeout: float = 15.0, what: str = ""):
        """Block until `predicate()` is true (checked at every change)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not (result := predicate()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out waiting for {what or predicate}; "
                                         f"registrations: {self.registrations}")
                self.changed.wait(remaining)
            return result

    def wait_registered(self, user: str, timeout: float = 15.0) -> Binding:
        return self.wait(lambda: self.bindings.get(user), timeout, f"{user} registered")

    # -- what the softphones send ------------------------------------------------------------

    def received(self, connection: Connection, message: SipMessage) -> None:
        if message.is_response:
            call = self.calls.get(message.header("call-id"))
            if call is not None:
                call.responses.put(message)
            return
        with self.changed:
            self.requests.append(message)
            self.changed.notify_all()
        if message.method == "REGISTER":
            if (reply := self._register(connection, message)) is not None:
                connection.send(reply)
        elif message.method == "INVITE":
            self._guest_invite(connection, message)
        elif message.method == "BYE":
            call = self.calls.get(message.header("call-id"))
            guest = self.guests.get(message.header("call-id"))
            connection.send(response_to(message, 200 if call or guest else 481))
            if call is not None:
                call.ended_by_phone.set()
            if guest is not None:
                guest.ended_by_browser.set()
        elif message.method == "CANCEL":
            guest = self.guests.get(message.header("call-id"))
            connection.send(response_to(message, 200 if guest else 481))
            if guest is not None:
                connection.send(response_to(guest.invite, 487, to_tag=guest.tag))
                guest.ended_by_browser.set()
        elif message.method in ("OPTIONS", "ACK"):
            if message.method == "OPTIONS":
                connection.send(response_to(message, 200))
        else:
            connection.send(response_to(message, 405))

    def _register(self, connection: Connection, request: SipMessage) -> SipMessage | None:
        user = user_of(request.header("to"))
        contact = request.header("contact")
        expires = re.search(r";\s*expires=(\d+)", contact)
        seconds = int(expires.group(1) if expires else request.header("expires", "3600"))
        if seconds == 0 and not self.answer_unregister:
            self._note(Registration(user, 0, "unREGISTER left unanswered"))
            return None
        fields = digest_fields(request.header("authorization"))
        if not fields or fields.get("nonce") not in self.nonces:
            nonce = token()
            self.nonces.add(nonce)
            self._note(Registration(user, 401, "challenged"))
            return response_to(request, 401, ("www-authenticate", f'Digest realm="{self.realm}", '
                                              f'nonce="{nonce}", algorithm=MD5, qop="auth"'))
        a1 = self.a1_of(fields.get("username", ""), fields.get("realm", "")) \
            if self.a1_of and fields.get("realm") == self.realm else None
        if fields.get("username") != user:
            why = f"digest username {fields.get('username')!r} is not the To user {user!r}"
        elif a1 is None:
            why = "not in the directory"
        elif fields.get("response") != digest_response(a1, "REGISTER", fields):
            why = "wrong digest"
        else:
            why = ""
        if why:
            self._note(Registration(user, 403, why))
            return response_to(request, 403, reason=f"Forbidden ({why})")
        with self.changed:
            if seconds:
                self.bindings[user] = Binding(user, uri_of(contact), connection)
            else:
                self.bindings.pop(user, None)
        self._note(Registration(user, 200, "accepted" if seconds else "unregistered", seconds,
                                uri_of(contact)))
        bare = re.sub(r";\s*expires=\d+", "", contact)
        return response_to(request, 200, ("contact", f"{bare};expires={seconds}"),
                           ("expires", str(seconds)), to_tag=token())

    def _guest_invite(self, connection: Connection, invite: SipMessage) -> None:
        """A website visitor's INVITE (no REGISTER first): challenged with 407; the answer's
        digest is checked with `a1_of` and the call kept in `guests`; answered at once with
        200 and an SDP answer (no media flows) when `answer_guests`, else left ringing."""
        fields = digest_fields(invite.header("proxy-authorization"))
        realm = uri_of(invite.start.split()[1]).split("@")[-1].split(";")[0]
        if not fields or fields.get("nonce") not in self.nonces:
            nonce = token()
            self.nonces.add(nonce)
            connection.send(response_to(invite, 407, ("proxy-authenticate",
                                                      f'Digest realm="{realm}", nonce="{nonce}", '
                                                      'algorithm=MD5, qop="auth"'),
                                        to_tag=token()))
            return
        a1 = self.a1_of(fields.get("username", ""), realm) if self.a1_of else None
        guest = GuestInvite(invite, fields.get("username", ""), connection,
                            a1 is not None and fields.get("response")
                            == digest_response(a1, "INVITE", fields))
        if not guest.digest_ok:
            connection.send(response_to(invite, 403, to_tag=guest.tag))
        elif self.answer_guests:
            ok = response_to(invite, 200, ("contact", f"<sip:call@{self.host}:{self.port};"
                                                      "transport=ws>"),
                             ("content-type", "application/sdp"), to_tag=guest.tag)
            ok.body = self.guest_answer(invite.body)
            connection.send(ok)
        else:
            connection.send(response_to(invite, 180, to_tag=guest.tag))
        with self.changed:       # once answered: a BYE the test sends now follows the 200
            self.guests[invite.header("call-id")] = guest
            self.changed.notify_all()

    def wait_guest(self, timeout: float = 15.0) -> GuestInvite:
        """The first website visitor's INVITE that answered the challenge."""
        return self.wait(lambda: next(iter(self.guests.values()), None), timeout, "a guest INVITE")

    def _note(self, registration: Registration) -> None:
        with self.changed:
            self.registrations.append(registration)
            self.changed.notify_all()

    # -- calls to the softphones -----------------------------------------------------------

    def invite(self, user: str, sdp: str, *, auto_answer: bool) -> Call:
        """An INVITE with a real SDP offer to the user's registered softphone; with
        `auto_answer`, the controller's header (`Call-Info: <sip:DOMAIN>;answer-after=0`)."""
        binding = self.bindings.get(user)
        if binding is None:
            raise AssertionError(f"{user} is not registered here")
        call = Call(self, binding, user)
        extra = [("call-info", f"<sip:{self.realm}>;answer-after=0")] if auto_answer else []
        call.send_request("INVITE", *extra, ("content-type", "application/sdp"), body=sdp,
                          branch=call.invite_branch)
        return call


class Call:
    """One INVITE dialog the endpoint started (the endpoint is the UAC)."""

    def __init__(self, endpoint: SipWsEndpoint, binding: Binding, user: str) -> None:
        self.endpoint = endpoint
        self.binding = binding
        self.call_id = token()
        self.from_tag = token()
        self.to = f"<sip:{user}@{endpoint.realm}>"
        self.invite_branch = "z9hG4bK" + token()
        self.cseq = 1
        self.remote_target = binding.contact
        self.to_tag = ""
        self.responses: queue.Queue[SipMessage] = queue.Queue()
        self.provisional: list[SipMessage] = []
        self.ended_by_phone = threading.Event()
        endpoint.calls[self.call_id] = self

    def send_request(self, method: str, *extra: tuple[str, str], body: str = "",
                     branch: str | None = None, cseq: int | None = None) -> None:
        to = self.to + (f";tag={self.to_tag}" if self.to_tag else "")
        uri = self.binding.contact if method == "INVITE" else self.remote_target
        headers = [("via", f"SIP/2.0/WS {self.endpoint.host}:{self.endpoint.port};"
                           f"branch={branch or 'z9hG4bK' + token()}"),
                   ("max-forwards", "70"),
                   ("from", f"<sip:callcenter@{self.endpoint.realm}>;tag={self.from_tag}"),
                   ("to", to), ("call-id", self.call_id),
                   ("cseq", f"{cseq or self.cseq} {method}"),
                   ("contact", f"<sip:callcenter@{self.endpoint.host}:{self.endpoint.port};"
                               "transport=ws>"),
                   *extra]
        self.binding.connection.send(SipMessage(f"{method} {uri} SIP/2.0", headers, body))

    def next_response(self, timeout: float) -> SipMessage:
        try:
            return self.responses.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no response to call {self.call_id} within {timeout} s; "
                                 f"provisional: {[r.start for r in self.provisional]}") from None

    def final(self, timeout: float = 15.0) -> SipMessage:
        """The INVITE's final response (provisional ones are kept in `provisional`)."""
        while True:
            response = self.next_response(timeout)
            if response.method != "INVITE":
                continue
            if response.status < 200:
                self.provisional.append(response)
                continue
            self.to_tag = tag_of(response.header("to"))
            if response.status < 300 and response.header("contact"):
                self.remote_target = uri_of(response.header("contact"))
            if response.status >= 300:
                # ACK for a non-2xx answer belongs to the INVITE transaction (same branch).
                self.send_request("ACK", branch=self.invite_branch, cseq=1)
            return response

    def wait_provisional(self, status: int, timeout: float = 15.0) -> SipMessage:
        """Block until a provisional response (e.g. 180 Ringing) to the INVITE came."""
        while True:
            for response in self.provisional:
                if response.status == status:
                    return response
            response = self.next_response(timeout)
            if response.status >= 200:
                self.responses.put(response)     # leave the final one for final()
                raise AssertionError(f"final {response.start} before a {status}")
            self.provisional.append(response)

    def ack(self) -> None:
        """The ACK for a 2xx: a transaction of its own, to the phone's Contact."""
        self.send_request("ACK", cseq=1)

    def bye(self, timeout: float = 10.0) -> SipMessage:
        self.cseq += 1
        self.send_request("BYE")
        while True:
            response = self.next_response(timeout)
            if response.method == "BYE" and response.status >= 200:
                return response


# -- a one-shot client ---------------------------------------------------------------------------

def register(url: str, user: str, domain: str, password: str, timeout: float = 10.0) -> SipMessage:
    """REGISTER `user@domain` over the WebSocket at `url`, answering one digest challenge with
    `password`; the final response."""
    from simple_websocket import Client

    ws = Client.connect(url, subprotocols=["sip"])
    try:
        call_id, tag, contact = token(), token(), f"<sip:{token()}@{token()}.invalid;transport=ws>"
        authorization: list[tuple[str, str]] = []
        for cseq in (1, 2):
            headers = [("via", f"SIP/2.0/WS {token()}.invalid;branch=z9hG4bK{token()}"),
                       ("max-forwards", "70"), ("from", f"<sip:{user}@{domain}>;tag={tag}"),
                       ("to", f"<sip:{user}@{domain}>"), ("call-id", call_id),
                       ("cseq", f"{cseq} REGISTER"), ("contact", contact), ("expires", "300"),
                       *authorization]
            ws.send(SipMessage(f"REGISTER sip:{domain} SIP/2.0", headers).text())
            reply = SipMessage.parse(ws.receive(timeout=timeout) or "")
            challenge = digest_fields(reply.header("www-authenticate"))
            if reply.status != 401 or authorization or not challenge:
                return reply
            fields = {"username": user, "realm": challenge["realm"], "nonce": challenge["nonce"],
                      "uri": f"sip:{domain}", "qop": "auth", "nc": "00000001", "cnonce": token()}
            fields["response"] = digest_response(a1_hash(user, challenge["realm"], password),
                                                 "REGISTER", fields)
            authorization = [("authorization", "Digest " + ", ".join(
                f'{k}={v}' if k in ("qop", "nc") else f'{k}="{v}"' for k, v in fields.items()))]
        return reply
    finally:
        ws.close()
