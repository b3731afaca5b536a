"""Callback requests for supervisors: the ones not finished (in line order) and the recent ones,
and cancelling one that waits. The switchboard's memory is the live truth for requests not
finished; the database adds finished ones memory no longer holds (after a restart)."""

from __future__ import annotations

from flask import Blueprint, g, jsonify
from sqlalchemy import select

from .. import audit
from ..errors import Conflict, NotFound
from ..models import Callback, CallbackState, Queue, Role
from .access import requires
from .services import services as _services
from .services import switchboard as _board

bp = Blueprint("callbacks", __name__, url_prefix="/api/callbacks")
SUPERVISORS = (Role.SUPERVISOR, Role.ADMIN)
RECENT = 50
FINISHED = (CallbackState.DONE, CallbackState.FAILED, CallbackState.CANCELLED)


@bp.get("")
@requires(*SUPERVISORS)
def list_callbacks():
    """{"waiting": [...], "recent": [...]}: requests waiting, ringing an agent or being
    dialled (oldest place first), then the last RECENT finished (newest first)."""
    shown = _board().callback_requests()
    active = [c for c in shown if c["state"] not in FINISHED]
    recent = [c for c in shown if c["state"] in FINISHED]
    known = {c["id"] for c in shown}
    session = _services().db_session()
    rows = session.execute(
        select(Callback, Queue.name).outerjoin(Queue, Queue.id == Callback.queue_id)
        .where(Callback.state.in_(FINISHED)).order_by(Callback.done_at.desc()).limit(RECENT)).all()
    recent += [_row(row, queue) for row, queue in rows if row.id not in known]
    recent.sort(key=lambda c: c["done_at"] or 0, reverse=True)
    return jsonify(waiting=active, recent=recent[:RECENT])


@bp.post("/<callback_id>/cancel")
@requires(*SUPERVISORS)
def cancel(callback_id: str):
    """Cancel a request that waits or rings an agent (404 unknown, 409 being dialled or over);
    once the switchboard has cancelled it, the audit log says who did."""
    session = _services().db_session()
    try:
        was, shown = _board().cancel_callback(callback_id)
    except NotFound:
        row = session.get(Callback, callback_id)
        if row is None:
            raise
        raise Conflict(f"this callback is {row.state.value} already") from None
    who = audit.Actor.user(g.user)
    _services().write(lambda s: audit.record(
        s, who, "callback.cancel", f"callback {shown['id']} ({shown['queue']}, {shown['number']})",
        {"state": was}, {"state": shown["state"]}))
    return jsonify(callback=shown)


def _row(row: Callback, queue: str | None) -> dict:
    """A finished request from its row, in the live message's shape."""
    def seconds(value):
        return value.timestamp() if value is not None else None
    return {"id": row.id, "queue": queue or "", "number": row.number,
            "caller_name": row.caller_name, "state": row.state.value,
            "entered_at": seconds(row.entered_at), "requested_at": seconds(row.requested_at),
            "next_attempt_at": seconds(row.next_attempt_at), "done_at": seconds(row.done_at),
            "waited": round(seconds(row.done_at or row.requested_at) - seconds(row.entered_at), 1),
            "attempts": row.attempts, "last_result": row.last_result, "agent_id": row.agent_id,
            "call_id": row.call_id, "callback_call_id": row.callback_call_id}
