"""The JSON API the agent's page calls: dial, call progress, in-call controls, dispositions,
status (the calls list, GET /api/calls, is the records search: web/records.py).

Every answer is JSON, errors included (callcenter/errors.py's kinds, mapped in app.py): 422
names what is wrong with the input, 403 what this person may not do, 404 what does not exist,
409 why the agent cannot do it now, 503 that the phone system or database is unreachable.
"""

from __future__ import annotations

import math
import time

from flask import Blueprint, g, jsonify, request

from ..errors import CallEnded, Forbidden, InvalidInput, NotFound
from ..models import Agent, AgentStatus, Call, CallAgent, HangupBy, Role, User
from ..switchboard.stats import process_memory
from .access import requires
from .services import services as _services
from .services import switchboard as _board
from .vocabulary import CHOOSABLE

bp = Blueprint("api", __name__, url_prefix="/api")
STAFF = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)


def _my_agent_id() -> int:
    agent = g.user.agent
    if agent is None:
        raise Forbidden("your account has no extension: an administrator can give you one")
    return agent.id


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("send a JSON object", field="body")
    return body


def _my_live_call(call_id: str):
    """The caller's own live call: 404 unknown, 403 someone else's, 409 one that ended."""
    board = _board()
    live = board.call(call_id)
    if live is None:
        row = _services().db_session().get(Call, call_id)
        if row is None:
            raise NotFound("no such call")
        _check_mine(row.agent_id)
        raise CallEnded()
    _check_mine(live.agent_id)
    return board, live


@bp.post("/calls")
@requires(*STAFF)
def dial():
    number = _body().get("number")
    if not isinstance(number, str):
        raise InvalidInput("give the number to dial as text", field="number")
    call = _board().dial(_my_agent_id(), number.strip(), requested_at=g.get("received_at"))
    return jsonify(call=call.as_message()), 201


@bp.get("/calls/<call_id>")
@requires(*STAFF)
def show_call(call_id: str):
    live = _services().switchboard.call(call_id) if _services().switchboard else None
    if live is not None:
        _check_mine(live.agent_id)
        return jsonify(call=live.as_message())
    row = _services().db_session().get(Call, call_id)
    if row is None:
        raise NotFound("no such call")
    # An agent who handled the call before a transfer may read its record too.
    _check_mine(row.agent_id, {part.agent_id for part in row.handlers})
    return jsonify(call=cdr_message(row) | {"agents": [handler_message(part)
                                                        for part in row.handlers]})


@bp.post("/calls/<call_id>/hangup")
@requires(*STAFF)
def hang_up(call_id: str):
    board, live = _my_live_call(call_id)
    by = HangupBy.AGENT if g.user.role is Role.AGENT else HangupBy.SYSTEM
    return jsonify(call=board.hang_up(live.id, by).as_message())


@bp.put("/agents/me/status")
@requires(*STAFF)
def set_status():
    value = _body().get("status")
    if value == AgentStatus.LOGGED_OUT.value:
        raise InvalidInput("Logged Out follows logging out: use the Log out button "
                           "(choose available or on_break here)", field="status")
    if value not in CHOOSABLE:
        raise InvalidInput("one of " + ", ".join(s.value for s in CHOOSABLE), field="status")
    status = AgentStatus(value)
    view = _board().set_status(_my_agent_id(), status)
    return jsonify(agent=view.as_message())


# -- in-call controls: the caller's own live call (403 someone else's, 409 one that ended) ------


@bp.post("/calls/<call_id>/hold")
@requires(*STAFF)
def hold(call_id: str):
    board, live = _my_live_call(call_id)
    return jsonify(call=board.hold(live.id).as_message())


@bp.post("/calls/<call_id>/unhold")
@requires(*STAFF)
def unhold(call_id: str):
    board, live = _my_live_call(call_id)
    return jsonify(call=board.unhold(live.id).as_message())


@bp.post("/calls/<call_id>/dtmf")
@requires(*STAFF)
def send_dtmf(call_id: str):
    board, live = _my_live_call(call_id)
    digits = _body().get("digits")
    if not isinstance(digits, str):
        raise InvalidInput("give the tones to send as text, e.g. \"123#\"", field="digits")
    return jsonify(call=board.send_dtmf(live.id, digits).as_message())


