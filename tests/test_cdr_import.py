"""`callcenter cdr import DIR`: the files mod_json_cdr left behind, loaded idempotently."""

from __future__ import annotations

import os
from urllib.parse import quote

import pytest

from callcenter.cdr import LegRecord, write_leg
from callcenter.cdr.files import import_directory
from callcenter.cli import main
from tests.cdrdocs import hangups, json_cdr, leg_doc, own, snapshot

pytestmark = pytest.mark.both_databases  # the tests that use the database run on both

FOREIGN = "5b0c6d4e-0000-4000-8000-0000000000cc"


@pytest.fixture
def cli(env, monkeypatch, capsys):
    """Runs `callcenter ...` in this process against the test's database."""
    for name in list(os.environ):
        if name.startswith("CALLCENTER_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def owned(database, events):
    """The rows the switchboard wrote for these legs before the controller went down."""
    own(database, *(LegRecord.from_event(e) for e in events))


@pytest.fixture
def err_dir(tmp_path, database):
    """An err-log-dir as FreeSWITCH leaves it: both legs of a call the controller placed (one
    as prefix-a-leg names it, URL-encoded as with encode=true, in a dated directory as with
    rotate), a leg that is not ours, and a file cut short."""
    directory = tmp_path / "json_cdr"
    customer, agent = hangups("03-click-to-dial.plain")
    owned(database, [customer, agent])
    (directory / "2026-11-21-07-15-00").mkdir(parents=True)
    (directory / f"{customer.uuid}.cdr.json").write_text(json_cdr(customer) + "\n")
    (directory / "2026-11-21-07-15-00" / f"a_{agent.uuid}.cdr.json").write_text(
        quote(json_cdr(agent), safe="") + "\n")
    (directory / f"{FOREIGN}.cdr.json").write_text(leg_doc(FOREIGN, None, start=0, end=1))
    (directory / "5b0c6d4e-0000-4000-8000-0000000000dd.cdr.json").write_text(
        json_cdr(customer)[:700])
    (directory / "notes.txt").write_text("not a CDR")
    return directory


def test_import_twice_loads_each_leg_once(cli, database, err_dir):
    corrupt = err_dir / "5b0c6d4e-0000-4000-8000-0000000000dd.cdr.json"
    code, out, err = cli("cdr", "import", str(err_dir))
    assert code == 1  # one file failed
    assert out == "imported 2, already present 0, unmatched 1, failed 1\n"
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"callcenter: cdr import: {corrupt}: ")
    assert "the CDR is not JSON" in lines[0]
    calls, legs = snapshot(database)
    assert [(c["id"], c["talk_seconds"], c["ring_seconds"]) for c in calls] == [
        ("C3-plain", 4, 2)]
    assert len(legs) == 2

    code, out, err = cli("cdr", "import", str(err_dir))
    assert (code, out) == (1, "imported 0, already present 2, unmatched 1, failed 1\n")
    assert snapshot(database) == (calls, legs)
    assert corrupt.exists() and len(list(err_dir.rglob("*.cdr.json"))) == 4  # nothing removed


def test_remove_deletes_only_what_is_in_the_database(cli, database, err_dir):
    code, out, _ = cli("cdr", "import", "--remove", str(err_dir))
    assert code == 1
    left = sorted(p.name for p in err_dir.rglob("*.cdr.json"))
    # The leg that is not ours is in the database too: kept as an unmatched leg.
    assert left == ["5b0c6d4e-0000-4000-8000-0000000000dd.cdr.json"]
    assert len(snapshot(database)[1]) == 2


def test_exit_0_when_every_file_went_in(cli, database, tmp_path):
    directory = tmp_path / "clean"
    directory.mkdir()
    owned(database, hangups("04b-no-answer.json"))
    for event in hangups("04b-no-answer.json"):
        (directory / f"{event.uuid}.cdr.json").write_text(json_cdr(event))
    assert cli("cdr", "import", str(directory)) == (
        0, "imported 2, already present 0, unmatched 0, failed 0\n", "")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli("cdr", "import", str(empty))[0] == 0


