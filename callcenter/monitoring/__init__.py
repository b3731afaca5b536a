"""Watching the controller run: Prometheus metrics, request ids for the log, and the example
Grafana dashboard (dashboard.json) and Prometheus alert rules (alerts.yml) shipped beside them.

It plugs in from outside: the switchboard, the link and the hub count what they count anyway
and never name Prometheus. At each scrape `readings.py` reads their public views (the
switchboard's `readings()`, the hub's sockets); `requests.py` counts HTTP requests through
Flask's request hooks. Each app has a registry of its own, so two apps in one process (tests)
never share a count.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest

from .readings import SwitchboardReadings
from .requests import RequestMetrics

HERE = Path(__file__).parent
DASHBOARD = HERE / "dashboard.json"
ALERTS = HERE / "alerts.yml"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """One app's metrics: what it serves at GET /metrics."""

    def __init__(self, services) -> None:
        self.registry = CollectorRegistry()
        self.requests = RequestMetrics(self.registry)
        self.registry.register(SwitchboardReadings(services))
        ProcessCollector(registry=self.registry)

    def exposition(self) -> bytes:
        """Every metric now, in Prometheus' text format."""
        return generate_latest(self.registry)


def init_app(app, services) -> Metrics:
    """Count the app's requests, give each its id, and keep the metrics in `services`."""
    metrics = Metrics(services)
    metrics.requests.init_app(app)
    return metrics
