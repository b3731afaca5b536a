"""Website visitors' calls into the simulator: SIP over WebSocket (RFC 7118) the way
FreeSWITCH's internal profile takes a guest's INVITE (the widget's, callcenter/static/widget/).

- The INVITE is challenged (407, MD5 digest with qop=auth); the answer is checked against the
  controller's directory, asked over HTTP exactly as mod_xml_curl asks it (`section=directory`,
  `action=sip_auth`, `sip_auth_method=INVITE`, the guest user and realm). No user, or a wrong
  digest: 403.
- The user's variables put the call in its `user_context` (the shipped `guests` context):
  only `call` is a destination there (it parks, cc_queue already set); any other is 403.
- The call is then a parked inbound caller of the simulator (switch.inbound with the
  directory's variables: cc_queue, cc_channel=web, cc_widget, cc_guest), so the controller
  queues it like a DID call. When the switch answers the leg (the queue's answer, or a bridge
  to an agent), the browser gets 200 OK with an SDP answer (sip.py: no media flows).
- BYE or CANCEL from the browser hangs the leg up; a hangup on the switch's side (the agent,
  the controller) sends BYE, or a final error before the answer.

One greenlet per WebSocket; sockets are gevent's, so this runs on the simulator's hub whether
or not the process is monkey-patched (it is inside `callcenter serve`).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlencode
from xml.etree import ElementTree

import gevent
from gevent import socket
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from callcenter.sim.dialplan import post_form
from callcenter.sim.endpoints import Behaviour
from callcenter.sim.sip import (
    SipError,
    SipMessage,
    digest_fields,
    digest_response,
    md5,
    new_tag,
    response,
    sdp_answer,
    uri_of,
    user_host,
)

log = logging.getLogger(__name__)

DESTINATION = "call"           # the guests context's one extension
DIRECTORY_TIMEOUT_S = 3.0      # the shipped xml_curl binding's
# The SIP answer to an INVITE the switch hangs up before answering it, by hangup cause (as
# FreeSWITCH's hangup_cause_to_sip maps them); any other cause: 480.
SIP_STATUS = {"USER_BUSY": 486, "CALL_REJECTED": 603, "NO_ROUTE_DESTINATION": 404,
              "NORMAL_TEMPORARY_FAILURE": 503, "ORIGINATOR_CANCEL": 487}


@dataclass
class DirectoryUser:
    a1: str                          # md5(user:realm:password)
    variables: dict[str, str] = field(default_factory=dict)


class Directory:
    """The controller's directory, asked the way mod_xml_curl asks it for a digest check."""

    def __init__(self, url: str, user: str, password: str, hostname: str = "fs1") -> None:
        self.url, self.user, self.password, self.hostname = url, user, password, hostname

    def lookup(self, user: str, realm: str, call_id: str) -> DirectoryUser | None:
        form = [("hostname", self.hostname), ("section", "directory"), ("tag_name", "domain"),
                ("key_name", "name"), ("key_value", realm), ("Event-Name", "REQUEST_PARAMS"),
                ("action", "sip_auth"), ("sip_profile", "internal"), ("sip_user_agent", ""),
                ("sip_auth_username", user), ("sip_auth_realm", realm),
                ("sip_auth_method", "INVITE"), ("sip_request_host", realm),
                ("sip_call_id", call_id), ("user", user), ("domain", realm)]
        try:
            with gevent.Timeout(DIRECTORY_TIMEOUT_S):
                status, body = post_form(self.url, self.user, self.password,
                                         urlencode(form).encode())
        except (OSError, gevent.Timeout, ValueError) as exc:
            log.warning("guest directory lookup for %s failed: %s", user, exc or "timeout")
            return None
        return user_in(body, user, realm) if status == 200 else None


