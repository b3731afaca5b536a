"""The production files in callcenter/deploy/ (README: Running in production): they parse, and
they name commands, options and settings that exist."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from callcenter.cli import _parser
from callcenter.config import SETTINGS, Settings
from callcenter.deploy import DEPLOY_DIR

ENV_FILE = "/etc/callcenter/callcenter.env"
# FreeSWITCH 1.10's command-line options the shipped unit may use (src/switch.c).
FREESWITCH_OPTIONS = {"-nf", "-nc", "-nonat", "-conf", "-log", "-db", "-certs", "-run", "-u",
                      "-g", "-ncwait", "-rp"}


def unit(name: str) -> dict[str, dict[str, list[str]]]:
    """A systemd unit file: section -> key -> values (a key may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for number, line in enumerate((DEPLOY_DIR / name).read_text().splitlines(), 1):
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            assert line.endswith("]"), f"{name}:{number}: {line}"
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None and "=" in line, f"{name}:{number}: not key=value: {line}"
        key, value = line.split("=", 1)
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def environment_file() -> dict[str, str]:
    values = {}
    for line in (DEPLOY_DIR / "callcenter.env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, value = line.split("=", 1)
            values[key] = value
    return values


def test_the_controller_unit_runs_our_commands_with_the_shared_environment():
    service = unit("callcenter.service")
    assert set(service) == {"Unit", "Service", "Install"}
    assert service["Service"]["EnvironmentFile"] == [ENV_FILE]
    commands = service["Service"]["ExecStartPre"] + service["Service"]["ExecStart"]
    for command in commands:
        program, *args = shlex.split(command)
        assert program.endswith("/bin/callcenter"), command
        _parser().parse_args(args)      # argparse exits on a command that does not exist
    assert [shlex.split(c)[1:] for c in commands] == [["db", "upgrade"], ["serve"]]
    # Exit 75 (the active role lost) must start it again, as a standby.
    assert service["Service"]["Restart"] == ["always"]


def test_the_freeswitch_unit_uses_options_freeswitch_has():
    service = unit("freeswitch.service")
    assert service["Service"]["EnvironmentFile"] == ["-" + ENV_FILE]
    program, *args = shlex.split(service["Service"]["ExecStart"][0])
    assert program.endswith("/bin/freeswitch")
    options = {arg for arg in args if arg.startswith("-")}
    assert options <= FREESWITCH_OPTIONS, options - FREESWITCH_OPTIONS
    assert {"-nf", "-nonat", "-conf"} <= options, "foreground (Type=simple), no NAT probing"
    binary = os.environ.get("CALLCENTER_TEST_FREESWITCH")
    if binary:
        usage = subprocess.run([binary, "-help"], capture_output=True, text=True, timeout=30)
        for option in options:
            assert re.search(rf"^\s*{re.escape(option)}\b", usage.stdout, re.M), option


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
@pytest.mark.parametrize("name", ["callcenter.service", "freeswitch.service"])
def test_systemd_reads_the_units(tmp_path, name):
    """systemd's own check, with the programs pointed at ones that exist on this machine."""
    here = os.environ.get("CALLCENTER_TEST_FREESWITCH") or shutil.which("true")
    callcenter = str(Path(sys.executable).with_name("callcenter"))
    text = (DEPLOY_DIR / name).read_text() \
        .replace("/opt/callcenter/.venv/bin/callcenter", callcenter) \
        .replace("/usr/local/freeswitch/bin/freeswitch", here)
    copy = tmp_path / name
    copy.write_text(text)
    checked = subprocess.run(["systemd-analyze", "verify", "--man=no", str(copy)],
                             capture_output=True, text=True, timeout=60)
    ours = [line for line in (checked.stdout + checked.stderr).splitlines() if name in line]
    assert checked.returncode == 0 and not ours, checked.stdout + checked.stderr


def test_the_environment_file_holds_settings_the_controller_takes(tmp_path):
    values = environment_file()
    known = {name for name, _default, _text in SETTINGS}
    assert set(values) <= known, set(values) - known
    # With its placeholders filled in, it is a valid configuration.
    filled = {key: value.replace("CHANGE-ME", "x" * 24) for key, value in values.items()}
    settings = Settings.from_env({**filled, "CALLCENTER_INSTANCE_DIR": str(tmp_path)})
    assert settings.database_url.startswith("postgresql") and not settings.simulated
    standby = Settings.from_env({**filled, "CALLCENTER_INSTANCE_DIR": str(tmp_path),
                                 "CALLCENTER_STANDBY": "on"})
    assert standby.standby, "the file holds every secret a standby pair shares"


def test_the_proxy_sends_pages_and_the_live_socket_to_the_active_controller():
    text = (DEPLOY_DIR / "nginx.conf").read_text()
    live = re.search(r"location = /live \{(.*?)\}", text, re.S).group(1)
    assert "proxy_set_header Upgrade $http_upgrade" in live
    for block in (live, re.search(r"location / \{(.*?)\}", text, re.S).group(1)):
        assert re.search(r"proxy_next_upstream [^;]*http_503", block), "past a standby"


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed here")
def test_nginx_accepts_the_proxy_configuration(tmp_path):
    """`nginx -t` on the shipped site, its certificates swapped for a throwaway one."""
    crt, key = tmp_path / "site.crt", tmp_path / "site.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=cc.example.com", "-keyout", str(key), "-out", str(crt)],
                   check=True, capture_output=True, timeout=60)
    site = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};",
                  re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {crt};",
                         (DEPLOY_DIR / "nginx.conf").read_text()))
    (tmp_path / "site.conf").write_text(site)
    main = tmp_path / "nginx.conf"
    main.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
                    f"events {{}}\nhttp {{ access_log off; include {tmp_path}/site.conf; }}\n")
    checked = subprocess.run(["nginx", "-t", "-p", str(tmp_path), "-c", str(main)],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr
