"""Admin edits on the Users page reach the running switchboard at once: after each commit that
changes an agent, the board reloads it. Memory stays the live truth for statuses and states."""

from __future__ import annotations

from sqlalchemy import select, update

from callcenter.models import Agent, AgentStatus, User
from tests.conftest import PASSWORD


def live_agents(rig) -> dict[str, dict]:
    """The agents as a supervisor's live view has them (what the roster holds, nothing loaded)."""
    return {agent["name"]: agent for agent in rig.board.snapshot(None)["agents"]}


def user_id(database, username: str) -> int:
    with database.session() as session:
        return session.scalar(select(User.id).where(User.username == username))


def test_an_agent_added_on_the_users_page_is_known_to_the_switchboard_at_once(rig, admin_post):
    rig.sim.register("1001")        # her softphone registered before she was an agent
    rig.settle()
    assert "carol" not in live_agents(rig)
    admin_post("/admin/users", username="carol", password=PASSWORD, role="agent",
               extension="1001")
    carol = live_agents(rig)["carol"]
    assert (carol["extension"], carol["registered"], carol["status"]) == (
        "1001", True, "logged_out")


def test_deactivating_and_activating_reach_the_switchboard(rig, admin_post, database, agent_id):
    rig.board.set_status(agent_id, AgentStatus.AVAILABLE)
    alice = user_id(database, "alice")
    admin_post(f"/admin/users/{alice}/active", active="0")
    view = rig.board.agent(agent_id)
    assert (view.active, view.status) == (False, AgentStatus.LOGGED_OUT)
    admin_post(f"/admin/users/{alice}/active", active="1")
    view = rig.board.agent(agent_id)
    # Active again; it chooses its status when it logs in.
    assert (view.active, view.status) == (True, AgentStatus.LOGGED_OUT)


def test_a_reload_keeps_the_agents_live_status(rig, admin_post, database, agent_id, make_user):
    rig.board.set_status(agent_id, AgentStatus.AVAILABLE)
    rig.settle()
    # The row lags behind memory (a write still queued, or the database was down meanwhile).
    with database.session() as session:
        session.execute(update(Agent).where(Agent.id == agent_id)
                        .values(status=AgentStatus.ON_BREAK))
    make_user("bob", extension="1001")
    admin_post(f"/admin/users/{user_id(database, 'bob')}/active", active="0")
    agents = live_agents(rig)
    assert agents["alice"]["status"] == "available"
    assert agents["bob"]["status"] == "logged_out"
    assert rig.board.agent(agent_id).status is AgentStatus.AVAILABLE


def page_form(database, username: str, **changes) -> dict[str, str]:
    """A user's edit form as its page shows it now (versions included), with `changes`."""
    from callcenter import accounts

    with database.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        form = {name: ("on" if value else None) if isinstance(value, bool) else str(value)
                for name, value in accounts.user_values(user).items()}
        form.update(version=str(user.version), agent_version=str(user.agent.version))
    form.update(changes)
    return {name: value for name, value in form.items() if value is not None}


def test_a_logged_out_agents_new_extension_is_the_rosters_at_once(rig, admin_post, database,
                                                                 make_user):
    make_user("bob", extension="1001")
    rig.sim.register("1009")        # a phone already registered as the new extension
    rig.settle()
    bob = user_id(database, "bob")
    admin_post("/admin/users", username="carol", password=PASSWORD, role="agent",
               extension="1002")     # the roster learns of bob too
    admin_post(f"/admin/users/{bob}", **page_form(database, "bob", extension="1009"))
    view = rig.board.roster.by_extension("1009")
    assert view is not None and view.name == "bob" and view.registered
    assert rig.board.roster.by_extension("1001") is None
    assert live_agents(rig)["bob"]["extension"] == "1009"
