"""The website widget's API (README: Calls from your website): the classic-script bundle, a
widget's settings, a visitor's call (a one-call guest SIP credential) and its status.

Every /widget answer is JSON; errors are `{"error": <code>, "message": <for the visitor>}`.
Cross-origin: CORS headers go only to an Origin among the widget's allowed origins (preflights
answered); any other Origin gets 403 origin_refused, and so does a call asked for with no Origin
at all (a browser always sends one on a cross-origin POST).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, g, jsonify, request, send_file
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..clock import Clock, RealClock
from ..errors import Unavailable
from ..models import Agent, AgentStatus, GuestCall, QueueAgent, Widget
from ..paths import STATIC_DIR
from ..switchboard.queues import hours
from ..typed import Problems
from ..widgets import credentials, turn
from ..widgets import settings as rules
from ..widgets.limits import AddressLimits, admit_call
from .access import Access, public
from .addresses import request_client_address

log = logging.getLogger(__name__)

bp = Blueprint("widget", __name__)

BUNDLE = STATIC_DIR / "vendor" / "widget.js"
PREFLIGHT_SECONDS = 600


class Desk:
    """The widget API's own state in this process: its clock and the per-address counts."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.addresses = AddressLimits(clock)


def desk() -> Desk:
    found = current_app.extensions.get("widgets")
    if found is None:
        found = current_app.extensions["widgets"] = Desk(RealClock())
    return found


def refused(status: int, code: str, message: str, **extra):
    return jsonify({"error": code, "message": message, **extra}), status


def widget_api(view: Callable) -> Callable:
    """The widget named by the route's `wid`, active, asked for from one of its origins: the
    view finds it in `g.widget`. Answers the preflight itself; adds the CORS headers."""
    @functools.wraps(view)
    def guarded(wid: str, **kwargs):
        session = current_app.extensions["callcenter"].db_session()
        widget = rules.by_public_id(session, wid)
        if widget is None or not widget.active:
            return refused(404, "unknown_widget", "This call button is not set up (any more).")
        origin = request.headers.get("Origin")
        if origin is not None and not rules.origin_allowed(widget, origin) or \
                origin is None and request.method in ("POST", "OPTIONS"):
            return refused(403, "origin_refused",
                           "This call button may not be used on this website.")
        g.widget = widget
        if request.method == "OPTIONS":
            response = current_app.response_class(status=204)
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "Content-Type"
            response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_SECONDS)
        else:
            response = current_app.make_response(view(wid=wid, **kwargs))
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
        response.vary.add("Origin")
        response.headers["Cache-Control"] = "no-store"
        return response

    guarded.access = Access("widget")
    return guarded


@bp.get("/widget.js")
@public
def bundle():
    """The widget's classic-script bundle (make builds it); any site may load it."""
    if not BUNDLE.is_file():
        return ("widget.js is not built: run `make` (it bundles the widget with esbuild)\n", 404,
                {"Content-Type": "text/plain; charset=utf-8"})
    return send_file(BUNDLE, mimetype="text/javascript", max_age=300)


@bp.route("/widget/<wid>/settings", methods=["GET", "OPTIONS"], provide_automatic_options=False)
@widget_api
def widget_settings(wid: str):
    widget: Widget = g.widget
    is_open, message = _open(widget)
    return jsonify(name=widget.name, video=widget.video,
                   fields=[f.as_dict() for f in rules.fields_of(widget)], open=is_open,
                   message=message)


