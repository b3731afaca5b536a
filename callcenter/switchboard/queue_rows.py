"""Each queue's live row, computed here and nowhere else: what the supervisor's page and the wall
display show of a queue right now.

A row: {"id", "name", "waiting" (callers in line), "oldest_entered" (clock time the longest
waiting caller entered, None when nobody waits: the pages tick the longest wait from it),
"callers" [{"call_id", "entered", "offered" (an agent's phone rings for it), "callback" (a
callback request keeping a caller's place, not a caller on the line)}], "agents"
{"available", "on_call", "wrap_up", "on_break"} (the queue's agents who are logged in),
"agent_ids" (its agents), "service_level_seconds", "thresholds" (the wall's colours)}. Callers'
numbers are not in it: a wall display hears rows, and a caller's number is the supervisor's to
see (in the call rows).

A row is published as `{"type": "queue", "queue": row}` to "all" and "queue:<id>" when it
changes: a caller enters, leaves or is offered, or one of the queue's agents changes. Changes are
coalesced: the queues touched in one turn of the hub are computed and published once, after the
event that touched them, and only if the row differs from the last one sent. A refresh every
`REFRESH_S` catches what no announcement says (a caller sent on to another queue).
"""

from __future__ import annotations

from collections.abc import Callable

from ..clock import Clock, Timer
from ..live import queue_topic
from ..models import AgentState, AgentStatus
from ..thresholds import wall, wall_for
from .agents import AgentView, Roster
from .legs import Call, CallKind
from .queues import Distributor
from .queues.waiting import waiting_of

REFRESH_S = 2.0
_ON_CALL = frozenset({AgentState.RESERVED, AgentState.RINGING, AgentState.IN_CALL})


def agent_counts(agents: list[AgentView]) -> dict[str, int]:
    """How a queue's logged-in agents are spread: free for a call, on one, wrapping up, away."""
    counts = {"available": 0, "on_call": 0, "wrap_up": 0, "on_break": 0}
    for agent in agents:
        if agent.status is AgentStatus.LOGGED_OUT or not agent.active:
            continue
        if agent.state in _ON_CALL:
            counts["on_call"] += 1
        elif agent.state is AgentState.WRAP_UP:
            counts["wrap_up"] += 1
        elif agent.status is AgentStatus.AVAILABLE:
            counts["available"] += 1
        else:
            counts["on_break"] += 1
    return counts


class QueueRows:
    def __init__(self, *, distributor: Distributor, roster: Roster, clock: Clock,
                 publish: Callable[[dict, tuple[str, ...]], None],
                 defer: Callable[[Callable[[], None]], None],
                 wall_thresholds: dict | None = None) -> None:
        self.distributor, self.roster, self.clock = distributor, roster, clock
        self._publish = publish          # publish(message, topics)
        self._defer = defer
        self.wall_thresholds = wall_thresholds or wall(None)
        self._sent: dict[str, dict] = {}           # queue name -> the row last published
        self._dirty: set[str] = set()
        self._flush_due = False
        self._queue_of_call: dict[str, str] = {}   # a waiting caller's queue, to see it leave
        self._agents_of: tuple[object, dict[int, list[str]]] = (None, {})
        self._refresh: Timer | None = None
        roster.listeners.append(self.agent_changed)

    # -- what changed ------------------------------------------------------------------------

    def agent_changed(self, view: AgentView) -> None:
        for name in self._queues_of(view.id):
            self._touch(name)

    def call_changed(self, call: Call) -> None:
        waiting = waiting_of(call)
        before = self._queue_of_call.get(call.id)
        now = waiting.queue if waiting is not None and waiting.left is None \
            and not call.ended else None
        if before is not None and before != now:
            self._touch(before)
        if now:
            self._queue_of_call[call.id] = now
            self._touch(now)
        else:
            self._queue_of_call.pop(call.id, None)

    def _touch(self, name: str) -> None:
        self._dirty.add(name)
        if not self._flush_due:
            self._flush_due = True
            self._defer(self.flush)

    def flush(self) -> None:
        """Publish the rows of the queues touched since the last flush, those that changed."""
        self._flush_due = False
        dirty, self._dirty = self._dirty, set()
        for name in sorted(dirty):
            row = self.row(name)
            if row is None:
                self._sent.pop(name, None)
            elif row != self._sent.get(name):
                self._sent[name] = row
                self._publish({"type": "queue", "queue": row}, (queue_topic(row["id"]),))

    # -- the rows ------------------------------------------------------------------------------

    def row(self, name: str) -> dict | None:
        queue = self.distributor.queues.get(name)
        if queue is None:
            return None
        callers = []
        line = self.distributor.lines.get(name)
        for call in (line or ()):
            waiting = waiting_of(call)
            callers.append({"call_id": call.id, "entered": waiting.entered,
                            "offered": bool(waiting.offers),
                            "callback": call.kind is CallKind.CALLBACK})
        agent_ids = sorted({tier.agent_id for tier in queue.tiers})
        agents = [a for a in map(self.roster.agents.get, agent_ids) if a is not None]
        return {"id": queue.id, "name": name, "waiting": len(callers),
                "oldest_entered": min((c["entered"] for c in callers), default=None),
                "callers": callers, "agents": agent_counts(agents), "agent_ids": agent_ids,
                "service_level_seconds": queue.service_level,
                "thresholds": wall_for(self.wall_thresholds, name)}

    def rows(self, queue_ids: set[int] | None = None) -> list[dict]:
        """Every queue's row (or those with these ids), by name."""
        found = []
        for name in sorted(self.distributor.queues):
            queue = self.distributor.queues[name]
            if queue_ids is None or queue.id in queue_ids:
                found.append(self.row(name))
        return found

    def snapshot_section(self, audience) -> list[dict] | None:
        if audience.everything:
            return self.rows()
        ids = audience.queue_ids()
        return self.rows(ids) if ids else None

    # -- the refresh ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._refresh is None:
            self._refresh = self.clock.call_later(REFRESH_S, self._refreshed)

    def stop(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
            self._refresh = None

    def _refreshed(self) -> None:
        self._refresh = None
        for name in self.distributor.queues:
            self._touch(name)
        self.start()

    def _queues_of(self, agent_id: int) -> list[str]:
        """The queues an agent is in; rebuilt when the distributor reloads its queues."""
        queues = self.distributor.queues
        built_for, by_agent = self._agents_of
        if built_for is not queues:
            by_agent = {}
            for queue in queues.values():
                for tier in queue.tiers:
                    by_agent.setdefault(tier.agent_id, []).append(queue.name)
            self._agents_of = (queues, by_agent)
        return by_agent.get(agent_id, [])