@bp.post("/calls/<call_id>/record")
@requires(*STAFF)
def record(call_id: str):
    board, live = _my_live_call(call_id)
    action = _body().get("action")
    if action not in ("start", "stop"):
        raise InvalidInput("start or stop", field="action")
    return jsonify(call=board.record(live.id, action == "start").as_message())


@bp.post("/calls/<call_id>/transfer")
@requires(*STAFF)
def transfer(call_id: str):
    """Blind transfer: {"number": "..."} or {"agent_id": N}. 202: under way; the live socket
    tells how it went (call.transfer.state: ringing, connecting, done or failed)."""
    board, live = _my_live_call(call_id)
    board.transfer(live.id, **_target("transfer to"))
    return jsonify(call=live.as_message()), 202


@bp.post("/calls/<call_id>/transfer-queue")
@requires(*STAFF)
def transfer_to_queue(call_id: str):
    """Send the customer into a queue: {"queue": name}. The agent goes to Wrap-up; the customer
    hears the queue's hold music and waits in its line."""
    board, live = _my_live_call(call_id)
    board.transfer_to_queue(live.id, _body().get("queue"))
    return jsonify(call=live.as_message())


@bp.post("/calls/<call_id>/consult")
@requires(*STAFF)
def consult(call_id: str):
    """Consult (warm transfer): {"number": "..."}, {"agent_id": N} or {"extension": "..."} (an
    agent's); the customer hears hold
    music meanwhile. 202: under way; the live socket tells how it goes (call.consult.state)."""
    board, live = _my_live_call(call_id)
    extension = _body().get("extension")
    if extension is not None:
        if not isinstance(extension, str):
            raise InvalidInput("give the agent's extension as text", field="extension")
        board.consult(live.id, extension=extension.strip())
    else:
        board.consult(live.id, **_target("consult"))
    return jsonify(call=live.as_message()), 202


@bp.post("/calls/<call_id>/consult/<step>")
@requires(*STAFF)
def consult_step(call_id: str, step: str):
    """swap (talk to the other party), complete (hand the customer over), three-way (all
    three talk), leave (the agent leaves a three-way call; the others stay) or cancel."""
    board, live = _my_live_call(call_id)
    board.consult_step(live.id, step)
    return jsonify(call=live.as_message()), 202


def _target(what: str) -> dict:
    """{"number": "..."} or {"agent_id": N} from the request, checked."""
    body = _body()
    number, agent_id = body.get("number"), body.get("agent_id")
    if (number is None) == (agent_id is None):
        raise InvalidInput(f"give either the number or the agent_id to {what}", field="number")
    if number is not None and not isinstance(number, str):
        raise InvalidInput(f"give the number to {what} as text", field="number")
    if agent_id is not None and (not isinstance(agent_id, int) or isinstance(agent_id, bool)):
        raise InvalidInput("give the agent's id as a number", field="agent_id")
    return {"number": number.strip()} if number is not None else {"agent_id": agent_id}


@bp.post("/calls/<call_id>/disposition")
@requires(*STAFF)
def disposition(call_id: str):
    """{"disposition": "sale", "notes": "..."}: once the call has ended, or while the agent
    wraps up its part of it; ends that wrap-up."""
    board = _board()
    body = _body()
    row, live, mine = _call_to_dispose(call_id)
    value, notes = board.set_disposition(call_id, mine, body.get("disposition"),
                                         body.get("notes"),
                                         row.queue_id if row is not None else None)
    message = cdr_message(row) if row is not None else live.as_message()
    return jsonify(call=message | {"disposition": value, "notes": notes})


@bp.get("/calls/<call_id>/dispositions")
@requires(*STAFF)
def disposition_choices(call_id: str):
    """The dispositions the call may be given, in order: the global list and its queue's, each
    {"code", "label", "requires_notes"}; empty when none applies (free text). Asked when the
    wrap-up opens, so an admin's change shows on the next wrap-up."""
    row, _live, _mine = _call_to_dispose(call_id)
    choices = _board().disposition_choices(call_id, row.queue_id if row is not None else None)
    return jsonify(dispositions=choices)


