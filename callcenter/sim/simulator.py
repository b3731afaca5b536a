"""The simulator as a whole: the switch, its registrations and far ends, the ESL server.

Embedded in `callcenter serve` (no CALLCENTER_ESL_HOST) or standalone with
`callcenter simulate` (serve_forever), and driven directly by tests and benchmarks.
"""

from __future__ import annotations

import math
import signal
import sys
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import gevent
from gevent.event import Event as GeventEvent

from callcenter.clock import Clock, RealClock
from callcenter.esl.commands import CommandError, valid_extension, valid_number
from callcenter.sim import reports
from callcenter.sim.api import Api
from callcenter.sim.bus import EventBus
from callcenter.sim.callers import Callers, CallerStream
from callcenter.sim.channels import Channel
from callcenter.sim.dialplan import ControllerDialplan
from callcenter.sim.directory import Directory
from callcenter.sim.endpoints import DTMF_KEYS, Behaviour, Endpoints
from callcenter.sim.events import EventFactory
from callcenter.sim.guests import GuestListener
from callcenter.sim.server import SHUTTING_DOWN, EslServer
from callcenter.sim.switch import Switch
from callcenter.sim.variables import SIP_FOR_CAUSE

HEARTBEAT_S = 20.0

# A few of the modules FreeSWITCH reports unloading at shutdown (it reports ~210).
_UNLOADED_FIRST = (
    ("application", "db", "Insert to the db", "[insert|delete]/<realm>/<key>/<val>", ""),
    ("api", "db", "db get/set", "[insert|delete|select|exists|count|list]/<realm>/<key>/<value>",
     "mod_db"),
    ("limit", "db", "", "", ""),
    ("chat", "sip", "", "", ""),
)
_UNLOADED_LAST = (
    ("generic", "mod_syslog", "", "", ""),
    ("api", "local_stream", "manage local streams",
     "<show|start|reload|stop|hup> <local_stream_name>", "mod_local_stream"),
    ("api", "fifo", "Return data about a fifo", "list|list_verbose|count|debug|status", "mod_fifo"),
)


class CallGenerator:
    """Inbound calls injected at a steady rate (see Simulator.generate_calls); count None:
    until stopped."""

    def __init__(self, sim: Simulator, rate_cps: float, count: int | None,
                 make: Callable[[int], str]) -> None:
        if not (math.isfinite(rate_cps) and rate_cps > 0):
            raise ValueError("rate_cps must be positive")
        self.sim = sim
        self.interval = 1.0 / rate_cps
        self.count = count
        self.make = make
        self.uuids: list[str] = []
        self.injected = 0
        self.done = GeventEvent()
        self._stopped = False
        self._timer = None
        self._started = sim.clock.now()
        self._next(0)

    def _next(self, index: int) -> None:
        if self._stopped or self._last(index - 1) or self.sim.stopped.is_set():
            self.done.set()
            return
        uuid = self.make(index)
        self.injected += 1
        if self.count is not None:  # an endless stream keeps no list
            self.uuids.append(uuid)
        if self._last(index):
            self.done.set()
            return
        # Due times count from the start, so time spent injecting never slows the rate.
        due = self._started + (index + 1) * self.interval
        self._timer = self.sim.clock.call_later(due - self.sim.clock.now(), self._next, index + 1)

    def _last(self, index: int) -> bool:
        return self.count is not None and index + 1 >= self.count

    def stop(self) -> None:
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
        self.done.set()


