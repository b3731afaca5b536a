"""Helpers shared by the configuration tests: a copy of the shipped tree, a WSS certificate, the
controller's environment, and exact edits that make broken copies."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SHIPPED = Path(__file__).parents[2] / "freeswitch-conf"
ESL_PASSWORD = "esl-Secret-of-the-lab-42"
HTTP_USER = "fs-user"
HTTP_PASSWORD = "http-Secret-of-the-lab-42"


def copy_tree(dest: Path) -> Path:
    return Path(shutil.copytree(SHIPPED, dest))


def make_certificate(directory: Path, name: str = "wss.pem") -> Path:
    """A self-signed certificate and its key in one PEM file, as FreeSWITCH wants wss.pem."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    directory.mkdir(parents=True, exist_ok=True)
    key, crt = directory / "key.tmp", directory / "crt.tmp"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(crt)],
                   check=True, capture_output=True, timeout=60)
    pem = directory / name
    pem.write_text(crt.read_text() + key.read_text())
    key.unlink()
    crt.unlink()
    return pem


def controller_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The controller's settings pointing at a real switch, as its environment."""
    env = {
        "CALLCENTER_INSTANCE_DIR": str(tmp_path / "instance"),
        "CALLCENTER_ESL_HOST": "127.0.0.1",
        "CALLCENTER_ESL_PASSWORD": ESL_PASSWORD,
        "CALLCENTER_FREESWITCH_HTTP_USER": HTTP_USER,
        "CALLCENTER_FREESWITCH_HTTP_PASSWORD": HTTP_PASSWORD,
    }
    env.update(overrides)
    return env


def edit(path: Path, old: str, new: str) -> None:
    """Replace text that must be there exactly once, so a broken copy is broken on purpose."""
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not in {path} exactly once"
    path.write_text(text.replace(old, new))


def line_of(path: Path, text: str, which: int | None = None) -> int:
    """The line of ``path`` holding ``text`` (which must be there once; else its `which`th
    line, counting from 0)."""
    lines = [n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    if which is not None:
        return lines[which]
    assert len(lines) == 1, f"{text!r} is on lines {lines} of {path}"
    return lines[0]
