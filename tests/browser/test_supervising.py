"""A supervisor watches a queue fill and drain on /supervisor, and the numbers on the screen are
the server's; a wall display opens with its token and not without. A real `callcenter serve`
linked to `callcenter simulate --callers`, and headless Chromium. Screenshots are saved in the
test's tmp directory (look at them)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from callcenter import db as dbmod
from callcenter import displays
from callcenter.audit import CLI
from callcenter.models import Agent, Queue, QueueAgent, QueueStrategy, Role
from tests.conftest import PASSWORD
from tests.process import ServerProcess

pytestmark = pytest.mark.slow

ESL_PASSWORD = "supervising-sim-secret"
CALLERS = 4


def log_in(page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: not url.endswith("/login"))


def staff_sales(database, user_ids) -> None:
    """Queue `sales` (the simulator's callers dial 5550100, which the dialplan parks there) with
    these agents; no wrap-up, so the queue drains at the pace of the calls."""
    with database.session() as session:
        queue = Queue(name="sales", strategy=QueueStrategy.LONGEST_IDLE_AGENT)
        session.add(queue)
        session.flush()
        for position, user_id in enumerate(user_ids, 1):
            agent_id = session.scalar(select(Agent.id).where(Agent.user_id == user_id))
            session.execute(update(Agent).where(Agent.id == agent_id).values(wrapup_seconds=0))
            session.add(QueueAgent(queue_id=queue.id, agent_id=agent_id, level=1,
                                   position=position))
        session.commit()


@pytest.fixture
def floor(env, settings, database, admin, make_user):
    """The simulator (callers to 5550100, softphones 1000-1001 registered) and the controller."""
    dbmod.upgrade(settings.database_url)
    make_user("sam", Role.SUPERVISOR)
    staff_sales(database, [make_user("alice", extension="1000"),
                           make_user("bob", extension="1001")])
    processes = []
    try:
        sim = ServerProcess(["simulate", "--password", ESL_PASSWORD, "--register", "1000-1001",
                             "--callers", "20", "--count", str(CALLERS), "--caller-talk", "1"],
                            env)
        processes.append(sim)
        port = sim.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1)
        server = ServerProcess(["serve"], {
            **env, "CALLCENTER_HTTP_BIND": "127.0.0.1:0", "CALLCENTER_ESL_HOST": "127.0.0.1",
            "CALLCENTER_ESL_PORT": port, "CALLCENTER_ESL_PASSWORD": ESL_PASSWORD})
        processes.append(server)
        base = server.wait_for(r"serving on (http://127\.0\.0\.1:\d+)").group(1)
        server.wait_for(r"switch link up")
        yield base
    finally:
        for process in reversed(processes):
            process.stop()


def server_view(page) -> dict:
    """The queues' rows and today's figures as the server has them now."""
    return page.evaluate("fetch('/api/supervisor/queues').then((r) => r.json())")


def screen_row(page, name="sales") -> dict:
    cells = page.eval_on_selector_all(f"#queues tbody tr[data-queue='{name}'] td",
                                      "(tds) => tds.map((td) => td.textContent)")
    keys = ["queue", "waiting", "longest", "available", "on_call", "wrap_up", "on_break",
            "offered", "answered", "abandoned", "abandon_rate", "service_level", "asa", "aht",
            "callers", "callbacks"]
    return dict(zip(keys, cells, strict=True))


def expected_row(view: dict, name="sales") -> dict:
    row = next(q for q in view["queues"] if q["name"] == name)
    figures = next(q for q in view["figures"]["queues"] if q["queue"] == name)
    agents = row["agents"]
    return {"waiting": str(row["waiting"]), "available": str(agents["available"]),
            "on_call": str(agents["on_call"]), "wrap_up": str(agents["wrap_up"]),
            "on_break": str(agents["on_break"]), "offered": str(figures["offered"]),
            "answered": str(figures["answered"]), "abandoned": str(figures["abandoned"])}


def shown(page) -> dict:
    row = screen_row(page)
    return {key: row[key] for key in ("waiting", "available", "on_call", "wrap_up", "on_break",
                                      "offered", "answered", "abandoned")}


# The page's copy of GET /api/figures, fetched again every 500 ms until the test stops it.
WATCH_FIGURES = """() => {
    const fetchFigures = () => fetch('/api/figures').then((r) => r.json())
        .then((f) => { window.apiFigures = f; });
    window.apiFigures = null;
    fetchFigures();
    window.figuresWatch = setInterval(fetchFigures, 500);
}"""

# GET /api/figures' numbers when the screen shows exactly them (the queue's today's columns and
# each agent's handled / AHT / missed offers), else false. Written here, apart from the page's
# formatting: counts as they are, rates as whole percents, times as m:ss, "—" for null.
SCREEN_SHOWS_FIGURES = """(name) => {
    const f = window.apiFigures;
    if (!f) return false;
    const known = (v) => v !== null && v !== undefined;
    const count = (v) => (known(v) ? String(v) : "—");
    const percent = (v) => (known(v) ? `${Math.round(v * 100)} %` : "—");
    const duration = (v) => {
        if (!known(v)) return "—";
        const s = Math.floor(v);
        return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
    };
    const cells = (tr) => [...tr.cells].map((td) => td.textContent);
    const q = f.queues.find((x) => x.queue === name);
    const row = document.querySelector(`#queues tbody tr[data-queue='${name}']`);
    const shown = [cells(row).slice(7, 14)];
    const wanted = [[count(q.offered), count(q.answered), count(q.abandoned),
        percent(q.abandon_rate), percent(q.service_level), duration(q.asa_s), duration(q.aht_s)]];
    for (const tr of document.querySelectorAll("#agents tbody tr")) {
        const a = f.agents.find((x) => x.agent_id === Number(tr.dataset.agent));
        shown.push(cells(tr).slice(7, 10));
        wanted.push(a ? [count(a.handled), duration(a.aht_s), count(a.missed_offers)] : []);
    }
    return JSON.stringify(shown) === JSON.stringify(wanted) ? f : false;
}"""


def set_status(page, status: str) -> None:
    answer = page.evaluate("""async (status) => {
        const csrf = document.querySelector('meta[name="csrf-token"]').content;
        const r = await fetch('/api/agents/me/status', {method: 'PUT',
            body: JSON.stringify({status}),
            headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf}});
        return r.status; }""", status)
    assert answer == 200


def test_a_supervisor_watches_the_queue_fill_and_drain(floor, browser, tmp_path):
    base = floor
    supervisor = browser.new_page(viewport={"width": 1500, "height": 1000})
    log_in(supervisor, base, "sam")
    supervisor.goto(base + "/supervisor")
    supervisor.wait_for_selector("#live-status:text('live')")
    # Fill: every caller waits, nobody is Available yet.
    waiting = "#queues tr[data-queue=sales] td:nth-child(2)"
    supervisor.wait_for_selector(f"{waiting}:text-is('{CALLERS}')", timeout=15000)
    view = server_view(supervisor)
    assert expected_row(view)["waiting"] == str(CALLERS)
    supervisor.wait_for_function("(n) => document.querySelectorAll("
                                 "'#queues tr[data-queue=sales] .caller').length === n",
                                 arg=CALLERS)
    row = screen_row(supervisor)
    assert row["longest"] != "—" and row["service_level"] == "—"
    assert supervisor.locator("#calls tbody tr").count() == CALLERS
    assert supervisor.text_content("#calls tbody tr td:nth-child(2)") == "Waiting in the queue"
    supervisor.screenshot(path=str(tmp_path / "supervisor-filled.png"), full_page=True)

    # Drain: two agents become Available and take the callers, two at a time.
    agents = []
    for name in ("alice", "bob"):
        page = browser.new_page()
        log_in(page, base, name)
        set_status(page, "available")
        agents.append(page)
    supervisor.wait_for_selector("#queues tr[data-queue=sales] td:nth-child(2):text-is('0')",
                                 timeout=30000)
    # Every call ended (1 s of talk each): the figures count them all.
    supervisor.wait_for_selector(
        f"#queues tr[data-queue=sales] td:nth-child(9):text-is('{CALLERS}')", timeout=30000)
    supervisor.wait_for_selector("#calls tbody tr", state="detached", timeout=15000)
    # A call's row goes when its customer hangs up; its agent is free a push later, when the
    # agent's leg has ended too.
    for column, count in ((4, 2), (5, 0)):
        supervisor.wait_for_selector(
            f"#queues tr[data-queue=sales] td:nth-child({column}):text-is('{count}')")
    view = server_view(supervisor)
    assert shown(supervisor) == expected_row(view)
    assert expected_row(view)["answered"] == expected_row(view)["offered"] == str(CALLERS)
    # The agents' rows: Available, registered, each handled some of the callers.
    handled = supervisor.eval_on_selector_all(
        "#agents tbody tr", "(trs) => trs.map((tr) => [tr.cells[0].textContent, "
        "tr.cells[2].textContent, tr.cells[6].textContent, tr.cells[7].textContent])")
    assert sorted(h[0] for h in handled) == ["alice", "bob"]
    assert all(h[1] == "Available" and h[2] == "Registered" for h in handled)
    assert sum(int(h[3]) for h in handled) == CALLERS
    # Today's figures on the screen are GET /api/figures' once the push after the last call's
    # end arrived (callcenter/figures, the one definition).
    supervisor.evaluate(WATCH_FIGURES)
    figures = supervisor.wait_for_function(SCREEN_SHOWS_FIGURES, arg="sales",
                                           timeout=15000).json_value()
    supervisor.evaluate("clearInterval(window.figuresWatch)")
    sales = next(q for q in figures["queues"] if q["queue"] == "sales")
    assert (sales["offered"], sales["answered"], sales["abandoned"]) == (CALLERS, CALLERS, 0)
    assert None not in (sales["service_level"], sales["asa_s"], sales["aht_s"])
    assert sum(a["handled"] for a in figures["agents"]) == CALLERS
    assert supervisor.text_content("#agents tbody tr td:nth-child(9)") != "—", "AHT shown"
    supervisor.screenshot(path=str(tmp_path / "supervisor-drained.png"), full_page=True)

    # Filters: by name, then by state.
    supervisor.fill("#filter-name", "ali")
    supervisor.wait_for_function("document.querySelectorAll('#agents tbody tr').length === 1")
    supervisor.fill("#filter-name", "")
    supervisor.select_option("#filter-state", "on_break")
    supervisor.wait_for_function("document.querySelectorAll('#agents tbody tr').length === 0")
    # An agent on break now: its row says so at once.
    supervisor.select_option("#filter-state", "")
    set_status(agents[0], "on_break")
    supervisor.wait_for_selector(
        "#agents tr[data-status=on_break] td:nth-child(3):text-is('On break')")


def test_the_wall_display_opens_with_its_token_and_not_without(floor, browser, database,
                                                               tmp_path):
    base = floor
    wall = browser.new_page(viewport={"width": 1920, "height": 1080})
    refused = wall.goto(base + "/wallboard")
    assert refused.status == 401
    assert "address an admin gives it" in wall.text_content("main")
    with database.session() as session:
        row, token = displays.create(session, "Sales floor TV", who=CLI)
        session.commit()
    wall.goto(f"{base}/wallboard?token={token}")
    assert wall.url == base + "/wallboard", "the token left the address"
    wall.wait_for_selector("#live-status:text('live')")
    wall.wait_for_selector(".tile[data-queue=sales]")
    wall.wait_for_selector(f".tile[data-queue=sales] .measure strong:text-is('{CALLERS}')",
                           timeout=15000)
    # Nothing of a caller's: no number anywhere on the display, and it cannot act.
    assert "1555" not in wall.text_content("body")
    assert wall.locator("form, button, input").count() == 0
    tile = wall.eval_on_selector(".tile[data-queue=sales] .measure",
                                 "(m) => m.dataset.state")
    assert tile == "ok"            # 4 waiting: under the default warning (5)
    wall.screenshot(path=str(tmp_path / "wallboard.png"))
    with database.session() as session:
        displays.revoke(session, row.id, who=CLI)
        session.commit()
    again = wall.goto(base + "/wallboard")
    assert again.status == 401 and "revoked" in wall.text_content("main")


@pytest.fixture
def callback_floor(env, settings, database, admin, make_user):
    """Queue `sales` takes callback requests on key 9; its one agent never logs in, so a request
    waits. The switch is the scriptable simulator (tests/browser/offer_switch.py): the test says
    when a caller calls and presses a key."""
    dbmod.upgrade(settings.database_url)
    make_user("sam", Role.SUPERVISOR)
    staff_sales(database, [make_user("alice", extension="1000")])
    with database.session() as session:
        session.execute(update(Queue).where(Queue.name == "sales").values(callback_key="9"))
        session.commit()
    processes = []
    try:
        switch = ServerProcess([ESL_PASSWORD, "1000"], env, module="tests.browser.offer_switch")
        processes.append(switch)
        port = switch.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1)
        server = ServerProcess(["serve"], {
            **env, "CALLCENTER_HTTP_BIND": "127.0.0.1:0", "CALLCENTER_ESL_HOST": "127.0.0.1",
            "CALLCENTER_ESL_PORT": port, "CALLCENTER_ESL_PASSWORD": ESL_PASSWORD})
        processes.append(server)
        base = server.wait_for(r"serving on (http://127\.0\.0\.1:\d+)").group(1)
        server.wait_for(r"switch link up")
        yield base, switch
    finally:
        for process in reversed(processes):
            process.stop()


def test_a_callback_request_appears_ticks_and_is_cancelled(callback_floor, browser, tmp_path):
    base, switch = callback_floor
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    log_in(page, base, "sam")
    page.goto(base + "/supervisor")
    page.wait_for_selector("#live-status:text('live')")
    assert page.is_visible("#callbacks-none") and not page.is_visible("#callbacks")

    switch.send("caller sales 15551230001")
    caller = switch.wait_for(r"^caller (\S+)").group(1)
    page.wait_for_selector("#calls tbody tr", timeout=10000)
    switch.send(f"press {caller} 9")
    assert switch.wait_for(r"^pressed (\S+) (\w+)").groups() == (caller, "True")

    # The request takes the caller's place: listed, counted in the queue's row, its wait ticking.
    row = "#callbacks tbody tr"
    page.wait_for_selector(row, timeout=10000)
    cells = page.eval_on_selector_all(f"{row} td", "(tds) => tds.map((td) => td.textContent)")
    assert cells[:3] == ["sales", "15551230001", "Customer"]
    assert cells[4:8] == ["0", "Waiting", "—", "Cancel"]
    assert page.text_content("#callbacks-count") == "(1 waiting)"
    page.wait_for_selector("#queues tr[data-queue=sales] td:nth-child(16):text-is('1')")
    page.wait_for_selector("#queues tr[data-queue=sales] .caller:text('Callback request')",
                           timeout=10000)
    waited = page.text_content(f"{row} td:nth-child(4)")
    page.wait_for_function("(before) => document.querySelector("
                           "'#callbacks tbody td:nth-child(4)').textContent !== before",
                           arg=waited)
    assert page.get_attribute(f"{row} button", "aria-label") == \
        "Cancel the callback to 15551230001 (sales)"

    posted = []
    page.on("request", lambda r: posted.append(r.url) if r.method == "POST" else None)
    # Thought better of it: nothing is sent, the request stays.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click(f"{row} button")
    assert page.locator(row).count() == 1 and page.is_hidden("#action-status")
    # Cancelled: the row leaves on the server's message, the finished list has it.
    page.once("dialog", lambda dialog: dialog.accept())
    page.focus(f"{row} button")
    page.keyboard.press("Enter")
    page.wait_for_selector(row, state="detached")
    page.wait_for_selector("#action-status:text('The callback to 15551230001 is cancelled.')")
    assert len(posted) == 1 and posted[0].endswith("/cancel")
    assert page.is_visible("#callbacks-none")
    page.wait_for_selector("#queues tr[data-queue=sales] td:nth-child(16):text-is('0')")
    assert page.text_content("#finished-count") == "(1)"
    assert not page.get_attribute("#callbacks-finished", "open")
    page.click("#callbacks-finished summary")
    done = page.eval_on_selector_all("#callbacks-done tbody td",
                                     "(tds) => tds.map((td) => td.textContent)")
    assert done[:3] == ["sales", "15551230001", "Customer"] and done[5] == "Cancelled"
    answer = page.evaluate("fetch('/api/callbacks').then((r) => r.json())")
    assert answer["waiting"] == []
    assert [(c["number"], c["state"]) for c in answer["recent"]] == [("15551230001", "cancelled")]
    page.screenshot(path=str(tmp_path / "supervisor-callbacks.png"), full_page=True)
