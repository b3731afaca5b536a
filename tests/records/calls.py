"""Past calls made by hand for the records tests: a call row, who handled it, and its
recordings with real WAV files under the settings' recordings directory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from callcenter.models import Agent, Call, CallAgent, Direction, HangupBy, Outcome, Recording
from callcenter.sim.wav import RATE, write_silence

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def agent_of(database, username: str) -> int:
    from callcenter.models import User

    with database.session() as session:
        return session.scalar(select(Agent.id).join(User).where(User.username == username))


def past_call(database, settings, call_id: str = "call-1", agent_id: int | None = None, *,
              seconds: tuple[int, ...] = (3,), started: datetime = T0,
              files: bool = True) -> list[int]:
    """A finished inbound call handled by `agent_id`, with a recording of each length in
    `seconds` (its file written unless `files` is false); the recordings' ids."""
    day = settings.recordings_dir / f"{started:%Y/%m/%d}"
    day.mkdir(parents=True, exist_ok=True)
    ids = []
    with database.session() as session:
        session.add(Call(id=call_id, direction=Direction.INBOUND, agent_id=agent_id,
                         customer_number="15551234567", created_at=started,
                         answered_at=started, bridged_at=started + timedelta(seconds=2),
                         ended_at=started + timedelta(seconds=60), talk_seconds=58,
                         hangup_by=HangupBy.CUSTOMER, hangup_cause="NORMAL_CLEARING",
                         outcome=Outcome.ANSWERED, disposition="sale", notes="wants a callback"))
        if agent_id is not None:
            session.add(CallAgent(leg_uuid=f"{call_id}-agent", call_id=call_id,
                                  agent_id=agent_id, joined_at=started + timedelta(seconds=2),
                                  left_at=started + timedelta(seconds=60), talk_seconds=58))
        session.flush()
        for n, length in enumerate(seconds):
            path = day / (f"{call_id}.wav" if n == 0 else f"{call_id}-{n + 1}.wav")
            size = write_silence(str(path), length * RATE) if files else None
            row = Recording(call_id=call_id, leg_uuid=f"{call_id}-agent", path=str(path),
                            started_at=started + timedelta(seconds=2 + 10 * n),
                            ended_at=started + timedelta(seconds=2 + 10 * n + length),
                            seconds=float(length), bytes=size)
            session.add(row)
            session.flush()
            ids.append(row.id)
        session.commit()
    return ids
