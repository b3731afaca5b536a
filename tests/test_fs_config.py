"""`callcenter fs-config`: FreeSWITCH's site.xml written from the controller's settings, so
both sides agree; FreeSWITCH's own values kept; bad input refused with nothing written."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys

import pytest

from callcenter.config import ConfigError, Settings
from callcenter.fsconf import site
from callcenter.fsconf.checks import check_tree
from callcenter.fsconf.preprocess import read_tree
from tests.freeswitch.support import (
    ESL_PASSWORD,
    HTTP_PASSWORD,
    HTTP_USER,
    SHIPPED,
    controller_env,
    copy_tree,
    edit,
    make_certificate,
)

SET = re.compile(r'<X-PRE-PROCESS cmd="([a-z-]+)" data="([A-Z_]+)=([^"]*)"/>')


def run(args, env):  # a subprocess: the tests that call it are marked slow
    full = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "callcenter.cli", "fs-config", *args],
                          capture_output=True, text=True, env=full, timeout=60)


def one_line_error(result, message):
    assert result.returncode == 2 and result.stdout == "", result.stdout
    assert result.stderr == f"callcenter: error: {message}\n"


@pytest.fixture
def env(tmp_path):
    return controller_env(tmp_path, CALLCENTER_PUBLIC_URL="https://cc.example.com",
                          CALLCENTER_FREESWITCH_HTTP_URL="http://10.0.0.5:8080/",
                          CALLCENTER_GATEWAY="trunk1", CALLCENTER_ESL_PORT="8022",
                          CALLCENTER_SOFTPHONE_WSS_URL="wss://cc.example.com:8443")


@pytest.mark.slow
def test_prints_the_site_file_of_these_settings(env, tmp_path):
    result = run([], env)
    assert result.returncode == 0, result.stderr
    tree_dir = copy_tree(tmp_path / "conf")
    (tree_dir / "site.xml").write_text(result.stdout)
    tree = read_tree(tree_dir, environ={})  # nothing from FreeSWITCH's environment is needed
    assert tree.problems == []
    shared = {v.name: tree.variables[v.name] for v in site.SHARED}
    assert shared == {
        "CALLCENTER_SIP_DOMAIN": "cc.example.com",
        "CALLCENTER_ESL_PORT": "8022",
        "CALLCENTER_ESL_PASSWORD": ESL_PASSWORD,
        "CALLCENTER_FREESWITCH_HTTP_URL": "http://10.0.0.5:8080",
        "CALLCENTER_PEER_HTTP_URL": "http://10.0.0.5:8080",    # no standby: the same again
        "CALLCENTER_FREESWITCH_HTTP_USER": HTTP_USER,
        "CALLCENTER_FREESWITCH_HTTP_PASSWORD": HTTP_PASSWORD,
        "CALLCENTER_GATEWAY": "trunk1",
        "CALLCENTER_SOFTPHONE_WSS_PORT": "8443",
    }
    assert [c for c, _name, _value in SET.findall(result.stdout)] == ["set"] * (
        len(site.SHARED) + len(site.OWN))  # plain values: no env-set, no exec-set
    socket = tree.configuration("event_socket.conf")
    socket_params = {p.get("name"): p.get("value") for p in socket.iter("param")}
    assert {k: socket_params[k] for k in ("listen-ip", "listen-port", "password")} == {
        "listen-ip": "127.0.0.1", "listen-port": "8022", "password": ESL_PASSWORD}


@pytest.mark.slow
def test_the_written_tree_passes_fs_check(env, tmp_path):
    tree_dir = copy_tree(tmp_path / "conf")
    certs = tmp_path / "certs"
    make_certificate(certs)
    result = run([str(tree_dir / "site.xml")], env)
    assert result.returncode == 0 and result.stdout == f"wrote {tree_dir / 'site.xml'}\n"
    assert check_tree(tree_dir, Settings.from_env(env), environ={}, certs_dir=certs) == []


@pytest.mark.slow
def test_writes_owner_only_and_keeps_freeswitchs_own_values(env, tmp_path):
    tree_dir = copy_tree(tmp_path / "conf")
    path = tree_dir / "site.xml"
    path.chmod(0o644)
    edit(path, "FREESWITCH_PUBLIC_IP=127.0.0.1", "FREESWITCH_PUBLIC_IP=203.0.113.7")
    edit(path, "FREESWITCH_CARRIER_PROXY=127.0.0.1:5094", "FREESWITCH_CARRIER_PROXY=192.0.2.9")
    result = run([str(tree_dir), "--set", "FREESWITCH_LOCAL_IP=10.0.0.2",
                  "--set", "FREESWITCH_CERT_DIR=$${base_dir}/tls"], env)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(tree_dir.glob(".site.xml*"))  # no temporary file left behind
    tree = read_tree(tree_dir, environ={}, runtime={"base_dir": "/opt/fs"})
    own = {v.name: tree.variables[v.name] for v in site.OWN}
    defaults = {v.name: v.default for v in site.OWN}
    assert own == defaults | {
        "FREESWITCH_PUBLIC_IP": "203.0.113.7", "FREESWITCH_CARRIER_PROXY": "192.0.2.9",
        "FREESWITCH_LOCAL_IP": "10.0.0.2", "FREESWITCH_CERT_DIR": "/opt/fs/tls",
        "FREESWITCH_CDR_ERROR_DIR": "$${log_dir}/json_cdr"}
    assert tree.variables["CALLCENTER_ESL_PASSWORD"] == ESL_PASSWORD
    # Run again with other settings: the values kept stay, the shared ones follow the settings.
    again = run([str(path)], {**env, "CALLCENTER_ESL_PASSWORD": "changed-Secret-9"})
    assert again.returncode == 0, again.stderr
    tree = read_tree(tree_dir, environ={}, runtime={"base_dir": "/opt/fs"})
    assert {v.name: tree.variables[v.name] for v in site.OWN} == own
    assert tree.variables["CALLCENTER_ESL_PASSWORD"] == "changed-Secret-9"


def test_the_shipped_site_file_and_fs_config_agree_on_names_and_defaults():
    found = SET.findall((SHIPPED / "site.xml").read_text())
    commands = {}
    for command, name, value in found:
        commands.setdefault(name, []).append((command, value))
    assert list(commands) == [v.name for v in site.SHARED + site.OWN]
    for value in site.OWN:
        assert commands[value.name] == [("set", value.default)]
    for value in site.SHARED:
        kinds = [command for command, _ in commands[value.name]]
        # a default (random for secrets), then the controller's variable when present
        assert kinds in (["set", "env-set"], ["exec-set", "env-set"], ["set"]), value.name
        if value.name == "CALLCENTER_SOFTPHONE_WSS_PORT":
            assert commands[value.name] == [("set", value.default)]
        elif kinds[0] == "set":
            assert commands[value.name] == [("set", value.default),
                                             ("env-set", f"${value.name}")]


@pytest.mark.slow
def test_secrets_with_xml_characters_reach_freeswitch_intact(tmp_path):
    password = "a&b<c>\"d'e-and-more"
    env = controller_env(tmp_path, CALLCENTER_ESL_PASSWORD=password,
                         CALLCENTER_FREESWITCH_HTTP_PASSWORD="x&amp;y-and-long-enough")
    tree_dir = copy_tree(tmp_path / "conf")
    assert run([str(tree_dir / "site.xml")], env).returncode == 0
    tree = read_tree(tree_dir, environ={})
    assert tree.problems == []
    socket = tree.configuration("event_socket.conf")
    assert [p.get("value") for p in socket.iter("param") if p.get("name") == "password"] == [
        password]
    certs = tmp_path / "certs"
    make_certificate(certs)
    assert check_tree(tree_dir, Settings.from_env(env), environ={}, certs_dir=certs) == []


@pytest.mark.slow
@pytest.mark.parametrize("args, changes, message", [
    ([], {"CALLCENTER_ESL_HOST": "", "CALLCENTER_ESL_PASSWORD": ""},
     "CALLCENTER_ESL_PASSWORD is not set: choose one and set it (with CALLCENTER_ESL_HOST) "
     "for the controller; fs-config writes the same value for FreeSWITCH"),
    ([], {"CALLCENTER_FREESWITCH_HTTP_USER": "fs:user"},
     "CALLCENTER_FREESWITCH_HTTP_USER must not contain ':' (FreeSWITCH sends user:password)"),
    ([], {"CALLCENTER_ESL_PASSWORD": "pa${ss}word-long-enough"},
     "CALLCENTER_ESL_PASSWORD: '${' would be expanded by FreeSWITCH"),
    ([], {"CALLCENTER_FREESWITCH_HTTP_PASSWORD": "pa$${x}-long-enough"},
     "CALLCENTER_FREESWITCH_HTTP_PASSWORD: '$${' would be read as a FreeSWITCH variable"),
    (["--set", "CALLCENTER_GATEWAY=x"], {},
     "--set CALLCENTER_GATEWAY: CALLCENTER_* values come from the controller's settings; set "
     "it in the controller's environment instead"),
    (["--set", "FREESWITCH_NOPE=1"], {}, "--set FREESWITCH_NOPE: not a site value (one of: "
     + ", ".join(sorted(site.OWN_NAMES)) + ")"),
    (["--set", "FREESWITCH_LOCAL_IP"], {}, "--set 'FREESWITCH_LOCAL_IP': write NAME=VALUE"),
    (["--set", "FREESWITCH_LOCAL_IP=10.0.0.1\n<evil/>"], {},
     "FREESWITCH_LOCAL_IP: control characters (newlines, tabs) cannot be written"),
])
def test_refusals_write_nothing(env, tmp_path, args, changes, message):
    tree_dir = copy_tree(tmp_path / "conf")
    before = (tree_dir / "site.xml").read_bytes()
    one_line_error(run([str(tree_dir / "site.xml"), *args], {**env, **changes}), message)
    assert (tree_dir / "site.xml").read_bytes() == before
    assert sorted(p.name for p in tree_dir.iterdir()) == sorted(p.name for p in
                                                                 SHIPPED.iterdir())


@pytest.mark.slow
def test_refuses_to_overwrite_a_file_that_is_not_a_site_file(env, tmp_path):
    tree_dir = copy_tree(tmp_path / "conf")
    target = tree_dir / "freeswitch.xml"
    before = target.read_bytes()
    one_line_error(run([str(target)], env),
                   f"{target} sets no site value: it is not a site.xml, so it was left as it is")
    assert target.read_bytes() == before


@pytest.mark.slow
def test_set_needs_a_file(env):
    one_line_error(run(["--set", "FREESWITCH_LOCAL_IP=10.0.0.1"], env),
                   "--set needs the site.xml FILE to write")


def test_freeswitch_http_url_setting(tmp_path):
    base = {"CALLCENTER_INSTANCE_DIR": str(tmp_path)}
    assert Settings.from_env(base).freeswitch_http_url == "http://127.0.0.1:8080"
    behind_proxy = Settings.from_env({**base, "CALLCENTER_PUBLIC_URL": "https://cc.example.com",
                                      "CALLCENTER_FREESWITCH_HTTP_URL": "http://10.0.0.5:8080/"})
    assert behind_proxy.freeswitch_http_url == "http://10.0.0.5:8080"
    assert behind_proxy.public_url == "https://cc.example.com"
    with pytest.raises(ConfigError, match="CALLCENTER_FREESWITCH_HTTP_URL must be an http"):
        Settings.from_env({**base, "CALLCENTER_FREESWITCH_HTTP_URL": "ftp://10.0.0.5"})


@pytest.mark.slow
def test_freeswitchs_err_log_dir_is_the_controllers_spool_directory(env, tmp_path):
    tree_dir = copy_tree(tmp_path / "conf")
    path = tree_dir / "site.xml"
    edit(path, "FREESWITCH_CDR_ERROR_DIR=$${log_dir}/json_cdr",
         "FREESWITCH_CDR_ERROR_DIR=/var/log/fs/cdr-errors")
    spool = {**env, "CALLCENTER_CDR_SPOOL_DIR": "/var/spool/callcenter/json_cdr"}
    assert run([str(path)], spool).returncode == 0
    tree = read_tree(tree_dir, environ={})
    assert tree.variables["FREESWITCH_CDR_ERROR_DIR"] == "/var/spool/callcenter/json_cdr"
    params = {p.get("name"): p.get("value")
              for p in tree.configuration("json_cdr.conf").iter("param")}
    assert params["err-log-dir"] == "/var/spool/callcenter/json_cdr"
    # The same directory may be named again; another one would split the two.
    assert run([str(path), "--set", "FREESWITCH_CDR_ERROR_DIR=/var/spool/callcenter/json_cdr"],
               spool).returncode == 0
    before = path.read_bytes()
    one_line_error(run([str(path), "--set", "FREESWITCH_CDR_ERROR_DIR=/tmp/x"], spool),
                   "--set FREESWITCH_CDR_ERROR_DIR: it is CALLCENTER_CDR_SPOOL_DIR "
                   "(/var/spool/callcenter/json_cdr), which the controller reads; change that "
                   "setting instead")
    assert path.read_bytes() == before
    # Without the setting, FreeSWITCH's own value is kept as before.
    edit(path, "FREESWITCH_CDR_ERROR_DIR=/var/spool/callcenter/json_cdr",
         "FREESWITCH_CDR_ERROR_DIR=/var/log/fs/cdr-errors")
    assert run([str(path)], env).returncode == 0
    assert read_tree(tree_dir, environ={}).variables["FREESWITCH_CDR_ERROR_DIR"] == (
        "/var/log/fs/cdr-errors")
