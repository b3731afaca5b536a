"""The throughput benchmark's readers each count every replayed event (figures live in bench/)."""

from __future__ import annotations

import pytest

from bench import esl_throughput

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("reader", ["stock", "ours", "ours-sb", "framing"])
def test_each_reader_counts_every_event(reader):
    result = esl_throughput.run_reader(reader, esl_throughput.load_frames("large"), 1500)
    assert result["events"] == 1500 and result["seconds"] > 0 and result["rss_mb"] > 0
