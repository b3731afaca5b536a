"""The call records page in a browser against a running controller: a supervisor filters the
calls, pages older and back newer by keyset, and downloads the search as CSV."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from callcenter.models import Agent, AuditEntry, Call, Direction, Outcome, Role
from callcenter.records.export import COLUMNS
from tests.browser.test_supervising import log_in

pytestmark = pytest.mark.slow

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_a_supervisor_filters_pages_and_downloads_the_calls(server, browser, database,
                                                            make_user, tmp_path):
    make_user("alice")
    make_user("sue", Role.SUPERVISOR)
    with database.session() as s:
        alice = s.scalar(select(Agent.id))
        # 70 answered calls of Alice's (two pages of 50), and 5 abandoned ones.
        s.add_all([Call(id=f"call-{n:03d}", direction=Direction.INBOUND,
                        agent_id=alice if n < 70 else None, customer_number=f"+1212555{n:04d}",
                        outcome=Outcome.ANSWERED if n < 70 else Outcome.ABANDONED,
                        talk_seconds=60, created_at=T0 + timedelta(minutes=n))
                   for n in range(75)])
    page = browser.new_page()
    log_in(page, server, "sue")
    page.click("nav >> text=Call records")
    page.wait_for_selector("#records-rows")
    assert page.text_content("#records-count") == "75 calls"

    page.select_option("#records-outcome", "answered")
    page.click("#records-search button[type=submit]")
    page.wait_for_url(lambda url: "outcome=answered" in url)
    assert page.text_content("#records-count") == "70 calls"
    rows = page.locator("#records-rows tbody tr")
    assert rows.count() == 50 and rows.first.get_attribute("data-call") == "call-069"
    page.click("#records-older")
    page.wait_for_url(lambda url: "before=call-020" in url)
    assert rows.count() == 20 and rows.last.get_attribute("data-call") == "call-000"
    assert page.locator("#records-older").count() == 0
    page.click("#records-newer")
    page.wait_for_url(lambda url: "after=call-019" in url)
    assert rows.first.get_attribute("data-call") == "call-069" and rows.count() == 50
    assert page.input_value("#records-outcome") == "answered"       # the filter stays

    page.fill("#records-number", "55")
    page.select_option("#records-match", "contains")
    page.click("#records-search button[type=submit]")
    page.wait_for_selector("#records-number-error")
    assert "at least 3" in page.text_content("#records-number-error")

    page.fill("#records-number", "5550007")
    page.click("#records-search button[type=submit]")
    page.wait_for_selector("#records-rows")
    assert [rows.nth(i).get_attribute("data-call") for i in range(rows.count())] == [
        "call-007"]
    page.fill("#records-number", "")
    page.select_option("#records-match", "")
    page.click("#records-search button[type=submit]")
    page.wait_for_selector("#records-rows")

    with page.expect_download() as downloading:
        page.click("#records-export")
    saved = tmp_path / "calls.csv"
    downloading.value.save_as(saved)
    with saved.open(newline="") as file:
        lines = list(csv.reader(file))
    assert tuple(lines[0]) == COLUMNS
    assert [line[0] for line in lines[1:]] == [f"call-{n:03d}" for n in range(69, -1, -1)]
    with database.session() as s:
        exported = s.scalars(select(AuditEntry).where(AuditEntry.action == "calls.export"))
        assert [entry.actor for entry in exported] == ["sue"]
