"""What the distributor remembers of each agent between offers: since when it is free, today's
calls and talk time (the strategies read them), when it may be offered the next call (after a
decline, a busy phone or a missed offer), and its missed offers in a row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ...models import OfferOutcome
from ..agents import AgentView


@dataclass
class AgentLedger:
    idle_since: float = 0.0
    calls: int = 0                 # answered queued calls today
    talk_seconds: float = 0.0      # on them, today
    day: str = ""                  # the UTC date the two above count
    not_before: float = 0.0        # no offer before this clock time
    missed_in_row: int = 0


class Ledger:
    def __init__(self) -> None:
        self._agents: dict[int, AgentLedger] = {}

    def of(self, agent_id: int) -> AgentLedger:
        entry = self._agents.get(agent_id)
        if entry is None:
            entry = self._agents[agent_id] = AgentLedger()
        return entry

    def became_free(self, agent_id: int, now: float) -> None:
        self.of(agent_id).idle_since = now

    def ready(self, agent_id: int, now: float) -> bool:
        entry = self._agents.get(agent_id)
        return entry is None or entry.not_before <= now

    def answered(self, agent_id: int) -> None:
        self.of(agent_id).missed_in_row = 0

    @staticmethod
    def day_of(now: float) -> str:
        """The day today's figures count (UTC), once per dispatch rather than per agent."""
        return datetime.fromtimestamp(now, UTC).date().isoformat()

    def talked(self, agent_id: int, seconds: float, day: str) -> None:
        entry = self.today(agent_id, day)
        entry.calls += 1
        entry.talk_seconds += max(0.0, seconds)

    def today(self, agent_id: int, day: str) -> AgentLedger:
        entry = self.of(agent_id)
        if entry.day != day:
            entry.day, entry.calls, entry.talk_seconds = day, 0, 0.0
        return entry

    def offer_ended(self, agent: AgentView, outcome: OfferOutcome, now: float) -> bool:
        """An offer the agent did not take: the delay before its next one starts. True when
        the agent has now missed as many offers in a row as it may (it goes On break)."""
        entry = self.of(agent.id)
        settings = agent.offers
        if outcome is OfferOutcome.MISSED:
            entry.missed_in_row += 1
            entry.not_before = now + settings.no_answer_delay
            return settings.max_no_answer > 0 and entry.missed_in_row >= settings.max_no_answer
        if outcome is OfferOutcome.DECLINED:
            entry.not_before = now + settings.reject_delay
        return False

    def busy(self, agent: AgentView, now: float) -> None:
        self.of(agent.id).not_before = now + agent.offers.busy_delay

    def back_from_break(self, agent_id: int) -> None:
        self.of(agent_id).missed_in_row = 0
