"""The API commands the simulator answers (`api X` and `bgapi X`), with FreeSWITCH's replies.

Each handler takes the argument string and returns the reply text; `originate` returns a
Pending result when run by `api` (it blocks that connection until the call is up or failed)
and reports through BACKGROUND_JOB when run by `bgapi`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import gevent
from gevent.event import AsyncResult

from callcenter.sim import reports
from callcenter.sim.originate import OriginateError, OriginateJob, parse

if TYPE_CHECKING:
    from callcenter.sim.simulator import Simulator

log = logging.getLogger(__name__)

NO_CHANNEL = "-ERR No such channel!\n"


class Pending:
    """The reply of a blocking `api originate`, known once the call is up or has failed."""

    def __init__(self) -> None:
        self._result = AsyncResult()

    def set(self, text: str) -> None:
        self._result.set(text)

    def wait(self) -> str:
        return self._result.get()


class Api:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.switch = sim.switch
        self.dtmf_sent: list[tuple[str, str]] = []  # (uuid, digits) sent to far ends
        self.commands: dict[str, Callable[[str], str | Pending]] = {
            "status": lambda arg: reports.status(self.switch),
            "version": lambda arg: f"FreeSWITCH Version {reports.VERSION} (simulator)\n",
            "show": self.show,
            "originate": self.originate,
            "uuid_bridge": self.uuid_bridge,
            "uuid_kill": self.uuid_kill,
            "uuid_hold": self.uuid_hold,
            "uuid_broadcast": self.uuid_broadcast,
            "uuid_break": self.uuid_break,
            "uuid_record": self.uuid_record,
            "uuid_setvar": self.uuid_setvar,
            "uuid_send_dtmf": self.uuid_send_dtmf,
            "uuid_recv_dtmf": self.uuid_recv_dtmf,
            "uuid_getvar": self.uuid_getvar,
            "global_getvar": self.global_getvar,
            "uuid_transfer": self.uuid_transfer,
            "uuid_answer": self.uuid_answer,
            "uuid_park": self.uuid_park,
            "uuid_exists": lambda arg: "true" if arg.strip() in self.switch.channels else "false",
            "hupall": self.hupall,
            "sofia": self.sofia,
            "sofia_contact": self.sofia_contact,
            "fsctl": self.fsctl,
            "reloadxml": lambda arg: "+OK [Success]\n",
        }

    # --- dispatch ------------------------------------------------------------------------

    def execute(self, command: str, argument: str) -> str | Pending:
        handler = self.commands.get(command)
        if handler is None:
            return f"-ERR {command} Command not found!\n"
        try:
            return handler(argument.strip())
        except Exception as exc:  # a simulator bug must not take the connection down
            log.exception("simulator: api %s %s failed", command, argument)
            return f"-ERR {type(exc).__name__}: {exc}\n"

    def background(self, command: str, argument: str, job_uuid: str) -> None:
        """Run a bgapi command; its API event and BACKGROUND_JOB follow its outcome."""
        def report(text: str) -> None:
            self.fire_api_event(command, argument)
            self.sim.switch.fire_plain("BACKGROUND_JOB", [
                ("Job-UUID", job_uuid), ("Job-Command", command),
                *([("Job-Command-Arg", argument)] if argument else []),
            ], body=text)

        if command == "originate":
            self._originate(argument, OriginateJob(report))
            return
        result = self.execute(command, argument)
        if isinstance(result, Pending):
            result = result.wait()
        report(result)

    def fire_api_event(self, command: str, argument: str) -> None:
        headers = [("API-Command", command)]
        if argument:
            headers.append(("API-Command-Argument", argument))
        self.sim.switch.fire_plain("API", headers)

    def _channel(self, uuid: str):
        ch = self.switch.channels.get(uuid)
        return ch if ch is not None and ch.alive else None

    # --- commands ------------------------------------------------------------------------

    def show(self, arg: str) -> str:
        words = arg.split()
        what = words[0] if words else ""
        as_json = words[-2:] == ["as", "json"]
        if what == "channels":
            if words[1:2] == ["count"]:
                return f"\n{len(self.switch.channels)} total.\n"
            return reports.show_channels(self.switch, as_json)
        if what == "calls":
            return reports.show_calls(self.switch, as_json)
        if what == "registrations":
            return self.sim.directory.show_json() if as_json else \
                f"\n{len(self.sim.directory.registrations)} total.\n"
        return "-USAGE: codec|endpoint|application|api|dialplan|file|timer|calls [count]|" \
               "channels [count|like <match string>]|calls|detailed_calls|bridged_calls|" \
               "detailed_bridged_calls|aliases|complete|chat|management|modules|nat_map|say|" \
               "interfaces|interface_types|tasks|limits|status\n"

    def originate(self, arg: str) -> Pending:
        pending = Pending()
        self._originate(arg, OriginateJob(pending.set))
        return pending

    def _originate(self, arg: str, job: OriginateJob) -> None:
        try:
            request = parse(arg)
        except OriginateError as exc:
            job.finish(str(exc))
            return
        self.switch.originate(request, job)

    def uuid_bridge(self, arg: str) -> str:
        words = arg.split()
        if len(words) < 2:
            return "-USAGE: <uuid> <other_uuid>\n"
        a, b = self._channel(words[0]), self._channel(words[1])
        if a is None or b is None or not self.switch.bridge(a, b):
            return "-ERR Invalid uuid\n"
        return f"+OK {words[1]}\n"

    def uuid_kill(self, arg: str) -> str:
        if not arg:
            return "-USAGE: <uuid> [cause]\n"
        uuid, _, cause = arg.partition(" ")
        ch = self._channel(uuid)
        if ch is None:
            return NO_CHANNEL
        self.switch.hangup(ch, cause.strip().upper() or "NORMAL_CLEARING")
        return "+OK\n"

    def uuid_hold(self, arg: str) -> str:
        words = arg.split()
        if not words:
            return "-USAGE: [off|toggle] <uuid> [<display>]\n"
        mode = words[0].lower()
        uuid = words[1] if mode in ("off", "toggle") and len(words) > 1 else words[0]
        ch = self._channel(uuid)
        ok = False
        if ch is not None:
            if mode == "off":
                ok = self.switch.unhold(ch)
            elif mode == "toggle":
                ok = self.switch.unhold(ch) if ch.held else self.switch.hold(ch)
            else:
                ok = self.switch.hold(ch)
        return "+OK Success\n" if ok else "-ERR Operation failed\n"

    def uuid_broadcast(self, arg: str) -> str:
        words = arg.split()
        if len(words) < 2:
            return "-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n"
        ch = self._channel(words[0])
        if ch is None:
            return "-ERR invalid uuid\n"
        self.switch.broadcast(ch, words[1], words[2].lower() if len(words) > 2 else "aleg")
        return "+OK Message sent\n"

    def uuid_break(self, arg: str) -> str:
        if not arg:
            return "-USAGE: <uuid> [all]\n"
        words = arg.split()
        ch = self._channel(words[0])
        if ch is None:
            return NO_CHANNEL
        self.switch.break_playback(ch, everything=len(words) > 1 and "all" in words[1])
        return "+OK\n"

    def uuid_record(self, arg: str) -> str:
        words = arg.split()
        if len(words) < 3 or words[1].lower() not in ("start", "stop", "mask", "unmask",
                                                        "pause", "resume"):
            return ("-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] "
                    "[<recording_vars>]\n")
        ch = self._channel(words[0])
        if ch is None:
            return "-ERR Cannot locate session!\n"
        action, path = words[1].lower(), words[2]
        if action == "start":
            ok = self.switch.record_start(ch, path)
            return "+OK Success\n" if ok else "-ERR Cannot record session!\n"
        if action == "stop":
            ok = self.switch.record_stop(ch, path)
            return "+OK Success\n" if ok else "-ERR Cannot stop record session!\n"
        return "+OK Success\n"

    def uuid_setvar(self, arg: str) -> str:
        words = arg.split(" ", 2)
        if len(words) < 2 or not words[0]:
            return "-USAGE: <uuid> <var> [value]\n"
        ch = self._channel(words[0])
        if ch is None:
            return NO_CHANNEL
        if not words[1]:
            return "-ERR No variable specified\n"
        ch.set_var(words[1], words[2] if len(words) > 2 and words[2] != "" else None)
        return "+OK\n"

    def uuid_send_dtmf(self, arg: str) -> str:
        # mod_commands 1.10.12: no event; the digits go to the leg's far end.
        words = arg.split()
        if len(words) < 2:
            return "-USAGE: <uuid> <dtmf_data>\n"
        ch = self._channel(words[0])
        if ch is None:
            return "-ERR Cannot locate session!\n"
        self.dtmf_sent.append((ch.uuid, words[1]))
        return f"+OK {words[0]} sent DTMF {words[1]}.\n"

    def uuid_recv_dtmf(self, arg: str) -> str:
        # mod_commands 1.10.12: the digits are queued on the leg as if its phone sent them.
        words = arg.split()
        if len(words) < 2:
            return "-USAGE: <uuid> <dtmf_data>\n"
        ch = self._channel(words[0])
        if ch is None:
            return "-ERR Cannot locate session!\n"
        self.switch.receive_dtmf(ch, words[1])
        return f"+OK {words[0]} received DTMF {words[1]}.\n"

    def uuid_getvar(self, arg: str) -> str:
        words = arg.split()
        if len(words) < 2:
            return "-USAGE: <uuid> <var>\n"
        ch = self._channel(words[0])
        if ch is None:
            return NO_CHANNEL
        return ch.variables.get(words[1], "_undef_")

    def global_getvar(self, arg: str) -> str:
        # The one global the controller reads: this run's identity (a restart changes it).
        return self.switch.factory.core_uuid if arg.strip() == "core_uuid" else ""

    def uuid_transfer(self, arg: str) -> str:
        words = arg.split()
        if len(words) < 2 or len(words) > 5:
            return "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
        ch = self._channel(words[0])
        if ch is None:
            return NO_CHANNEL
        legs = [ch]
        if words[1].startswith("-"):
            flag = words.pop(1).lower()
            if flag == "-bleg" and ch.partner is not None:
                legs = [ch.partner]
            elif flag == "-both" and ch.partner is not None:
                legs = [ch, ch.partner]
                self.switch.leave_bridge(ch, both=True)
        if len(words) < 2:
            return "-ERR\n"
        dialplan = words[2] if len(words) > 2 else "XML"
        for leg in legs:
            self.switch.transfer(leg, words[1], dialplan)
        return "+OK\n"

    def uuid_answer(self, arg: str) -> str:
        ch = self._channel(arg.split()[0]) if arg else None
        if ch is None:
            return "-ERROR\n"
        if ch.direction == "inbound":
            self.switch.answer_inbound(ch)
        return "+OK\n"

    def uuid_park(self, arg: str) -> str:
        ch = self._channel(arg.split()[0]) if arg else None
        if ch is None:
            return "-ERR No such channel!\n"
        self.switch.transfer(ch, "park")
        return "+OK\n"

    def hupall(self, arg: str) -> str:
        cause = (arg.split()[0].upper() if arg else "") or "MANAGER_REQUEST"
        self.switch.hangup_all(cause)
        return f"+OK hangup all channels with cause {cause}\n"

    def sofia(self, arg: str) -> str:
        words = arg.split()
        if words[:1] == ["status"]:
            if len(words) >= 3 and words[1] == "gateway":
                return reports.sofia_gateway(self.switch, words[2])
            return reports.sofia_status(self.switch)
        return "-ERR Usage: sofia status|gateway ...\n"

    def sofia_contact(self, arg: str) -> str:
        user = arg.split("/")[-1].partition("@")[0]
        return self.sim.directory.contact(user)

    def fsctl(self, arg: str) -> str:
        if arg.split()[:1] == ["shutdown"]:
            # After this reply and its API event have gone out, as FreeSWITCH does.
            gevent.spawn(self.sim.shutdown)
            return "+OK\n"
        return "-ERR the simulator supports fsctl shutdown only\n"
