"""GET /metrics: Prometheus' scrape (callcenter/monitoring), behind CALLCENTER_METRICS_TOKEN."""

from __future__ import annotations

from flask import Blueprint

from .. import monitoring
from .access import bearer
from .services import services

bp = Blueprint("metrics", __name__)


@bp.route("/metrics")
@bearer("metrics_token")
def metrics():
    return services().metrics.exposition(), 200, {"Content-Type": monitoring.CONTENT_TYPE}
