"""SIP over UDP for tests against a real FreeSWITCH, in plain threads (the pytest process is not
patched by gevent): an agent's phone that registers with a digest and answers every INVITE with
200 + SDP at once (auto-answer), a carrier that the test scripts response by response, and a
caller that dials a number (an inbound call, to the external profile).

    phone = UdpSip("1077", password=...); phone.register(60)      # the final response
    carrier = UdpSip("carrier"); dialog = carrier.next_invite()
    dialog.respond(180); dialog.respond(183, sdp=True); dialog.respond(200, sdp=True)
    dialog.bye()                                                  # the 200 to our BYE
    caller = UdpSip("15557654321"); outgoing = caller.call("5550100", FREESWITCH_CARRIER_SIP)
    outgoing.wait_for(200); outgoing.bye()       # or outgoing.cancel() while it rings
    outgoing.press("9")                          # a key, as RFC 2833 telephone events in RTP

One thread per endpoint reads the socket and answers what it must (ACK is taken, BYE and CANCEL
get 200, a retransmitted INVITE gets the last response again); the test thread waits on queues.
"""

from __future__ import annotations

import queue
import random
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field

from tests.sipws import SipMessage, digest_fields, digest_response, md5, response_to, tag_of

FREESWITCH_SIP = ("127.0.0.1", 5060)     # the internal profile (sip_profiles/internal.xml)
FREESWITCH_CARRIER_SIP = ("127.0.0.1", 5080)  # the external profile: calls from the carrier
TELEPHONE_EVENT = 101                    # our SDP's payload type for RFC 2833 events
DTMF_EVENTS = {key: n for n, key in enumerate("0123456789*#ABCD")}   # RFC 4733's event codes
REASONS = {100: "Trying", 180: "Ringing", 183: "Session Progress", 200: "OK", 486: "Busy Here",
           487: "Request Terminated", 503: "Service Unavailable"}


def branch() -> str:
    return f"z9hG4bK{uuid.uuid4().hex}"


@dataclass
class Dialog:
    """One INVITE this endpoint received, and what happened to it since."""
    endpoint: UdpSip
    invite: SipMessage
    source: tuple[str, int]
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    last: SipMessage | None = None            # the last response sent (for retransmissions)
    acked: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)
    ended_by: str = ""                        # "bye" or "cancel" from FreeSWITCH, "our bye"
    cseq: int = 0

    @property
    def call_id(self) -> str:
        return self.invite.header("call-id")

    def respond(self, status: int, sdp: bool = False) -> None:
        extra = [("contact", f"<sip:{self.endpoint.user}@127.0.0.1:{self.endpoint.port}>")]
        if sdp:
            extra.append(("content-type", "application/sdp"))
        message = response_to(self.invite, status, *extra,
                              to_tag=self.tag if status > 100 else None,
                              reason=REASONS.get(status))
        message.body = self.endpoint.sdp() if sdp else ""
        self.last = message
        self.endpoint.send(message, self.source)

    def bye(self, timeout: float = 10) -> SipMessage:
        """Hang up from this side: BYE inside the dialog; the final response to it."""
        self.cseq += 1
        contact = self.invite.header("contact")
        target = contact[contact.find("<") + 1:contact.find(">")] if "<" in contact else contact
        via = f"SIP/2.0/UDP 127.0.0.1:{self.endpoint.port};branch={branch()};rport"
        to = self.invite.header("to")
        message = SipMessage(f"BYE {target} SIP/2.0", [
            ("via", via), ("max-forwards", "70"),
            ("from", f"{to};tag={self.tag}" if ";tag=" not in to else to),
            ("to", self.invite.header("from")), ("call-id", self.call_id),
            ("cseq", f"{self.cseq + 100} BYE")])
        self.ended_by = "our bye"
        self.endpoint.send(message, self.source)
        reply = self.endpoint.final_response(timeout)
        self.ended.set()
        return reply


