"""Website visitors' calls into the simulator (callcenter/sim/guests.py) as FreeSWITCH takes
them over its WSS binding: the INVITE is challenged (407), the digest is checked against the
controller's directory asked as mod_xml_curl asks it (sip_auth_method=INVITE), only `call` is a
destination, and the call becomes a parked caller carrying the directory's variables; the
switch's answer reaches the browser as 200 OK with SDP, and BYE goes both ways."""

from __future__ import annotations

import hashlib
import secrets
from urllib.parse import parse_qsl

import gevent
import pytest
from gevent import socket
from gevent.pywsgi import WSGIServer
from gevent.queue import Queue
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request, TextMessage

from callcenter.sim import Simulator
from callcenter.sim.sip import SipMessage, digest_fields, user_host
from tests.sim.conftest import PASSWORD

REALM = "guests.pbx.example.test"
GUEST = "g" + "0123456789abcdef0123"
SECRET = "one-call-secret"
VARIABLES = {"user_context": "guests", "cc_queue": "support", "cc_channel": "web",
             "cc_widget": "w-Pub1ic", "cc_guest": "tok-123"}
OFFER = ("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
         "m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"
         "a=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
         "m=video 9 UDP/TLS/RTP/SAVPF 96 98\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n"
         "a=rtpmap:96 H264/90000\r\na=rtpmap:98 VP8/90000\r\na=sendrecv\r\n")


def md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


