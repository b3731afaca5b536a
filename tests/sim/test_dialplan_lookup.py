"""The simulator asks the controller for the public dialplan as FreeSWITCH's mod_xml_curl does
(the same form fields and credentials): a number in the table parks for its queue, a number not
in it is refused (404: UNALLOCATED_NUMBER), and when the controller does not answer the static
DIDs apply."""

from __future__ import annotations

import io
from urllib.parse import parse_qsl

import pytest
from gevent.pywsgi import WSGIServer

from callcenter import numbers, queue_config
from callcenter.app import create_app
from callcenter.audit import CLI
from callcenter.sim import Simulator
from tests.freeswitch.switch import free_port
from tests.sim.conftest import PASSWORD


@pytest.fixture
def controller(settings, database):
    """The controller's app on a port of this process's hub; `.posts` has each form posted."""
    with database.session() as s:
        for name in ("sales", "support"):
            queue_config.create_queue(s, name, who=CLI)
        numbers.add_number(s, "5550177", "support", who=CLI)
        s.commit()
    app = create_app(settings, database)
    posts = []

    def recording(environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        posts.append((environ.get("HTTP_AUTHORIZATION", ""), dict(parse_qsl(body.decode()))))
        environ["wsgi.input"] = io.BytesIO(body)
        return app(environ, start_response)

    server = WSGIServer(("127.0.0.1", 0), recording, log=None)
    server.start()
    server.url = f"http://127.0.0.1:{server.server_port}/freeswitch/dialplan"
    server.posts = posts
    yield server
    server.stop()


class Executed:
    """A bus listener keeping each leg's applications, as CHANNEL_EXECUTE announces them."""

    format = "plain"

    def __init__(self) -> None:
        self.apps: dict[str, list[tuple[str, str]]] = {}

    def wants(self, name: str, subclass: str | None) -> bool:
        return name == "CHANNEL_EXECUTE"

    def accepts(self, headers: dict[str, str]) -> bool:
        self.apps.setdefault(headers["Unique-ID"], []).append(
            (headers.get("Application"), headers.get("Application-Data", "")))
        return False

    def send(self, frame: bytes) -> None:
        pass

    def of(self, uuid: str) -> list[tuple[str, str]]:
        return self.apps.get(uuid, [])


@pytest.fixture
def sim(clock, tmp_path):
    simulator = Simulator(PASSWORD, clock=clock, recordings_dir=str(tmp_path))
    simulator.start()
    yield simulator
    simulator.stop()


def test_a_number_in_the_table_parks_for_its_queue(sim, controller, settings):
    sim.ask_controller(controller.url, settings.freeswitch_http_user,
                       settings.freeswitch_http_password)
    uuid = sim.inject_inbound("+5550177", "15551234567")
    ch = sim.switch.channels[uuid]
    assert ch.parked and ch.variables["cc_queue"] == "support"
    assert ch.park_timer is not None                      # the document's park_timeout
    # What FreeSWITCH posts: the section, the channel, and its caller profile as Hunt-*.
    [(authorization, form)] = controller.posts
    assert authorization.startswith("Basic ")
    assert form["section"] == "dialplan" and form["Event-Name"] == "REQUEST_PARAMS"
    assert (form["Hunt-Context"], form["Hunt-Destination-Number"]) == ("public", "+5550177")
    assert form["Caller-Destination-Number"] == "+5550177" and form["Unique-ID"] == uuid


def test_a_number_not_in_the_table_is_refused_even_a_static_one(sim, controller, settings):
    sim.ask_controller(controller.url, settings.freeswitch_http_user,
                       settings.freeswitch_http_password)
    # 5550100 is in the static dids.xml, not in the controller's table: the table decides.
    executed = Executed()
    sim.bus.add(executed)
    for did in ("5550100", "5550199"):
        ch = sim.switch.inbound(did, "15551234567")
        assert ch.down and not ch.parked and "cc_queue" not in ch.variables
        assert ch.hangup_cause == "UNALLOCATED_NUMBER"
        assert executed.of(ch.uuid)[-2:] == [("respond", "404 Not Found"),
                                              ("hangup", "UNALLOCATED_NUMBER")]
    assert len(controller.posts) == 2


@pytest.mark.parametrize("how", ["down", "wrong credentials"])
def test_without_an_answer_the_static_dids_apply(sim, controller, settings, how):
    if how == "down":
        sim.ask_controller(f"http://127.0.0.1:{free_port()}/freeswitch/dialplan", "x", "y")
    else:
        sim.ask_controller(controller.url, settings.freeswitch_http_user, "wrong")
    uuid = sim.inject_inbound("5550100", "15551234567")
    ch = sim.switch.channels[uuid]
    assert ch.parked and ch.variables["cc_queue"] == "sales"      # the shipped dids.xml's
