"""The simulator as the switch behind a real softphone, for the browser tests of queued calls:
`python -m tests.browser.offer_switch PASSWORD EXTENSION...` (each extension registered).

The simulator plays FreeSWITCH; the test plays the SIP side (tests/sipws.py rings the browser).
So an agent's phone here rings and never answers by itself: the test relays what the browser
did. It prints `listening on 127.0.0.1:PORT`, then `agent leg UUID EXT auto|ask` for each leg
rung to an agent (`auto`: with the auto-answer header), and reads commands, one a line:

    caller QUEUE NUMBER   a caller (NUMBER: the rest of the line, any text) dials the DID and
                          is parked for QUEUE; prints `caller UUID`
    hangup UUID           the caller hangs up
    answer UUID           the agent's phone answered (200 OK)
    refuse UUID CAUSE     the agent's phone refused (CALL_REJECTED: 603 Decline)
    press UUID KEY        the caller presses a key (a DTMF event)
    controller URL USER PASSWORD
                          route the public context by asking the controller (its
                          /freeswitch/dialplan), as the shipped xml_curl.conf.xml does
    register EXTENSION    the extension's phone registers (again): sofia's register events
    dial DID NUMBER       a caller NUMBER dials DID through the public dialplan; prints
                          `dialled UUID parked QUEUE` or `dialled UUID refused CAUSE`
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

import gevent  # noqa: E402

from callcenter.sim.endpoints import Behaviour  # noqa: E402
from callcenter.sim.simulator import Simulator  # noqa: E402

DID = "5550100"


class AgentLegs:
    """A bus listener that tells the test about each leg rung to an agent's phone."""

    format = "plain"

    def wants(self, name: str, subclass: str | None) -> bool:
        return name == "CHANNEL_ORIGINATE"

    def accepts(self, headers: dict[str, str]) -> bool:
        if headers.get("Channel-Name", "").startswith("sofia/internal/"):
            auto = "answer-after=0" in headers.get("variable_sip_h_Call-Info", "")
            say(f"agent leg {headers['Unique-ID']} {headers.get('Caller-Destination-Number')} "
                f"{'auto' if auto else 'ask'}")
        return False      # seen; nothing to send

    def send(self, frame: bytes) -> None:
        pass


def say(line: str) -> None:
    print(line, flush=True)


def obey(sim: Simulator, line: str) -> None:
    line = line.strip()
    word, *args = line.split()
    if word == "caller":
        queue, number = line.split(maxsplit=2)[1:]
        say(f"caller {sim.inject_inbound(DID, number, queue)}")
    elif word == "guest":       # a website visitor's call: what its directory entry sets
        queue, widget, token = args
        dialplan = sim.switch.run_dialplan

        def guest_dialplan(ch, exten):
            for name, value in (("cc_channel", "web"), ("cc_widget", widget),
                                ("cc_guest", token)):
                ch.set_var(name, value)
            dialplan(ch, exten)

        sim.switch.run_dialplan = guest_dialplan
        try:
            say(f"caller {sim.inject_inbound(DID, 'g' + '0' * 20, queue)}")
        finally:
            sim.switch.run_dialplan = dialplan
    elif word == "hangup":
        say(f"hung up {args[0]} {sim.far_end_hangs_up(args[0])}")
    elif word == "answer":
        say(f"answered {args[0]} {sim.far_end_answers(args[0])}")
    elif word == "press":
        say(f"pressed {args[0]} {sim.press(args[0], args[1])}")
    elif word == "controller":
        sim.ask_controller(*args[:3])
        say("controller set")
    elif word == "register":
        sim.register(args[0])
        say(f"registered {args[0]}")
    elif word == "dial":
        ch = sim.switch.inbound(args[0], args[1])
        how = (f"parked {ch.variables.get('cc_queue', '')}" if ch.parked
               else f"refused {ch.hangup_cause}")
        say(f"dialled {ch.uuid} {how}")
    elif word == "refuse":
        say(f"refused {args[0]} {sim.far_end_hangs_up(args[0], args[1])}")
    else:
        say(f"unknown command {line!r}")


def main() -> None:
    password, *extensions = sys.argv[1:]
    sim = Simulator(password)
    sim.default_agent = Behaviour.ringing()
    for extension in extensions:
        sim.register(extension)
    sim.bus.add(AgentLegs())
    sim.start()
    say(f"listening on 127.0.0.1:{sim.port}")
    read = gevent.get_hub().threadpool
    while line := read.apply(sys.stdin.readline):
        if line.strip():
            obey(sim, line)
    sim.stop()


if __name__ == "__main__":
    main()
