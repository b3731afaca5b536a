"""An agent's status follows its web login: logging in makes a Logged Out agent On break (logged
in, not ready for queued calls) until it chooses Available; logging out makes it Logged Out
(`Credentials.revoke`, with the softphone's credential)."""

from __future__ import annotations

from sqlalchemy import update

from ..models import Agent, AgentStatus, utcnow


def logged_in(services, agent_id: int) -> None:
    board = services.switchboard
    if board is not None:
        board.agent_logged_in(agent_id)
        return
    # No switchboard in this process (a web-only app): the row is all there is.
    session = services.db_session()
    session.execute(update(Agent).where(Agent.id == agent_id,
                                        Agent.status == AgentStatus.LOGGED_OUT)
                    .values(status=AgentStatus.ON_BREAK, status_changed_at=utcnow()))
    session.commit()
