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


def test_json_lines_parse_and_carry_the_call_context():
    import json

    stream = io.StringIO()
    setup_logging("INFO", stream, fmt="json")
    log = logging.getLogger("callcenter.test")
    log.info("customer said\nhello", extra={"call_id": "C1", "leg": "abc-1", "agent": "1000"})
    log.warning("plain %s", "words")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("it failed")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    first, second, third = map(json.loads, lines)
    assert {k: first[k] for k in ("level", "logger", "message", "call_id", "leg", "agent")} == {
        "level": "INFO", "logger": "callcenter.test", "message": "customer said\nhello",
        "call_id": "C1", "leg": "abc-1", "agent": "1000"}
    assert first["time"].endswith("+00:00")
    assert second["message"] == "plain words" and "call_id" not in second
    assert "ValueError: boom" in third["exception"]
    logging.getLogger().handlers.clear()


def test_a_record_logged_while_a_request_is_served_carries_its_id():
    import json

    from callcenter.log import REQUEST_ID

    stream = io.StringIO()
    setup_logging("INFO", stream, fmt="json")
    token = REQUEST_ID.set("req-1234abcd")
    try:
        logging.getLogger("callcenter.test").info("inside", extra={"call_id": "C2"})
    finally:
        REQUEST_ID.reset(token)
    logging.getLogger("callcenter.test").info("outside")
    inside, outside = map(json.loads, stream.getvalue().splitlines())
    assert (inside["request_id"], inside["call_id"]) == ("req-1234abcd", "C2")
    assert "request_id" not in outside
    logging.getLogger().handlers.clear()
