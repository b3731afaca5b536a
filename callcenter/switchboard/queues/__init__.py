"""Inbound queues (ACD): strategies (pure), waiting callers, callbacks, the auditor."""
