"""Settings: defaults, generated-and-kept secrets, and clear errors for bad values."""

from __future__ import annotations

import json
import stat

import pytest

from callcenter.config import SETTINGS, ConfigError, Settings


def test_defaults(tmp_path):
    s = Settings.from_env({"CALLCENTER_INSTANCE_DIR": str(tmp_path)})
    assert s.database_url == f"sqlite:///{tmp_path}/callcenter.db"
    assert (s.http_host, s.http_port) == ("127.0.0.1", 8080)
    assert s.public_url == "http://127.0.0.1:8080"
    assert s.simulated and s.esl_host is None and s.esl_port == 8021
    assert s.sip_domain == "127.0.0.1" and s.softphone_wss_url == "wss://127.0.0.1:7443"
    assert s.ice_servers == [] and s.gateway == "carrier" and s.outbound_caller_id is None
    assert s.recordings_dir == tmp_path / "recordings"
    assert s.media_dir == tmp_path / "media"


def test_media_dir(tmp_path):
    s = Settings.from_env({"CALLCENTER_INSTANCE_DIR": str(tmp_path),
                           "CALLCENTER_MEDIA_DIR": str(tmp_path / "sounds")})
    assert s.media_dir == tmp_path / "sounds"


def test_generated_secrets_are_kept_private_and_stable(tmp_path):
    first = Settings.from_env({"CALLCENTER_INSTANCE_DIR": str(tmp_path)})
    again = Settings.from_env({"CALLCENTER_INSTANCE_DIR": str(tmp_path)})
    assert len(first.secret_key) >= 32 and first.secret_key == again.secret_key
    assert first.freeswitch_http_password == again.freeswitch_http_password
    path = tmp_path / "secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["secret_key"] == first.secret_key
    other = tmp_path / "other"
    assert Settings.from_env({"CALLCENTER_INSTANCE_DIR": str(other)}).secret_key != first.secret_key


def test_explicit_secrets_write_nothing(tmp_path):
    s = Settings.from_env({"CALLCENTER_INSTANCE_DIR": str(tmp_path),
                           "CALLCENTER_SECRET_KEY": "k" * 40,
                           "CALLCENTER_FREESWITCH_HTTP_USER": "fs",
                           "CALLCENTER_FREESWITCH_HTTP_PASSWORD": "pw-from-the-environment"})
    assert (s.secret_key, s.freeswitch_http_user, s.freeswitch_http_password) == (
        "k" * 40, "fs", "pw-from-the-environment")
    assert not (tmp_path / "secrets.json").exists()


def test_freeswitch_host_and_derived_values(tmp_path):
    s = Settings.from_env({"CALLCENTER_INSTANCE_DIR": str(tmp_path),
                           "CALLCENTER_ESL_HOST": "10.1.2.3",
                           "CALLCENTER_ESL_PASSWORD": "s3cret-of-this-switch",
                           "CALLCENTER_PUBLIC_URL": "https://cc.example.com/",
                           "CALLCENTER_ICE_SERVERS": '[{"urls": "stun:stun.example.com"}]'})
    assert not s.simulated and s.esl_password == "s3cret-of-this-switch"
    assert s.public_url == "https://cc.example.com" and s.secure_cookies
    assert s.sip_domain == "cc.example.com"
    assert s.softphone_wss_url == "wss://cc.example.com:7443"
    assert s.ice_servers == [{"urls": "stun:stun.example.com"}]


