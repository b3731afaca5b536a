"""HTTP requests: counted by route and status, timed by route, and each given an id.

The route label is the URL rule (`/api/calls/<call_id>/hold`), never the path a client sent, and
the method one of the HTTP methods or "other": labels stay bounded whatever is requested. A
request's id is the one a proxy in front gave (X-Request-Id, when it is a short token) or a new
one; every log record written while it is served carries it (callcenter.log.REQUEST_ID), and the
answer returns it as X-Request-Id, so a complaint about one request finds its log lines.
"""

from __future__ import annotations

import re
import secrets
import time

from flask import Flask, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram

from ..log import REQUEST_ID

HEADER = "X-Request-Id"
_GIVEN_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"     # the route of a request no rule matched (404, 405)
# Seconds: page loads and API calls take milliseconds; a slow one is what to see.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def request_id() -> str:
    """The id of this request: a proxy's (X-Request-Id, a short token) or a new one."""
    given = request.headers.get(HEADER, "")
    return given if _GIVEN_ID.fullmatch(given) else secrets.token_hex(8)


class RequestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter("callcenter_http_requests", "HTTP requests answered, by route "
                                "(the URL rule), method and status",
                                ("route", "method", "status"), registry=registry)
        self.seconds = Histogram("callcenter_http_request_duration_seconds", "Time to answer an "
                                 "HTTP request, by route and method (live sockets left out: "
                                 "they last as long as the page is open)",
                                 ("route", "method"), buckets=BUCKETS, registry=registry)

    def init_app(self, app: Flask) -> None:
        app.before_request(self._started)
        app.after_request(self._answered)
        app.teardown_request(self._done)

    def _started(self) -> None:
        g.request_started = time.perf_counter()
        g.request_id = request_id()
        REQUEST_ID.set(g.request_id)

    def _answered(self, response):
        started = g.get("request_started")
        if started is None:             # a hook before ours answered: timed from here
            started = time.perf_counter()
        rule = request.url_rule
        route = rule.rule if rule is not None else UNMATCHED
        method = request.method if request.method in _METHODS else "other"
        self.requests.labels(route, method, str(response.status_code)).inc()
        if request.environ.get("HTTP_UPGRADE", "").lower() != "websocket":
            self.seconds.labels(route, method).observe(time.perf_counter() - started)
        response.headers[HEADER] = g.get("request_id") or request_id()
        return response

    def _done(self, _exc) -> None:
        # A keep-alive connection's greenlet serves its next request (and logs between them).
        REQUEST_ID.set(None)