def user_in(document: bytes, user: str, realm: str) -> DirectoryUser | None:
    """The user entry of a directory document, as FreeSWITCH reads it (a1-hash or password,
    and the user's variables), or None."""
    try:
        root = ElementTree.fromstring(document)  # noqa: S314 - the controller's own answer
    except ElementTree.ParseError:
        return None
    entry = next((u for u in root.iter("user") if u.get("id") == user), None)
    if entry is None:
        return None
    params = {p.get("name"): p.get("value", "") for p in entry.iter("param")}
    variables = {v.get("name"): v.get("value", "") for v in entry.iter("variable")}
    if "a1-hash" in params:
        a1 = params["a1-hash"]
    elif "password" in params:
        a1 = md5(f"{user}:{realm}:{params['password']}")
    else:
        return None
    return DirectoryUser(a1, variables)


class GuestListener:
    """Accepts WebSocket connections carrying SIP from website visitors' browsers."""

    def __init__(self, switch, host: str = "127.0.0.1", port: int = 0) -> None:
        self.switch = switch
        self.host, self.port = host, port
        self.directory: Directory | None = None
        self.nonces: set[str] = set()
        self.dialogs: dict[str, GuestDialog] = {}       # by Call-ID
        self._listener: socket.socket | None = None
        self._greenlets: list[gevent.Greenlet] = []

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/"

    def ask_directory(self, url: str, user: str, password: str) -> None:
        self.directory = Directory(url, user, password)

    def start(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((self.host, self.port))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._greenlets.append(gevent.spawn(self._accept))

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
        gevent.killall(self._greenlets, block=False)

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            self._greenlets.append(gevent.spawn(SipSocket(self, sock).run))

    # -- requests ----------------------------------------------------------------------------

    def received(self, sipws: SipSocket, message: SipMessage) -> None:
        dialog = self.dialogs.get(message.header("call-id"))
        if message.is_response:
            return                       # the browser's 200 to our BYE: nothing to do
        method = message.method
        if method == "INVITE":
            if dialog is not None and dialog.invite is not None:
                return                   # a retransmission of the INVITE being answered
            self._invite(sipws, message)
        elif method == "ACK":
            pass
        elif method == "BYE":
            sipws.send(response(message, 200 if dialog else 481))
            if dialog is not None:
                dialog.browser_left()
        elif method == "CANCEL":
            sipws.send(response(message, 200 if dialog else 481))
            if dialog is not None:
                dialog.browser_cancelled()
        elif method == "OPTIONS":
            sipws.send(response(message, 200))
        elif method == "REGISTER":
            sipws.send(response(message, 403))   # guests never register
        else:
            sipws.send(response(message, 405))

    def _invite(self, sipws: SipSocket, invite: SipMessage) -> None:
        destination, realm = user_host(invite.uri)
        fields = digest_fields(invite.header("proxy-authorization"))
        if not fields or fields.get("nonce") not in self.nonces:
            nonce = secrets.token_hex(16)
            self.nonces.add(nonce)
            sipws.send(response(invite, 407, ("proxy-authenticate",
                                              f'Digest realm="{realm}", nonce="{nonce}", '
                                              'algorithm=MD5, qop="auth"'), to_tag=new_tag()))
            return
        self.nonces.discard(fields["nonce"])
        user = fields.get("username", "")
        found = None
        if self.directory is not None and fields.get("realm") == realm:
            found = self.directory.lookup(user, realm, invite.header("call-id"))
        if found is None or fields.get("response") != digest_response(found.a1, "INVITE", fields):
            sipws.send(response(invite, 403, to_tag=new_tag()))
            return
        if destination != DESTINATION or found.variables.get("user_context") != "guests":
            sipws.send(response(invite, 403, to_tag=new_tag()))
            return
        sipws.send(response(invite, 100))
        dialog = GuestDialog(self, sipws, invite)
        self.dialogs[invite.header("call-id")] = dialog
        variables = {"domain_name": realm, **found.variables}
        dialog.channel = self.switch.inbound(
            DESTINATION, user, guest=variables.items(), far_end=dialog,
            behaviour=Behaviour(ring_ms=None, answer_after_ms=None))

    def forget(self, dialog: GuestDialog) -> None:
        self.dialogs.pop(dialog.invite.header("call-id"), None)


class GuestDialog:
    """One visitor's call: the INVITE it sent, and the leg it became on the switch."""

    def __init__(self, listener: GuestListener, sipws: SipSocket, invite: SipMessage) -> None:
        self.listener = listener
        self.sipws = sipws
        self.invite = invite
        self.tag = new_tag()
        self.channel = None
        self.established = False
        self.over = False
        self.cseq = 0

    # -- the switch's side (Channel.far_end) -------------------------------------------------

    def answered(self) -> None:
        if self.over or self.established:
            return
        self.established = True
        ok = response(self.invite, 200, ("contact", "<sip:mod_sofia@127.0.0.1;transport=ws>"),
                      ("content-type", "application/sdp"), to_tag=self.tag)
        ok.body = sdp_answer(self.invite.body)
        self.sipws.send(ok)

    def hung_up(self, cause: str) -> None:
        if self.over:
            return
        self.over = True
        self.listener.forget(self)
        if self.established:
            self.sipws.send(self._bye())
        else:
            status = SIP_STATUS.get(cause, 480)
            self.sipws.send(response(self.invite, status, to_tag=self.tag))

    # -- the browser's side ------------------------------------------------------------------

    def browser_left(self) -> None:
        """BYE (or the WebSocket lost): a call not answered yet is a CANCEL to the switch."""
        switch = self.listener.switch
        self._end(switch.far_bye if self.established else switch.far_cancel)

    def browser_cancelled(self) -> None:
        if self.established:
            return
        self.sipws.send(response(self.invite, 487, to_tag=self.tag))
        self._end(self.listener.switch.far_cancel)

    def _end(self, hang_up) -> None:
        if self.over:
            return
        self.over = True
        self.listener.forget(self)
        if self.channel is not None and self.channel.alive:
            hang_up(self.channel)

    def _bye(self) -> SipMessage:
        invite = self.invite
        return SipMessage(f"BYE {uri_of(invite.header('contact'))} SIP/2.0", [
            ("via", f"SIP/2.0/WSS sim.invalid;branch=z9hG4bK{secrets.token_hex(8)}"),
            ("max-forwards", "70"),
            ("from", f"{invite.header('to')};tag={self.tag}"),
            ("to", invite.header("from")),
            ("call-id", invite.header("call-id")),
            ("cseq", "1 BYE"),
        ])


class SipSocket:
    """One browser's WebSocket ("sip" subprotocol): reads SIP requests, sends under gevent."""

    def __init__(self, listener: GuestListener, sock: socket.socket) -> None:
        self.listener = listener
        self.sock = sock
        self.ws = WSConnection(ConnectionType.SERVER)

    def send(self, message: SipMessage) -> None:
        try:
            self.sock.sendall(self.ws.send(TextMessage(data=message.text())))
        except (OSError, LocalProtocolError):
            pass                         # the browser is gone: its dialogs end with the socket

    def run(self) -> None:
        text = ""
        try:
            while data := self.sock.recv(65536):
                self.ws.receive_data(data)
                for event in self.ws.events():
                    if isinstance(event, Request):
                        if "sip" not in event.subprotocols:      # RFC 7118
                            self.sock.sendall(self.ws.send(RejectConnection(status_code=400)))
                            return
                        self.sock.sendall(self.ws.send(AcceptConnection(subprotocol="sip")))
                    elif isinstance(event, TextMessage):
                        text += event.data
                        if event.message_finished:
                            self._message(text)
                            text = ""
                    elif isinstance(event, Ping):
                        self.sock.sendall(self.ws.send(event.response()))
                    elif isinstance(event, CloseConnection):
                        self.sock.sendall(self.ws.send(event.response()))
                        return
        except (OSError, RemoteProtocolError, LocalProtocolError):
            pass
        finally:
            self.sock.close()
            for dialog in [d for d in self.listener.dialogs.values() if d.sipws is self]:
                dialog.browser_left()          # a lost WebSocket ends its calls

    def _message(self, text: str) -> None:
        if not text.strip():
            return                             # CRLF keep-alive
        try:
            message = SipMessage.parse(text)
        except SipError as exc:
            log.warning("guest listener: %s", exc)
            return
        self.listener.received(self, message)
