"""Logging: one line per record, with the call id, agent and leg UUID where there is one.

Pass them as `extra={"call_id": ..., "agent": ..., "leg": ...}`; they are appended as
`call=... agent=... leg=...`. Newlines in messages are escaped so a record never spans lines.
"""

from __future__ import annotations

import logging
import sys

CONTEXT_FIELDS = (("call_id", "call"), ("agent", "agent"), ("leg", "leg"), ("job", "job"))


class OneLineFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(f"{label}={getattr(record, attr)}" for attr, label in CONTEXT_FIELDS
                           if getattr(record, attr, None) is not None)
        if context:
            line = f"{line} [{context}]"
        return line.replace("\r", "\\r").replace("\n", "\\n")


def setup_logging(level: str = "INFO", stream=None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(OneLineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # alembic narrates every plugin it loads at INFO; keep the log about calls.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