@pytest.mark.parametrize("env, message", [
    ({"CALLCENTER_ESL_HOST": "fs"}, "CALLCENTER_ESL_PASSWORD is not"),
    ({"CALLCENTER_ESL_HOST": "fs", "CALLCENTER_ESL_PASSWORD": "ClueCon"}, "well-known default"),
    ({"CALLCENTER_TRUSTED_PROXIES": "10.0.0.0/33"}, "CALLCENTER_TRUSTED_PROXIES: '10.0.0.0/33' is "
     "not an address or CIDR"),
    ({"CALLCENTER_TRUSTED_PROXIES": "proxy.example"}, "not an address or CIDR"),
    ({"CALLCENTER_LOGIN_LIMITS": "maybe"}, "CALLCENTER_LOGIN_LIMITS must be on or off"),
    ({"CALLCENTER_DATABASE_URL": "not a url"}, "not a database URL"),
    ({"CALLCENTER_DATABASE_URL": "mysql://u@h/db"}, "not supported"),
    ({"CALLCENTER_HTTP_BIND": "8080"}, "address:port"),
    ({"CALLCENTER_HTTP_BIND": "127.0.0.1:99999"}, "not a TCP port"),
    ({"CALLCENTER_ESL_PORT": "abc"}, "CALLCENTER_ESL_PORT"),
    ({"CALLCENTER_PUBLIC_URL": "ftp://x"}, "http(s) URL"),
    ({"CALLCENTER_ICE_SERVERS": "{"}, "not JSON"),
    ({"CALLCENTER_ICE_SERVERS": '["stun:x"]'}, "JSON list like"),
    ({"CALLCENTER_LOG_LEVEL": "LOUD"}, "CALLCENTER_LOG_LEVEL"),
    ({"CALLCENTER_CDR_SPOOL_DIR": "json_cdr"}, "CALLCENTER_CDR_SPOOL_DIR must be an absolute "
     "path (FreeSWITCH writes there too), not 'json_cdr'"),
    ({"CALLCENTER_SIM_CALLERS": "-0.5"}, "CALLCENTER_SIM_CALLERS: '-0.5': the rate must be above "
     "0 and at most 1000 calls per second"),
    ({"CALLCENTER_SIM_CALLERS": "lots"}, "CALLCENTER_SIM_CALLERS: 'lots' is not a number"),
    ({"CALLCENTER_TIMEZONE": "Europe/Nowhere"}, "CALLCENTER_TIMEZONE: 'Europe/Nowhere' is not a "
     "timezone"),
    ({"CALLCENTER_TIMEZONE": "../../etc/passwd"}, "is not a timezone"),
    ({"CALLCENTER_SIM_CALLERS": "0.25", "CALLCENTER_ESL_HOST": "fs",
      "CALLCENTER_ESL_PASSWORD": "s3cret-of-this-switch"},
     "CALLCENTER_SIM_CALLERS sends callers into the built-in simulator, which does not run when "
     "CALLCENTER_ESL_HOST is set"),
])
def test_bad_settings_are_named(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings.from_env({"CALLCENTER_INSTANCE_DIR": str(tmp_path), **env})


@pytest.mark.parametrize("name", ["CALLCENTER_SECRET_KEY", "CALLCENTER_ESL_PASSWORD",
                                  "CALLCENTER_FREESWITCH_HTTP_PASSWORD"])
@pytest.mark.parametrize("value, message", [
    ("ClueCon", "is ClueCon, FreeSWITCH's well-known default password"),
    ("CLUECON", "is ClueCon, FreeSWITCH's well-known default password"),
    ("cluecon", "is ClueCon, FreeSWITCH's well-known default password"),
    ("short", "is too short (5 characters): use a random value of at least 16"),
    ("fifteen-chars-x", "is too short (15 characters)"),
])
def test_weak_secrets_from_the_environment_are_refused(tmp_path, name, value, message):
    env = {"CALLCENTER_INSTANCE_DIR": str(tmp_path), "CALLCENTER_ESL_HOST": "10.1.2.3",
           "CALLCENTER_ESL_PASSWORD": "esl-password-long-enough", name: value}
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(env)
    assert str(refused.value).startswith(f"{name} {message}")
    assert not (tmp_path / "secrets.json").exists()


def test_secrets_of_sixteen_characters_are_accepted(tmp_path):
    s = Settings.from_env({"CALLCENTER_INSTANCE_DIR": str(tmp_path),
                           "CALLCENTER_SECRET_KEY": "k" * 16,
                           "CALLCENTER_FREESWITCH_HTTP_PASSWORD": "ClueCon-but-longer"})
    assert s.secret_key == "k" * 16 and s.freeswitch_http_password == "ClueCon-but-longer"


def test_generated_secrets_meet_the_rules(tmp_path):
    from callcenter.config import check_secret

    s = Settings.from_env({"CALLCENTER_INSTANCE_DIR": str(tmp_path)})
    check_secret("secret_key", s.secret_key)
    check_secret("freeswitch_http_password", s.freeswitch_http_password)


def test_trusted_proxies_and_login_limits(tmp_path):
    import ipaddress

    s = Settings.from_env({"CALLCENTER_INSTANCE_DIR": str(tmp_path),
                           "CALLCENTER_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8 ::1",
                           "CALLCENTER_LOGIN_LIMITS": "OFF"})
    assert s.trusted_proxies == tuple(ipaddress.ip_network(n)
                                      for n in ("127.0.0.1/32", "10.0.0.0/8", "::1/128"))
    assert s.login_limits is False
    defaults = Settings.from_env({"CALLCENTER_INSTANCE_DIR": str(tmp_path)})
    assert defaults.trusted_proxies == () and defaults.login_limits is True


def test_simulated_callers(tmp_path):
    base = {"CALLCENTER_INSTANCE_DIR": str(tmp_path)}
    assert Settings.from_env(base).sim_callers is None
    assert Settings.from_env({**base, "CALLCENTER_SIM_CALLERS": " 0.25 "}).sim_callers == 0.25


def test_site_timezone(tmp_path):
    base = {"CALLCENTER_INSTANCE_DIR": str(tmp_path)}
    assert Settings.from_env(base).timezone == "UTC"
    assert Settings.from_env({**base, "CALLCENTER_TIMEZONE": "Europe/Paris"}).timezone \
        == "Europe/Paris"


def test_readme_documents_every_setting():
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for name, _default, _text in SETTINGS:
        assert f"`{name}`" in readme, f"{name} missing from the README's settings table"


def test_a_customer_sent_back_to_its_queue_keeps_its_place_unless_turned_off(tmp_path):
    base = {"CALLCENTER_INSTANCE_DIR": str(tmp_path)}
    assert Settings.from_env(base).requeue_keeps_place is True
    off = Settings.from_env({**base, "CALLCENTER_REQUEUE_KEEPS_PLACE": "off"})
    assert off.requeue_keeps_place is False
    with pytest.raises(ConfigError, match="CALLCENTER_REQUEUE_KEEPS_PLACE"):
        Settings.from_env({**base, "CALLCENTER_REQUEUE_KEEPS_PLACE": "maybe"})


def test_website_visitors_details_are_kept_30_days_unless_the_operator_says(tmp_path):
    base = {"CALLCENTER_INSTANCE_DIR": str(tmp_path)}
    assert Settings.from_env(base).guest_calls_keep_days == 30
    kept = Settings.from_env({**base, "CALLCENTER_GUEST_CALLS_KEEP_DAYS": "7"})
    assert kept.guest_calls_keep_days == 7
    for bad in ("0", "-1", "a week"):
        with pytest.raises(ConfigError, match="CALLCENTER_GUEST_CALLS_KEEP_DAYS: .* from 1 to"):
            Settings.from_env({**base, "CALLCENTER_GUEST_CALLS_KEEP_DAYS": bad})


STANDBY_READY = {"CALLCENTER_STANDBY": "on",
                 "CALLCENTER_DATABASE_URL": "postgresql+psycopg://cc@db.example/cc",
                 "CALLCENTER_ESL_HOST": "fs.example", "CALLCENTER_ESL_PASSWORD": "x" * 20,
                 "CALLCENTER_SECRET_KEY": "k" * 32, "CALLCENTER_FREESWITCH_HTTP_USER": "fs",
                 "CALLCENTER_FREESWITCH_HTTP_PASSWORD": "p" * 20}


def test_a_standby_capable_controller_shares_every_secret(tmp_path):
    env = {**STANDBY_READY, "CALLCENTER_INSTANCE_DIR": str(tmp_path)}
    assert Settings.from_env(env).standby
    for name in ("CALLCENTER_SECRET_KEY", "CALLCENTER_FREESWITCH_HTTP_PASSWORD"):
        without = {k: v for k, v in env.items() if k != name}
        with pytest.raises(ConfigError, match=f"needs {name} set in the environment"):
            Settings.from_env(without)
    assert not (tmp_path / "secrets.json").exists(), "nothing generated for a standby"


@pytest.mark.parametrize(("change", "message"), [
    ({"CALLCENTER_DATABASE_URL": "sqlite:////tmp/cc.db"}, "needs PostgreSQL"),
    ({"CALLCENTER_ESL_HOST": ""}, "needs FreeSWITCH"),
    ({"CALLCENTER_STANDBY": "maybe"}, "CALLCENTER_STANDBY"),
])
def test_a_standby_needs_postgresql_and_freeswitch(tmp_path, change, message):
    env = {**STANDBY_READY, "CALLCENTER_INSTANCE_DIR": str(tmp_path), **change}
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


@pytest.mark.parametrize(("domain", "given", "realm"), [
    ("cc.example.com", None, "guests.cc.example.com"),
    ("127.0.0.1", None, "guests.callcenter.invalid"),     # not guests.127.0.0.1: no host name
    ("127.0.0.1", "Guests.PBX.example.test", "guests.pbx.example.test"),
])
def test_the_guest_realm_is_a_host_name(tmp_path, domain, given, realm):
    env = {"CALLCENTER_INSTANCE_DIR": str(tmp_path), "CALLCENTER_SIP_DOMAIN": domain}
    if given:
        env["CALLCENTER_GUEST_REALM"] = given
    assert Settings.from_env(env).guest_realm == realm


@pytest.mark.parametrize("given", ["guests.10.0.0.1", "cc.example.com", "guests", "a_b.example"])
def test_a_guest_realm_that_cannot_be_one_is_refused(tmp_path, given):
    with pytest.raises(ConfigError, match="CALLCENTER_GUEST_REALM"):
        Settings.from_env({"CALLCENTER_INSTANCE_DIR": str(tmp_path),
                           "CALLCENTER_SIP_DOMAIN": "cc.example.com",
                           "CALLCENTER_GUEST_REALM": given})