@dataclass
class Outgoing:
    """One INVITE this endpoint sent (it calls a number), and every response to it. The reader
    ACKs final responses (a 2xx as a new request to the far end's Contact, others on the
    INVITE's own transaction), so the test only waits and hangs up."""
    endpoint: UdpSip
    invite: SipMessage
    to: tuple[str, int]
    responses: queue.Queue[SipMessage] = field(default_factory=queue.Queue)
    answer: SipMessage | None = None          # the 200 that set up the dialog
    ended: threading.Event = field(default_factory=threading.Event)
    ended_by: str = ""                        # "bye" from FreeSWITCH, "our bye", "our cancel"

    @property
    def call_id(self) -> str:
        return self.invite.header("call-id")

    def wait_for(self, status: int, timeout: float = 20) -> SipMessage:
        """The first response with this status; a final response other than it fails."""
        while True:
            try:
                reply = self.responses.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"{self.endpoint.user}: no {status} within {timeout}s") \
                    from None
            if reply.status == status:
                return reply
            if reply.status >= 200:
                raise AssertionError(f"{self.endpoint.user}: {reply.start} instead of {status}")

    def cancel(self, timeout: float = 10) -> SipMessage:
        """Give up while it rings: CANCEL on the INVITE's transaction; the INVITE's final
        response (487 expected)."""
        headers = [(n, v) for n, v in self.invite.headers
                   if n in ("via", "from", "to", "call-id", "max-forwards")]
        headers.append(("cseq", f"{self.invite.header('cseq').split()[0]} CANCEL"))
        self.ended_by = "our cancel"
        self.endpoint.send(SipMessage(self.invite.start.replace("INVITE", "CANCEL", 1), headers),
                           self.to)
        while True:
            try:
                reply = self.responses.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"{self.endpoint.user}: nothing ended the INVITE") from None
            if reply.status >= 200 and reply.method == "INVITE":
                self.ended.set()
                return reply

    def bye(self, timeout: float = 10) -> SipMessage:
        """Hang up the answered call: the final response to our BYE."""
        assert self.answer is not None, "the call was never answered"
        self.ended_by = "our bye"
        self.endpoint.send(self._in_dialog("BYE", 2), self.to)
        while True:
            try:
                reply = self.responses.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"{self.endpoint.user}: no answer to BYE") from None
            if reply.method == "BYE" and reply.status >= 200:
                self.ended.set()
                return reply

    def press(self, key: str, ms: int = 160) -> None:
        """Press a key while the call is up, the way a carrier does: RFC 2833 (4733) telephone
        events in RTP from our media port to the address the answer's SDP gave, after a few
        packets of PCMU silence so the stream is a stream: one event of `ms` milliseconds in
        20 ms packets (the first marked), then its end three times. Paced in real time: RTP
        is a clock, not something to wait for."""
        assert self.answer is not None, "the call was never answered"
        host, port = media_address(self.answer.body)
        sock = self.endpoint.rtp
        ssrc, seq, stamp = random.getrandbits(32), random.getrandbits(16), random.getrandbits(32)

        def packet(payload_type: int, marker: bool, payload: bytes) -> None:
            nonlocal seq
            header = struct.pack("!BBHII", 0x80, payload_type | (0x80 if marker else 0),
                                 seq & 0xFFFF, stamp & 0xFFFFFFFF, ssrc)
            sock.sendto(header + payload, (host, port))
            seq += 1

        for _ in range(10):                        # 200 ms of silence
            packet(0, False, b"\xff" * 160)
            stamp += 160
            time.sleep(0.02)
        event, samples = DTMF_EVENTS[key], ms * 8
        for duration in range(160, samples + 1, 160):
            packet(TELEPHONE_EVENT, duration == 160, struct.pack("!BBH", event, 10, duration))
            time.sleep(0.02)
        for _ in range(3):                         # the end, sent three times (RFC 4733 2.5.1.4)
            packet(TELEPHONE_EVENT, False, struct.pack("!BBH", event, 0x80 | 10, samples))
        stamp += samples
        for _ in range(5):
            packet(0, False, b"\xff" * 160)
            stamp += 160
            time.sleep(0.02)

    def _in_dialog(self, method: str, cseq: int) -> SipMessage:
        contact = self.answer.header("contact")
        target = contact[contact.find("<") + 1:contact.find(">")] if "<" in contact else contact
        return SipMessage(f"{method} {target} SIP/2.0", [
            ("via", f"SIP/2.0/UDP 127.0.0.1:{self.endpoint.port};branch={branch()};rport"),
            ("max-forwards", "70"), ("from", self.invite.header("from")),
            ("to", self.answer.header("to")), ("call-id", self.call_id),
            ("cseq", f"{cseq} {method}")])

    def _response(self, reply: SipMessage) -> None:
        if reply.method == "INVITE" and reply.status >= 200:
            if reply.status < 300:
                self.answer = reply
                self.endpoint.send(self._in_dialog("ACK", 1), self.to)
            else:                                  # ACK on the INVITE's own transaction
                headers = [(n, v) for n, v in self.invite.headers
                           if n in ("via", "from", "call-id", "max-forwards")]
                headers += [("to", reply.header("to")), ("cseq", "1 ACK")]
                self.endpoint.send(
                    SipMessage(self.invite.start.replace("INVITE", "ACK", 1), headers), self.to)
        self.responses.put(reply)


