"""Two controllers on one PostgreSQL and one switch, each in its own process: the active one
drives the calls, and the standby takes over when the active one dies or is cut off from the
database. `callcenter simulate` stands in for FreeSWITCH."""

from __future__ import annotations

import base64
import json
import re
import signal
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from callcenter import db as dbmod
from callcenter import numbers, queue_config
from callcenter.accounts import create_user
from callcenter.audit import CLI
from callcenter.models import Role
from callcenter.standby import DETECTION_BOUND, LOCK_KEY, STOOD_DOWN_EXIT
from tests.conftest import PASSWORD
from tests.process import ServerProcess
from tests.test_live_socket import Live, receive
from tests.test_restarts import call_updates, get, wait_call

pytestmark = [pytest.mark.slow, pytest.mark.postgresql]
ESL_PASSWORD = "standby-test-esl-password"
HTTP_USER, HTTP_PASSWORD = "freeswitch", "standby-test-http-password"
NUMBER = "15551234567"
METRICS_TOKEN = "standby-test-metrics-token"
ACTIVE = r"active: this controller drives the switch"
STARTING = 60.0     # a process's start, on a loaded machine


class Controller:
    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name = name
        self.process = ServerProcess(["serve"], env)
        self.base = self.process.wait_for(r"serving on (http://127\.0\.0\.1:\d+)",
                                          timeout=STARTING).group(1)
        self.live = Live(self.process, self.base)

    def logged(self, pattern: str, timeout: float = STARTING) -> datetime:
        """When the controller logged a message matching pattern (its JSON log's time)."""
        line = self.process.wait_for(pattern, timeout=timeout).string
        return datetime.fromisoformat(json.loads(line)["time"])

    def fetch(self, path: str, data: bytes | None = None, headers: dict | None = None):
        request = urllib.request.Request(self.base + path, data=data,   # noqa: S310 (loopback)
                                         headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:   # noqa: S310 (loopback)
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


class Pair:
    """One switch, one database, and the controllers started on them."""

    def __init__(self, tmp_path, database_url: str, *sim_args: str) -> None:
        self.tmp_path, self.database_url = tmp_path, database_url
        self.sim = ServerProcess(["simulate", "--password", ESL_PASSWORD, "--register", "1000",
                                  *sim_args], {"CALLCENTER_INSTANCE_DIR": str(tmp_path / "sim")})
        self.port = int(self.sim.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1))
        self.controllers: list[Controller] = []

    def env(self, name: str, **more: str) -> dict[str, str]:
        return {"CALLCENTER_INSTANCE_DIR": str(self.tmp_path / name),
                "CALLCENTER_DATABASE_URL": self.database_url,
                "CALLCENTER_HTTP_BIND": "127.0.0.1:0", "CALLCENTER_LOG_FORMAT": "json",
                "CALLCENTER_ESL_HOST": "127.0.0.1", "CALLCENTER_ESL_PORT": str(self.port),
                "CALLCENTER_ESL_PASSWORD": ESL_PASSWORD, "CALLCENTER_STANDBY": "on",
                "CALLCENTER_SECRET_KEY": "standby-test-shared-secret-key",
                "CALLCENTER_FREESWITCH_HTTP_USER": HTTP_USER,
                "CALLCENTER_FREESWITCH_HTTP_PASSWORD": HTTP_PASSWORD,
                "CALLCENTER_METRICS_TOKEN": METRICS_TOKEN, **more}

    def start(self, name: str, **more: str) -> Controller:
        controller = Controller(name, self.env(name, **more))
        self.controllers.append(controller)
        return controller

    def stop(self) -> None:
        for process in [c.process for c in self.controllers] + [self.sim]:
            process.stop()


def users(database_url: str) -> None:
    database = dbmod.Database(database_url)
    with database.session() as session:
        create_user(session, "root", PASSWORD, Role.ADMIN, None, who=CLI)  # past first run
        create_user(session, "alice", PASSWORD, Role.AGENT, "1000", who=CLI)
        # The simulator's callers dial 5550100, queue sales (the shipped dids.xml).
        queue_config.create_queue(session, "sales", {}, who=CLI)
        queue_config.set_tier(session, "sales", "1000", who=CLI)
        numbers.add_number(session, "5550100", "sales", "", who=CLI)
        session.commit()
    database.dispose()


@pytest.fixture
def pair(tmp_path, postgres_migrated_url):
    users(postgres_migrated_url)
    pair = Pair(tmp_path, postgres_migrated_url)
    try:
        yield pair
    finally:
        pair.stop()


