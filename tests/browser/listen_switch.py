"""The simulator as the switch behind a supervisor listening in, for the browser test of
supervising: `python -m tests.browser.listen_switch PASSWORD EXTENSION...`.

The extensions given are registered (the agent's and the supervisor's phones: the browsers
register theirs with the test's SIP-over-WebSocket endpoint, which is not the switch), every
phone answers at once and customers after 200 ms. It prints `listening on 127.0.0.1:PORT`, then
what the controller made the switch do:

    leg UUID EXTENSION-OR-NUMBER   a leg was originated
    eavesdrop UUID TARGET          leg UUID listens in on leg TARGET
    dtmf UUID KEY                  leg UUID received a key (uuid_recv_dtmf)
    hangup UUID CAUSE              a leg hung up

and reads commands, one a line: `heard UUID` prints `heard UUID LEG,...`, the legs whose phones
hear eavesdropping leg UUID now (the simulator mixes as FreeSWITCH does), or `heard UUID -`.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

import gevent  # noqa: E402

from callcenter.sim.endpoints import Behaviour  # noqa: E402
from callcenter.sim.simulator import Simulator  # noqa: E402

SHOWN = ("CHANNEL_ORIGINATE", "CHANNEL_EXECUTE", "DTMF", "CHANNEL_HANGUP")


class WhatHappened:
    """A bus listener that tells the test about the legs, the eavesdrops, the keys."""

    format = "plain"

    def wants(self, name: str, subclass: str | None) -> bool:
        return name in SHOWN

    def accepts(self, headers: dict[str, str]) -> bool:
        name, uuid = headers.get("Event-Name"), headers.get("Unique-ID")
        if name == "CHANNEL_ORIGINATE":
            say(f"leg {uuid} {headers.get('Caller-Destination-Number')}")
        elif name == "CHANNEL_EXECUTE" and headers.get("Application") == "eavesdrop":
            say(f"eavesdrop {uuid} {headers.get('Application-Data')}")
        elif name == "DTMF":
            say(f"dtmf {uuid} {headers.get('DTMF-Digit')}")
        elif name == "CHANNEL_HANGUP":
            say(f"hangup {uuid} {headers.get('Hangup-Cause')}")
        return False      # seen; nothing to send

    def send(self, frame: bytes) -> None:
        pass


def say(line: str) -> None:
    print(line, flush=True)


def obey(sim: Simulator, line: str) -> None:
    word, *args = line.split()
    if word == "heard" and args:
        channel = sim.switch.channels.get(args[0])
        heard = sorted(sim.switch.heard_by(channel)) if channel is not None else []
        say(f"heard {args[0]} {','.join(heard) or '-'}")
    else:
        say(f"unknown command {line!r}")


def main() -> None:
    password, *extensions = sys.argv[1:]
    sim = Simulator(password)
    sim.default_customer = Behaviour.answer(200)
    for extension in extensions:
        sim.register(extension)
    sim.bus.add(WhatHappened())
    sim.start()
    say(f"listening on 127.0.0.1:{sim.port}")
    read = gevent.get_hub().threadpool
    while line := read.apply(sys.stdin.readline):
        if line.strip():
            obey(sim, line.strip())
    sim.stop()


if __name__ == "__main__":
    main()