class Simulator:
    """A FreeSWITCH stand-in speaking the Event Socket protocol on 127.0.0.1.

    auto_register: every user/<ext> counts as registered (the embedded demo); register()
    still fires the sofia::register events a switchboard tracks.
    originate_settle_ms: time between a leg's answer and its originate returning; a
    uuid_bridge inside it makes the job report -ERR ORIGINATOR_CANCEL (as under load); to an
    answered leg, the bridge waits for the originate, and that leg's hangup meanwhile hangs up
    the other (ORIGINATOR_CANCEL) unless it has uuid_bridge_park_on_cancel=true.
    app_delay_ms: time between the originate returning +OK and the leg starting its
    application (&park()); a uuid_bridge inside it bridges a leg that never parked.
    Both default to 0: the leg parks at once, as on an idle FreeSWITCH.
    """

    def __init__(self, password: str, *, host: str = "127.0.0.1", port: int = 0,
                 clock: Clock | None = None, domain: str = "127.0.0.1",
                 gateway: str = "carrier", recordings_dir: str | None = None,
                 auto_register: bool = False, originate_settle_ms: float = 0,
                 app_delay_ms: float = 0) -> None:
        if not password:
            raise ValueError("the simulator needs an ESL password")
        self.clock: Clock = clock or RealClock()
        self.factory = EventFactory(self.clock)
        self.bus = EventBus(self.factory.skip)
        self.directory = Directory(self.bus, self.factory, domain, auto_register=auto_register)
        self.endpoints = Endpoints()
        self.switch = Switch(self.clock, self.bus, self.factory, self.directory, self.endpoints,
                             domain=domain, gateway=gateway, recordings_dir=recordings_dir,
                             originate_settle_s=originate_settle_ms / 1000,
                             app_delay_s=app_delay_ms / 1000)
        self.api = Api(self)
        self.server = EslServer(self, password, host, port)
        self.host = host
        self.password = password
        self.stopped = GeventEvent()
        self.guests: GuestListener | None = None   # website visitors' SIP, once listened for
        self._shut_down = False
        self._beat = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self.server.start()
        self._beat = self.clock.call_later(HEARTBEAT_S, self._heartbeat)

    def _heartbeat(self) -> None:
        """FreeSWITCH's HEARTBEAT every 20 s (clients use it as proof the link is alive)."""
        if self.stopped.is_set():
            return
        sw = self.switch
        up = sw.clock.now() - sw.started
        uptime = reports.status(sw).split("\n", 1)[0][3:]
        sw.fire_plain("HEARTBEAT", [
            ("Event-Info", "System Ready"), ("Up-Time", uptime),
            ("FreeSWITCH-Version", "1.10.12-release+git~20240802T210227Z~a88d069d6f~64bit"),
            ("Uptime-msec", str(int(up * 1000))), ("Session-Count", str(len(sw.channels))),
            ("Max-Sessions", "1000"), ("Session-Per-Sec", "30"), ("Session-Per-Sec-Last", "0"),
            ("Session-Per-Sec-Max", "0"), ("Session-Per-Sec-FiveMin", "0"),
            ("Session-Since-Startup", str(sw.sessions_total)),
            ("Session-Peak-Max", str(sw.sessions_peak)),
            ("Session-Peak-FiveMin", str(sw.sessions_peak)), ("Idle-CPU", "99.000000"),
        ])
        sw.bus.fire("RE_SCHEDULE", lambda: self.factory.plain("RE_SCHEDULE", [
            ("Task-ID", "1"), ("Task-Desc", "heartbeat"), ("Task-Group", "core"),
            ("Task-Runtime", str(int(sw.clock.now() + HEARTBEAT_S))),
        ], calling=("switch_scheduler.c", "switch_scheduler_execute", 73)))
        self._beat = self.clock.call_later(HEARTBEAT_S, self._heartbeat)

    @property
    def port(self) -> int:
        return self.server.port

    def stop(self) -> None:
        """Close every connection and stop listening; calls are dropped without events."""
        self.stopped.set()
        if self._beat is not None:
            self._beat.cancel()
        self.server.stop()
        if self.guests is not None:
            self.guests.stop()
        for ch in self.switch.channels.values():
            for timer in ch.timers:
                timer.cancel()

    def shutdown(self) -> None:
        """What `fsctl shutdown` does (07-shutdown capture): hang up every call, fire
        SHUTDOWN and the unload events, then disconnect every ESL client."""
        if self._shut_down:
            return
        self._shut_down = True
        sw = self.switch
        sw.hangup_all("SYSTEM_SHUTDOWN")
        sw.fire_plain("SHUTDOWN", [("Event-Info", "System Shutting Down")])
        for entry in _UNLOADED_FIRST:
            self._module_unload(*entry)
        sw.fire_plain("CUSTOM", [("profile-name", "external"), ("Gateway", sw.gateway)],
                      subclass="sofia::gateway_delete")
        for profile, port in (("internal", 5060), ("external", 5080)):
            sw.fire_plain("UNPUBLISH", [
                ("service", "_sip._udp,_sip._tcp,_sip._sctp"), ("port", str(port)),
                ("module_name", "mod_sofia"), ("profile_name", profile),
                ("profile_uri", f"sip:mod_sofia@127.0.0.1:{port}")])
        for entry in _UNLOADED_LAST:
            self._module_unload(*entry)
        self.server.disconnect_all(SHUTTING_DOWN)
        self.server.stop()
        self.stopped.set()

    def _module_unload(self, kind: str, name: str, description: str, syntax: str,
                       key: str) -> None:
        headers = [("type", kind), ("name", name)]
        if description:
            headers += [("description", description), ("syntax", syntax)]
        if key:
            headers += [("key", key),
                        ("filename", f"/usr/local/freeswitch/lib/freeswitch/mod/{key}.so")]
        self.switch.fire_plain("MODULE_UNLOAD", headers)

    # --- the outside world ---------------------------------------------------------------

    def register(self, extension: str) -> None:
        """A softphone registers extension `extension` (sofia::register)."""
        self.directory.register(extension)

    def unregister(self, extension: str) -> None:
        self.directory.unregister(extension)

    def script(self, target: str, behaviour: Behaviour) -> None:
        """How the far end at a number or extension behaves from now on."""
        self.endpoints.script(target, behaviour)

    @property
    def default_customer(self) -> Behaviour:
        return self.endpoints.default_customer

    @default_customer.setter
    def default_customer(self, behaviour: Behaviour) -> None:
        self.endpoints.default_customer = behaviour

    @property
    def default_agent(self) -> Behaviour:
        return self.endpoints.default_agent

    @default_agent.setter
    def default_agent(self, behaviour: Behaviour) -> None:
        self.endpoints.default_agent = behaviour

    def ask_controller(self, url: str, user: str, password: str) -> None:
        """Route the public context as the shipped xml_curl.conf.xml does: ask the controller
        at `url` (its /freeswitch/dialplan) with its FreeSWITCH credentials, falling back to the
        static DIDs when it does not answer."""
        self.switch.controller_dialplan = ControllerDialplan(url, user, password,
                                                             hostname=self.factory.hostname)

    def listen_for_guests(self, directory_url: str | None = None, user: str = "",
                          password: str = "") -> GuestListener:
        """Take website visitors' calls (SIP over WebSocket on a port of 127.0.0.1, guests.py),
        checking their digest against the controller's directory at `directory_url` (its
        /freeswitch/directory; ask_directory on the listener sets it later)."""
        if self.guests is None:
            self.guests = GuestListener(self.switch, self.host)
            self.guests.start()
        if directory_url is not None:
            self.guests.ask_directory(directory_url, user, password)
        return self.guests

    def inject_inbound(self, did: str, caller: str, queue: str | None = None, *,
                       caller_name: str = "Customer",
                       behaviour: Behaviour | None = None) -> str:
        """A customer dials `did`; the call parks with cc_queue=<queue> (None: the queue the
        dialplan has for `did`). `behaviour`: the caller's patience and talk time (else the
        one scripted for its number). Returns its uuid."""
        return self.switch.inbound(did, caller, caller_name=caller_name, queue=queue,
                                   behaviour=behaviour).uuid

    def generate_calls(self, rate_cps: float, count: int | None, *, did: str = "5550100",
                       queue: str | None = "sales", first_caller: int = 15550000000,
                       behaviour: Behaviour | Callable[[int], Behaviour] | None = None,
                       ) -> CallGenerator:
        """Inject `count` inbound calls (None: until stopped) at `rate_cps` per second,
        callers numbered from `first_caller`; `behaviour` is each caller's, or makes the
        n-th caller's from n."""
        def make(index: int) -> str:
            caller = str(first_caller + index)
            chosen = behaviour(index) if callable(behaviour) else behaviour
            return self.inject_inbound(did, caller, queue, behaviour=chosen)

        return CallGenerator(self, rate_cps, count, make)

    def far_end_answers(self, uuid: str) -> bool:
        """The phone or customer at the far end of an outbound leg answers now (200 OK)."""
        ch = self.switch.channels.get(uuid)
        if ch is None or ch.direction != "outbound" or ch.answered:
            return False
        self.switch.far_answer(ch)
        return True

    def far_end_hangs_up(self, uuid: str, cause: str = "NORMAL_CLEARING") -> bool:
        """The far end leaves now: BYE if answered; else an inbound caller cancels and an
        outbound leg is refused with `cause` (USER_BUSY, CALL_REJECTED ...)."""
        ch = self.switch.channels.get(uuid)
        if ch is None:
            return False
        if ch.answered:
            self.switch.far_bye(ch)
        elif ch.direction == "inbound":
            self.switch.far_cancel(ch)
        elif cause in SIP_FOR_CAUSE:
            self.switch.far_refuse(ch, cause)
        else:
            self.switch.hangup(ch, cause, by_far_end=True)
        return True

    def press(self, uuid: str, key: str) -> bool:
        """The far end of a leg presses a DTMF key now (RFC 2833, as a SIP caller does)."""
        ch = self.switch.channels.get(uuid)
        if ch is None or not ch.alive or len(key) != 1 or key not in DTMF_KEYS:
            return False
        self.switch.press(ch, key)
        return True

    def vanish(self, uuid: str) -> bool:
        """A channel lost without events, as after an event-socket gap: it is gone from
        `show channels` and every command, and nothing is fired (a bridged partner stays up,
        alone). For proving the controller's auditor finds what it was never told."""
        ch = self.switch.channels.pop(uuid, None)
        if ch is None:
            return False
        ch.down = True
        for timer in ch.timers:
            timer.cancel()
        ch.timers.clear()
        if ch.partner is not None:
            ch.partner.partner = None
            ch.partner = None
        return True

    @property
    def channels(self) -> Mapping[str, Channel]:
        """The live legs by uuid (read-only)."""
        return types.MappingProxyType(self.switch.channels)


