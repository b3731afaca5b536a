"""`callcenter serve`: the web app, the switch link and (with no FreeSWITCH configured) the
built-in simulator, in one gevent process. The caller has already monkey-patched."""

from __future__ import annotations

import logging
import secrets
import signal
import socket
from dataclasses import replace

import gevent
from gevent.event import Event
from gevent.pywsgi import WSGIServer

from .app import create_app
from .config import Settings
from .credentials import Credentials, start_sweeper
from .db import Database, DatabaseError
from .esl.connection import Link
from .live import Hub
from .log import setup_logging
from .private_files import exposed, make_private_dir
from .standby import STOOD_DOWN_EXIT, standing_for
from .switchboard import Switchboard
from .widgets.upkeep import start_purge

log = logging.getLogger(__name__)


def _demo_queue(database, did: str, name: str = "sales") -> None:
    """The demo's callers dial `did` (5550100 unless told otherwise), which the shipped
    dids.xml sends to queue `sales`: make sure the queue exists, that every agent is in it
    (agents added later join at the next start), and that the number reaches it in the inbound
    numbers table unless an admin sent it elsewhere, so a demo shows a queue filling and agents
    taking calls."""
    from sqlalchemy import select

    from . import audit, numbers, queue_config
    from .models import Queue

    with database.session() as session:
        queue = session.scalar(select(Queue).where(Queue.name == name)) or \
            queue_config.create_queue(session, name, {
                "description": "demo callers (CALLCENTER_SIM_CALLERS)"}, who=audit.DEMO)
        joined = queue_config.agents_outside(session, queue)
        for agent in joined:
            queue_config.set_tier(session, name, agent.extension, who=audit.DEMO)
        if numbers.queue_of(session, did) is None:
            numbers.add_number(session, did, name, "demo callers", who=audit.DEMO)
        session.commit()
    log.info("demo: queue %s has %d agents more", name, len(joined))


def run(settings: Settings) -> int:
    """Serve until SIGTERM/SIGINT (0), or until this controller loses the active role
    (STOOD_DOWN_EXIT: its service manager starts it again, as a standby)."""
    setup_logging(settings.log_level, fmt=settings.log_format)
    make_private_dir(settings.instance_dir)
    database = Database(settings.database_url)
    database.check_reachable()
    if not database.is_current():
        raise DatabaseError("the database schema is not current: run `callcenter db upgrade`")
    for line in exposed(settings.instance_dir, settings.database_url):
        log.warning("%s", line)
    settings.recordings_dir.mkdir(parents=True, exist_ok=True)

    # Before anything starts: a stop asked for while starting is a clean stop once started,
    # not death by signal.
    stop = Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stop.set)
    standing = standing_for(settings.database_url, standby=settings.standby)
    if not settings.standby:
        standing.claim(stop)        # a second controller on this database is refused here
    switch = build_switch(settings, database)
    if switch.simulator is not None and not settings.guest_wss_url:
        # Website visitors' calls go to the built-in simulator's guest listener.
        settings = replace(settings, guest_wss_url=switch.simulator.guests.url)
    app = create_app(settings, database, switch.board, switch.hub, standing=standing)
    server = HttpServer((settings.http_host, settings.http_port), app, log=None,
                        error_log=logging.getLogger("callcenter.http"))
    # A standby serves FreeSWITCH's HTTP requests (directory, dialplan, CDRs) while it waits.
    server.start()
    if switch.simulator is not None:
        # The built-in simulator routes the public context as the shipped xml_curl.conf.xml
        # does: it asks this server (the port is known only now).
        switch.simulator.ask_controller(
            f"http://127.0.0.1:{server.server_port}/freeswitch/dialplan",
            settings.freeswitch_http_user, settings.freeswitch_http_password)
        # Its guest listener checks website visitors' digests against this server's directory.
        switch.simulator.guests.ask_directory(
            f"http://127.0.0.1:{server.server_port}/freeswitch/directory",
            settings.freeswitch_http_user, settings.freeswitch_http_password)
    # Tests start us on port 0 and read this line to find the port.
    print(f"callcenter serving on http://{settings.http_host}:{server.server_port}", flush=True)

    stood_down = Event()
    sweepers = []
    if standing.active or standing.claim(stop):
        log.info("active: this controller drives the switch")
        switch.start()
        # Expired SIP credentials are revoked (registration flushed, agent Logged Out) by this.
        sweepers.append(start_sweeper(Credentials.of(settings, switch.board), database))
        # Expired logins are removed (their pages closed, their softphones ended) by this.
        sweepers.append(app.extensions["callcenter"].sessions.start_sweeper())
        # Website visitors' details go when their credential expired unused or their call is
        # past its retention.
        sweepers.append(start_purge(switch.board, database, switch.board.clock,
                                    settings.guest_calls_keep_days))

        def lost() -> None:
            switch.link.stop()      # at once: another controller may be taking over
            log.error("stopped acting: the switch link is closed")
            stood_down.set()
            stop.set()
        standing.watch(lost)
    stop.wait()
    log.info("stopping")
    server.stop(timeout=5)
    for sweeper in sweepers:
        sweeper.stop()
    switch.stop()
    standing.release()
    database.dispose()
    return STOOD_DOWN_EXIT if stood_down.is_set() else 0


