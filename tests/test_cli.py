"""The `callcenter` command: each bad input is a one-line error, exit non-zero, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from callcenter import db as dbmod
from callcenter.audit import CLI
from callcenter.models import Role, User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.slow  # each test runs `callcenter` in a subprocess


def run(args, env, stdin=""):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    full_env.update(env)
    return subprocess.run([sys.executable, "-m", "callcenter.cli", *args], input=stdin,
                          capture_output=True, text=True, env=full_env, timeout=60)


def one_line_error(result, fragment):
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("callcenter: error:"), result.stderr
    assert fragment in lines[0]


def users(settings):
    database = dbmod.Database(settings.database_url)
    with database.session() as s:
        rows = [(u.username, u.role, u.agent.extension if u.agent else None)
                for u in s.scalars(select(User).order_by(User.id))]
    database.dispose()
    return rows


def test_db_upgrade_then_user_add(env, settings):
    result = run(["db", "upgrade"], env)
    assert result.returncode == 0, result.stderr
    result = run(["user", "add", "Alice", "--role", "agent", "--extension", "1000"], env,
                 PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    assert "added agent alice with extension 1000" in result.stdout
    run(["user", "add", "sam", "--role", "supervisor"], env, PASSWORD + "\n")
    assert users(settings) == [("alice", Role.AGENT, "1000"), ("sam", Role.SUPERVISOR, None)]


@pytest.mark.parametrize("args, stdin, fragment", [
    (["--role", "boss"], PASSWORD, "unknown role 'boss'"),
    (["--role", "agent", "--extension", "1000"], PASSWORD, "username 'alice' is taken"),
    (["--role", "agent"], PASSWORD, "needs a SIP extension"),
    (["--role", "admin"], "", "password is empty"),
    (["--role", "admin"], "abc", "too short"),
    (["--role", "admin"], "aaaaaaaaaa", "too easy"),
])
def test_user_add_refusals(env, settings, args, stdin, fragment):
    assert run(["db", "upgrade"], env).returncode == 0
    assert run(["user", "add", "alice", "--role", "agent", "--extension", "1000"], env,
               PASSWORD).returncode == 0
    before = users(settings)
    one_line_error(run(["user", "add", "alice" if "taken" in fragment else "bob", *args], env,
                       stdin), fragment)
    assert users(settings) == before


def test_duplicate_extension_is_refused(env, settings):
    assert run(["db", "upgrade"], env).returncode == 0
    run(["user", "add", "alice", "--role", "agent", "--extension", "1000"], env, PASSWORD)
    one_line_error(run(["user", "add", "bob", "--role", "agent", "--extension", "1000"], env,
                       PASSWORD), "extension 1000 already belongs")
    assert [u[0] for u in users(settings)] == ["alice"]


def test_user_add_before_migrations_says_so(env):
    one_line_error(run(["user", "add", "bob", "--role", "admin"], env, PASSWORD),
                   "run `callcenter db upgrade` first")


@pytest.mark.parametrize("extra, fragment", [
    ({"CALLCENTER_DATABASE_URL": "nonsense"}, "not a database URL"),
    ({"CALLCENTER_DATABASE_URL": "postgresql+psycopg://u:secretpw@127.0.0.1:9/x"},
     "cannot reach the database"),
    ({"CALLCENTER_ESL_HOST": "127.0.0.1"}, "CALLCENTER_ESL_PASSWORD is not"),
])
def test_bad_settings_stop_every_command(env, extra, fragment):
    result = run(["db", "upgrade"], {**env, **extra})
    one_line_error(result, fragment)
    assert "secretpw" not in result.stderr


def test_serve_refuses_an_unmigrated_database(env):
    one_line_error(run(["serve"], {**env, "CALLCENTER_HTTP_BIND": "127.0.0.1:0"}),
                   "run `callcenter db upgrade`")


def test_postgresql_upgrade_and_user_add(env, postgres_url):
    pg_env = {**env, "CALLCENTER_DATABASE_URL": postgres_url}
    assert run(["db", "upgrade"], pg_env).returncode == 0
    result = run(["user", "add", "alice", "--role", "agent", "--extension", "1000"], pg_env,
                 PASSWORD)
    assert result.returncode == 0, result.stderr
    one_line_error(run(["user", "add", "bob", "--role", "agent", "--extension", "1000"], pg_env,
                       PASSWORD), "extension 1000 already belongs")


def test_user_signout_ends_every_login_of_that_user_only(env, settings, database, make_user):
    from callcenter.models import LoginSession
    from callcenter.sessions import Lifetimes, Sessions

    sessions = Sessions(database, Lifetimes())
    alice, bob = make_user("alice"), make_user("bob")
    with database.session() as s:
        for user_id in (alice, alice, bob):                  # two logins of alice, one of bob
            sessions.start(s, s.get(User, user_id), "192.0.2.7", "test")
    result = run(["user", "signout", "Alice"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "signed out alice: 2 logins ended"
    with database.session() as s:
        left = s.scalars(select(User.username).join(LoginSession.user)).all()
    assert left == ["bob"]
    one_line_error(run(["user", "signout", "nobody"], env), "there is no user 'nobody'")


# -- queues ---------------------------------------------------------------------------------------

def queue_rows(settings):
    from callcenter.models import Queue

    database = dbmod.Database(settings.database_url)
    with database.session() as s:
        rows = {q.name: (q.strategy.value, q.max_wait_seconds, q.priority, q.answer_on_entry,
                         sorted((t.agent.extension, t.level, t.position) for t in q.tiers))
                for q in s.scalars(select(Queue))}
    database.dispose()
    return rows


def test_queue_add_set_tier_and_list(env, settings, database, make_user):
    make_user("alice", extension="1000")
    make_user("bob", extension="1001")
    result = run(["queue", "add", "sales", "--strategy", "ring-all", "--max-wait", "90"], env)
    assert (result.returncode, result.stdout) == (0, "added queue sales (ring_all)\n"), \
        result.stderr
    result = run(["queue", "set", "sales", "--priority", "3", "--answer-on-entry", "no"], env)
    assert result.stdout == "queue sales: priority 3, answer_on_entry False\n", result.stderr
    assert run(["queue", "tier", "sales", "1000"], env).returncode == 0
    result = run(["queue", "tier", "sales", "bob", "--position", "5"], env)
    assert result.stdout == "queue sales: 1001 (bob) at level 1, position 5\n", result.stderr
    assert run(["queue", "add", "support"], env).returncode == 0
    assert queue_rows(settings) == {
        "sales": ("ring_all", 90, 3, False, [("1000", 1, 1), ("1001", 1, 5)]),
        "support": ("longest_idle_agent", 300, 0, True, [])}
    listed = run(["queue", "list"], env).stdout.splitlines()
    assert listed[0].split() == ["name", "strategy", "max", "wait", "no", "agent", "then",
                                 "priority", "tiers"]
    assert listed[1].split() == ["sales", "ring_all", "90", "s", "no", "limit", "hang_up", "3",
                                 "1000", "(1/1),", "1001", "(1/5)"]
    assert listed[2].split()[:2] == ["support", "longest_idle_agent"]
    assert listed[2].endswith("  -")
    result = run(["queue", "set", "sales", "--open-hours", "Mon-Fri 09:00-17:00;sat 10:00-13:00",
                  "--holidays", "2026-12-25 Christmas", "--closed-action", "queue",
                  "--closed-target", "support"], env)
    assert result.returncode == 0, result.stderr
    listed = run(["queue", "list"], env).stdout.splitlines()
    assert listed[2] == "  open hours: mon-fri 09:00-17:00; sat 10:00-13:00; holidays: " \
        "2026-12-25 Christmas; when closed: queue support"
    assert listed[3].split()[0] == "support"
    result = run(["queue", "set", "support", "--callback-key", "9", "--callback-retries", "1",
                  "--callback-retry-delay", "60"], env)
    assert result.returncode == 0, result.stderr
    listed = run(["queue", "list"], env).stdout.splitlines()
    assert listed[4] == "  callbacks: key 9, 1 retries 60 s apart"
    result = run(["queue", "tier", "sales", "1000", "--remove"], env)
    assert result.stdout == "queue sales: removed 1000 (alice)\n"
    assert queue_rows(settings)["sales"][-1] == [("1001", 1, 5)]


@pytest.mark.parametrize("args, fragment", [
    (["add", "sales"], "a queue named 'sales' exists already"),
    (["add", "bad name"], "name: letters, digits"),
    (["set", "sales", "--max-wait", "-1", "--agent-ring", "3"],
     "max_wait: must be 0 to 86400 seconds (got -1); agent_ring: must be 5 to 120"),
    (["set", "sales", "--timeout-action", "queue", "--timeout-target", "nowhere"],
     "there is no queue 'nowhere'"),
    (["set", "sales"], "nothing to change"),
    (["set", "support", "--priority", "1"], "there is no queue 'support'"),
    (["tier", "sales", "carol"], "no agent has the extension or username 'carol'"),
    (["tier", "sales", "1000", "--level", "0"], "level: must be 1 to 1000"),
    (["tier", "sales", "1000", "--remove", "--level", "2"], "--remove takes no --level"),
    (["tier", "sales", "1000", "--remove"], "agent 1000 is not in queue sales"),
])
def test_queue_refusals_exit_1_and_change_nothing(env, settings, database, make_user, args,
                                                  fragment):
    from callcenter.queue_config import create_queue

    make_user("alice", extension="1000")
    with database.session() as s:
        create_queue(s, "sales", who=CLI)
    before = queue_rows(settings)
    result = run(["queue", *args], env)
    one_line_error(result, fragment)
    assert result.returncode == 1
    assert queue_rows(settings) == before


def test_queue_list_before_any_queue_and_before_migrations(env, settings, database):
    assert run(["queue", "list"], env).stdout == (
        "no queues yet: add one with `callcenter queue add NAME`\n")
    fresh = {**env, "CALLCENTER_INSTANCE_DIR": env["CALLCENTER_INSTANCE_DIR"] + "-fresh"}
    one_line_error(run(["queue", "list"], fresh), "run `callcenter db upgrade` first")


def test_queue_help_says_when_a_running_controller_sees_the_change(env):
    result = run(["queue", "set", "--help"], env)
    assert "next reloads its queues" in " ".join(result.stdout.split())


def test_a_supervisors_own_extension(env, settings):
    """A supervisor's extension is its own softphone's, shared with no agent; set and taken
    away later, each change audited."""
    from callcenter.models import Agent, AuditEntry

    assert run(["db", "upgrade"], env).returncode == 0
    run(["user", "add", "alice", "--role", "agent", "--extension", "1000"], env, PASSWORD)
    assert run(["user", "add", "sue", "--role", "supervisor", "--extension", "2001"], env,
               PASSWORD).returncode == 0
    one_line_error(run(["user", "extension", "sue", "1000"], env), "extension 1000 already")
    one_line_error(run(["user", "extension", "alice", "1001"], env), "agent's extension")
    assert run(["user", "extension", "sue", "2002"], env).stdout.strip() == \
        "sue: extension 2002"
    database = dbmod.Database(settings.database_url)
    with database.session() as s:
        assert s.scalar(select(User.extension).where(User.username == "sue")) == "2002"
        assert s.scalars(select(Agent.extension)).all() == ["1000"]
        assert s.scalars(select(AuditEntry.action)).all()[-1] == "user.extension"
    database.dispose()


def test_numbers_import_loads_the_shipped_dids_xml_once(env, settings, database):
    from pathlib import Path

    from callcenter import queue_config

    dids = str(Path(__file__).parents[1] / "freeswitch-conf" / "dids.xml")
    one_line_error(run(["numbers", "import", dids], env), "there is no queue 'sales'")
    assert run(["numbers", "list"], env).stdout.startswith("no inbound numbers yet")
    with database.session() as s:
        queue_config.create_queue(s, "sales", who=CLI)
        s.commit()
    result = run(["numbers", "import", dids], env)
    assert result.returncode == 0 and result.stdout == "added 1 number: 5550100\n", result.stderr
    again = run(["numbers", "import", dids], env)
    assert again.stdout == "added 0 numbers; already there: 5550100\n"
    assert run(["numbers", "list"], env).stdout == "5550100\tsales\tfrom dids.xml (did-5550100)\n"


def test_recordings_prune_is_a_dry_run_until_applied(env, settings, database):
    from datetime import timedelta

    from callcenter.models import Recording, utcnow
    from tests.records.calls import past_call

    past_call(database, settings, "old", seconds=(1,), started=utcnow() - timedelta(days=10))
    past_call(database, settings, "new", seconds=(1,), started=utcnow() - timedelta(days=1))
    unset = run(["recordings", "prune"], env)
    one_line_error(unset, "CALLCENTER_RECORDINGS_KEEP_DAYS is not set")
    keep = env | {"CALLCENTER_RECORDINGS_KEEP_DAYS": "7"}
    dry = run(["recordings", "prune"], keep)
    assert dry.returncode == 0, dry.stderr
    listed, summary = dry.stdout.splitlines()
    assert listed.endswith("call old  " + str(next(settings.recordings_dir.rglob("old.wav"))))
    assert "1 recording(s) started before" in summary and "dry run" in summary
    applied = run(["recordings", "prune", "--apply"], keep)
    assert applied.returncode == 0, applied.stderr
    assert "removed 1 recording row(s)" in applied.stdout and "1 file(s) deleted" in applied.stdout
    with database.session() as session:
        assert [r.call_id for r in session.scalars(select(Recording))] == ["new"]
    assert [p.name for p in settings.recordings_dir.rglob("*.wav")] == ["new.wav"]
    again = run(["recordings", "prune", "--apply"], keep)
    assert again.returncode == 0 and again.stdout.startswith("no recordings started before")
    bad = run(["recordings", "prune"], env | {"CALLCENTER_RECORDINGS_KEEP_DAYS": "0"})
    one_line_error(bad, "CALLCENTER_RECORDINGS_KEEP_DAYS: '0' is not a whole number from 1")
