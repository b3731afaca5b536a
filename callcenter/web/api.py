"""The JSON API the agent's page calls: dial, call progress, status.

Every answer is JSON, errors included: 422 names what is wrong with the input, 409 says why the
agent cannot do it now, 503 says the phone system or database is unreachable.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request

from ..esl.commands import CommandError
from ..esl.connection import ESLError
from ..models import AgentStatus, Call, HangupBy, Role
from ..switchboard import AgentError, DialError, SwitchUnavailable
from .access import requires

bp = Blueprint("api", __name__, url_prefix="/api")
STAFF = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)


def _services():
    return current_app.extensions["callcenter"]


def _board():
    board = _services().switchboard
    if board is None:
        raise SwitchUnavailable("the switchboard is not running in this process")
    return board


def _my_agent_id() -> int:
    agent = g.user.agent
    if agent is None:
        raise AgentError("your account has no extension: an administrator can give you one")
    return agent.id


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise CommandError("body", "send a JSON object")
    return body


@bp.errorhandler(CommandError)
def bad_input(exc: CommandError):
    return jsonify(error=str(exc), field=exc.field), 422


@bp.errorhandler(SwitchUnavailable)
@bp.errorhandler(ESLError)
def switch_unavailable(exc: Exception):
    return jsonify(error=str(exc)), 503


@bp.errorhandler(DialError)
def cannot_dial(exc: DialError):
    return jsonify(error=str(exc)), 409


@bp.errorhandler(AgentError)
def not_an_agent(exc: AgentError):
    return jsonify(error=str(exc)), 403


@bp.post("/calls")
@requires(*STAFF)
def dial():
    number = _body().get("number")
    if not isinstance(number, str):
        raise CommandError("number", "give the number to dial as text")
    call = _board().dial(_my_agent_id(), number.strip())
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
        return jsonify(error="no such call"), 404
    _check_mine(row.agent_id)
    return jsonify(call=cdr_message(row))


@bp.post("/calls/<call_id>/hangup")
@requires(*STAFF)
def hang_up(call_id: str):
    board = _board()
    live = board.call(call_id)
    if live is None:
        if _services().db_session().get(Call, call_id) is None:
            return jsonify(error="no such call"), 404
        raise DialError("this call has already ended")
    _check_mine(live.agent_id)
    by = HangupBy.AGENT if g.user.role is Role.AGENT else HangupBy.SYSTEM
    return jsonify(call=board.hang_up(call_id, by).as_message())


@bp.put("/agents/me/status")
@requires(*STAFF)
def set_status():
    value = _body().get("status")
    try:
        status = AgentStatus(value)
    except ValueError:
        raise CommandError("status", "one of " + ", ".join(s.value for s in AgentStatus)) from None
    view = _board().set_status(_my_agent_id(), status)
    return jsonify(agent=view.as_message())


def _check_mine(agent_id: int | None) -> None:
    if g.user.role is Role.AGENT and (g.user.agent is None or agent_id != g.user.agent.id):
        raise AgentError("this is not your call")


def cdr_message(row: Call) -> dict:
    def iso(value):
        return value.isoformat() if value is not None else None
    return {
        "id": row.id, "direction": row.direction.value, "agent_id": row.agent_id,
        "number": row.customer_number, "caller_id": row.caller_id, "progress": "ended",
        "created_at": iso(row.created_at), "answered_at": iso(row.answered_at),
        "bridged_at": iso(row.bridged_at), "ended_at": iso(row.ended_at),
        "ring_seconds": row.ring_seconds, "talk_seconds": row.talk_seconds,
        "hold_seconds": row.hold_seconds, "cause": row.hangup_cause,
        "hangup_by": row.hangup_by.value if row.hangup_by else None,
        "disposition": row.disposition, "recording": row.recording_path,
    }
