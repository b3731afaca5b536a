"""Files only the controller's own user may read: the instance directory (generated secrets,
the SQLite database) is created 0700 and the database file 0600, and `serve` warns about any
of them that other users can open.

Creating with the mode (rather than changing the process-wide umask) leaves other threads'
files alone. SQLite gives its -wal and -shm files the database file's own mode.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def make_private_dir(path: Path) -> None:
    """mkdir -p, the last directory 0700 when this creates it (an existing one is left as is)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def create_private_file(path: Path) -> None:
    """An empty file of mode 0600 unless the file exists."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (None for other databases and in-memory ones)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def exposed(instance_dir: Path, database_url: str) -> list[str]:
    """One line per existing file or directory of ours that other users may open."""
    paths = [instance_dir]
    database = sqlite_file(database_url)
    if database is not None:
        paths += [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
    lines = []
    for path in paths:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            continue
        if mode & 0o077:
            private = "700" if path.is_dir() else "600"
            lines.append(f"{path} is open to other users (mode {mode:o}): chmod {private} {path}")
    return lines
