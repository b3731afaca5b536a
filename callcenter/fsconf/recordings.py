"""What `callcenter fs-check` says about the recordings directory (CALLCENTER_RECORDINGS_DIR):
FreeSWITCH writes the recordings there, and the controller plays them back and prunes them
from there, so it must exist where the controller runs (the same host as FreeSWITCH, or a
shared mount at the same path) and the controller must be able to read it."""

from __future__ import annotations

import os
from pathlib import Path


def recordings_dir_problems(folder: Path) -> list[str]:
    if not folder.exists():
        return [f"{folder} does not exist: `callcenter serve` makes it when FreeSWITCH runs on "
                "this host; with FreeSWITCH on another host, mount the shared directory it records "
                "to here, at this path (CALLCENTER_RECORDINGS_DIR)"]
    if not folder.is_dir():
        return [f"{folder} is not a directory: point CALLCENTER_RECORDINGS_DIR at the "
                "directory FreeSWITCH records to"]
    if not os.access(folder, os.R_OK | os.X_OK):
        return [f"{folder}: the controller cannot read it (mode "
                f"{oct(folder.stat().st_mode & 0o777)[2:]}), so recordings cannot be played "
                "or pruned: give the controller's user read access (a group both share)"]
    return []
