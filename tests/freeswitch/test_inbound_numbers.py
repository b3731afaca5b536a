"""Inbound numbers against a real FreeSWITCH 1.10 (skipped unless CALLCENTER_TEST_FREESWITCH
names its binary): FreeSWITCH asks `callcenter serve` for the public dialplan over mod_xml_curl
(the shipped dialplan binding). A number only in the controller's table reaches its queue; a
number not in it gets 404, a static dids.xml number deleted from the table included; and with
the controller not answering, the static dids.xml still routes its numbers."""

from __future__ import annotations

import pytest

from callcenter import numbers
from callcenter.accounts import create_user
from callcenter.audit import CLI
from callcenter.models import Queue, Role
from tests.conftest import PASSWORD
from tests.freeswitch.controller import running, switch_clean
from tests.freeswitch.observer import Observer
from tests.freeswitch.sipudp import FREESWITCH_CARRIER_SIP, UdpSip
from tests.freeswitch.support import ESL_PASSWORD
from tests.freeswitch.switch import freeswitch_binary

pytestmark = pytest.mark.slow
TABLE_DID = "5550177"          # only in the table, for queue support
STATIC_DID = "5550100"         # in the shipped dids.xml (sales), imported into the table


def _seed(s) -> None:
    create_user(s, "root", PASSWORD, Role.ADMIN, who=CLI)        # past the first-run page
    s.add_all([Queue(name="sales"), Queue(name="support")])
    s.flush()
    numbers.add_number(s, "+" + TABLE_DID, "support", "table only", who=CLI)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    binary = freeswitch_binary()
    root = tmp_path_factory.mktemp("numbers")
    with running(root, binary, carrier_port=5095, seed=_seed) as run:
        observer = Observer(run.esl_port, ESL_PASSWORD)
        try:
            yield run, observer, binary
        finally:
            observer.write(root / "log" / "events.txt")
            observer.close()


def _parked_queue(observer: Observer, number: str) -> str:
    park = observer.wait_event(f"{number} parks", lambda e: e.name == "CHANNEL_PARK" and
                               e.get("Caller-Destination-Number") == number)
    return park.get("variable_cc_queue")


def test_a_number_only_in_the_table_reaches_its_queue(lab):
    run, observer, binary = lab
    with UdpSip("15557654321") as caller:
        outgoing = caller.call(TABLE_DID, FREESWITCH_CARRIER_SIP)
        outgoing.wait_for(200)                   # the queue answers on entry
        assert _parked_queue(observer, TABLE_DID) == "support"
        assert outgoing.bye().status == 200
        switch_clean(run.switch, binary, run.esl_port, caller)


def test_a_number_not_in_the_table_gets_404(lab):
    run, observer, binary = lab
    with UdpSip("15557654322") as caller:
        outgoing = caller.call("5550199", FREESWITCH_CARRIER_SIP)
        outgoing.wait_for(404)
        switch_clean(run.switch, binary, run.esl_port, caller)
    assert any("5550199 is no inbound number of ours (the controller's table)" in line
               for line in run.switch.lines)


def test_a_static_number_deleted_from_the_table_is_refused_not_left_to_dids_xml(lab):
    run, observer, binary = lab
    with UdpSip("15557654323") as caller:
        outgoing = caller.call(STATIC_DID, FREESWITCH_CARRIER_SIP)
        outgoing.wait_for(200)
        assert _parked_queue(observer, STATIC_DID) == "sales"
        assert outgoing.bye().status == 200
    with run.database.session() as s:
        numbers.delete_number(s, STATIC_DID, 1, who=CLI)
        s.commit()
    with UdpSip("15557654324") as caller:
        caller.call(STATIC_DID, FREESWITCH_CARRIER_SIP).wait_for(404)
        switch_clean(run.switch, binary, run.esl_port, caller)


def test_with_the_controller_down_the_static_dids_xml_routes(lab):
    """Last in this module: it stops the controller. mod_xml_curl cannot connect, and
    FreeSWITCH falls back to dialplan/public.xml and dids.xml (the number deleted from the
    table above is still in the file: the fallback is the file's, by design)."""
    run, observer, binary = lab
    run.live.close_all()
    run.server.stop()
    with UdpSip("15557654325") as caller:
        outgoing = caller.call(STATIC_DID, FREESWITCH_CARRIER_SIP)
        parked = observer.wait_event("the fallback parks", lambda e: e.name == "CHANNEL_PARK"
                                     and e.get("Caller-Caller-ID-Number") == "15557654325")
        assert parked.get("variable_cc_queue") == "sales"
        assert outgoing.cancel().status in (200, 487)
        switch_clean(run.switch, binary, run.esl_port, caller)
    assert any("Received HTTP error 0 trying to fetch" in line and "/freeswitch/dialplan" in line
               for line in run.switch.lines)
