"""The call records search (callcenter/records/search.py): each filter, keyset pages across equal
timestamps, the capped total, "contains" through its trigram index (and refused under three
digits), agents seeing only the calls they handled; and the raw CDR documents' table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, event, func, select, update

from callcenter.cdr.documents import keep, raw_cdr
from callcenter.errors import InvalidInput
from callcenter.models import (
    Agent,
    Call,
    CallAgent,
    CallHandler,
    CallLeg,
    Direction,
    LegCdr,
    LegRole,
    Outcome,
    Queue,
    Recording,
)
from callcenter.records import search as search_module
from callcenter.records.search import Filters, Search

pytestmark = pytest.mark.both_databases

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _call(n: int, **values) -> Call:
    values.setdefault("created_at", T0 + timedelta(minutes=n))
    values.setdefault("direction", Direction.INBOUND)
    return Call(id=f"call-{n:02d}", **values)


@pytest.fixture
def people(database, make_user):
    make_user("alice")
    make_user("bob")
    with database.session() as s:
        alice, bob = s.scalars(select(Agent.id).order_by(Agent.id)).all()
        s.add_all([Queue(name="sales"), Queue(name="support")])
        s.flush()
        sales, support = s.scalars(select(Queue.id).order_by(Queue.id)).all()
    return {"alice": alice, "bob": bob, "sales": sales, "support": support}


@pytest.fixture
def calls(database, people):
    """Ten calls, a minute apart, each different in one way from the others."""
    rows = [
        _call(0, agent_id=people["alice"], queue_id=people["sales"], customer_number="+12125550100",
              outcome=Outcome.ANSWERED, hangup_cause="NORMAL_CLEARING", talk_seconds=30),
        _call(1, agent_id=people["bob"], queue_id=people["sales"], customer_number="+12125550199",
              outcome=Outcome.ANSWERED, talk_seconds=900, disposition="sale"),
        _call(2, queue_id=people["support"], customer_number="+13105557777",
              outcome=Outcome.ABANDONED, hangup_cause="ORIGINATOR_CANCEL"),
        _call(3, direction=Direction.OUTBOUND, agent_id=people["alice"],
              customer_number="+14155550123", outcome=Outcome.BUSY, hangup_cause="USER_BUSY"),
        _call(4, agent_id=people["bob"], customer_number="+13105550100",
              outcome=Outcome.ANSWERED, talk_seconds=120, recording_path="/r/4.wav"),
        _call(5, customer_number="5550100", outcome=Outcome.NO_ANSWER),
    ]
    with database.session() as s:
        s.add_all(rows)
        s.flush()
        # Bob took call 0 over from Alice (a transfer): it is his call too.
        s.add(CallAgent(leg_uuid="leg-bob-0", call_id="call-00", agent_id=people["bob"],
                        joined_at=T0))
        s.add(Recording(call_id="call-04", path="/r/4.wav", started_at=T0))
    return people


def found(database, filters: Filters | None = None, viewer: int | None = None) -> list[str]:
    with database.session() as s:
        return [c.id for c in Search(filters or Filters(), viewer).page(s, 100).calls]


def test_each_filter_finds_its_calls(database, calls):
    assert found(database) == [f"call-{n:02d}" for n in (5, 4, 3, 2, 1, 0)]
    cases = {
        Filters(since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=4)):
            ["call-03", "call-02"],
        Filters(agent_id=calls["bob"]): ["call-04", "call-01", "call-00"],
        Filters(queue_id=calls["sales"]): ["call-01", "call-00"],
        Filters(direction=Direction.OUTBOUND): ["call-03"],
        Filters(number="+1310"): ["call-04", "call-02"],
        Filters(number="5550100", number_match="contains"): ["call-05", "call-04", "call-00"],
        Filters(number="555012", number_match="contains"): ["call-03"],
        Filters(outcome=Outcome.ANSWERED): ["call-04", "call-01", "call-00"],
        Filters(cause="USER_BUSY"): ["call-03"],
        Filters(disposition="sale"): ["call-01"],
        Filters(talk_min=100): ["call-04", "call-01"],
        Filters(talk_min=100, talk_max=600): ["call-04"],
        Filters(recorded=True): ["call-04"],
        Filters(recorded=False, outcome=Outcome.ANSWERED): ["call-01", "call-00"],
        Filters(queue_id=calls["sales"], outcome=Outcome.ANSWERED, talk_min=60): ["call-01"],
    }
    for filters, expected in cases.items():
        assert found(database, filters) == expected, filters


def test_an_agent_sees_only_the_calls_it_handled(database, calls):
    assert found(database, viewer=calls["alice"]) == ["call-03", "call-00"]
    assert found(database, viewer=calls["bob"]) == ["call-04", "call-01", "call-00"]
    # Asking for another agent's calls finds none of them.
    assert found(database, Filters(agent_id=calls["bob"]), viewer=calls["alice"]) == ["call-00"]


def test_call_handlers_follow_the_agent_of_record_and_the_parts(database, calls, make_user):
    """call_handlers (the index an agent's search walks) holds each (agent, call) pair the
    call's agent of record or its call_agents rows give, with the call's start, as they
    change: kept by the database, whoever writes."""
    make_user("carol")
    with database.session() as s:
        carol = s.scalar(select(Agent.id).order_by(Agent.id.desc()).limit(1))
    alice, bob = calls["alice"], calls["bob"]

    def handlers() -> set[tuple]:
        with database.session() as s:
            return set(s.execute(select(CallHandler.agent_id, CallHandler.call_id,
                                        CallHandler.created_at)
                                 .where(CallHandler.call_id == "call-00")))

    assert handlers() == {(alice, "call-00", T0), (bob, "call-00", T0)}
    with database.session() as s:   # the agent of record changes; Bob's part keeps his pair
        s.execute(update(Call).where(Call.id == "call-00").values(agent_id=bob))
    assert handlers() == {(bob, "call-00", T0)}
    with database.session() as s:
        s.add(CallAgent(leg_uuid="leg-carol-0", call_id="call-00", agent_id=carol,
                        joined_at=T0))
        s.add(CallAgent(leg_uuid="leg-carol-0b", call_id="call-00", agent_id=carol,
                        joined_at=T0))
    later = T0 - timedelta(hours=1)
    with database.session() as s:   # a second part of Carol's goes: the first still counts
        s.execute(delete(CallAgent).where(CallAgent.leg_uuid == "leg-carol-0b"))
        s.execute(update(Call).where(Call.id == "call-00").values(created_at=later))
    assert handlers() == {(bob, "call-00", later), (carol, "call-00", later)}
    with database.session() as s:   # Bob's part goes, but he is still the agent of record
        s.execute(delete(CallAgent).where(CallAgent.leg_uuid == "leg-bob-0"))
    assert handlers() == {(bob, "call-00", later), (carol, "call-00", later)}
    with database.session() as s:
        s.execute(update(CallAgent).where(CallAgent.leg_uuid == "leg-carol-0")
                  .values(agent_id=alice))
        s.execute(update(Call).where(Call.id == "call-00").values(agent_id=None))
    assert handlers() == {(alice, "call-00", later)}
    assert found(database, viewer=carol) == []
    assert found(database, viewer=alice) == ["call-03", "call-00"]
    with database.session() as s:
        s.execute(delete(Call).where(Call.id == "call-00"))
    assert handlers() == set()


def test_an_agent_s_pages_walk_its_calls_across_equal_timestamps(database, people):
    """By agent the pages run on call_handlers' copy of (created_at, id): the same order, the
    same cursors, forwards and back, and the time range still applies."""
    alice, bob = people["alice"], people["bob"]
    with database.session() as s:
        s.add_all([_call(n, created_at=T0 if n < 5 else T0 + timedelta(seconds=n),
                         agent_id=alice if n % 2 == 0 else bob) for n in range(9)])
        s.flush()
        s.add(CallAgent(leg_uuid="leg-3", call_id="call-03", agent_id=alice, joined_at=T0))
    mine = ["call-08", "call-06", "call-04", "call-03", "call-02", "call-00"]
    for search in (Search(Filters(), alice), Search(Filters(agent_id=alice)),
                   Search(Filters(agent_id=alice), alice)):
        seen, pages = [], []
        with database.session() as s:
            page = search.page(s, 2)
            while True:
                pages.append(page)
                seen += [c.id for c in page.calls]
                if page.older is None:
                    break
                page = search.page(s, 2, before=page.older)
            back, page = [], pages[-1]
            while page.newer is not None:
                page = search.page(s, 2, after=page.newer)
                back = [c.id for c in page.calls] + back
            assert (seen, back) == (mine, mine[:4])
            assert search.total(s) == (6, False)
            assert [c.id for chunk in search.chunks(lambda: database.session(), 4)
                    for c in chunk] == mine
    assert found(database, Filters(since=T0 + timedelta(seconds=1), agent_id=alice)) == [
        "call-08", "call-06"]
    assert found(database, Filters(until=T0 + timedelta(seconds=1)), alice) == [
        "call-04", "call-03", "call-02", "call-00"]


def test_keyset_pages_across_equal_timestamps(database):
    """Seven calls, five sharing one timestamp: pages of two walk them all once, in order,
    forwards and back."""
    with database.session() as s:
        s.add_all([_call(n, created_at=T0 if n < 5 else T0 + timedelta(seconds=n))
                   for n in range(7)])
    expected = ["call-06", "call-05", "call-04", "call-03", "call-02", "call-01", "call-00"]
    search, seen, pages = Search(Filters()), [], []
    with database.session() as s:
        page = search.page(s, 2)
        while True:
            pages.append(page)
            seen += [c.id for c in page.calls]
            if page.older is None:
                break
            page = search.page(s, 2, before=page.older)
        assert seen == expected
        assert pages[0].newer is None and [len(p.calls) for p in pages] == [2, 2, 2, 1]
        back = []
        page = pages[-1]
        while page.newer is not None:
            page = search.page(s, 2, after=page.newer)
            back = [c.id for c in page.calls] + back
        assert back == expected[:6]
        with pytest.raises(InvalidInput) as refused:
            search.page(s, 2, before="no-such-call")
        assert refused.value.field == "before"


def test_the_total_is_counted_up_to_its_cap(database, calls, monkeypatch):
    with database.session() as s:
        assert Search(Filters()).total(s) == (6, False)
        assert Search(Filters(outcome=Outcome.ANSWERED)).total(s) == (3, False)
        monkeypatch.setattr(search_module, "COUNT_CAP", 4)
        assert Search(Filters()).total(s) == (4, True)
        assert Search(Filters(outcome=Outcome.ANSWERED)).total(s) == (3, False)


def test_a_count_that_runs_out_of_time_says_so(database, monkeypatch):
    with database.session() as s:
        s.add_all([Call(id=f"bulk-{n}", direction=Direction.INBOUND,
                        created_at=T0 + timedelta(seconds=n)) for n in range(3000)])
    with database.session() as s:
        assert Search(Filters()).total(s) == (3000, False)
        postgres = s.get_bind().dialect.name == "postgresql"
        # Already spent (PostgreSQL: a millisecond, against a count made to sleep).
        monkeypatch.setattr(search_module, "COUNT_BUDGET_MS", 1 if postgres else -1000)
        slow = Search(Filters())
        if postgres:
            statement = slow.statement
            slow.statement = lambda session, columns=(Call,): statement(session, columns).where(
                func.pg_sleep(0.05).is_not(None))
        assert slow.total(s) == (None, True)
        # The rest of the transaction runs without the budget: pages never stop.
        if postgres:
            assert s.scalar(select(func.current_setting("statement_timeout"))) == "0"
        assert len(Search(Filters()).page(s, 50).calls) == 50


def test_contains_needs_three_digits_and_bad_values_name_their_field():
    with pytest.raises(InvalidInput, match="at least 3") as refused:
        Filters(number="55", number_match="contains")
    assert refused.value.field == "number"
    Filters(number="55")            # a prefix may be short
    for values, field in (({"number": "12a"}, "number"), ({"cause": "busy now"}, "cause"),
                          ({"talk_min": -1}, "talk_min"),
                          ({"talk_min": 10, "talk_max": 5}, "talk_min"),
                          ({"number_match": "fuzzy"}, "match"),
                          ({"since": T0, "until": T0}, "from")):
        with pytest.raises(InvalidInput) as refused:
            Filters(**values)
        assert refused.value.field == field, values


def test_the_number_index_follows_changes_and_deletions(database, calls):
    contains = Filters(number="5557777", number_match="contains")
    assert found(database, contains) == ["call-02"]
    with database.session() as s:
        s.execute(update(Call).where(Call.id == "call-02").values(customer_number="+1999888"))
    assert found(database, contains) == []
    assert found(database, Filters(number="99888", number_match="contains")) == ["call-02"]
    with database.session() as s:
        s.execute(delete(Call).where(Call.id == "call-02"))
    assert found(database, Filters(number="99888", number_match="contains")) == []


def test_contains_reads_the_trigram_index_not_the_table(database, calls):
    """The plan of a "contains" search: SQLite looks the number up in its FTS5 trigram table
    and reads calls by rowid; PostgreSQL's plan uses the pg_trgm index (sequential scans
    switched off: on six rows it would rightly prefer one)."""
    with database.session() as s:
        connection = s.connection()
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")

        def explained(_conn, _cursor, statement, parameters, _context, _many):
            return ("EXPLAIN " if postgres else "EXPLAIN QUERY PLAN ") + statement, parameters

        event.listen(connection, "before_cursor_execute", explained, retval=True)
        statement = Search(Filters(number="5550100", number_match="contains")).statement(s)
        plan = " | ".join(str(row[-1]) for row in connection.execute(
            statement.order_by(Call.created_at.desc(), Call.id.desc()).limit(50)))
        event.remove(connection, "before_cursor_execute", explained)
    if postgres:
        assert "ix_calls_number_trigram" in plan, plan
    else:
        assert "calls_numbers VIRTUAL TABLE" in plan and "SCAN calls " not in plan + " ", plan


def test_an_agent_s_calls_walk_the_handlers_index_newest_first(database, calls):
    """The plan of an agent's first page: call_handlers' (agent_id, created_at, call_id) index
    walked in order, each call read by its key, no sort of the agent's every call (on
    PostgreSQL with sorts and sequential scans discouraged: on six rows it would rightly
    prefer them)."""
    with database.session() as s:
        connection = s.connection()
        postgres = connection.dialect.name == "postgresql"
        if postgres:
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            connection.exec_driver_sql("SET LOCAL enable_sort = off")
        for search in (Search(Filters(), calls["bob"]),
                       Search(Filters(agent_id=calls["bob"], since=T0))):
            statement = search.statement(s).order_by(*search.newest_first()).limit(50)
            compiled = statement.compile(bind=connection, compile_kwargs={"literal_binds": True})
            plan = " | ".join(str(row[-1]) for row in connection.exec_driver_sql(
                ("EXPLAIN " if postgres else "EXPLAIN QUERY PLAN ") + str(compiled)))
            walked = ("Backward using ix_call_handlers_agent_created" if postgres else
                      "SEARCH call_handlers USING COVERING INDEX ix_call_handlers_agent_created")
            assert walked in plan, plan
            assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan


def test_a_raw_cdr_round_trips_compressed(database, calls):
    document = '{"variables": {"uuid": "leg-1", "filler": "' + "x" * 3000 + '"}}'
    with database.session() as s:
        s.add(CallLeg(uuid="leg-1", call_id="call-00", role=LegRole.CUSTOMER))
        s.flush()
        keep(s, [("leg-1", "call-00", document)])
    with database.session() as s:
        assert raw_cdr(s, "leg-1") == document and raw_cdr(s, "leg-2") is None
        stored = s.scalar(select(LegCdr.document).where(LegCdr.leg_uuid == "leg-1"))
        assert len(stored) < len(document) / 10
        keep(s, [("leg-1", "call-00", '{"again": 1}')])      # the writer's rules say when
    with database.session() as s:
        assert raw_cdr(s, "leg-1") == '{"again": 1}'
        s.execute(delete(Call).where(Call.id == "call-00"))
    with database.session() as s:
        assert raw_cdr(s, "leg-1") is None      # the call's documents go with it
