"""A standby controller's web side: it answers FreeSWITCH (directory, dialplan, CDR posts, all
served from the database), /healthz and /metrics, and refuses everything else with 503, so a
load balancer (which sees /healthz answer 503 `standby`) sends browsers to the active one."""

from __future__ import annotations

from flask import Flask, request

# Blueprints and endpoints a standby serves as the active controller does.
SERVED_BLUEPRINTS = frozenset({"freeswitch", "metrics"})
SERVED_ENDPOINTS = frozenset({"static", "pages.health"})
RETRY_SECONDS = "5"


def init_app(app: Flask, services) -> None:
    @app.before_request
    def standby_refuses():
        if services.active or request.blueprint in SERVED_BLUEPRINTS \
                or request.endpoint in SERVED_ENDPOINTS:
            return None
        from ..app import _answer
        return _answer(503, "This controller is the standby: the active one serves the pages. "
                            "Try again in a few seconds.", headers={"Retry-After": RETRY_SECONDS})