def _call_to_dispose(call_id: str):
    """The call's record and live call (either may be None) and the user's agent id; NotFound
    for no such call, Forbidden for an agent's call not its own."""
    board = _board()
    row = _services().db_session().get(Call, call_id)
    live = board.call(call_id)
    if row is None and live is None:
        raise NotFound("no such call")
    mine = g.user.agent.id if g.user.agent is not None else None
    if g.user.role is Role.AGENT:
        owners = {live.agent_id if live is not None else None,
                  row.agent_id if row is not None else None}
        if mine is None or mine not in owners and not board.wrapping_up(mine, call_id):
            raise Forbidden("this is not your call")
    return row, live, mine


def _check_mine(agent_id: int | None, also: set[int | None] = frozenset()) -> None:
    """`also`: other agents the call is theirs too (who handled it before)."""
    if g.user.role is Role.AGENT and (g.user.agent is None or (
            agent_id != g.user.agent.id and g.user.agent.id not in also)):
        raise Forbidden("this is not your call")


def _iso(value):
    return value.isoformat() if value is not None else None


def handler_message(part: CallAgent) -> dict:
    """One agent's part in a call (call_agents): seconds, and how it left (null: still there)."""
    return {"agent_id": part.agent_id, "leg": part.leg_uuid, "joined_at": _iso(part.joined_at),
            "left_at": _iso(part.left_at), "talk_seconds": part.talk_seconds,
            "hold_seconds": part.hold_seconds, "wrapup_seconds": part.wrapup_seconds,
            "left": part.left_how.value if part.left_how else None}


def cdr_message(row: Call) -> dict:
    iso = _iso
    return {
        "id": row.id, "direction": row.direction.value, "agent_id": row.agent_id,
        "number": row.customer_number, "caller_id": row.caller_id, "progress": "ended",
        "channel": row.channel,
        "created_at": iso(row.created_at), "answered_at": iso(row.answered_at),
        "bridged_at": iso(row.bridged_at), "ended_at": iso(row.ended_at),
        "ring_seconds": row.ring_seconds, "talk_seconds": row.talk_seconds,
        "hold_seconds": row.hold_seconds, "cause": row.hangup_cause,
        "outcome": row.outcome.value if row.outcome else None,
        "sip_status": row.sip_status, "sip_reason": row.sip_reason,
        "hangup_by": row.hangup_by.value if row.hangup_by else None,
        "disposition": row.disposition, "notes": row.notes, "recording": row.recording_path,
    }


# -- figures for supervisors and the calls-per-second benchmark ---------------------------------


@bp.before_app_request
def _stamp_arrival():
    # A dial's "API request -> originate sent" figure starts here, before the session lookup.
    g.received_at = time.perf_counter()


@bp.get("/stats")
@requires(Role.SUPERVISOR, Role.ADMIN)
def stats():
    """Latency percentiles, call counters, queue peaks (since=<unix time> adds the peaks since
    then), the link's counters, the CDR spool's files (imported, rejected; null without one)
    and this process's memory."""
    since = request.args.get("since")
    if since is not None:
        try:
            since = float(since)
        except ValueError:
            since = math.nan
        if not math.isfinite(since):
            raise InvalidInput("give a time in seconds since the epoch", field="since")
    return jsonify(_board().figures(since) | {"memory": process_memory()})


# -- the softphone's registration: this login's SIP credentials ---------------------------------


@bp.get("/softphone")
@requires(*STAFF)
def softphone():
    """What the agent's softphone registers with: its extension, this login's SIP password (the
    agent's live credential; a new one if it expired or was revoked), where to register, ICE
    servers, and whether the switch is the simulator (which then plays the phone itself)."""
    from ..credentials import Credentials

    services, me = _services(), g.user
    session = services.db_session()
    holder = (session.get(Agent, me.agent.id) if me.agent is not None        # a supervisor's
              else session.get(User, me.id) if me.extension else None)       # own phone
    if holder is None:
        raise Forbidden("your account has no extension: an administrator can give you one")
    phone = Credentials.of(services.settings, services.switchboard).issue(session, holder)
    return jsonify(extension=phone.extension, domain=phone.domain,
                   wss_url=services.settings.softphone_wss_url, password=phone.password,
                   expires_at=phone.expires_at.isoformat(),
                   ice_servers=services.settings.ice_servers,
                   simulated=services.settings.simulated), 200, {"Cache-Control": "no-store"}