@pytest.fixture
def directory():
    """A stand-in for the controller's guest directory: GUEST while `.valid`; every post kept."""
    posts = []

    def app(environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        form = dict(parse_qsl(body.decode()))
        posts.append(form)
        start_response("200 OK", [("Content-Type", "text/xml")])
        if form.get("user") != GUEST or form.get("sip_auth_method") != "INVITE" \
                or not server.valid:
            return [b'<document type="freeswitch/xml"><section name="result">'
                    b'<result status="not found"/></section></document>']
        variables = "".join(f'<variable name="{k}" value="{v}"/>' for k, v in VARIABLES.items())
        return [(f'<document type="freeswitch/xml"><section name="directory">'
                 f'<domain name="{REALM}"><groups><group name="default"><users>'
                 f'<user id="{GUEST}"><params><param name="a1-hash" '
                 f'value="{md5(f"{GUEST}:{REALM}:{SECRET}")}"/></params>'
                 f'<variables>{variables}</variables></user></users></group></groups>'
                 f'</domain></section></document>').encode()]

    server = WSGIServer(("127.0.0.1", 0), app, log=None)
    server.start()
    server.url = f"http://127.0.0.1:{server.server_port}/freeswitch/directory"
    server.posts = posts
    server.valid = True
    yield server
    server.stop()


@pytest.fixture
def sim(clock, tmp_path, directory):
    simulator = Simulator(PASSWORD, clock=clock, recordings_dir=str(tmp_path))
    simulator.start()
    simulator.listen_for_guests(directory.url, "fs", "secret")
    yield simulator
    simulator.stop()


class Browser:
    """A visitor's SIP.js, reduced: one WebSocket with the "sip" subprotocol."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("ws://").rstrip("/").split(":")
        self.sock = socket.create_connection((host, int(port)))
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.sock.sendall(self.ws.send(Request(host=host, target="/", subprotocols=["sip"])))
        self.received: Queue = Queue()
        self.accepted = gevent.event.Event()
        self.reader = gevent.spawn(self._read)
        assert self.accepted.wait(5), "the WebSocket was not accepted"
        self.call_id = secrets.token_hex(8)
        self.cseq = 0

    def _read(self) -> None:
        while data := self.sock.recv(65536):
            self.ws.receive_data(data)
            for event in self.ws.events():
                if isinstance(event, AcceptConnection):
                    assert event.subprotocol == "sip"
                    self.accepted.set()
                elif isinstance(event, TextMessage):
                    self.received.put(SipMessage.parse(event.data))

    def send(self, message: SipMessage) -> None:
        self.sock.sendall(self.ws.send(TextMessage(data=message.text())))

    def next(self) -> SipMessage:
        return self.received.get(timeout=5)

    def final(self) -> SipMessage:
        """The next response that is not 1xx."""
        while (message := self.next()).is_response and message.start.split()[1].startswith("1"):
            pass
        return message

    def request(self, method: str, uri: str, *extra: tuple[str, str], body: str = "",
                to_tag: str = "") -> SipMessage:
        if method != "ACK":
            self.cseq += 1
        to = f"<{uri}>" + (f";tag={to_tag}" if to_tag else "")
        message = SipMessage(f"{method} {uri} SIP/2.0", [
            ("via", f"SIP/2.0/WSS browser.invalid;branch=z9hG4bK{secrets.token_hex(6)}"),
            ("max-forwards", "70"), ("to", to),
            ("from", f"<sip:{GUEST}@{REALM}>;tag=visitor"), ("call-id", self.call_id),
            ("cseq", f"{self.cseq} {method}"),
            ("contact", "<sip:abc@browser.invalid;transport=ws>"),
            *extra], body)
        self.send(message)
        return message

    def invite(self, destination: str = "call", password: str = SECRET) -> SipMessage:
        """INVITE, challenged, then again with the digest: the final answer to the second."""
        uri = f"sip:{destination}@{REALM}"
        sdp = (("content-type", "application/sdp"),)
        self.request("INVITE", uri, *sdp, body=OFFER)
        challenge = self.final()
        assert challenge.start == "SIP/2.0 407 Proxy Authentication Required"
        fields = digest_fields(challenge.header("proxy-authenticate"))
        assert fields["realm"] == REALM and fields["qop"] == "auth"
        ha1 = md5(f"{GUEST}:{REALM}:{password}")
        cnonce, nc = "c0ffee", "00000001"
        answer = md5(f"{ha1}:{fields['nonce']}:{nc}:{cnonce}:auth:{md5(f'INVITE:{uri}')}")
        authorization = (f'Digest username="{GUEST}", realm="{REALM}", '
                         f'nonce="{fields["nonce"]}", uri="{uri}", response="{answer}", '
                         f'algorithm=MD5, qop=auth, cnonce="{cnonce}", nc={nc}')
        self.request("INVITE", uri, *sdp, ("proxy-authorization", authorization), body=OFFER)

    def close(self) -> None:
        self.reader.kill()
        self.sock.close()


@pytest.fixture
def browser(sim):
    visitor = Browser(sim.guests.url)
    yield visitor
    visitor.close()


class Legs:
    """A bus listener: each leg's CHANNEL_PARK and CHANNEL_DESTROY, waited on as events."""

    format = "plain"

    def __init__(self) -> None:
        self.parked: Queue = Queue()
        self.destroyed: dict[str, gevent.event.Event] = {}

    def wants(self, name: str, subclass: str | None) -> bool:
        return name in ("CHANNEL_PARK", "CHANNEL_DESTROY")

    def accepts(self, headers: dict[str, str]) -> bool:
        uuid = headers["Unique-ID"]
        if headers["Event-Name"] == "CHANNEL_PARK":
            self.parked.put(uuid)
        else:
            self.destroyed.setdefault(uuid, gevent.event.Event()).set()
        return False

    def send(self, frame: bytes) -> None:
        pass

    def next_parked(self, sim):
        return sim.channels[self.parked.get(timeout=5)]

    def wait_destroyed(self, uuid: str) -> None:
        assert self.destroyed.setdefault(uuid, gevent.event.Event()).wait(5), f"{uuid} is up"


@pytest.fixture
def legs(sim):
    listener = Legs()
    sim.bus.add(listener)
    return listener


def test_a_guest_call_parks_with_the_directorys_variables(sim, browser, directory, legs):
    browser.invite()
    ch = legs.next_parked(sim)
    assert ch.parked
    assert {name: ch.variables.get(name) for name in VARIABLES} == VARIABLES
    assert (ch.profile.context, ch.profile.destination_number) == ("guests", "call")
    assert ch.variables["sofia_profile_name"] == "internal"
    # Asked the way mod_xml_curl asks for a digest check, once per INVITE answered.
    [form] = directory.posts
    assert (form["section"], form["action"], form["sip_auth_method"]) == (
        "directory", "sip_auth", "INVITE")
    assert (form["user"], form["domain"], form["key_value"]) == (GUEST, REALM, REALM)
    assert form["sip_call_id"] == browser.call_id


def test_the_switchs_answer_is_200_with_sdp_and_the_agents_hangup_a_bye(sim, browser, legs):
    browser.invite()
    ch = legs.next_parked(sim)
    sim.switch.answer_inbound(ch)
    ok = browser.final()
    assert ok.start == "SIP/2.0 200 OK" and ok.header("content-type") == "application/sdp"
    kinds = [line.split()[0] for line in ok.body.splitlines() if line.startswith("m=")]
    assert kinds == ["m=audio", "m=video"]
    assert "m=video 9 UDP/TLS/RTP/SAVPF 98" in ok.body       # VP8, preferred
    assert "a=fingerprint:sha-256 " in ok.body and "a=ice-ufrag:" in ok.body
    to_tag = ok.header("to").split("tag=")[1]
    browser.request("ACK", "sip:call@" + REALM, to_tag=to_tag)
    sim.switch.hangup(ch)
    bye = browser.next()
    assert bye.method == "BYE" and not bye.is_response
    assert bye.header("call-id") == browser.call_id
    assert user_host(bye.uri)[1] == "browser.invalid"          # to the browser's Contact
    assert bye.header("from").endswith(f";tag={to_tag}")


def test_a_bye_from_the_browser_hangs_the_leg_up(sim, browser, legs):
    browser.invite()
    ch = legs.next_parked(sim)
    sim.switch.answer_inbound(ch)
    to_tag = browser.final().header("to").split("tag=")[1]
    browser.request("BYE", "sip:call@" + REALM, to_tag=to_tag)
    assert browser.final().start == "SIP/2.0 200 OK"
    legs.wait_destroyed(ch.uuid)
    assert ch.hangup_cause == "NORMAL_CLEARING" and ch.hangup_disposition == "recv_bye"


def test_a_cancel_before_the_answer_ends_the_call(sim, browser, legs):
    browser.invite()
    ch = legs.next_parked(sim)
    browser.request("CANCEL", "sip:call@" + REALM)
    answers = {browser.final().start.split()[1] for _ in range(2)}
    assert answers == {"200", "487"}              # the CANCEL's and the INVITE's
    legs.wait_destroyed(ch.uuid)
    assert ch.hangup_cause == "ORIGINATOR_CANCEL"


def test_any_destination_but_call_is_forbidden(sim, browser):
    browser.invite("1000")
    assert browser.final().start == "SIP/2.0 403 Forbidden"
    assert not sim.channels


def test_a_wrong_digest_or_a_spent_credential_is_forbidden(sim, browser, directory):
    browser.invite(password="guessed")
    assert browser.final().start == "SIP/2.0 403 Forbidden"
    directory.valid = False            # the controller no longer serves the credential
    browser.call_id = secrets.token_hex(8)
    browser.invite()
    assert browser.final().start == "SIP/2.0 403 Forbidden"
    assert not sim.channels
