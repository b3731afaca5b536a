"""The call-center brain: legs, calls, agents, queues, dialer, CDR (no Flask, no sockets)."""
