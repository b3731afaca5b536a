from __future__ import annotations

import io
import logging

from callcenter.log import setup_logging


def test_one_line_per_record_with_call_context():
    stream = io.StringIO()
    setup_logging("INFO", stream)
    log = logging.getLogger("callcenter.test")
    log.info("customer said\nhello", extra={"call_id": "C1", "leg": "abc-1", "agent": "1000"})
    log.info("plain")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("customer said\\nhello [call=C1 agent=1000 leg=abc-1]")
    assert lines[1].endswith("callcenter.test: plain")
    logging.getLogger().handlers.clear()
