"""Inbound queues (ACD): callers the dialplan parks with cc_queue wait in line and are offered to
agents by their queue's strategy. A plug-in of the switchboard: it claims parked callers, owns
queued calls (router.py) and hears of agents through the roster's listeners."""

from .distributor import Distributor
from .settings import QueueSettings, load_queues

__all__ = ["Distributor", "QueueSettings", "load_queues"]