MAX_REGISTERED = 100_000


def parse_extensions(text: str) -> list[str]:
    """`1000-1999` or `1000`: extensions for serve_forever's `register`."""
    first, dash, last = text.partition("-")
    try:
        first = valid_extension(first.strip())
        last = valid_extension(last.strip()) if dash else first
    except CommandError as exc:
        raise ValueError(f"{text!r}: {exc}") from None
    if len(first) != len(last) or int(last) < int(first):
        raise ValueError(f"{text!r}: give FIRST-LAST with FIRST <= LAST and as many digits")
    if int(last) - int(first) >= MAX_REGISTERED:
        raise ValueError(f"{text!r}: at most {MAX_REGISTERED} extensions")
    return [str(n).zfill(len(first)) for n in range(int(first), int(last) + 1)]


def customer_behaviour(answer_ms: int | None, hangup_s: float | None) -> Behaviour:
    """A customer whose phone rings, answers after `answer_ms` (None: the simulator's default)
    and hangs up `hangup_s` seconds later (None or 0: stays until hung up)."""
    if answer_ms is not None and answer_ms < 0:
        raise ValueError("the answer time cannot be negative")
    if hangup_s is not None and not (math.isfinite(hangup_s) and hangup_s >= 0):
        raise ValueError("the hang-up time must be a number of seconds, 0 or more")
    if answer_ms is None:
        answer_ms = Endpoints().default_customer.answer_after_ms
    return Behaviour.answer(answer_ms, hangup_after_s=hangup_s or None)


