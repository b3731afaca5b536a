"""Softphones dropping: an agent's softphone that was registered and no longer is (unregistered,
expired, flushed, or FreeSWITCH said USER_NOT_REGISTERED). Counted from the roster's listener
hook, which hears every change of an agent's status, state or registration."""

from __future__ import annotations


class SoftphoneDrops:
    def __init__(self) -> None:
        self.drops = 0
        self._registered: dict[int, bool] = {}   # agent id -> registered when last heard

    def agent_changed(self, agent) -> None:
        was = self._registered.get(agent.id)
        self._registered[agent.id] = agent.registered
        if was and not agent.registered:
            self.drops += 1
