"""The switchboard, the link, the writer and the live hub as Prometheus metrics, read at each
scrape from their public views (Switchboard.readings(), today's figures, the hub's count of
sockets). Counts the core keeps anyway (calls ended, offers, repairs, reconnects, writes) are
exposed as counters: they only grow while the process lives, as Prometheus expects.

Latencies the switchboard keeps in its log-spaced buckets (stats.Latency) become histograms:
a bucket is counted under the first bound at or above its ceiling, so a quantile read from
them can only overstate.
"""

from __future__ import annotations

import logging

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from ..models import AgentState, AgentStatus, Direction, Outcome

log = logging.getLogger(__name__)

LATENCY_BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LATENCIES = {
    "event_lag": ("callcenter_esl_event_lag_seconds",
                  "From FreeSWITCH stamping a channel event to the switchboard handling it"),
    "media_to_bridge": ("callcenter_media_to_bridge_seconds",
                        "From a customer's first media to the bridge command written"),
    "api_to_originate": ("callcenter_api_to_originate_seconds",
                         "From a dial request arriving to the agent's originate written"),
    "dispatch": ("callcenter_queue_dispatch_seconds",
                 "From a caller waiting with an agent free to the offer's originate sent"),
}


def _family(kind, name: str, doc: str, labels=(), samples=None, value=None):
    """A counter or gauge family: one value, or (label values, value) samples."""
    metric = kind(name, doc, labels=labels or None)
    if samples is None:
        metric.add_metric([], value or 0)
    else:
        for label_values, number in samples:
            metric.add_metric(list(label_values), number)
    return metric


def _counter(name: str, doc: str, labels=(), samples=None, value=None):
    return _family(CounterMetricFamily, name, doc, labels, samples, value)


def _gauge(name: str, doc: str, labels=(), samples=None, value=None):
    return _family(GaugeMetricFamily, name, doc, labels, samples, value)


def histogram(name: str, doc: str, latency) -> HistogramMetricFamily:
    """A stats.Latency as a Prometheus histogram with LATENCY_BOUNDS."""
    counts = latency.cumulative(LATENCY_BOUNDS)
    buckets = [(repr(bound), n) for bound, n in zip(LATENCY_BOUNDS, counts, strict=True)]
    metric = HistogramMetricFamily(name, doc)
    metric.add_metric([], [*buckets, ("+Inf", latency.count)], sum_value=latency.total)
    return metric