def media_address(sdp: str) -> tuple[str, int]:
    """Where an SDP wants its audio: the c= address and the m=audio port."""
    host = port = None
    for line in sdp.splitlines():
        if line.startswith("c=IN IP4 "):
            host = line.split()[2]
        elif line.startswith("m=audio "):
            port = int(line.split()[1])
    assert host and port, f"no audio address in {sdp!r}"
    return host, port


class UdpSip:
    """A SIP endpoint on 127.0.0.1 (port 0 picks one); `answer` makes it pick up every INVITE."""

    def __init__(self, user: str, password: str = "", *, answer: bool = False,
                 port: int = 0) -> None:
        self.user, self.password, self.answer = user, password, answer
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        # Where FreeSWITCH sends RTP: bound so nothing answers it with ICMP, never read.
        self.rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp.bind(("127.0.0.1", 0))
        self.dialogs: dict[str, Dialog] = {}
        self.outgoing: dict[str, Outgoing] = {}
        self.invites: queue.Queue[Dialog] = queue.Queue()
        self.responses: queue.Queue[SipMessage] = queue.Queue()
        self.errors: list[str] = []
        self._closed = False
        self._reader = threading.Thread(target=self._read, name=f"sip-{user}", daemon=True)
        self._reader.start()

    def __enter__(self) -> UdpSip:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._closed = True
        self.sock.close()
        self.rtp.close()
        self._reader.join(5)

    def sdp(self) -> str:
        rtp_port = self.rtp.getsockname()[1]
        return "\r\n".join([
            "v=0", f"o=- {rtp_port} 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
            f"m=audio {rtp_port} RTP/AVP 0 101", "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16", "a=sendrecv", ""])

    def send(self, message: SipMessage, to: tuple[str, int]) -> None:
        self.sock.sendto(message.text().encode(), to)

    def next_invite(self, timeout: float = 20) -> Dialog:
        try:
            return self.invites.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{self.user}: no INVITE within {timeout}s") from None

    def final_response(self, timeout: float = 20) -> SipMessage:
        while True:
            try:
                reply = self.responses.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"{self.user}: no response within {timeout}s") from None
            if reply.status >= 200:
                return reply

    # -- calling ------------------------------------------------------------------------------

    def call(self, number: str, to: tuple[str, int]) -> Outgoing:
        """INVITE number@host with an offer of PCMU; the call, to wait on."""
        host = f"{to[0]}:{to[1]}"
        invite = SipMessage(f"INVITE sip:{number}@{host} SIP/2.0", [
            ("via", f"SIP/2.0/UDP 127.0.0.1:{self.port};branch={branch()};rport"),
            ("max-forwards", "70"),
            ("from", f"<sip:{self.user}@127.0.0.1:{self.port}>;tag={uuid.uuid4().hex[:10]}"),
            ("to", f"<sip:{number}@{host}>"), ("call-id", f"{uuid.uuid4().hex}@127.0.0.1"),
            ("cseq", "1 INVITE"), ("contact", f"<sip:{self.user}@127.0.0.1:{self.port}>"),
            ("content-type", "application/sdp")])
        invite.body = self.sdp()
        outgoing = Outgoing(self, invite, to)
        self.outgoing[outgoing.call_id] = outgoing
        self.send(invite, to)
        return outgoing

    # -- registering ----------------------------------------------------------------------------

    def register(self, expires: int, timeout: float = 20) -> SipMessage:
        """REGISTER, and again with the digest answering the challenge: the final response."""
        call_id = f"{uuid.uuid4().hex}@127.0.0.1"
        reply = self._register(call_id, 1, expires, "", timeout)
        if reply.status == 401:
            fields = digest_fields(reply.header("www-authenticate"))
            uri, nc, cnonce = "sip:127.0.0.1", "00000001", uuid.uuid4().hex[:16]
            answer = {**fields, "uri": uri, "nc": nc, "cnonce": cnonce, "qop": "auth"}
            a1 = md5(f"{self.user}:{fields['realm']}:{self.password}")
            response = digest_response(a1, "REGISTER", answer)
            authorization = (
                f'Digest username="{self.user}", realm="{fields["realm"]}", '
                f'nonce="{fields["nonce"]}", uri="{uri}", response="{response}", '
                f'algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}"')
            reply = self._register(call_id, 2, expires, authorization, timeout)
        return reply

    def _register(self, call_id: str, cseq: int, expires: int, authorization: str,
                  timeout: float) -> SipMessage:
        headers = [
            ("via", f"SIP/2.0/UDP 127.0.0.1:{self.port};branch={branch()};rport"),
            ("max-forwards", "70"), ("from", f"<sip:{self.user}@127.0.0.1>;tag=reg{self.port}"),
            ("to", f"<sip:{self.user}@127.0.0.1>"), ("call-id", call_id),
            ("cseq", f"{cseq} REGISTER"),
            ("contact", f"<sip:{self.user}@127.0.0.1:{self.port}>"), ("expires", str(expires))]
        if authorization:
            headers.append(("authorization", authorization))
        self.send(SipMessage("REGISTER sip:127.0.0.1 SIP/2.0", headers), FREESWITCH_SIP)
        return self.final_response(timeout)

    # -- the reader thread ----------------------------------------------------------------------

    def _read(self) -> None:
        while not self._closed:
            try:
                data, source = self.sock.recvfrom(65536)
            except OSError:
                return
            text = data.decode(errors="replace")
            if not text.strip():                   # keep-alive
                continue
            try:
                message = SipMessage.parse(text)
                outgoing = self.outgoing.get(message.header("call-id"))
                if message.is_response and outgoing is not None:
                    outgoing._response(message)
                elif message.is_response:
                    self.responses.put(message)
                elif outgoing is not None:
                    self._request_in(outgoing, message, source)
                else:
                    self._request(message, source)
            except Exception as exc:  # noqa: BLE001 - kept for the test to report
                self.errors.append(f"{exc!r} on {text[:200]!r}")

    def _request_in(self, outgoing: Outgoing, request: SipMessage,
                    source: tuple[str, int]) -> None:
        """A request inside a call this endpoint placed: FreeSWITCH hangs up, or re-INVITEs."""
        method = request.start.split()[0]
        if method == "ACK":
            return
        reply = response_to(request, 200)
        if method == "INVITE":
            reply.headers += [("contact", f"<sip:{self.user}@127.0.0.1:{self.port}>"),
                              ("content-type", "application/sdp")]
            reply.body = self.sdp()
        self.send(reply, source)
        if method == "BYE":
            outgoing.ended_by = "bye"
            outgoing.ended.set()

    def _request(self, request: SipMessage, source: tuple[str, int]) -> None:
        method = request.start.split()[0]
        call_id = request.header("call-id")
        dialog = self.dialogs.get(call_id)
        if method == "INVITE":
            if dialog is not None and not tag_of(request.header("to")):
                if dialog.last is not None:        # a retransmission: say it again
                    self.send(dialog.last, source)
                return
            if dialog is not None:                 # a re-INVITE inside the dialog
                reinvite = Dialog(self, request, source, tag=dialog.tag)
                reinvite.respond(200, sdp=True)
                return
            dialog = Dialog(self, request, source)
            self.dialogs[call_id] = dialog
            dialog.respond(100)
            if self.answer:
                dialog.respond(200, sdp=True)
            self.invites.put(dialog)
        elif method == "ACK":
            if dialog is not None:
                dialog.acked.set()
        elif method in ("BYE", "CANCEL"):
            self.send(response_to(request, 200), source)
            if dialog is not None:
                if method == "CANCEL" and (dialog.last is None or dialog.last.status < 200):
                    dialog.respond(487)
                dialog.ended_by = method.lower()
                dialog.ended.set()
        else:                                      # OPTIONS, NOTIFY, INFO: fine
            self.send(response_to(request, 200), source)
