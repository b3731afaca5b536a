"""A program, run by test_slow_query.py: does a slow PostgreSQL query on one greenlet hold up a
dial being bridged on another greenlet of the same hub?

`python -m tests.switchboard.slow_query URL [--unpatched]` patches the process with gevent
before anything else is imported, as `callcenter serve` does (callcenter/cli.py), unless
--unpatched. It dials through a real switchboard linked over TCP to the simulator on a real
clock, with the database at URL (PostgreSQL, migrated); once the agent's leg is up it starts
`SELECT pg_sleep(1)` on another connection, and prints one JSON line: psycopg's wait function
and, in seconds from the query's start, when the switch reported the bridge and when the query
returned.
"""

import sys

if __name__ == "__main__" and "--unpatched" not in sys.argv:
    from gevent import monkey

    monkey.patch_all()

import json  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
import psycopg.waiting  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from callcenter import db as dbmod  # noqa: E402
from callcenter.accounts import create_user  # noqa: E402
from callcenter.audit import CLI  # noqa: E402
from callcenter.clock import RealClock  # noqa: E402
from callcenter.models import Agent, AgentStatus, Role  # noqa: E402
from callcenter.sim import Behaviour, Simulator  # noqa: E402
from tests.switchboard.conftest import NUMBER, SIM_PASSWORD, connect_board  # noqa: E402

ANSWER_MS = 300  # the customer answers this long after the INVITE: the bridge follows


def main(url: str) -> dict:
    database = dbmod.Database(url)
    with database.session() as session:
        user = create_user(session, "alice", "Tr1cky-Horse-42", Role.AGENT, "1000", who=CLI)
        session.flush()
        session.scalar(select(Agent).where(Agent.user_id == user.id)).status = (
            AgentStatus.ON_BREAK)
        agent_id = user.agent.id
    clock = RealClock()
    sim = Simulator(SIM_PASSWORD, clock=clock)
    sim.start()
    sim.register("1000")
    sim.script(NUMBER, Behaviour.answer(ANSWER_MS))
    rig = connect_board(sim, clock, database)

    agent_up, bridged = gevent.event.Event(), gevent.event.AsyncResult()
    rig.link.on("CHANNEL_ANSWER", lambda event: agent_up.set())  # the agent's leg comes first
    rig.link.on("CHANNEL_BRIDGE", lambda event: bridged.set(time.monotonic()))
    query: dict[str, float] = {}
    connection = database.engine.connect()  # connected beforehand: the query goes out at once

    def slow_query() -> None:
        query["started"] = time.monotonic()
        connection.execute(text("SELECT pg_sleep(1)"))
        query["ended"] = time.monotonic()

    rig.board.dial(agent_id, NUMBER)
    assert agent_up.wait(5), "the agent's leg never answered"
    sleeper = gevent.spawn(slow_query)
    bridged_at = bridged.get(timeout=10)
    sleeper.get(timeout=10)
    connection.close()
    rig.link.stop()
    rig.board.stop()
    sim.stop()
    database.dispose()
    return {"wait": psycopg.waiting.wait.__name__,
            "bridged": round(bridged_at - query["started"], 3),
            "query_ended": round(query["ended"] - query["started"], 3)}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