class SwitchboardReadings(Collector):
    def __init__(self, services) -> None:
        self.services = services

    def collect(self):
        hub = self.services.hub
        yield _gauge("callcenter_live_sockets", "Live sockets open (agents' and supervisors' "
                     "pages, wall displays)", value=hub.subscribers if hub is not None else 0)
        yield _gauge("callcenter_active", "1 while this controller is the active one (it drives "
                     "FreeSWITCH); 0 for a standby", value=int(self.services.active))
        board = self.services.switchboard
        if board is None:           # a web-only process: its requests and itself
            return
        now = board.readings()
        yield from self._calls(now)
        yield from self._agents(now)
        yield from self._queues(now, board)
        yield from self._link(now["link"])
        yield from self._store(now["store"])
        yield _counter("callcenter_auditor_runs", "Audits of the switchboard against "
                       "FreeSWITCH's channels", value=now["auditor"]["runs"])
        yield _counter("callcenter_auditor_repairs", "Differences the auditor repaired, by kind",
                       ("kind",), [((kind,), n) for kind, n in now["auditor"]["repairs"].items()])
        for key, (name, doc) in LATENCIES.items():
            yield histogram(name, doc, now["latency"][key])

    def _calls(self, now: dict):
        ended = now["calls_ended"]
        yield _counter("callcenter_calls", "Calls ended, by direction (inbound: through a "
                       "queue; outbound: dialled by an agent) and outcome",
                       ("direction", "outcome"),
                       [((direction.value, outcome.value), ended.get(
                           (direction.value, outcome.value), 0))
                        for direction in Direction for outcome in Outcome])
        yield _counter("callcenter_calls_placed", "Calls agents dialled",
                       value=now["calls_placed"])
        yield _gauge("callcenter_live_calls", "Calls in progress", value=now["live_calls"])
        yield _gauge("callcenter_live_legs", "Channels (legs) of calls in progress",
                     value=now["live_legs"])

    @staticmethod
    def _agents(now: dict):
        counts = now["agents"]
        yield _gauge("callcenter_agents", "Agents by status (what they chose) and state (what "
                     "calls did)", ("status", "state"),
                     [((status.value, state.value), counts.get((status.value, state.value), 0))
                      for status in AgentStatus for state in AgentState])
        yield _gauge("callcenter_softphones_registered", "Agents whose softphone is registered",
                     value=now["softphones_registered"])
        yield _gauge("callcenter_agents_logged_in_unregistered", "Agents logged in whose "
                     "softphone is not registered (no call can reach them)",
                     value=now["agents_unregistered_logged_in"])
        yield _counter("callcenter_softphone_drops", "Agents' softphones that stopped being "
                       "registered", value=now["softphones_dropped"])

    def _queues(self, now: dict, board):
        queues = now["queues"]
        yield _gauge("callcenter_queue_waiting", "Callers waiting in line, by queue", ("queue",),
                     [((name,), q["waiting"]) for name, q in queues.items()])
        yield _gauge("callcenter_queue_longest_wait_seconds", "How long the longest waiting "
                     "caller has waited, by queue", ("queue",),
                     [((name,), q["longest_wait_s"]) for name, q in queues.items()])
        yield _gauge("callcenter_queue_longest_wait_alert_seconds", "The longest wait the wall "
                     "display shows in alert colours (CALLCENTER_WALL_THRESHOLDS)", ("queue",),
                     [((name,), q["longest_wait_alert_s"]) for name, q in queues.items()])
        yield _gauge("callcenter_queue_service_level_ratio", "Today's share of a queue's "
                     "callers answered within its service-level seconds (README: Figures)",
                     ("queue",), self._service_levels(board))
        yield _counter("callcenter_queue_offers", "Offers of queued callers to agents, by how "
                       "they ended", ("outcome",),
                       [((outcome,), n) for outcome, n in now["offers"].items()])
        yield _counter("callcenter_queue_callers", "Queued callers, by what became of them",
                       ("result",), [((result,), n) for result, n in now["callers"].items()])

    @staticmethod
    def _service_levels(board) -> list:
        try:
            today = board.today() or {}
        except Exception:               # the figures' own log says why; the scrape goes on
            log.exception("metrics: today's figures could not be read")
            return []
        return [((row["queue"],), row["service_level"]) for row in today.get("queues", ())
                if row.get("service_level") is not None]

    @staticmethod
    def _link(link: dict):
        yield _gauge("callcenter_esl_connected", "1 while the Event Socket link to FreeSWITCH "
                     "is up", value=int(bool(link["connected"])))
        yield _counter("callcenter_esl_reconnects", "Times the link to FreeSWITCH was lost "
                       "(each followed by reconnecting)", value=link["reconnects"])
        yield _counter("callcenter_esl_events_received", "Events read from FreeSWITCH",
                       value=link["events_received"])
        yield _counter("callcenter_esl_events_dropped", "Events dropped because the event "
                       "queue was full (a resync follows)", value=link["events_dropped"])
        yield _counter("callcenter_esl_overflows", "Times the event queue overflowed",
                       value=link["overflows"])
        yield _gauge("callcenter_esl_queue_depth", "Events received and not yet handled",
                     value=link["queue_depth"])

    @staticmethod
    def _store(store: dict):
        yield _gauge("callcenter_store_backlog", "Database writes waiting", value=store["backlog"])
        yield _gauge("callcenter_store_failing", "1 while the database refuses writes (they "
                     "wait, spooled, and are retried)", value=int(store["database"] == "failing"))
        yield _gauge("callcenter_store_spool_records", "Writes held in the spool file on disk",
                     value=store["spool"])
        yield _gauge("callcenter_store_spool_failing", "1 while the spool file cannot be "
                     "written (writes are held in memory only)",
                     value=int(store["spool_state"] == "failing"))
        yield _counter("callcenter_store_written", "Writes committed to the database",
                       value=store["written"])
        yield _counter("callcenter_store_dead_letters", "Writes refused for their own data, set "
                       "aside in the dead-letter file", value=store["dead_letters"])
        yield _counter("callcenter_store_batches_refused", "Batches the database refused whole",
                       value=store["batches_refused"])
        yield _counter("callcenter_store_retries", "Retries of refused batches",
                       value=store["retries"])
