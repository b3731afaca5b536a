"""The call-center brain: legs, calls, agents, queues, dialer, CDR. Imports neither Flask nor sockets."""
