"""What a supervisor does from the dashboard: listen in on a call, whisper to its agent or barge
in (from the supervisor's own softphone), leave; hang a call up; move a waiting caller to
another queue or offer it now to a chosen agent; force an agent's status.

Each action the switchboard accepts writes one audit row (`_audited`, the one place); one
that no longer applies (the call ended, the agent is gone, the softphone is not registered)
answers 409 with the reason, and nothing is written.
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from .. import audit
from ..credentials import Why
from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..models import Agent, AgentStatus, HangupBy, Role
from ..switchboard import AgentError
from ..switchboard.supervision import Mode, Supervisor
from .access import requires
from .services import services as _services
from .services import switchboard as _board

bp = Blueprint("supervisor_actions", __name__, url_prefix="/api/supervisor")
SUPERVISORS = (Role.SUPERVISOR, Role.ADMIN)
BREAK_REASON_MAX = 64


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("send a JSON object", field="body")
    return body


def _mode() -> Mode:
    value = _body().get("mode", Mode.LISTEN.value)
    try:
        return Mode(value)
    except ValueError:
        raise InvalidInput("one of " + ", ".join(m.value for m in Mode), field="mode") from None


def _me() -> Supervisor:
    user = g.user
    if not user.extension:
        raise Forbidden("your account has no softphone extension: an administrator can give "
                        "you one")
    return Supervisor(user.id, user.username, user.extension)


def _audited(action: str, target: str, after: dict | None = None) -> None:
    """The audit trail of a supervisor's action, in its own transaction."""
    who = audit.Actor.user(g.user)
    _services().write(lambda s: audit.record(s, who, action, target, after=after))


# -- listening in ----------------------------------------------------------------------------


@bp.post("/calls/<call_id>/monitor")
@requires(*SUPERVISORS)
def monitor(call_id: str):
    """Ring my softphone listening in on the call's agent leg ({"mode": listen | whisper |
    barge}); if I already listen, change mode."""
    mode = _mode()
    shown = _board().monitor(call_id, _me(), mode)
    _audited("call.monitor", f"call {call_id}", {"mode": mode.value})
    return jsonify(monitors=shown)


@bp.put("/calls/<call_id>/monitor")
@requires(*SUPERVISORS)
def change_mode(call_id: str):
    mode = _mode()
    shown = _board().set_monitor_mode(call_id, g.user.id, mode)
    _audited("call.monitor", f"call {call_id}", {"mode": mode.value})
    return jsonify(monitors=shown)


@bp.delete("/calls/<call_id>/monitor")
@requires(*SUPERVISORS)
def leave(call_id: str):
    shown = _board().stop_monitoring(call_id, g.user.id)
    _audited("call.monitor", f"call {call_id}", {"mode": "left"})
    return jsonify(monitors=shown)


@bp.post("/calls/<call_id>/hangup")
@requires(*SUPERVISORS)
def hang_up(call_id: str):
    call = _board().hang_up(call_id, HangupBy.SUPERVISOR)
    _audited("call.hangup", f"call {call_id}")
    return jsonify(call=call.as_message())


# -- a waiting caller ------------------------------------------------------------------------


@bp.post("/calls/<call_id>/move")
@requires(*SUPERVISORS)
def move_caller(call_id: str):
    """{"queue": name}: the waiting caller goes to that queue's line, keeping its entry time."""
    name = _body().get("queue")
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("the name of the queue to move the caller to", field="queue")
    call, left = _board().move_caller(call_id, name.strip())
    _audited("call.move", f"call {call_id}", {"from": left, "to": name.strip()})
    return jsonify(call=call.as_message())


@bp.post("/calls/<call_id>/offer")
@requires(*SUPERVISORS)
def offer_caller(call_id: str):
    """{"agent_id": n}: ring that agent for the waiting caller now (409 if it is not free)."""
    agent_id = _body().get("agent_id")
    if not isinstance(agent_id, int) or isinstance(agent_id, bool):
        raise InvalidInput("the id of the agent to offer the caller to", field="agent_id")
    board = _board()
    call = board.offer_caller(call_id, agent_id)
    _audited("call.offer", f"call {call_id}", {"agent": board.agent(agent_id).extension})
    return jsonify(call=call.as_message())


# -- an agent's status -------------------------------------------------------------------------


@bp.put("/agents/<int:agent_id>/status")
@requires(*SUPERVISORS)
def force_status(agent_id: int):
    """{"status": "available" | "on_break" | "logged_out", "reason": "..." (On break)}.
    Logging an agent out ends its logins and its softphone: no credential until it logs in
    again."""
    body = _body()
    try:
        status = AgentStatus(body.get("status"))
    except ValueError:
        raise InvalidInput("one of " + ", ".join(s.value for s in AgentStatus),
                           field="status") from None
    reason = body.get("reason") or None
    if reason is not None and (not isinstance(reason, str)
                               or len(reason.strip()) > BREAK_REASON_MAX):
        raise InvalidInput(f"a reason of at most {BREAK_REASON_MAX} characters", field="reason")
    reason = reason.strip() if reason and status is AgentStatus.ON_BREAK else None
    session = _services().db_session()
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise NotFound("no such agent")
    if not agent.user.active:
        raise Conflict("this agent's account is deactivated")
    board = _board()
    try:
        if status is AgentStatus.LOGGED_OUT:
            user_id = agent.user_id
            session.rollback()
            _services().sessions.end_everywhere(user_id, Why.SIGNED_OUT)
            board.set_status(agent_id, AgentStatus.LOGGED_OUT)   # with no phone, too
            view = board.agent(agent_id)
        else:
            view = board.set_status(agent_id, status, reason)
    except AgentError as exc:
        raise Conflict(str(exc)) from None
    _audited("agent.status", f"agent {view.extension}",
             {"status": status.value, "reason": reason})
    return jsonify(agent=view.as_message())