def parse_script(text: str) -> tuple[str, Behaviour]:
    """`NUMBER=ANSWER_MS[:HANGUP_S]`: how the customer at NUMBER behaves."""
    shape = f"{text!r}: give NUMBER=ANSWER_MS[:HANGUP_S], e.g. 5551234=200:3"
    number, equals, times = text.partition("=")
    answer, _, hangup = times.partition(":")
    if not equals:
        raise ValueError(shape)
    try:
        number = valid_number(number.strip(), "number")
    except CommandError as exc:
        raise ValueError(f"{text!r}: {exc}") from None
    try:
        answer_ms, hangup_s = int(answer), float(hangup) if hangup else None
    except ValueError:
        raise ValueError(shape) from None
    try:
        return number, customer_behaviour(answer_ms, hangup_s)
    except ValueError as exc:
        raise ValueError(f"{text!r}: {exc}") from None


def serve_forever(port: int, password: str, *, host: str = "127.0.0.1",
                  print_fn: Callable[..., Any] = print, register: Iterable[str] = (),
                  customer: Behaviour | None = None, scripts: Mapping[str, Behaviour] | None = None,
                  callers: Callers | None = None, **kw: Any) -> None:
    """`callcenter simulate`: serve until SIGTERM/SIGINT or `fsctl shutdown`. `register`:
    extensions whose softphones are registered from the start; `customer`: how customers
    behave by default; `scripts`: how the customer at a given number behaves; `callers`:
    inbound callers to send once a client subscribes to events."""
    sim = Simulator(password, host=host, port=port, **kw)
    for extension in register:
        sim.register(extension)
    if customer is not None:
        sim.default_customer = customer
    for number, behaviour in (scripts or {}).items():
        sim.script(number, behaviour)
    sim.start()
    print_fn(f"ESL simulator listening on {host}:{sim.port} password {password}")
    stream = CallerStream(sim, callers) if callers is not None else None
    if callers is not None:
        print_fn(callers.describe())
    sys.stdout.flush()
    handlers = [gevent.signal_handler(sig, sim.stopped.set)
                for sig in (signal.SIGTERM, signal.SIGINT)]
    try:
        sim.stopped.wait()
    finally:
        for handler in handlers:
            handler.cancel()
        if stream is not None:
            stream.stop()
        sim.stop()
