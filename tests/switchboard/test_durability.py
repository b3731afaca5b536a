"""Nothing lost: a whole call placed while the database refuses writes lands once it is back,
health says so meanwhile, and PostgreSQL stopped and started again loses nothing either."""

from __future__ import annotations

from datetime import UTC, datetime

import gevent
import pytest
from sqlalchemy import func, select

from callcenter import db as dbmod
from callcenter.app import create_app
from callcenter.models import Call, CallLeg, Direction
from callcenter.sim import Behaviour
from callcenter.switchboard import records
from callcenter.switchboard.store import Store
from tests.conftest import AuthActions
from tests.switchboard.conftest import NUMBER, write_switch


def wait_for(condition, timeout: float = 10) -> None:
    with gevent.Timeout(timeout, AssertionError("condition never became true")):
        while not condition():
            gevent.sleep(0.005)


@pytest.fixture
def read_only(database):
    return write_switch(database)


def test_a_call_placed_while_the_database_refuses_writes_lands_when_it_is_back(
        rig, settings, database, admin, read_only):
    app = create_app(settings, database, rig.board, rig.hub)
    app.config["TESTING"] = True
    client = app.test_client()
    auth = AuthActions(client)
    auth.login("alice")
    token = auth.csrf("/agent")
    rig.board.store._retry_initial = rig.board.store._retry_max = 0.01
    assert client.get("/healthz?deep=1").status_code == 200

    read_only(True)
    rig.sim.script(NUMBER, Behaviour.answer(0))
    reply = client.post("/api/calls", json={"number": NUMBER}, headers={"X-CSRF-Token": token})
    assert reply.status_code == 201, reply.json
    call_id = reply.json["call"]["id"]
    rig.clock.advance(3)
    wait_for(lambda: rig.board.call(call_id) is not None
             and rig.board.call(call_id).answered_at is not None)
    rig.sim.far_end_hangs_up(rig.board.call(call_id).customer_leg)
    wait_for(lambda: rig.board.call(call_id) is None)
    wait_for(lambda: rig.board.store.failing)

    shallow, deep = client.get("/healthz"), client.get("/healthz?deep=1")
    assert shallow.status_code == 200 and shallow.json["database"] == "failing"
    assert deep.status_code == 503 and deep.json["backlog"] > 0
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Call)) == 0

    read_only(False)
    assert rig.board.store.flush(10), "the writes land with no restart"
    with database.session() as session:
        row = session.get(Call, call_id)
        legs = session.scalars(select(CallLeg).where(CallLeg.call_id == call_id)).all()
        assert row is not None and row.answered_at is not None and row.ended_at is not None
        assert row.hangup_cause == "NORMAL_CLEARING" and len(legs) == 2
    assert client.get("/healthz?deep=1").json["database"] == "ok"


def test_a_supervisor_page_shows_the_banner_while_writes_wait(rig, settings, database, admin,
                                                              make_user, read_only):
    from callcenter.models import Role
    make_user("sam", role=Role.SUPERVISOR)
    app = create_app(settings, database, rig.board, rig.hub)
    app.config["TESTING"] = True
    client = app.test_client()
    AuthActions(client).login("sam")
    assert 'id="store-banner"' not in client.get("/").get_data(as_text=True)
    rig.board.store._retry_initial = rig.board.store._retry_max = 0.01
    read_only(True)
    rig.board.store.submit(records.insert("calls", [dict(
        id="c1", direction=Direction.OUTBOUND, created_at=datetime.now(UTC))]))
    wait_for(lambda: rig.board.store.failing)
    page = client.get("/").get_data(as_text=True)
    assert 'id="store-banner"' in page and "nothing is lost" in page
    read_only(False)
    assert rig.board.store.flush(10)


@pytest.mark.postgresql
def test_postgresql_stopped_and_started_again_loses_no_write():
    from tests.postgres import PostgresServer

    server = PostgresServer()
    if not server.available:
        pytest.skip("PostgreSQL is not installed (.ci/run installs Debian's postgresql)")
    url = server.start()
    try:
        dbmod.upgrade(url)
        database = dbmod.Database(url)
        store = Store(database.sessions, reopen=database.dispose, retry_initial=0.05,
                      retry_max=0.2)
        store.start()

        def call(call_id):
            return records.insert("calls", [dict(id=call_id, direction=Direction.OUTBOUND,
                                                 created_at=datetime.now(UTC))])

        store.submit(call("before"))
        assert store.flush(10)
        server.halt()
        for i in range(3):
            store.submit(call(f"during-{i}"))
        wait_for(lambda: store.failing, 20)
        assert store.depth == 3
        server.resume()
        assert store.flush(30)
        with database.session() as session:
            assert sorted(session.scalars(select(Call.id))) == [
                "before", "during-0", "during-1", "during-2"]
        assert not store.failing and store.failed == 0
        store.stop()
        database.dispose()
    finally:
        server.stop()
