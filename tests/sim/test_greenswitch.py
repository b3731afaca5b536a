"""Stock greenswitch (the ESL client the product builds on), unwrapped, against the simulator."""

from __future__ import annotations

import gevent.event
import pytest
from greenswitch.esl import InboundESL

from tests.sim.conftest import PASSWORD


def test_stock_greenswitch_connects_runs_api_and_bgapi_and_receives_events(sim):
    esl = InboundESL("127.0.0.1", sim.port, PASSWORD)
    esl.connect()
    jobs: list = []
    parked = gevent.event.Event()
    job_done = gevent.event.Event()

    def on_job(event):
        jobs.append(event)
        job_done.set()

    esl.register_handle("BACKGROUND_JOB", on_job)
    esl.register_handle("CHANNEL_PARK", lambda event: parked.set())
    try:
        assert esl.send("event plain ALL").headers["Reply-Text"] == \
            "+OK event listener enabled plain"
        status = esl.send("api status")
        assert status.data.startswith("UP ")
        assert "is ready" in status.data
        reply = esl.send("bgapi status")
        job_uuid = reply.headers["Job-UUID"]
        assert reply.headers["Reply-Text"] == f"+OK Job-UUID: {job_uuid}"
        assert job_done.wait(5)
        assert jobs[0].headers["Job-UUID"] == job_uuid
        assert jobs[0].headers["Job-Command"] == "status"
        caller = sim.inject_inbound("5550100", "15551234567", "sales")
        assert parked.wait(5)
        assert esl.send(f"api uuid_kill {caller}").data == "+OK\n"
    finally:
        esl.stop()


def test_stock_greenswitch_is_refused_a_wrong_password(sim):
    esl = InboundESL("127.0.0.1", sim.port, "wrong")
    with pytest.raises(ValueError):
        esl.connect()
