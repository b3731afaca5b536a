"""Website visitors' calls against a real FreeSWITCH 1.10 (skipped unless
CALLCENTER_TEST_FREESWITCH names its binary), with the shipped tree: a visitor's one-call
credential from `POST /widget/<id>/call`, an INVITE to sip:call@<guest realm> answering
FreeSWITCH's challenge with it, the controller's directory putting the call in the guests
context — it lands in the widget's queue and the controller has it waiting; a guest INVITE to
any other destination gets 403; a REGISTER with a guest credential is refused."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid

import pytest

from callcenter.accounts import create_user
from callcenter.audit import CLI
from callcenter.cdr import LegRecord
from callcenter.cdr.documents import raw_cdr
from callcenter.cdr.write import has_document
from callcenter.models import Call, LegRole, Queue, Role
from callcenter.widgets import settings as rules
from tests.conftest import PASSWORD
from tests.freeswitch.controller import running, switch_clean
from tests.freeswitch.observer import Observer
from tests.freeswitch.sipudp import FREESWITCH_SIP, Outgoing, UdpSip, branch
from tests.freeswitch.support import ESL_PASSWORD
from tests.freeswitch.switch import freeswitch_binary
from tests.sipws import SipMessage, digest_fields, digest_response, md5

pytestmark = pytest.mark.slow
SITE = "https://shop.example.com"


def _seed(s) -> None:
    create_user(s, "root", PASSWORD, Role.ADMIN, who=CLI)        # past the first-run page
    s.add(Queue(name="web"))
    s.flush()
    rules.add_widget(s, {"name": "Shop", "queue": "web", "allowed_origins": SITE,
                         "calls_per_address_hour": "100", "concurrent_calls": "10",
                         "max_call_seconds": "600", "active": "on"}, who=CLI)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    binary = freeswitch_binary()
    root = tmp_path_factory.mktemp("website")
    with running(root, binary, carrier_port=5096, seed=_seed) as run:
        observer = Observer(run.esl_port, ESL_PASSWORD)
        with run.database.session() as s:
            public_id = rules.all_widgets(s)[0].public_id
        try:
            yield run, observer, binary, public_id
        finally:
            observer.write(root / "log" / "events.txt")
            observer.close()


def _http(run, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(  # noqa: S310 - the loopback controller
        run.live.base + path, method=method, headers={
            "Origin": SITE, "Content-Type": "application/json"},
        data=json.dumps(body).encode() if body is not None else None)
    return json.loads(urllib.request.urlopen(request, timeout=10).read())  # noqa: S310


def _credential(run, public_id: str) -> dict:
    return _http(run, "POST", f"/widget/{public_id}/call",
                 {"video": False, "fields": {}, "page": {"url": SITE, "title": "Shop"}})


class Guest(UdpSip):
    """The visitor's phone, over UDP here (the browser's is WSS): an INVITE answered with the
    one-call credential's digest when FreeSWITCH challenges it."""

    def __init__(self, credential: dict) -> None:
        sip = credential["sip"]
        super().__init__(sip["user"], sip["password"])
        self.realm = sip["realm"]

    def dial(self, destination: str) -> Outgoing:
        call_id, tag = f"{uuid.uuid4().hex}@127.0.0.1", uuid.uuid4().hex[:10]
        first = self._invite(destination, call_id, tag, 1, [])
        challenge = first.responses.get(timeout=20)
        while challenge.status < 200:
            challenge = first.responses.get(timeout=20)
        assert challenge.status in (401, 407), challenge.start
        asked = "proxy-authenticate" if challenge.status == 407 else "www-authenticate"
        fields = digest_fields(challenge.header(asked))
        assert fields["realm"] == self.realm
        uri = f"sip:{destination}@{self.realm}"
        answer = {**fields, "uri": uri, "nc": "00000001", "cnonce": uuid.uuid4().hex[:16],
                  "qop": "auth"}
        response = digest_response(md5(f"{self.user}:{self.realm}:{self.password}"), "INVITE",
                                   answer)
        authorization = (f'Digest username="{self.user}", realm="{self.realm}", '
                         f'nonce="{fields["nonce"]}", uri="{uri}", response="{response}", '
                         f'algorithm=MD5, qop=auth, nc=00000001, cnonce="{answer["cnonce"]}"')
        header = "proxy-authorization" if challenge.status == 407 else "authorization"
        return self._invite(destination, call_id, tag, 2, [(header, authorization)])

    def register_in_realm(self) -> SipMessage:
        """REGISTER as the guest in its realm, answering the challenge: the final response."""
        call_id = f"{uuid.uuid4().hex}@127.0.0.1"
        reply = self._register_as(call_id, 1, "")
        if reply.status != 401:
            return reply
        fields = digest_fields(reply.header("www-authenticate"))
        assert fields["realm"] == self.realm
        uri, cnonce = f"sip:{self.realm}", uuid.uuid4().hex[:16]
        answer = {**fields, "uri": uri, "nc": "00000001", "cnonce": cnonce, "qop": "auth"}
        response = digest_response(md5(f"{self.user}:{self.realm}:{self.password}"),
                                   "REGISTER", answer)
        return self._register_as(call_id, 2, (
            f'Digest username="{self.user}", realm="{self.realm}", nonce="{fields["nonce"]}", '
            f'uri="{uri}", response="{response}", algorithm=MD5, qop=auth, nc=00000001, '
            f'cnonce="{cnonce}"'))

    def _register_as(self, call_id: str, cseq: int, authorization: str) -> SipMessage:
        headers = [
            ("via", f"SIP/2.0/UDP 127.0.0.1:{self.port};branch={branch()};rport"),
            ("max-forwards", "70"), ("from", f"<sip:{self.user}@{self.realm}>;tag=r{cseq}"),
            ("to", f"<sip:{self.user}@{self.realm}>"), ("call-id", call_id),
            ("cseq", f"{cseq} REGISTER"), ("contact", f"<sip:{self.user}@127.0.0.1:{self.port}>"),
            ("expires", "60")]
        if authorization:
            headers.append(("authorization", authorization))
        self.send(SipMessage(f"REGISTER sip:{self.realm} SIP/2.0", headers), FREESWITCH_SIP)
        return self.final_response()

    def _invite(self, destination: str, call_id: str, tag: str, cseq: int,
                extra: list[tuple[str, str]]) -> Outgoing:
        invite = SipMessage(f"INVITE sip:{destination}@{self.realm} SIP/2.0", [
            ("via", f"SIP/2.0/UDP 127.0.0.1:{self.port};branch={branch()};rport"),
            ("max-forwards", "70"), ("from", f"<sip:{self.user}@{self.realm}>;tag={tag}"),
            ("to", f"<sip:{destination}@{self.realm}>"), ("call-id", call_id),
            ("cseq", f"{cseq} INVITE"), ("contact", f"<sip:{self.user}@127.0.0.1:{self.port}>"),
            *extra, ("content-type", "application/sdp")])
        invite.body = self.sdp()
        outgoing = Outgoing(self, invite, FREESWITCH_SIP)
        self.outgoing[call_id] = outgoing
        self.send(invite, FREESWITCH_SIP)
        return outgoing


