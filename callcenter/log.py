"""Logging: one line per record, with the call id, agent and leg UUID where there is one.

Pass them as `extra={"call_id": ..., "agent": ..., "leg": ...}`. As text (the default) they are
appended as `call=... agent=... leg=...`, newlines escaped so a record never spans lines; as JSON
(`CALLCENTER_LOG_FORMAT=json`) each record is one object per line with the same fields, for a
log shipper to index. A record logged while an HTTP request is served carries its request id
(`REQUEST_ID`, set by the web layer and returned to the client as X-Request-Id).
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

CONTEXT_FIELDS = (("call_id", "call"), ("agent", "agent"), ("leg", "leg"), ("job", "job"),
                  ("request_id", "request"))

# The request being served by this greenlet (contextvars are per greenlet under gevent).
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)


def _context(record: logging.LogRecord) -> list[tuple[str, object]]:
    """(label, value) of each context field the record carries; the request id from the
    request being served when the record does not name one."""
    found = []
    for attr, label in CONTEXT_FIELDS:
        value = getattr(record, attr, None)
        if value is None and attr == "request_id":
            value = REQUEST_ID.get()
        if value is not None:
            found.append((label, value))
    return found


class OneLineFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(f"{label}={value}" for label, value in _context(record))
        if context:
            line = f"{line} [{context}]"
        return line.replace("\r", "\\r").replace("\n", "\\n")


class JsonFormatter(logging.Formatter):
    """{"time", "level", "logger", "message", "call_id", "agent", "leg", "job", "request_id",
    "exception"}: the context keys only where the record has them. JSON escapes newlines, so
    one record is one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        labels = {label: attr for attr, label in CONTEXT_FIELDS}
        for label, value in _context(record):
            entry[labels[label]] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def setup_logging(level: str = "INFO", stream=None, fmt: str = "text") -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else OneLineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # alembic narrates every plugin it loads at INFO; keep the log about calls.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
