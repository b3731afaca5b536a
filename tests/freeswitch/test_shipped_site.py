"""The shipped tree exactly as it is in the repository, in a real FreeSWITCH (skipped unless
CALLCENTER_TEST_FREESWITCH names its binary): given the controller's environment it agrees with
the controller; without it, its secrets are random - never FreeSWITCH's well-known default."""

from __future__ import annotations

import os
import re
from contextlib import contextmanager

import pytest

from callcenter.esl.connection import AuthenticationFailed, Connection
from tests.freeswitch.support import (
    ESL_PASSWORD,
    HTTP_PASSWORD,
    HTTP_USER,
    SHIPPED,
    controller_env,
    make_certificate,
)
from tests.freeswitch.switch import FreeSwitch, StandIn, free_port, freeswitch_binary

pytestmark = pytest.mark.slow


@contextmanager
def shipped_switch(tmp_path, environ: dict[str, str]):
    binary = freeswitch_binary()
    certs = tmp_path / "certs"
    make_certificate(certs)
    standin = StandIn("127.0.0.1", "unused")
    standin.start()
    base = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    environ = {**base, **environ, "CALLCENTER_FREESWITCH_HTTP_URL": standin.url}
    switch = FreeSwitch(binary, SHIPPED, tmp_path, certs, environ)
    try:
        switch.start()
        yield switch, standin
    finally:
        switch.stop()
        standin.stop()


def connect(port: int, password: str) -> None:
    connection = Connection("127.0.0.1", port, password)
    try:
        connection.connect()
        assert connection.api("status").startswith("UP ")
    finally:
        connection.close()


def test_with_the_controllers_environment_both_sides_agree(tmp_path):
    port = free_port()
    env = controller_env(tmp_path, CALLCENTER_ESL_PORT=str(port))
    with shipped_switch(tmp_path, env) as (switch, standin):
        lookup = standin.wait_for(lambda r: r.form.get("purpose") == "gateways")
        assert lookup.basic_credentials() == f"{HTTP_USER}:{HTTP_PASSWORD}"
        connect(port, ESL_PASSWORD)
        assert switch.log_entries("ERR", "CRIT", "ALERT") == []


def test_without_it_the_secrets_are_random(tmp_path):
    port = free_port()
    with shipped_switch(tmp_path, {"CALLCENTER_ESL_PORT": str(port)}) as (switch, standin):
        lookup = standin.wait_for(lambda r: r.form.get("purpose") == "gateways")
        user, _, password = lookup.basic_credentials().partition(":")
        assert user == "freeswitch" and re.fullmatch(r"[0-9a-f]{48}", password), password
        for guess in ("ClueCon", ESL_PASSWORD):
            with pytest.raises(AuthenticationFailed):
                connect(port, guess)
        assert switch.log_entries("ERR", "CRIT", "ALERT") == []
