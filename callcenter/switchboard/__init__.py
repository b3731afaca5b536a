"""The call-center brain: legs and calls from FreeSWITCH's events, agents, the dialer, CDRs.
Imports neither Flask nor sockets."""

from .agents import AgentError
from .board import Switchboard
from .controls import ControlError
from .dialer import DialError, SwitchUnavailable

__all__ = ["AgentError", "ControlError", "DialError", "SwitchUnavailable", "Switchboard"]
