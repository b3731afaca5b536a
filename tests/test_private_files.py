"""The instance directory and the SQLite database are private to the controller's user, and
`callcenter serve` warns about any that are not."""

from __future__ import annotations

import os
import stat

import pytest
from sqlalchemy import text

from callcenter import db as dbmod
from callcenter.private_files import exposed
from tests.process import ServerProcess


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask():
    """The permissive umask many systems have (0022 would hide nothing here)."""
    old = os.umask(0o002)
    yield
    os.umask(old)


def test_database_and_instance_directory_are_created_private(tmp_path, open_umask):
    instance = tmp_path / "instance"
    url = f"sqlite:///{instance}/callcenter.db"
    dbmod.upgrade(url)
    database = dbmod.Database(url)
    try:
        with database.engine.connect() as conn:     # WAL mode: -wal and -shm exist while open
            conn.execute(text("CREATE TABLE scratch (x)"))
            conn.commit()
            names = sorted(p.name for p in instance.iterdir())
            assert names == ["callcenter.db", "callcenter.db-shm", "callcenter.db-wal"]
            assert {name: mode(instance / name) for name in names} == dict.fromkeys(names, 0o600)
    finally:
        database.dispose()
    assert mode(instance) == 0o700
    assert exposed(instance, url) == []


def test_generated_secrets_make_the_instance_directory_private(tmp_path, open_umask):
    from callcenter.config import Settings

    Settings.from_env({"CALLCENTER_INSTANCE_DIR": str(tmp_path / "instance")})
    assert mode(tmp_path / "instance") == 0o700


def test_files_open_to_others_are_named_with_the_fix(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    os.chmod(instance, 0o755)  # noqa: S103 - the mistake under test
    database = instance / "callcenter.db"
    database.write_bytes(b"")
    os.chmod(database, 0o644)
    assert exposed(instance, f"sqlite:///{database}") == [
        f"{instance} is open to other users (mode 755): chmod 700 {instance}",
        f"{database} is open to other users (mode 644): chmod 600 {database}"]
    assert exposed(instance, "postgresql+psycopg://u@h/db") == [
        f"{instance} is open to other users (mode 755): chmod 700 {instance}"]


@pytest.mark.slow
def test_serve_warns_about_a_database_others_can_read(env, settings):
    dbmod.upgrade(settings.database_url)
    database = settings.instance_dir / "callcenter.db"
    os.chmod(database, 0o644)
    server = ServerProcess(["serve"], {**env, "CALLCENTER_HTTP_BIND": "127.0.0.1:0"})
    try:
        line = server.wait_for(r"WARNING .*open to other users.*").group(0)
        assert f"{database} is open to other users (mode 644): chmod 600 {database}" in line
        server.wait_for(r"switch link up")
    finally:
        assert server.stop() == 0