def test_after_the_event_path_the_files_add_freeswitchs_documents(database, tmp_path):
    events = hangups("04a-busy.plain")
    with database.session() as session:
        for event in events:
            write_leg(session, LegRecord.from_event(event))
    calls_before, _ = snapshot(database)
    for event in events:
        (tmp_path / f"{event.uuid}.cdr.json").write_text(json_cdr(event))
    report = import_directory(database, tmp_path)
    assert (len(report.imported), len(report.already_present), report.failed) == (2, 0, [])
    calls, legs = snapshot(database)
    assert calls == calls_before
    assert sorted(leg["raw_cdr"] for leg in legs) == sorted(json_cdr(e) for e in events)


def test_a_file_named_for_another_leg_is_refused(database, tmp_path):
    event = hangups("04a-busy.plain")[0]
    wrong = tmp_path / "5b0c6d4e-0000-4000-8000-0000000000ee.cdr.json"
    wrong.write_text(json_cdr(event))
    report = import_directory(database, tmp_path)
    assert report.failed == [(wrong, "the file is named for leg "
                              f"5b0c6d4e-0000-4000-8000-0000000000ee, but its CDR is of leg "
                              f"{event.uuid}")]
    assert snapshot(database) == ([], []) and wrong.exists()


def test_known_errors_exit_2_with_one_line(cli, env, tmp_path):
    code, out, err = cli("cdr", "import", str(tmp_path / "missing"))
    assert (code, out) == (2, "")
    assert err == (f"callcenter: error: {tmp_path / 'missing'} is not a directory: "
                   "give mod_json_cdr's err-log-dir\n")
    # No `callcenter db upgrade` yet (this test has no database fixture).
    code, _, err = cli("cdr", "import", str(tmp_path))
    assert code == 2 and "run `callcenter db upgrade` first" in err


def test_a_database_that_stops_answering_stops_the_import(tmp_path):
    from callcenter.db import Database, DatabaseError

    event = hangups("04a-busy.plain")[0]
    (tmp_path / f"{event.uuid}.cdr.json").write_text(json_cdr(event))
    gone = Database("postgresql+psycopg://cc@127.0.0.1:9/cc")
    try:
        with pytest.raises(DatabaseError, match="the database stopped answering at .*cdr.json"):
            import_directory(gone, tmp_path)
    finally:
        gone.dispose()
    assert (tmp_path / f"{event.uuid}.cdr.json").exists()


def test_the_files_obey_the_rules_of_a_post(cli, database, tmp_path):
    """A new leg naming a placed call, a start before the call began and a second, different
    document for a leg: none changes the call."""
    events = hangups("03-click-to-dial.plain")
    owned(database, events)
    first = tmp_path / "first"
    first.mkdir()
    for event in events:
        (first / f"{event.uuid}.cdr.json").write_text(json_cdr(event))
    assert cli("cdr", "import", "--remove", str(first))[0] == 0
    before = snapshot(database)
    later = tmp_path / "later"
    later.mkdir()
    intruder = "5b0c6d4e-0000-4000-8000-0000000000ab"
    (later / f"{intruder}.cdr.json").write_text(
        leg_doc(intruder, "C3-plain", start=0, end=900, answer=1, bridge=1, role="customer"))
    customer = events[0]
    other = json_cdr(customer).replace("NORMAL_CLEARING", "MEDIA_TIMEOUT")
    (later / f"{customer.uuid}.cdr.json").write_text(other)
    early = "5b0c6d4e-0000-4000-8000-0000000000ac"
    own(database, LegRecord.from_json_cdr(leg_doc(early, "C-early", start=0, end=1)))
    (later / f"{early}.cdr.json").write_text(leg_doc(early, "C-early", start=-7200, end=1))
    code, out, err = cli("cdr", "import", "--remove", str(later))
    assert (code, out) == (1, "imported 0, already present 0, unmatched 1, failed 2\n")
    assert f"{customer.uuid}.cdr.json: leg {customer.uuid} already has a different CDR" in err
    assert f"{early}.cdr.json: CDR of leg {early}: its start time 2026-11-21 07:00:00 is " \
           "before call C-early began" in err
    calls, legs = snapshot(database)
    assert [c for c in calls if c["id"] == "C3-plain"] == before[0]
    assert [leg for leg in legs if leg["call_id"] == "C3-plain"] == before[1]
    # What could not load stays for the operator; the unmatched leg is in the database.
    assert sorted(p.name for p in later.iterdir()) == sorted(
        [f"{customer.uuid}.cdr.json", f"{early}.cdr.json"])