def active_and_standby(pair: Pair) -> tuple[Controller, Controller]:
    first = pair.start("first")
    first.logged(ACTIVE)
    first.process.wait_for(r"switch link up")
    second = pair.start("second")
    second.logged(r"standby: waiting for the active controller's lock")
    return first, second


def answered_call(controller: Controller):
    ws = call_updates(controller.live)
    call_id = controller.live.api("alice", "POST", "/api/calls", {"number": NUMBER})["call"]["id"]
    wait_call(ws, call_id, "answered")
    return call_id


def hang_up_through(controller: Controller, call_id: str) -> dict:
    """The call goes on under the new active controller: its controls work and its record is
    complete."""
    live = controller.live
    assert get(live, f"/api/calls/{call_id}")["call"]["progress"] == "answered"
    ws = call_updates(live)
    live.api("alice", "POST", f"/api/calls/{call_id}/hangup", {})
    assert wait_call(ws, call_id, "ended")["hangup_by"] == "agent"
    cdr = get(live, f"/api/calls/{call_id}")["call"]
    assert cdr["cause"] == "NORMAL_CLEARING" and cdr["outcome"] == "answered"
    assert cdr["answered_at"] and cdr["ended_at"] and cdr["hangup_by"] == "agent"
    return cdr


def test_the_standby_serves_freeswitch_and_sends_browsers_to_the_active(pair):
    first, second = active_and_standby(pair)
    status, body = second.fetch("/healthz")
    assert (status, json.loads(body)["standby"]) == (503, True)
    assert first.fetch("/healthz")[0] == 200
    status, body = second.fetch("/login")
    assert status == 503 and "standby" in body
    # Prometheus scrapes both: each says which it is, and the standby has no switch link.
    bearer = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    for controller, active in ((first, 1), (second, 0)):
        status, body = controller.fetch("/metrics", headers=bearer)
        assert status == 200 and re.search(rf"^callcenter_active {active}(\.0)?$", body, re.M)
    assert re.search(r"^callcenter_esl_connected 0(\.0)?$", body, re.M)
    auth = {"Authorization": "Basic " + base64.b64encode(
        f"{HTTP_USER}:{HTTP_PASSWORD}".encode()).decode()}
    # Agents register during a takeover: the standby answers the directory from the database.
    lookup = urllib.parse.urlencode({
        "section": "directory", "tag_name": "domain", "key_name": "name",
        "key_value": "127.0.0.1", "domain": "127.0.0.1", "action": "sip_auth",
        "sip_auth_method": "REGISTER", "user": "1000"}).encode()
    status, body = second.fetch("/freeswitch/directory", lookup, auth)
    assert status == 200 and "<document" in body
    # Inbound calls are routed during a takeover too: the standby answers the public dialplan.
    hunt = urllib.parse.urlencode({"section": "dialplan", "Hunt-Context": "public",
                                   "Hunt-Destination-Number": "5550100"}).encode()
    status, body = second.fetch("/freeswitch/dialplan", hunt, auth)
    assert status == 200 and "cc_queue=sales" in body
    # A CDR of a leg the standby cannot know yet: FreeSWITCH is told to try again (the next
    # url is the active controller's).
    leg = "7d1e2f30-0000-4000-8000-000000000001"
    document = json.dumps({"core-uuid": "x", "channel_data": {"state": "CS_REPORTING"},
                           "variables": {"uuid": leg, "start_epoch": str(int(time.time()))}})
    status, body = second.fetch(f"/freeswitch/cdr?uuid={leg}", document.encode(),
                                {**auth, "Content-Type": "application/json"})
    assert status == 503 and "not written yet" in body


def test_the_standby_takes_over_when_the_active_controller_is_killed(pair):
    first, second = active_and_standby(pair)
    call_id = answered_call(first)
    killed_at = datetime.now().astimezone()
    first.process.proc.send_signal(signal.SIGKILL)
    first.process.proc.wait()
    acting = second.logged(ACTIVE)
    second.process.wait_for(r"switch link up")
    linked = datetime.now().astimezone()
    print(f"\ntakeover after SIGKILL: acting {(acting - killed_at).total_seconds():.2f} s, "
          f"switch link up {(linked - killed_at).total_seconds():.2f} s")
    assert second.fetch("/healthz")[0] == 200
    hang_up_through(second, call_id)


