"""The supervisor's page fits its screen, from a 1024 px laptop to a TV: at each width no cell
of the Queues table (nor any other table's) ends right of its card or of the window, so no
column is cut off and nothing needs scrolling sideways. Screenshots are kept as test artifacts
(the test's tmp_path) to look at."""

from __future__ import annotations

import json
import time

import pytest

from callcenter.models import Role
from tests.browser.test_supervising import log_in
from tests.browser.test_supervisor_page import hand_made

pytestmark = pytest.mark.slow

WIDTHS = (1024, 1280, 1500, 1920, 3840)


def busy_floor(now: float) -> dict:
    """The hand-made snapshot with long queue names, several callers waiting in one queue
    (each with its wait and Move/Offer) and figures in every column."""
    snapshot = hand_made(now)
    queue, figures = snapshot["queues"][0], snapshot["figures"]
    callers = [{"call_id": f"w{n}", "entered": now - 40 - 70 * n, "offered": n == 1}
               for n in range(4)]
    snapshot["calls"] += [{**snapshot["calls"][1], "id": f"w{n}", "number": f"+4420794601{n:02d}",
                           "entered": now - 40 - 70 * n, "created": now - 40 - 70 * n}
                          for n in range(4)]
    names = ["sales", "customer-service-emea", "billing-and-payments"]
    snapshot["queues"] = [
        {**queue, "id": n + 1, "name": name, "waiting": len(callers) if n == 0 else 0,
         "oldest_entered": now - 250 if n == 0 else None,
         "callers": callers if n == 0 else []} for n, name in enumerate(names)]
    sales = figures["queues"][0]
    figures["queues"] = [{**sales, "queue": name, "offered": 12345, "answered": 11000,
                          "abandoned": 1345, "abandon_rate": 0.1089, "asa_s": 3725}
                         for name in names]
    return snapshot


def overflow(page) -> list[str]:
    """Each table cell whose right edge lies beyond its scrolling card or the window, as
    'table#id column N: right R > limit L'."""
    return page.evaluate("""() => {
      const out = new Set();
      const width = document.documentElement.clientWidth;
      for (const table of document.querySelectorAll("table.live")) {
        if (!table.offsetParent) continue;                       // hidden
        const card = table.closest(".scroll") || table.parentElement;
        const limit = Math.min(card.getBoundingClientRect().right, width);
        for (const row of table.rows) {
          [...row.cells].forEach((cell, i) => {
            const right = cell.getBoundingClientRect().right;
            if (right > limit + 0.5) out.add(`${table.id} column ${i + 1}: ${right} > ${limit}`);
          });
        }
        if (card.scrollWidth > card.clientWidth + 1) out.add(`${table.id} scrolls sideways`);
      }
      if (document.documentElement.scrollWidth > width + 1) out.add("the page scrolls sideways");
      return [...out];
    }""")


def test_every_column_fits_from_a_laptop_to_a_tv(server, browser, make_user, tmp_path):
    make_user("sam", Role.SUPERVISOR)
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    log_in(page, server, "sam")
    now = time.time()
    page.route_web_socket("**/live", lambda ws: ws.send(json.dumps(busy_floor(now))))
    page.goto(server + "/supervisor")
    page.wait_for_selector("#queues tr[data-queue=customer-service-emea]")
    assert page.locator("#queues tr[data-queue=sales] .caller").count() == 4
    problems = {}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 1100})
        page.wait_for_function(f"document.documentElement.clientWidth === {width}")
        page.screenshot(path=str(tmp_path / f"supervisor-{width}.png"), full_page=True)
        found = overflow(page)
        if found:
            problems[width] = found
    assert problems == {}, f"cut off or scrolling at these widths: {problems}"
    # What the narrower headings stand for is still said in full.
    heading = "#queues thead tr:last-child th:nth-child(10) abbr"
    assert page.get_attribute(heading, "title") == "Abandon rate"
