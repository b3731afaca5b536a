"""Every timestamp column is one type: a moment goes in with any zone, is kept in UTC and comes
back timezone-aware in UTC, on SQLite and PostgreSQL alike; a naive datetime is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import DateTime, func, select
from sqlalchemy.exc import StatementError

from callcenter.models import Base, Call, Direction, UtcDateTime
from callcenter.switchboard import records

pytestmark = pytest.mark.both_databases

PLUS_TWO = timezone(timedelta(hours=2))
MOMENT = datetime(2024, 5, 1, 12, 30, 15, 250000, tzinfo=PLUS_TWO)  # 10:30:15.25 UTC


def test_every_timestamp_column_has_the_utc_type():
    columns = [column for table in Base.metadata.tables.values() for column in table.columns]
    timestamps = [str(c) for c in columns if isinstance(c.type, DateTime | UtcDateTime)]
    assert {str(c) for c in columns if c.name.endswith("_at")} <= set(timestamps)
    assert [str(c) for c in columns if isinstance(c.type, DateTime)] == []


def call(call_id: str, created_at: datetime) -> Call:
    return Call(id=call_id, direction=Direction.OUTBOUND, created_at=created_at)


def test_a_moment_comes_back_the_same_and_in_utc(database):
    with database.session() as session:
        session.add(call("c1", MOMENT))
    with database.session() as session:
        row = session.get(Call, "c1")
        assert row.created_at == MOMENT and row.created_at.tzinfo is UTC
        assert row.created_at.hour == 10
        assert session.scalar(select(func.max(Call.created_at))) == MOMENT
        # Compared in SQL, not only in Python: a second either side of the moment.
        after = select(func.count()).where(Call.created_at > MOMENT - timedelta(seconds=1))
        before = select(func.count()).where(Call.created_at > MOMENT + timedelta(seconds=1))
        assert (session.scalar(after), session.scalar(before)) == (1, 0)


def test_the_switchboards_writes_keep_the_moment_they_were_given(database):
    with database.session() as session:
        records.apply(session, [records.insert("calls", [dict(
            id="c1", direction=Direction.OUTBOUND, created_at=MOMENT)])])
        records.apply(session, [records.fill_rows("calls", [dict(id="c1", ended_at=MOMENT)])])
        records.apply(session, [records.update_rows("calls", [dict(
            id="c1", answered_at=MOMENT.astimezone(UTC))])])
    with database.session() as session:
        row = session.get(Call, "c1")
        assert row.created_at == row.ended_at == row.answered_at == MOMENT
        assert {row.created_at.tzinfo, row.ended_at.tzinfo, row.answered_at.tzinfo} == {UTC}
        later = MOMENT + timedelta(seconds=1)
        assert session.scalar(select(func.count()).where(
            (Call.created_at < later) & (Call.ended_at < later)
            & (Call.answered_at < later))) == 1, "kept as UTC, as every other time is"


def test_a_naive_datetime_is_refused_and_nothing_is_written(database):
    with pytest.raises(StatementError, match="timezone-aware"):
        with database.session() as session:
            session.add(call("c2", datetime(2024, 5, 1, 12, 30)))
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Call)) == 0