def test_an_active_controller_cut_off_from_the_database_stops_before_the_standby_acts(pair):
    first, second = active_and_standby(pair)
    call_id = answered_call(first)
    # The network between the active controller and PostgreSQL is cut: its lock session ends
    # while the process stays up.
    admin = create_engine(pair.database_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        ended = connection.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
            "AND granted AND classid = :high AND objid = :low"),
            {"high": LOCK_KEY >> 32, "low": LOCK_KEY & 0xFFFFFFFF}).scalars().all()
    admin.dispose()
    assert ended == [True], "the active controller's lock session"
    cut_at = datetime.now().astimezone()
    stopped = first.logged(r"stopped acting")
    assert first.process.proc.wait(timeout=STARTING) == STOOD_DOWN_EXIT
    acting = second.logged(ACTIVE)
    second.process.wait_for(r"switch link up")
    print(f"\ntakeover after the lock connection was cut: the active stopped "
          f"{(stopped - cut_at).total_seconds():.2f} s after, the standby acted "
          f"{(acting - cut_at).total_seconds():.2f} s after")
    assert acting > stopped, "never two active controllers"
    assert (stopped - cut_at).total_seconds() < DETECTION_BOUND + 1
    hang_up_through(second, call_id)


def test_a_waiting_caller_keeps_its_place_in_line_across_a_takeover(tmp_path,
                                                                   postgres_migrated_url):
    users(postgres_migrated_url)
    pair = Pair(tmp_path, postgres_migrated_url, "--callers", "5", "--count", "1")
    try:
        first, second = active_and_standby(pair)
        line = json.loads(first.process.wait_for(r"entered queue sales").string)
        call_id, entered = line["call_id"], datetime.fromisoformat(line["time"])
        first.process.proc.send_signal(signal.SIGKILL)
        first.process.proc.wait()
        second.logged(ACTIVE)
        second.process.wait_for(r"found parked for queue sales after a restart")
        # alice (Logged Out so far) becomes available on the new active controller, and the
        # caller who waited through the takeover reaches her, its wait counted from its entry.
        ws = call_updates(second.live)
        second.live.api("alice", "PUT", "/api/agents/me/status", {"status": "available"})
        offer = wait_message(ws, lambda m: m["type"] == "offer"
                             and m["offer"]["call_id"] == call_id)["offer"]
        since_entry = (datetime.now().astimezone() - entered).total_seconds()
        assert offer["queue"] == "sales"
        assert offer["waited"] > since_entry - 1.0, "the same place in line, not a new one"
        wait_call(ws, call_id, "answered")
    finally:
        pair.stop()


def wait_message(ws, wanted) -> dict:
    while True:
        message = receive(ws, timeout=20)
        if wanted(message):
            return message


def test_a_second_controller_without_standby_is_refused(pair):
    first = pair.start("first", CALLCENTER_STANDBY="off")
    first.logged(ACTIVE)
    second = ServerProcess(["serve"], pair.env("second", CALLCENTER_STANDBY="off"))
    try:
        assert second.proc.wait(timeout=STARTING) == 2
        message = second.wait_for(r"callcenter: error: .*").group(0)
        assert "another controller is active on this database" in message
        assert "CALLCENTER_STANDBY=on" in message
    finally:
        second.stop()


@pytest.mark.sqlite_only("SQLite's own guard")
def test_a_second_controller_on_one_sqlite_file_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path}/callcenter.db"
    dbmod.upgrade(url)
    env = {"CALLCENTER_DATABASE_URL": url, "CALLCENTER_HTTP_BIND": "127.0.0.1:0"}
    first = ServerProcess(["serve"], {**env, "CALLCENTER_INSTANCE_DIR": str(tmp_path / "a")})
    second = None
    try:
        first.wait_for(r"serving on", timeout=STARTING)
        second = ServerProcess(["serve"], {**env, "CALLCENTER_INSTANCE_DIR": str(tmp_path / "b")})
        assert second.proc.wait(timeout=STARTING) == 2
        message = second.wait_for(r"callcenter: error: .*").group(0)
        assert f"pid {first.proc.pid}" in message and "SQLite has no standby" in message
    finally:
        for process in (first, second):
            if process is not None:
                process.stop()
    # Once the first has stopped, the file is free again.
    third = ServerProcess(["serve"], {**env, "CALLCENTER_INSTANCE_DIR": str(tmp_path / "c")})
    try:
        third.wait_for(r"serving on", timeout=STARTING)
    finally:
        assert third.stop() == 0