class HttpServer(WSGIServer):
    """gevent's WSGI server, answering without Nagle's delay: it writes a response's headers and
    body separately, and on a keep-alive connection the body would otherwise wait for the
    browser's delayed ACK of the headers (40 ms on Linux, up to 200 ms on Windows) on every
    API call."""

    def handle(self, sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle(sock, address)


class Switch:
    """The ESL link, the switchboard on it, the live hub it pushes to, and the simulator behind
    the link when no FreeSWITCH is configured."""

    def __init__(self, link: Link, board: Switchboard, hub: Hub, simulator=None, callers=None):
        self.link, self.board, self.hub = link, board, hub
        self.simulator = simulator
        self.callers = callers  # the simulator's CallerStream, with CALLCENTER_SIM_CALLERS

    def start(self) -> None:
        self.board.start()
        self.link.start()

    def stop(self) -> None:
        if self.callers is not None:
            self.callers.stop()
        self.link.stop()
        self.board.stop()
        if self.simulator is not None:
            self.simulator.stop()


def build_switch(settings: Settings, database: Database) -> Switch:
    """Everything but the link to FreeSWITCH and the switchboard's own work: Switch.start()
    begins those, once this controller is the active one."""
    simulator = None
    if settings.simulated:
        from .sim import Simulator

        # A loopback port and a password of this run only: nothing outside can drive it.
        password = secrets.token_urlsafe(18)
        simulator = Simulator(password, domain=settings.sip_domain, gateway=settings.gateway,
                              recordings_dir=str(settings.recordings_dir), auto_register=True)
        simulator.start()
        simulator.listen_for_guests()
        host, port = "127.0.0.1", simulator.port
        log.info("switch: built-in simulator on 127.0.0.1:%d", port)
    else:
        host, port, password = settings.esl_host, settings.esl_port, settings.esl_password
        log.info("switch: FreeSWITCH at %s:%d", host, port)
    link = Link(host, port, password)
    link.on_resync(lambda: log.info("switch link up: %s:%d", host, port))
    hub = Hub()
    # Today's figures for the live pages: callcenter/figures over this database in
    # CALLCENTER_TIMEZONE (the switchboard's default), computed in gevent's threadpool.
    board = Switchboard.from_settings(settings, link, database, hub)
    if simulator is not None:
        # The demo's softphones: each agent's extension is registered as soon as the
        # switchboard knows the agent, as a browser would register it, and so is each
        # supervisor's own (to listen in with).
        def softphone(extension: str) -> None:
            registration = simulator.directory.register(extension)
            board.note_registration(extension, registration.call_id)
        board.on_agent_discovered(lambda view: softphone(view.extension))
        board.on_own_phone(softphone)
    callers = None
    if simulator is not None and settings.sim_callers is not None:
        from .sim.callers import CallerStream, demo_callers

        demo = demo_callers(settings.sim_callers)
        callers = CallerStream(simulator, demo)
        log.info("switch: built-in simulator sends %s", demo.describe())
        _demo_queue(database, demo.did)
    return Switch(link, board, hub, simulator, callers)
