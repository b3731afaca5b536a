"""Versions of users, agents and queues: a form's version is checked, two saves racing past the
check leave one refused by the database itself, and only ORM updates (an admin's edits) move a
version — the switchboard's Core writes of an agent's status and state do not."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from callcenter import queue_config
from callcenter.audit import CLI
from callcenter.errors import InvalidInput
from callcenter.models import Agent, AgentState, AgentStatus, User
from callcenter.versions import Stale, check_version, saved
from callcenter.writing import write

pytestmark = pytest.mark.both_databases


def test_the_form_version_is_checked(database, make_user):
    user_id = make_user("alice", extension="1000")
    with database.session() as s:
        user = s.get(User, user_id)
        check_version(user, "1", "user alice")
        with pytest.raises(Stale, match="user alice was changed by someone else meanwhile"):
            check_version(user, "2", "user alice")
        with pytest.raises(InvalidInput, match="carries no version"):
            check_version(user, "", "user alice")


def test_two_saves_racing_past_the_check_leave_one_refused(database, make_user):
    user_id = make_user("alice", extension="1000")
    first, second = database.sessions(), database.sessions()
    try:
        mine = first.get(Agent, first.scalar(select(Agent.id).where(Agent.user_id == user_id)))
        theirs = second.get(Agent, mine.id)
        check_version(mine, "1", "agent alice")
        check_version(theirs, "1", "agent alice")        # both passed: the race
        mine.wrapup_seconds = 30
        first.commit()
        theirs.wrapup_seconds = 45
        with pytest.raises(Stale):
            saved(lambda work: write(None, second, work), "agent alice", lambda s: None)
    finally:
        first.close()
        second.close()
    with database.session() as s:
        agent = s.scalar(select(Agent).where(Agent.user_id == user_id))
        assert (agent.wrapup_seconds, agent.version) == (30, 2)


def test_only_admin_edits_move_a_version(database, make_user):
    user_id = make_user("alice", extension="1000")
    with database.session() as s:
        queue_config.create_queue(s, "sales", who=CLI)
    with database.session() as s:     # what the switchboard's store writes, all day long
        s.execute(update(Agent).where(Agent.user_id == user_id).values(
            status=AgentStatus.AVAILABLE, state=AgentState.IN_CALL, registered=True))
    with database.session() as s:
        assert s.scalar(select(Agent.version).where(Agent.user_id == user_id)) == 1
        queue_config.change_queue(s, "sales", {"priority": "3"}, who=CLI, version="1")
    with database.session() as s:
        assert queue_config.queue_named(s, "sales").version == 2
        with pytest.raises(Stale):
            queue_config.change_queue(s, "sales", {"priority": "4"}, who=CLI, version="1")
