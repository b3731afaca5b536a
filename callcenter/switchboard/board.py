"""The switchboard: wires FreeSWITCH's events to legs, the router (features and the owners of
each kind of call), finishing and the resync, and is the façade of actions and queries the web
layer may ask for.

Everything here runs in gevent greenlets without locks: handlers never yield while state is
half-changed (commands go out through the Sender, writes through the Store, pushes through the
hub, none of which yields).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import gevent

from ..cdr.posts import Unwritten, unwritten_legs
from ..cdr.spool import CdrSpool
from ..clock import Clock, RealClock
from ..errors import CallEnded, InvalidInput
from ..esl import commands
from ..esl.protocol import Event
from ..live import EVERYTHING
from ..models import AgentState, AgentStatus, HangupBy, OfferOutcome
from ..thresholds import wall_for
from . import messages
from .agents import AgentError, AgentView, Roster, load_agents, load_own_extensions
from .auditor import AUDIT_SECONDS, Auditor
from .calls import Calls, DialTimes
from .consult import Consult, Consults
from .controls import ControlError, Controls
from .dialer import Dialer, SwitchUnavailable
from .disposition import Dispositions, load_dispositions
from .figures_feed import TOPIC as FIGURES_TOPIC
from .figures_feed import FiguresFeed, TodayFigures, in_threadpool, site_figures
from .finishing import Finishing
from .handlers import Handlers
from .legs import CHANNEL_EVENTS, Call, CallKind, Happened, Legs
from .offers import Offers
from .persist import Persist
from .queue_rows import QueueRows
from .queues import Distributor, load_queues
from .queues.callbacks import Callbacks, load_callbacks
from .queues.requeue import Requeue
from .queues.waiting import Waiting, waiting_of
from .recording import Recording
from .resync import Resync
from .router import Router
from .sender import Sender
from .spool import Spool
from .stats import SwitchboardStats, stamped_at
from .store import Store
from .supervision import Mode, Supervision, Supervisor
from .transfer import Transfer, Transfers
from .web_calls import WebCalls

log = logging.getLogger(__name__)

# What became of queued callers (the distributor's counts beside its offers).
_CALLER_RESULTS = ("entered", "answered", "abandoned", "timed_out", "overflowed",
                   "unknown_queue", "closed")


class Switchboard:
    def __init__(self, link, database, *, hub=None, clock: Clock | None = None,
                 domain: str = "127.0.0.1", gateway: str = "carrier",
                 caller_id: str | None = None, times: DialTimes | None = None,
                 recordings_dir: str | Path | None = None,
                 spool_dir: str | Path | None = None,
                 cdr_spool_dir: str | Path | None = None,
                 audit_seconds: float = AUDIT_SECONDS, timezone: str = "UTC",
                 today_figures: TodayFigures | None = None,
                 wall_thresholds: dict | None = None, monitor_notice: bool = False,
                 requeue_keeps_entry: bool = True) -> None:
        """`audit_seconds`: how often the auditor compares memory with FreeSWITCH (0: only
        after each resync); `timezone`: the site's, which queues' open hours are read in;
        `today_figures(now)`: today's figures for the live pages (None: callcenter/figures over
        this database, in `timezone`); `wall_thresholds`: the wall display's colours
        (thresholds.wall); `monitor_notice`: agents see when a supervisor listens in;
        `requeue_keeps_entry`: a customer sent back to the queue it came from keeps its place."""
        self.link = link
        self.clock = clock or RealClock()
        self.hub = hub
        self.sessions = database.sessions
        self.store = Store(database.writer.sessions, reopen=database.writer.dispose,
                           spool=Spool(spool_dir) if spool_dir is not None else None,
                           committed=lambda written: self.persist.count_written(written))
        self.sender = Sender(link)
        self.stats = SwitchboardStats()
        self.legs = Legs()
        self.persist = Persist(legs=self.legs, clock=self.clock, store=self.store,
                               stats=self.stats)
        self.roster = Roster(self.clock, self.persist.agent_values, self._publish,
                             load_agents(database.sessions), noted=self.persist.event)
        self.calls = Calls(legs=self.legs, sender=self.sender, clock=self.clock,
                           times=times or DialTimes(), stats=self.stats)
        self.offers = Offers(calls=self.calls, roster=self.roster, domain=domain)
        self.router = Router(self.legs)
        self.finishing = Finishing(legs=self.legs, roster=self.roster, persist=self.persist,
                                   router=self.router, sender=self.sender, stats=self.stats,
                                   clock=self.clock, changed=self._announce)
        self.dialer = Dialer(calls=self.calls, offers=self.offers, roster=self.roster,
                             domain=domain, gateway=gateway, caller_id=caller_id,
                             ended=self.finishing.finish, changed=self._announce)
        self.handlers = Handlers(legs=self.legs, roster=self.roster, persist=self.persist,
                                 clock=self.clock)
        self.controls = Controls(calls=self.calls, changed=self._announce,
                                 connected=lambda: self.link.connected,
                                 noted=self.persist.call_event)
        self.recording = Recording(calls=self.calls, controls=self.controls, roster=self.roster,
                                   persist=self.persist, changed=self._announce,
                                   recordings_dir=recordings_dir)
        self.transfers = Transfers(calls=self.calls, controls=self.controls, offers=self.offers,
                                   roster=self.roster, persist=self.persist,
                                   handlers=self.handlers,
                                   changed=self._announce, publish=self._publish,
                                   gateway=gateway, caller_id=caller_id)
        self.consults = Consults(calls=self.calls, controls=self.controls, offers=self.offers,
                                 roster=self.roster, persist=self.persist,
                                 handlers=self.handlers,
                                 changed=self._announce, publish=self._publish,
                                 gateway=gateway, caller_id=caller_id)
        self.dispositions = Dispositions(legs=self.legs, roster=self.roster,
                                         persist=self.persist,
                                         load=load_dispositions(database.sessions))
        self.distributor = Distributor(calls=self.calls, offers=self.offers, roster=self.roster,
                                       persist=self.persist,
                                       load=load_queues(database.sessions),
                                       changed=self._announce, publish=self._publish,
                                       gateway=gateway, defer=_soon,
                                       settled=self.finishing.maybe, timezone=timezone)
        self.web_calls = WebCalls(calls=self.calls, persist=self.persist,
                                  sessions=database.sessions,
                                  lines=lambda: self.distributor.lines)
        self.distributor.web_calls = self.web_calls
        self.requeue = Requeue(self.distributor, self.controls, self.handlers,
                               changed=self._announce, keep_entry=requeue_keeps_entry)
        self.callbacks = Callbacks(self.distributor, self.dialer,
                                   load=load_callbacks(database.sessions), publish=self._publish)
        self.supervision = Supervision(calls=self.calls, controls=self.controls, domain=domain,
                                       registered=self.roster.phone_registered,
                                       publish=self._publish, notice=monitor_notice,
                                       noted=self.persist.call_event)
        # In-call features see every event first (a transfer completes before the recording
        # resumes on its new leg), then the owner of the call's kind. Supervisors' legs are
        # supervision's alone: it sees them first and keeps them from the owner. Who handled
        # the call is noted before any feature moves the call's legs around.
        for feature in (self.handlers, self.supervision, self.transfers, self.consults,
                        self.recording, self.controls, self.requeue):
            self.router.add_common(feature)
        self.router.add_owner(CallKind.DIAL_OUT, self.dialer)
        self.router.add_owner(CallKind.QUEUED, self.distributor)
        self.router.add_owner(CallKind.CALLBACK, self.callbacks)
        self.router.add_claimer(self.distributor.claim)
        self.resync = Resync(link=link, roster=self.roster, legs=self.legs, store=self.store,
                             sessions=self.sessions, router=self.router,
                             finishing=self.finishing, clock=self.clock,
                             changed=self._announce)
        self.auditor = Auditor(sender=self.sender, legs=self.legs, roster=self.roster,
                               offers=self.offers, finishing=self.finishing,
                               distributor=self.distributor, clock=self.clock,
                               seconds=audit_seconds)
        # The live pages' queue rows and today's figures (the supervisor, the wall display).
        self.queue_rows = QueueRows(distributor=self.distributor, roster=self.roster,
                                    clock=self.clock, publish=self._publish_to, defer=_soon,
                                    wall_thresholds=wall_thresholds)
        today, off_hub = (today_figures, in_threadpool) if today_figures \
            else site_figures(database, timezone)
        self.figures_feed = FiguresFeed(today, clock=self.clock, publish=self._publish_to,
                                        listening=self._figures_heard, beside=self._repairs,
                                        off_hub=off_hub)
        for name in CHANNEL_EVENTS:
            link.on(name, self._on_channel)
        link.on("RECORD_STOP", self.recording.on_record)
        link.on("sofia::register", self.roster.on_register)
        link.on("sofia::unregister", self.roster.on_unregister)
        link.on("sofia::expire", self.roster.on_unregister)
        # The link's state first: the pages' banner goes before the resync's news about calls.
        self._switch_shown: bool | None = None
        self._own_extensions = load_own_extensions(database.sessions)
        self._own_phone: Callable[[str], None] | None = None
        link.on_resync(self._switch_changed)
        link.on_disconnect(self._switch_changed)
        link.on_resync(self.resync.run)
        link.on_resync(self.auditor.run)    # what the resync could not mend, the audit finds
        link.on_disconnect(self.resync.link_lost)
        self.cdr_spool = CdrSpool(cdr_spool_dir, database, link,
                                  unwritten_legs(self.legs, self.store), self.clock)
        if hub is not None:
            hub.set_snapshot(self.snapshot)
            hub.provide("queues", self.queue_rows.snapshot_section)
            hub.provide("monitors", self.supervision.snapshot_section)
            hub.provide("figures", self.figures_feed.snapshot_section)
            hub.provide("now", lambda audience: self.clock.now())   # pages tick from it

    @classmethod
    def from_settings(cls, settings, link, database, hub=None, clock=None,
                      today_figures: TodayFigures | None = None) -> Switchboard:
        return cls(link, database, hub=hub, clock=clock, domain=settings.sip_domain,
                   gateway=settings.gateway, caller_id=settings.outbound_caller_id,
                   recordings_dir=settings.recordings_dir, spool_dir=settings.instance_dir,
                   cdr_spool_dir=settings.cdr_spool_dir, audit_seconds=settings.audit_seconds,
                   timezone=settings.timezone, today_figures=today_figures,
                   wall_thresholds=settings.wall_thresholds,
                   monitor_notice=settings.monitor_notice,
                   requeue_keeps_entry=settings.requeue_keeps_place)

    def start(self) -> None:
        self.store.start()
        # Writes kept in the spool from the last run land before the roster reads its rows.
        self.store.flush(10)
        self.roster.reload()
        for extension in self._own_extensions():
            self.own_phone_given(extension)
        self.distributor.reload()
        self.web_calls.reload()
        self.dispositions.reload()
        self.cdr_spool.start()
        self.auditor.start()
        self.queue_rows.start()
        self.figures_feed.start()

    def stop(self) -> None:
        self.figures_feed.stop()
        self.queue_rows.stop()
        self.auditor.stop()
        self.cdr_spool.stop()
        self.persist.release_held()
        self.store.stop()

    # -- actions (called from web requests) ------------------------------------------------------

    def dial(self, agent_id: int, number: str, requested_at: float | None = None) -> Call:
        """`requested_at`: time.perf_counter() when the request arrived, for the figures."""
        agent = self.roster.get(agent_id)
        started = time.perf_counter() if requested_at is None else requested_at
        call = self.dialer.dial(agent, number, connected=self.link.connected, sent=lambda: (
            self.stats.api_to_originate.add(time.perf_counter() - started)))
        self.stats.placed += 1
        self.persist.new_call(call)
        self._announce(call)
        log.info("dial %s for agent %s", call.number, agent.extension,
                 extra={"call_id": call.id, "agent": agent.extension})
        return call

    def hang_up(self, call_id: str, by: HangupBy = HangupBy.AGENT) -> Call:
        call = self._live(call_id)
        if not self.link.connected:
            raise SwitchUnavailable("the phone system (FreeSWITCH) is unreachable; "
                                    "try again in a moment")
        self.calls.end(call, by)
        log.info("hang up by %s", by.value, extra={"call_id": call.id})
        return call

    # In-call controls (controls.py); each raises ControlError when it cannot be used now, and
    # CallEnded (as hanging up does) on a call that has ended.

    def hold(self, call_id: str) -> Call:
        call = self._live(call_id)
        self.controls.hold(call)
        return call

    def unhold(self, call_id: str) -> Call:
        call = self._live(call_id)
        self.controls.unhold(call)
        return call

    def send_dtmf(self, call_id: str, digits: str) -> Call:
        call = self._live(call_id)
        self.controls.send_dtmf(call, digits)
        return call

    def record(self, call_id: str, on: bool) -> Call:
        call = self._live(call_id)
        if on:
            self.recording.start(call)
        else:
            self.recording.stop(call)
        return call

    def transfer(self, call_id: str, *, number: str | None = None,
                 agent_id: int | None = None) -> Transfer:
        """Blind transfer to a number or to another agent (exactly one of them)."""
        call = self._live(call_id)
        if agent_id is not None:
            try:
                target = self.roster.get(agent_id)
            except AgentError:
                raise InvalidInput(f"there is no agent {agent_id}", field="agent_id") from None
            return self.transfers.to_agent(call, target)
        return self.transfers.to_number(call, number or "")

    # Supervisors (supervision.py): listen in, whisper, barge, leave; each raises
    # SupervisionError (409) when it no longer applies, CallEnded on a call that has ended.

    def monitor(self, call_id: str, supervisor: Supervisor, mode: Mode) -> list[dict]:
        call = self._live(call_id)
        self.supervision.monitor(call, supervisor, mode)
        return self.supervision.monitors(call)

    def set_monitor_mode(self, call_id: str, user_id: int, mode: Mode) -> list[dict]:
        call = self._live(call_id)
        self.supervision.set_mode(call, user_id, mode)
        return self.supervision.monitors(call)

    def stop_monitoring(self, call_id: str, user_id: int) -> list[dict]:
        call = self._live(call_id)
        self.supervision.leave(call, user_id)
        return self.supervision.monitors(call)

    # A supervisor moves a waiting caller (distributor.py); CallerError (409) when it no
    # longer waits or the agent is not free.

    def move_caller(self, call_id: str, queue: str) -> tuple[Call, str]:
        """To another queue's line, keeping its place by entry time; also the queue it left."""
        call = self._live(call_id)
        self.controls.reachable()
        return call, self.distributor.move_caller(call, queue)

    def offer_caller(self, call_id: str, agent_id: int) -> Call:
        """Ring a chosen Available, Idle agent for the caller now."""
        call = self._live(call_id)
        self.controls.reachable()
        self.distributor.offer_now(call, agent_id)
        return call

    def queue_names(self) -> list[str]:
        """The queues a customer can be sent to (the agent page's picker)."""
        return sorted(self.distributor.queues)

    def transfer_to_queue(self, call_id: str, queue: str) -> Waiting:
        """Send the customer into a queue's line; the agent is freed (queues/requeue.py)."""
        if not isinstance(queue, str) or not queue.strip():
            raise InvalidInput("name the queue", field="queue")
        return self.requeue.to_queue(self._live(call_id), queue.strip())

    def consult(self, call_id: str, *, number: str | None = None,
                agent_id: int | None = None, extension: str | None = None) -> Consult:
        """Consult another agent (by id or extension) or a number, the customer on hold."""
        call = self._live(call_id)
        if extension is not None:
            agent = next((a for a in self.roster.agents.values()
                          if a.extension == extension), None)
            if agent is None:
                raise InvalidInput(f"no agent has extension {extension}", field="extension")
            return self.consults.to_agent(call, agent)
        if agent_id is not None:
            return self.consults.to_agent(call, self._target(agent_id))
        return self.consults.to_number(call, number or "")

    def consult_step(self, call_id: str, step: str) -> Consult:
        """swap, complete, three-way, leave (a three-way call) or cancel the call's consult."""
        call = self._live(call_id)
        steps = {"swap": self.consults.swap, "complete": self.consults.complete,
                 "three-way": self.consults.three_way, "leave": self.consults.leave,
                 "cancel": self.consults.cancel}
        if step not in steps:
            raise InvalidInput(f"a consult step is one of {', '.join(steps)}", field="step")
        return steps[step](call)

    def _target(self, agent_id: int) -> AgentView:
        try:
            return self.roster.get(agent_id)
        except AgentError:
            raise InvalidInput(f"there is no agent {agent_id}", field="agent_id") from None

    def set_disposition(self, call_id: str, agent_id: int | None, disposition: object,
                        notes: object, recorded_queue: int | None = None) -> tuple[str, str | None]:
        """`recorded_queue`: the call record's queue id, for a call no longer in memory."""
        agent = self.roster.agents.get(agent_id) if agent_id is not None else None
        return self.dispositions.dispose(call_id, agent, disposition, notes,
                                         self._queue_of(call_id, recorded_queue))

    def disposition_choices(self, call_id: str, recorded_queue: int | None = None) -> list[dict]:
        """What an agent may file for the call (empty: free text), as the page shows it."""
        choices = self.dispositions.choices(self._queue_of(call_id, recorded_queue))
        return [choice.as_message() for choice in choices]

    def _queue_of(self, call_id: str, recorded_queue: int | None) -> int | None:
        """The call's queue id: the queue it waits or waited in while it is in memory (a
        transfer to a queue changes it), else the one its record says."""
        call = self.legs.calls.get(call_id)
        waiting = waiting_of(call) if call is not None else None
        if waiting is not None and waiting.queue in self.distributor.queues:
            return self.distributor.queues[waiting.queue].id
        return recorded_queue

    def _live(self, call_id: str) -> Call:
        call = self.legs.calls.get(call_id)
        if call is None or call.ended:
            raise CallEnded()
        return call

    def set_status(self, agent_id: int, status: AgentStatus,
                   reason: str | None = None) -> AgentView:
        """`reason`: why the agent is On break, when someone else puts it there."""
        return self.roster.set_status(agent_id, status, reason)

    def set_active(self, agent_id: int, active: bool) -> None:
        self.roster.set_active(agent_id, active)

    def agent_logged_in(self, agent_id: int) -> AgentView:
        """The agent logged in to the web page: On break until it chooses Available."""
        return self.roster.logged_in(agent_id)

    def agent(self, agent_id: int) -> AgentView:
        return self.roster.get(agent_id)

    def call(self, call_id: str) -> Call | None:
        return self.legs.calls.get(call_id)

    def snapshot(self, agent_id: int | None) -> dict:
        if agent_id is None:
            agents = list(self.roster.agents.values())
            calls = list(self.legs.calls.values())
        else:
            if agent_id not in self.roster.agents:
                try:
                    self.roster.get(agent_id)  # added since we started: load it now
                except AgentError:
                    pass
            agents = [a for a in self.roster.agents.values() if a.id == agent_id]
            calls = [c for c in self.legs.calls.values() if c.agent_id == agent_id]
        return messages.snapshot(agents, calls, self.link.connected,
                                 self.distributor.ringing_offers(agent_id),
                                 self.callbacks.messages() if agent_id is None else [])

    def switch_state(self) -> dict:
        """The link to FreeSWITCH as the pages show it: a banner while it is down."""
        return messages.switch(self.link.connected)

    # -- façade for the web layer ---------------------------------------------------------------
    # What web/, credentials.py and server.py may ask beyond the actions above. They never reach
    # for the roster, legs, store, sender or link themselves (tests/test_web_facade.py checks):
    # the switchboard's insides can then change without the web layer noticing.

    def run_write(self, work, timeout: float = 15.0):
        """A request's write, in the database writer's thread (store.py's `run`): `work(session)`
        in a transaction of its own; the calling greenlet waits for what it returns. No request
        then waits inside SQLite's busy timeout on the hub, stalling every call meanwhile."""
        return self.store.run(work, timeout)

    def login_seen(self, key: str, at: datetime) -> None:
        """A web login was seen (its idle timeout starts again): written in the writer's next
        batch; nobody waits for it."""
        self.persist.login_seen(key, at)

    def health(self) -> dict:
        """The link to FreeSWITCH and the writes to the database, for /healthz and the pages'
        banner: switch_connected, database ("ok" | "failing"), backlog, spool_state, ..."""
        return {"switch_connected": self.link.connected, **self.store.health()}

    def figures(self, since: float | None = None) -> dict:
        """Everything /api/stats shows of the switchboard: latency percentiles, counters, queue
        peaks (and the peaks since `since`), live calls and agents, the writer, the link, the
        CDR spool directory."""
        calls = list(self.legs.calls.values())
        agents = list(self.roster.agents.values())
        return self.stats.as_dict(since) | {
            "live_calls": len(calls),
            "bridged_calls": sum(1 for call in calls if call.bridged_at is not None),
            "agents": {"known": len(agents), "registered": sum(a.registered for a in agents)},
            "store": {"depth": self.store.depth, "written": self.store.written,
                      "failed": self.store.failed,
                      "batches_refused": self.store.batches_refused},
            "link": self.link.stats(),
            "cdr_spool": self.cdr_spool.as_dict(),
            "queues": self.distributor.figures(),
            "auditor": self.auditor.figures(),
            "callbacks": self.callbacks.figures(),
        }

    def readings(self) -> dict:
        """What monitoring reads at each scrape, as plain numbers and the core's own counts
        (which only grow): live calls and legs, agents by status and state, each queue's line,
        offers and callers by outcome, the auditor's repairs, the link, the writer, and the
        latency histograms (stats.Latency). Cheap: one pass over agents and queues."""
        agents: Counter[tuple[str, str]] = Counter()
        registered = unregistered_logged_in = 0
        for agent in self.roster.agents.values():
            agents[agent.status.value, agent.state.value] += 1
            registered += agent.registered
            unregistered_logged_in += (not agent.registered and agent.active
                                       and agent.status is not AgentStatus.LOGGED_OUT)
        line = self.distributor.figures()
        counts = self.distributor.counts
        offers = {outcome.value: counts.get(outcome.value, 0) for outcome in OfferOutcome}
        auditor = self.auditor.figures()
        return {
            "calls_ended": dict(self.stats.ended),
            "calls_placed": self.stats.placed,
            "live_calls": len(self.legs.calls),
            "live_legs": len(self.legs.legs),
            "agents": dict(agents),
            "softphones_registered": registered,
            "softphones_dropped": self.roster.softphones_dropped,
            "agents_unregistered_logged_in": unregistered_logged_in,
            # Beside each line, the longest wait the wall display shows in alert colours.
            "queues": {name: {"waiting": line["waiting"].get(name, 0),
                              "longest_wait_s": line["longest_wait_s"].get(name, 0.0),
                              "longest_wait_alert_s": wall_for(self.queue_rows.wall_thresholds,
                                                               name)["longest_wait_s"][1]}
                       for name in self.distributor.queues},
            "offers": offers,
            "callers": {result: counts.get(result, 0) for result in _CALLER_RESULTS},
            "auditor": {"runs": auditor["runs"], "repairs": auditor["repairs"]},
            "link": self.link.stats(),
            "store": self.store.health() | {"written": self.store.written,
                                            "batches_refused": self.store.batches_refused,
                                            "retries": self.store.retries},
            "latency": {"event_lag": self.stats.event_lag,
                        "media_to_bridge": self.stats.media_to_bridge,
                        "api_to_originate": self.stats.api_to_originate,
                        "dispatch": self.distributor.dispatch},
        }

    def live_queues(self) -> list[dict]:
        """Every queue's live row, as the supervisor's page and the wall display are sent it."""
        return self.queue_rows.rows()

    def today(self) -> dict | None:
        """Today's figures as the pages were last sent them (computed now if none were)."""
        return self.figures_feed.latest or self.figures_feed.compute()

    def wrapping_up(self, agent_id: int, call_id: str) -> bool:
        """Whether the agent is in its wrap-up after this call."""
        view = self.roster.agents.get(agent_id)
        return view is not None and view.call_id == call_id and view.state is AgentState.WRAP_UP

    def reload_agent(self, agent_id: int) -> AgentView | None:
        """An admin changed this agent's rows (added it, activated or deactivated its user):
        the roster reads them again, so the change applies at once. Its live status, state and
        registration stay what memory says; an inactive agent is Logged Out."""
        self.reload_agents()
        return self.roster.agents.get(agent_id)

    def reload_agents(self) -> None:
        """Many agents changed at once (a CSV import): the roster reads them all again."""
        self.roster.reload()

    def flush_registration(self, extension: str, domain: str, profile: str = "internal") -> None:
        """Make FreeSWITCH forget the extension's registrations (its credential was revoked):
        the softphone must register again, with a password it no longer has. Not waited for."""
        def flushed(reply: str | None, error: Exception | None) -> None:
            if error is not None or reply is None or not commands.is_ok(reply):
                log.warning("could not flush the registration of %s@%s: %s", extension, domain,
                            error or (reply or "").strip())

        self.sender.api(commands.flush_inbound_reg(profile, extension, domain), then=flushed)

    def on_agent_discovered(self, listener: Callable[[AgentView], None]) -> None:
        """`listener(agent)` for each agent the roster learns of (at start, and later ones)."""
        self.roster.discovered = listener

    def on_own_phone(self, listener: Callable[[str], None]) -> None:
        """`listener(extension)` for each supervisor's or admin's own softphone extension: those
        in the database at start, and each one an admin gives later (`own_phone_given`)."""
        self._own_phone = listener

    def own_phone_given(self, extension: str | None) -> None:
        if extension and self._own_phone is not None:
            self._own_phone(extension)

    def note_registration(self, extension: str, contact: str) -> None:
        """A registration known before FreeSWITCH's own event says so (the built-in simulator
        registers an agent's softphone the moment the agent appears)."""
        self.roster.note_registration(extension, contact)

    def callback_requests(self) -> list[dict]:
        """Callback requests not finished (in line order), then the recently finished."""
        return self.callbacks.messages()

    def cancel_callback(self, callback_id: str) -> tuple[str, dict]:
        """A supervisor cancels a waiting callback request: the state it was in, and the request
        as the pages are sent it (NotFound, or Conflict when it is being dialled or already
        over)."""
        request, was = self.callbacks.cancel(callback_id)
        return was.value, messages.callback(request, self.clock.now())

    def reload_queues(self) -> None:
        """An admin changed queues or tiers: the distributor reads them again at once (waiting
        callers keep their places); widgets' maximum call lengths too."""
        self.distributor.reload()
        self.web_calls.reload()

    def guest_status(self, token: str) -> dict | None:
        """A website visitor's call as its widget shows it (web_calls.py), or None when this
        switchboard does not know the call."""
        return self.web_calls.status(token)

    def queue_staffed(self, name: str) -> bool:
        """Whether one of the queue's agents is Available (logged in, registered) now."""
        queue = self.distributor.queues.get(name)
        return queue is not None and self.distributor.available_agents(queue) > 0

    def reload_dispositions(self) -> None:
        """An admin changed the dispositions: the next one filed is checked against them."""
        self.dispositions.reload()

    def unwritten_legs(self) -> Unwritten:
        """Which legs' rows this switchboard may still be about to write: a json_cdr post for
        one of them waits (cdr_posts.py)."""
        return unwritten_legs(self.legs, self.store)

    # -- events ----------------------------------------------------------------------------------

    def _on_channel(self, event: Event) -> None:
        self.stats.note_depths(self.link.queue_depth, self.store.depth)
        stamped = stamped_at(event)
        if stamped is not None:
            self.stats.event_lag.add(self.clock.now() - stamped)
        applied = self.router.apply(event)
        if applied is None:
            if event.uuid in self.legs.orphans:
                self.finishing.orphan(event)
            return
        leg, happened = applied
        call = self.legs.call_of(leg)
        if call is None:
            return
        if happened is Happened.COMPLETED:
            leg.recorded = True
            self.persist.leg_ended(event, call, leg)
        elif happened is Happened.CREATED:
            self.persist.leg_seen(leg)
        if happened is Happened.BRIDGED and call.bridged_at is None:
            call.bridged_at = self.clock.now()
            self._announce(call)  # the page (and a supervisor) see the two sides joined
        self.router.dispatch(call, leg, happened, event)
        if happened in (Happened.HUNG_UP, Happened.COMPLETED):
            self.finishing.maybe(call)

    # -- pushes and writes ------------------------------------------------------------------------

    def _publish(self, message: dict, agent_id: int | None) -> None:
        if self.hub is not None:
            self.hub.publish(message, agent_id)

    def _switch_changed(self, *_lost) -> None:
        """Every page hears when the link to FreeSWITCH goes down or comes back."""
        connected = self.link.connected
        if connected != self._switch_shown and self.hub is not None:
            self._switch_shown = connected
            self.hub.broadcast(messages.switch_changed(connected))

    def _publish_to(self, message: dict, topics: tuple[str, ...]) -> None:
        if self.hub is not None:
            self.hub.publish(message, topics=topics)

    def _repairs(self) -> dict:
        """Beside today's figures: the auditor's repairs since this controller started."""
        return {"repairs": self.auditor.figures()["repairs"]}

    def _figures_heard(self) -> bool:
        return self.hub is not None and (self.hub.listening(EVERYTHING)
                                         or self.hub.listening(FIGURES_TOPIC))

    def _announce(self, call: Call) -> None:
        call.version += 1
        self._publish(messages.call_changed(call), call.agent_id)
        self.queue_rows.call_changed(call)
        if call.ended:
            self.figures_feed.call_ended()


def _soon(fn: Callable[[], None]) -> None:
    """Run `fn` once the current greenlet yields to the hub: after the event being handled is
    done with, before the next is read."""
    gevent.get_hub().loop.run_callback(fn)


__all__ = ["AgentError", "ControlError", "Switchboard"]