def test_a_guest_invite_lands_in_the_widget_s_queue_and_waits(lab):
    run, observer, binary, public_id = lab
    credential = _credential(run, public_id)
    with Guest(credential) as guest:
        outgoing = guest.dial("call")
        outgoing.wait_for(200)                  # the queue answers on entry
        park = observer.wait_event("the guest parks", lambda e: e.name == "CHANNEL_PARK"
                                   and e.get("variable_cc_guest") == credential["call"])
        assert park.get("variable_cc_queue") == "web"
        assert park.get("variable_cc_channel") == "web"
        assert park.get("variable_cc_widget") == public_id
        status = _http(run, "GET", credential["status_url"])
        assert status["state"] == "waiting" and status["position"] == 1, status
        assert outgoing.bye().status == 200
        switch_clean(run.switch, binary, run.esl_port, guest)
    assert _http(run, "GET", credential["status_url"])["state"] == "ended"


def test_freeswitch_s_own_cdr_of_a_guest_s_leg_says_web(lab):
    """What `cdr import` or a json_cdr post alone would bring (the controller down meanwhile)."""
    run, observer, binary, public_id = lab
    credential = _credential(run, public_id)
    with Guest(credential) as guest:
        outgoing = guest.dial("call")
        outgoing.wait_for(200)
        park = observer.wait_event("the guest parks", lambda e: e.name == "CHANNEL_PARK"
                                   and e.get("variable_cc_guest") == credential["call"])
        assert outgoing.bye().status == 200
        switch_clean(run.switch, binary, run.esl_port, guest)
    deadline = time.monotonic() + 30
    while True:
        with run.database.session() as s:
            document = raw_cdr(s, park.uuid)
        if document and has_document(document):
            break
        assert time.monotonic() < deadline, f"no json_cdr document for {park.uuid}"
        time.sleep(0.2)  # polling the database: nothing signals a committed row
    record = LegRecord.from_json_cdr(document)
    assert (record.channel, record.role) == ("web", LegRole.CUSTOMER)
    with run.database.session() as s:
        assert s.get(Call, record.call_id).channel == "web"


def test_a_guest_invite_to_anything_else_gets_403(lab):
    run, observer, binary, public_id = lab
    for destination in ("1001", "5550100", "callx"):
        with Guest(_credential(run, public_id)) as guest:
            guest.dial(destination).wait_for(403)
            switch_clean(run.switch, binary, run.esl_port, guest)


def test_a_used_credential_starts_no_second_call(lab):
    run, observer, binary, public_id = lab
    credential = _credential(run, public_id)
    with Guest(credential) as guest:
        first = guest.dial("call")
        first.wait_for(200)
        assert first.bye().status == 200
        second = guest.dial("call")
        final = second.responses.get(timeout=20)
        while final.status < 200 or final.status in (401, 407):
            final = second.responses.get(timeout=20)
        assert final.status == 403, final.start
        switch_clean(run.switch, binary, run.esl_port, guest)


def test_register_with_a_guest_credential_is_refused(lab):
    run, observer, binary, public_id = lab
    credential = _credential(run, public_id)
    with Guest(credential) as guest:
        reply = guest.register_in_realm()
        assert reply.status == 403, reply.start
        # ...and the refused REGISTER did not use the credential up: its call still goes in.
        outgoing = guest.dial("call")
        outgoing.wait_for(200)
        assert outgoing.bye().status == 200
        switch_clean(run.switch, binary, run.esl_port, guest)