@bp.route("/widget/<wid>/call", methods=["POST", "OPTIONS"], provide_automatic_options=False)
@widget_api
def call(wid: str):
    """A visitor's call: its one-call SIP credential, ICE servers and status URL (201)."""
    widget: Widget = g.widget
    services = current_app.extensions["callcenter"]
    settings, session, here = services.settings, services.db_session(), desk()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return refused(400, "bad_request", "The call request could not be read.")
    try:
        fields = rules.visitor_fields(widget, body.get("fields"))
    except Problems as exc:
        return refused(400, "bad_fields", "Please check the fields marked.",
                       fields=exc.problems)
    is_open, message = _open(widget)
    if not is_open:
        return refused(409, "closed", message or "We are closed now.")
    if not _staffed(services, widget):
        return refused(503, "nobody_available",
                       "Nobody is available to take your call now: please try again later.")
    address = request_client_address()
    refusal = admit_call(session, widget, address, here.addresses, here.clock)
    if refusal is not None:
        response, status = refused(429, "too_many", refusal.message)
        response.headers["Retry-After"] = str(refusal.retry_after)
        return response, status
    page_url, page_title = rules.page_of(body.get("page"))
    video = bool(body.get("video")) and widget.video
    realm, widget_id = settings.guest_realm, widget.id
    try:
        minted = services.write(lambda s: credentials.mint(
            s, widget_id, realm, here.clock, address=address, video=video, fields=fields,
            page_url=page_url, page_title=page_title))
    except (SQLAlchemyError, Unavailable):
        log.exception("guest credential for widget %s not saved", widget.public_id)
        return refused(503, "unavailable", "We cannot take calls right now: please try again "
                                           "in a moment.")
    expires = here.clock.now() + credentials.LIFETIME_S + widget.max_call_seconds
    log.info("website call %s minted for widget %s", minted.token, widget.public_id)
    return jsonify({
        "call": minted.token,
        "sip": {"ws_url": settings.guest_wss_url or settings.softphone_wss_url, "realm": realm,
                "user": minted.user, "password": minted.password,
                "uri": f"sip:{minted.user}@{realm}",
                "target": f"sip:{credentials.CALL_TARGET}@{realm}"},
        "ice_servers": turn.ice_servers(settings.turn_urls, settings.turn_secret, minted.user,
                                        expires),
        "max_seconds": widget.max_call_seconds,
        "status_url": f"/widget/{widget.public_id}/calls/{minted.token}",
    }), 201


@bp.route("/widget/<wid>/calls/<token>", methods=["GET", "OPTIONS"],
          provide_automatic_options=False)
@widget_api
def call_status(wid: str, token: str):
    """Where the visitor's call is: connecting, waiting (its place in line), connected, ended."""
    widget: Widget = g.widget
    services = current_app.extensions["callcenter"]
    row = services.db_session().get(GuestCall, token) \
        if credentials.TOKEN.fullmatch(token) else None
    if row is None or row.widget_id != widget.id:
        return refused(404, "unknown_call", "This call is not known here.")
    board = services.switchboard if services.active else None
    live = board.guest_status(token) if board is not None else None
    if live is not None:
        return jsonify(live)
    age = desk().clock.now() - row.created_at.timestamp()
    connecting = row.call_id is None and age < 2 * credentials.LIFETIME_S
    return jsonify(state="connecting" if connecting else "ended", position=None,
                   waited_seconds=None)


def _open(widget: Widget) -> tuple[bool, str | None]:
    """Whether the widget's queue is open now, and if not, what the visitor reads."""
    queue = widget.queue
    settings = current_app.extensions["callcenter"].settings
    schedule = hours.schedule_of(queue.open_hours, queue.holidays)
    now = datetime.fromtimestamp(desk().clock.now(), UTC)
    zone = ZoneInfo(settings.timezone)
    if hours.is_open(schedule, now, zone):
        return True, None
    opens = hours.next_change(schedule, now, zone)
    when = f" We open again {opens.astimezone(zone):%A %H:%M} ({settings.timezone})." \
        if opens is not None else ""
    return False, "We are closed now." + when


def _staffed(services, widget: Widget) -> bool:
    """False only when the queue turns callers away with no agent Available (its longest wait
    with no agent is set) and none of its agents is Available now."""
    queue = widget.queue
    if queue.max_wait_no_agent_seconds <= 0:
        return True
    board = services.switchboard if services.active else None
    if board is not None:
        return board.queue_staffed(queue.name)
    session = services.db_session()
    return session.scalar(select(Agent.id).join(QueueAgent, QueueAgent.agent_id == Agent.id)
                          .where(QueueAgent.queue_id == queue.id,
                                 Agent.status == AgentStatus.AVAILABLE).limit(1)) is not None
