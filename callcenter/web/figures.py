"""GET /api/figures: the day's figures (callcenter/figures) as JSON, for supervisors and admins:
today in the site's timezone, or ?day=YYYY-MM-DD."""

from __future__ import annotations

import time
from datetime import date
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, jsonify, request

from .. import figures
from ..models import Role
from .access import requires

bp = Blueprint("figures", __name__, url_prefix="/api")
FIRST_DAY, LAST_DAY = date(1970, 1, 2), date(9999, 12, 30)   # a day's midnights must exist


@bp.get("/figures")
@requires(Role.SUPERVISOR, Role.ADMIN)
def day_figures():
    services = current_app.extensions["callcenter"]
    timezone = ZoneInfo(services.settings.timezone)
    now = time.time()
    asked = request.args.get("day")
    if asked is None:
        return jsonify(figures.today(services.db, now=now, timezone=timezone))
    try:
        day = date.fromisoformat(asked)
        if len(asked) != 10:
            raise ValueError
    except ValueError:
        return jsonify(error=f"day must be a date written YYYY-MM-DD (got {asked[:20]!r})",
                       field="day"), 400
    if not FIRST_DAY <= day <= LAST_DAY:
        return jsonify(error=f"day must be between {FIRST_DAY} and {LAST_DAY}",
                       field="day"), 400
    return jsonify(figures.for_day(services.db, day, now=now, timezone=timezone))
