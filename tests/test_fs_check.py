"""`callcenter fs-check DIR`: the shipped tree passes, and each broken copy fails with its own
message, pointing at the file and line that is wrong."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from callcenter.config import Settings
from callcenter.fsconf import site
from callcenter.fsconf.checks import check_tree
from callcenter.fsconf.preprocess import read_tree
from tests.freeswitch.support import (
    ESL_PASSWORD,
    controller_env,
    copy_tree,
    edit,
    line_of,
    make_certificate,
)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> str:
    return make_certificate(tmp_path_factory.mktemp("cert")).read_text()


@pytest.fixture
def tree(tmp_path) -> Path:
    return copy_tree(tmp_path / "conf")


@pytest.fixture
def certs(tmp_path, certificate) -> Path:
    directory = tmp_path / "certs"
    directory.mkdir()
    (directory / "wss.pem").write_text(certificate)
    return directory


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """The controller's environment, which FreeSWITCH shares (the shipped site.xml reads it)."""
    return controller_env(tmp_path)


ESL = "autoload_configs/event_socket.conf.xml"
CURL = "autoload_configs/xml_curl.conf.xml"
CDR = "autoload_configs/json_cdr.conf.xml"
INTERNAL = "sip_profiles/internal.xml"


def problems(tree: Path, env: dict[str, str], certs: Path, fs_environ=None) -> list[str]:
    settings = Settings.from_env(env)
    found = check_tree(tree, settings, env if fs_environ is None else fs_environ, certs)
    return [str(p) for p in found]


def test_the_shipped_tree_passes(tree, env, certs):
    assert problems(tree, env, certs) == []


@pytest.mark.parametrize("spool", [None, "/var/spool/callcenter/json_cdr"])
def test_the_shipped_tree_as_fs_config_writes_it_passes(tree, env, certs, spool):
    """site.xml written from the settings needs nothing from FreeSWITCH's environment."""
    if spool:
        env = {**env, "CALLCENTER_CDR_SPOOL_DIR": spool}
    (tree / "site.xml").write_text(site.render(Settings.from_env(env)))
    assert problems(tree, env, certs, fs_environ={}) == []


def test_a_standby_pair_needs_both_controllers_bound(tree, env, certs):
    """With CALLCENTER_PEER_HTTP_URL, FreeSWITCH must ask both controllers: the shipped tree
    does; one that asks only this controller is told what to add."""
    env = {**env, "CALLCENTER_PEER_HTTP_URL": "http://10.0.0.6:8080"}
    (tree / "site.xml").write_text(site.render(Settings.from_env(env)))
    assert problems(tree, env, certs, fs_environ={}) == []
    _both(_no_binding("directory-peer"),
          _edit(CDR, "PEER_HTTP_URL}", "FREESWITCH_HTTP_URL}"))(tree, certs)
    found = problems(tree, env, certs, fs_environ={})
    assert found == [
        f"{CURL}:{line_of(tree / CURL, '<configuration')}: no binding asks the standby pair's "
        "other controller for the directory: add gateway-url "
        'http://10.0.0.6:8080/freeswitch/directory with bindings="directory" '
        "(CALLCENTER_PEER_HTTP_URL)",
        f"{CDR}:{line_of(tree / CDR, '<configuration')}: json_cdr never posts to "
        "http://10.0.0.6:8080/freeswitch/cdr: add a url param for it (each controller of a "
        "standby pair gets one)"]


def test_shipped_secrets_without_the_environment_are_random_not_default(tree, env, certs):
    """Started without the controller's environment, the shipped tree holds random secrets
    (never ClueCon), and fs-check says so for each one."""
    found = problems(tree, env, certs, fs_environ={})
    advice = "in FreeSWITCH's environment as well, or write site.xml with `callcenter fs-config`"
    esl_line = line_of(tree / ESL, '"password"')
    assert found == [
        f"{ESL}:{esl_line}: the event socket password: random at each start (site.xml); set "
        f"CALLCENTER_ESL_PASSWORD {advice}",
        *[f"{path}:{line}: the {what} credentials: random at each start "
          f"(site.xml); set CALLCENTER_FREESWITCH_HTTP_USER/_PASSWORD {advice}"
          for path, line, what in (
              # the directory's binding, the dialplan's, then the standby pair's other two
              *[(CURL, line_of(tree / CURL, "gateway-credentials", n), "xml_curl")
                for n in range(4)],
              (CDR, line_of(tree / CDR, '"cred"'), "json_cdr"))],
    ]


def _drop(path: str, text: str):
    def mutate(root: Path, certs: Path) -> None:
        edit(root / path, text, "")
    return mutate


def _edit(path: str, old: str, new: str):
    def mutate(root: Path, certs: Path) -> None:
        edit(root / path, old, new)
    return mutate


def _drop_file(path: str):
    def mutate(root: Path, certs: Path) -> None:
        (root / path).unlink()
    return mutate


def _both(*mutations):
    def mutate(root: Path, certs: Path) -> None:
        for mutation in mutations:
            mutation(root, certs)
    return mutate


def _no_certificate(root: Path, certs: Path) -> None:
    (certs / "wss.pem").unlink()


def _in_binding(name: str, old: str, new: str):
    """Edit one binding of xml_curl.conf.xml (the standby pair's repeat the same lines)."""
    def mutate(root: Path, certs: Path) -> None:
        path = root / CURL
        text = path.read_text()
        start = text.index(f'<binding name="{name}">')
        end = text.index("</binding>", start)
        assert text[start:end].count(old) == 1, old
        path.write_text(text[:start] + text[start:end].replace(old, new) + text[end:])
    return mutate


def _no_binding(name: str):
    def mutate(root: Path, certs: Path) -> None:
        path = root / CURL
        path.write_text(re.sub(rf'<binding name="{name}">.*?</binding>', "", path.read_text(),
                               flags=re.S))
    return mutate


def _certificate_without_key(root: Path, certs: Path) -> None:
    pem = (certs / "wss.pem").read_text()
    (certs / "wss.pem").write_text(pem[:pem.index("-----BEGIN PRIVATE KEY")])


PUBLIC_ESL = _edit("site.xml", "FREESWITCH_ESL_LISTEN_IP=127.0.0.1",
                   "FREESWITCH_ESL_LISTEN_IP=0.0.0.0")
CANDIDATES = ('      <param name="apply-candidate-acl" value="localnet.auto"/>\n'
              '      <param name="apply-candidate-acl" value="wan_v4.auto"/>\n'
              '      <param name="apply-candidate-acl" value="rfc1918.auto"/>\n'
              '      <param name="apply-candidate-acl" value="loopback.auto"/>\n')

# id, how to break the copy, (file, text on the line) the problem points at, what it says
BROKEN = [
    ("not-well-formed", _edit(ESL, "</settings>", "</setting>"), (ESL, "</setting>"),
     "not well-formed XML: mismatched tag"),
    ("include-missing", lambda root, certs: (root / "dids.xml").unlink(),
     ("dialplan/public.xml", "../dids.xml"), "includes ../dids.xml, which does not exist"),
    ("guests-context-missing", _drop_file("dialplan/guests.xml"), ("freeswitch.xml",
     '<section name="dialplan"'), "no dialplan context named guests"),
    ("guests-context-bridges", _edit("dialplan/guests.xml", '<action application="park"/>',
                                     '<action application="bridge" data="user/1001"/>'),
     ("dialplan/guests.xml", "user/1001"), "the guests context runs bridge"),
    ("guests-context-parks-anything", _edit("dialplan/guests.xml", 'expression="^call$"',
                                            'expression="^.*$"'),
     ("dialplan/guests.xml", '<action application="park"/>'),
     "parks a destination other than `call`"),
    ("internal-profile-without-vp8",
     _edit("globals.xml", "internal_inbound_codec_prefs=OPUS,PCMU,VP8",
           "internal_inbound_codec_prefs=OPUS,PCMU"),
     (INTERNAL, '<profile name="internal">'), "no VP8"),
    ("external-profile-with-vp8", _edit("sip_profiles/external.xml",
                                        '"inbound-codec-prefs" value="$${codec_prefs}"',
                                        '"inbound-codec-prefs" value="OPUS,VP8"'),
     ("sip_profiles/external.xml", '<profile name="external">'), "stay audio-only"),
    ("include-glob-empty", _edit("freeswitch.xml", "dialplan/*.xml", "dialplans/*.xml"),
     ("freeswitch.xml", "dialplans/*.xml"), "includes dialplans/*.xml, which matches no file"),
    ("include-tag-shares-a-line", _edit("dids.xml", "  </extension>\n</include>",
                                        "  </extension></include>"),
     ("dialplan/public.xml", "</context>"), "the assembled document is not well-formed XML"),
    ("variable-unset", _edit(INTERNAL, '"sip-ip" value="$${FREESWITCH_LOCAL_IP}"',
                             '"sip-ip" value="$${FREESWITCH_LOCAL_IPP}"'),
     (INTERNAL, "FREESWITCH_LOCAL_IPP"),
     "$${FREESWITCH_LOCAL_IPP} is not set before this line: FreeSWITCH reads it as empty"),
    ("module-missing", _drop("autoload_configs/modules.conf.xml",
                             '    <load module="mod_json_cdr"/>\n'),
     ("autoload_configs/modules.conf.xml", "<configuration"),
     "mod_json_cdr is not loaded: CDRs reach the controller through it"),
    ("conference-module-missing", _drop("autoload_configs/modules.conf.xml",
                                        '    <load module="mod_conference"/>\n'),
     ("autoload_configs/modules.conf.xml", "<configuration"),
     "mod_conference is not loaded: three-way calls: a consult's conference room"),
    ("event-socket-public-without-acl",
     _both(PUBLIC_ESL, _drop(ESL, '    <param name="apply-inbound-acl" value="esl"/>\n')),
     (ESL, "<configuration"), "the event socket listens on 0.0.0.0, reachable from other "
                              "machines, with no apply-inbound-acl naming who may connect"),
    ("event-socket-acl-lets-everyone-in",
     _both(PUBLIC_ESL, _edit("site.xml", "ALLOWED_CIDR=127.0.0.1/32", "ALLOWED_CIDR=0.0.0.0/0")),
     (ESL, "apply-inbound-acl"), "the event socket listens on 0.0.0.0 and its ACL 'esl' "
                                 "allows 0.0.0.0/0"),
    ("event-socket-acl-undefined", _edit(ESL, 'value="esl"', 'value="controller"'),
     (ESL, "apply-inbound-acl"), "apply-inbound-acl names 'controller', which acl.conf.xml "
                                 "does not define"),
    ("event-socket-default-password",
     _edit(ESL, 'value="$${CALLCENTER_ESL_PASSWORD}"', 'value="ClueCon"'),
     (ESL, '"password"'), "the event socket password is FreeSWITCH's well-known default"),
    ("event-socket-empty-password", _edit(ESL, 'value="$${CALLCENTER_ESL_PASSWORD}"', 'value=""'),
     (ESL, '"password"'), "the event socket password is empty: FreeSWITCH then uses its "
                          "well-known default ClueCon"),
    ("event-socket-not-configured",
     lambda root, certs: (root / ESL).unlink(), None,
     'no <configuration name="event_socket.conf"> (usually '
     'autoload_configs/event_socket.conf.xml): the controller cannot connect'),
    ("carrier-registers-without-credentials",
     _edit("site.xml", "FREESWITCH_CARRIER_REGISTER=false", "FREESWITCH_CARRIER_REGISTER=true"),
     ("sip_profiles/external.xml", "<gateway name"),
     "gateway 'carrier' registers with an empty username or password"),
    ("example-password-left-over",
     _edit("site.xml", "</include>",
           '  <X-PRE-PROCESS cmd="set" data="default_password=1234"/>\n</include>'),
     None, "default_password is 1234, FreeSWITCH's example password: remove it"),
    ("wss-certificate-missing", _no_certificate, (INTERNAL, "tls-cert-dir"),
     "no WSS certificate in"),
    ("wss-certificate-without-key", _certificate_without_key, (INTERNAL, "tls-cert-dir"),
     "wss.pem is not a certificate with its private key"),
    ("xml-curl-url", _edit(CURL, "FREESWITCH_HTTP_URL}/freeswitch/directory",
                           "FREESWITCH_HTTP_URL}/directory"),
     (CURL, 'FREESWITCH_HTTP_URL}/directory"'),
     "the directory URL is http://127.0.0.1:8080/directory, not "
     "http://127.0.0.1:8080/freeswitch/directory"),
    ("xml-curl-dialplan-url", _edit(CURL, "FREESWITCH_HTTP_URL}/freeswitch/dialplan",
                                    "FREESWITCH_HTTP_URL}/freeswitch/directory"),
     (CURL, 'directory" bindings="dialplan"'),
     "the dialplan URL is http://127.0.0.1:8080/freeswitch/directory, not "
     "http://127.0.0.1:8080/freeswitch/dialplan"),
    ("xml-curl-one-binding-for-both", _in_binding("directory", 'bindings="directory"',
                                                  'bindings="directory|dialplan"'),
     (CURL, 'directory|dialplan'), "one binding fetches directory and dialplan, which the "
                                     "controller serves each at its own URL"),
    ("xml-curl-fetches-configuration", _in_binding("dialplan", 'bindings="dialplan"',
                                                   'bindings="dialplan|configuration"'),
     (CURL, 'dialplan|configuration'), "the binding also fetches configuration from the "
                                   "controller, which serves only the directory and the dialplan"),
    ("xml-curl-no-directory", _both(_no_binding("directory"), _no_binding("directory-peer")),
     (CURL, "<configuration"), "no binding serves the directory from the controller"),
    ("xml-curl-no-dialplan", _both(_no_binding("dialplan"), _no_binding("dialplan-peer")),
     (CURL, "<configuration"),
     "no binding serves the dialplan from the controller (the public context from the inbound "
     "numbers table"),
    ("xml-curl-no-credentials",
     _in_binding("directory", '      <param name="gateway-credentials" value="$${CALLCENTER_'
                              'FREESWITCH_HTTP_USER}:$${CALLCENTER_FREESWITCH_HTTP_PASSWORD}"/>\n',
                 ""),
     (CURL, '<binding name="directory"'), "the directory binding has no gateway-credentials"),
    ("xml-curl-digest", _in_binding("directory", 'value="basic"', 'value="digest"'),
     (CURL, '<binding name="directory"'), "auth-scheme is digest: the controller expects basic"),
    ("json-cdr-url", _edit(CDR, "FREESWITCH_HTTP_URL}/freeswitch/cdr", "FREESWITCH_HTTP_URL}/cdr"),
     (CDR, 'FREESWITCH_HTTP_URL}/cdr'),
     "the CDR URL is http://127.0.0.1:8080/cdr, not http://127.0.0.1:8080/freeswitch/cdr"),
    ("json-cdr-empty-credentials",
     _edit(CDR, 'value="$${CALLCENTER_FREESWITCH_HTTP_USER}:$${CALLCENTER_FREESWITCH_HTTP_'
                'PASSWORD}"', 'value=""'),
     (CDR, '"cred"'), "json_cdr credentials have an empty user or password"),
    ("json-cdr-encoded", _edit(CDR, '"encode" value="false"', '"encode" value="base64"'),
     (CDR, "<configuration"), "encode must be false"),
    ("json-cdr-100-continue", _edit(CDR, '    <param name="timeout" value="5"/>\n',
                                    '    <param name="timeout" value="5"/>\n    <param name='
                                    '"disable-100-continue" value="true"/>\n'),
     (CDR, "<configuration"), "disable-100-continue is true: in FreeSWITCH 1.10 it drops the "
                              "Content-Type header"),
    ("json-cdr-a-legs-only", _edit(CDR, '"log-b-leg" value="true"', '"log-b-leg" value="false"'),
     (CDR, "<configuration"), "log-b-leg is false"),
    ("json-cdr-no-retries", _edit(CDR, '"retries" value="2"', '"retries" value="0"'),
     (CDR, "<configuration"), "retries is 0"),
    ("json-cdr-no-error-directory",
     _drop(CDR, '    <param name="err-log-dir" value="$${FREESWITCH_CDR_ERROR_DIR}"/>\n'),
     (CDR, "<configuration"), "err-log-dir is not set"),
    ("internal-no-ws-binding", _drop(INTERNAL, '      <param name="ws-binding" value="$${'
                                               'FREESWITCH_LOCAL_IP}:5066"/>\n'),
     (INTERNAL, '<profile name="internal">'), "the internal profile has no ws-binding"),
    ("internal-no-wss-binding",
     _drop(INTERNAL, '      <param name="wss-binding" value="$${FREESWITCH_LOCAL_IP}:$${'
                     'CALLCENTER_SOFTPHONE_WSS_PORT}"/>\n'),
     (INTERNAL, '<profile name="internal">'), "the internal profile has no wss-binding"),
    ("internal-no-candidate-acl", _drop(INTERNAL, CANDIDATES), (INTERNAL, '<profile name='),
     "no apply-candidate-acl: FreeSWITCH falls back to wan.auto"),
    ("internal-wan-candidates-only",
     _edit(INTERNAL, CANDIDATES, '      <param name="apply-candidate-acl" value="wan.auto"/>\n'),
     (INTERNAL, '<profile name='), "apply-candidate-acl is only wan.auto, which drops"),
    ("internal-profile-missing", lambda root, certs: (root / INTERNAL).unlink(), None,
     "no sofia profile named internal"),
    ("dial-string-verto", _edit("directory/domain.xml", "${dialed_domain})}\"/>",
                                "${dialed_domain})},${verto_contact(${dialed_user}@"
                                "${dialed_domain})}\"/>"),
     ("directory/domain.xml", "name=\"dial-string\""),
     "the dial-string calls ${verto_contact()} from mod_verto, which is not loaded"),
    ("dial-string-unknown-endpoint",
     _edit("directory/domain.xml", "${sofia_contact(*/${dialed_user}@${dialed_domain})}",
           "skinny/internal/${dialed_user}"),
     ("directory/domain.xml", "name=\"dial-string\""),
     "the dial-string dials skinny/..., an endpoint fs-check does not know"),
    ("dial-string-missing", _drop("directory/domain.xml", "      <param name=\"dial-string\" "
                                  "value=\"{^^:sip_invite_domain=${dialed_domain}:presence_id="
                                  "${dialed_user}@${dialed_domain}}${sofia_contact(*/${dialed_"
                                  "user}@${dialed_domain})}\"/>\n"),
     ("directory/domain.xml", "<domain name"), "has no dial-string"),
    ("carrier-calls-reach-a-gateway",
     _edit("dids.xml", '<action application="park"/>',
           '<action application="bridge" data="sofia/gateway/carrier/15551234567"/>'),
     ("dids.xml", 'application="bridge"'),
     "context 'public' takes calls nobody authenticated (profile external) and runs bridge"),
    ("stun-value", _edit(INTERNAL, '"ext-rtp-ip" value="$${FREESWITCH_PUBLIC_IP}"',
                         '"ext-rtp-ip" value="stun:stun.example.com"'),
     (INTERNAL, "ext-rtp-ip"), "ext-rtp-ip asks a STUN server on the Internet"),
    ("stun-set", _edit("site.xml", "</include>", '  <X-PRE-PROCESS cmd="stun-set" '
                       'data="public_ip=stun:stun.example.com"/>\n</include>'),
     ("site.xml", "stun-set"), "stun-set asks a STUN server on the Internet for public_ip"),
]


@pytest.mark.parametrize("mutate, at, message", [case[1:] for case in BROKEN],
                         ids=[case[0] for case in BROKEN])
def test_each_broken_copy_fails_with_its_message(tree, env, certs, mutate, at, message):
    mutate(tree, certs)
    found = problems(tree, env, certs)
    assert len(found) == 1, found
    where = f"{at[0]}:{line_of(tree / at[0], at[1])}: " if at else ""
    assert found[0].startswith(where) and message in found[0], found[0]


# The site file as fs-config wrote it for one controller, then the controller's settings changed.
CHANGED = [
    ("esl-password", {"CALLCENTER_ESL_PASSWORD": "another-Secret-1"},
     ["the event socket password does not match CALLCENTER_ESL_PASSWORD"]),
    ("esl-port", {"CALLCENTER_ESL_PORT": "8022"},
     ["the event socket listens on port 8021 but the controller connects to "
      "CALLCENTER_ESL_PORT=8022"]),
    ("esl-host", {"CALLCENTER_ESL_HOST": "10.9.8.7"},
     ["the event socket listens on 127.0.0.1 but the controller connects to "
      "CALLCENTER_ESL_HOST=10.9.8.7"]),
    ("http-password", {"CALLCENTER_FREESWITCH_HTTP_PASSWORD": "another-Secret-2"},
     # each of the four xml_curl bindings (the standby pair's two included), then json_cdr
     ["the xml_curl credentials do not match the controller's "
      "CALLCENTER_FREESWITCH_HTTP_USER/_PASSWORD"] * 4 + [
      "the json_cdr credentials do not match the controller's "
      "CALLCENTER_FREESWITCH_HTTP_USER/_PASSWORD"]),
    ("http-url", {"CALLCENTER_FREESWITCH_HTTP_URL": "http://10.0.0.5:8080"},
     # each URL twice: the site file names the old URL as the standby pair's other one too
     ["the directory URL is http://127.0.0.1:8080/freeswitch/directory, not "
      "http://10.0.0.5:8080/freeswitch/directory",
      "the dialplan URL is http://127.0.0.1:8080/freeswitch/dialplan, not "
      "http://10.0.0.5:8080/freeswitch/dialplan"] * 2 + [
      "the CDR URL is http://127.0.0.1:8080/freeswitch/cdr, not "
      "http://10.0.0.5:8080/freeswitch/cdr"] * 2),
    ("gateway", {"CALLCENTER_GATEWAY": "trunk2"},
     ["no sofia gateway named 'trunk2' (CALLCENTER_GATEWAY)"]),
    ("sip-domain", {"CALLCENTER_SIP_DOMAIN": "cc.example.com"},
     ["the directory has no domain 'cc.example.com' (CALLCENTER_SIP_DOMAIN)",
      "force-register-domain is 127.0.0.1, not CALLCENTER_SIP_DOMAIN=cc.example.com"]),
    ("wss-port", {"CALLCENTER_SOFTPHONE_WSS_URL": "wss://127.0.0.1/"},
     ["wss-binding is on port 7443 but CALLCENTER_SOFTPHONE_WSS_URL says 443"]),
    ("cdr-spool", {"CALLCENTER_CDR_SPOOL_DIR": "/var/spool/callcenter/json_cdr"},
     ["not CALLCENTER_CDR_SPOOL_DIR /var/spool/callcenter/json_cdr: the controller would never "
      "load the CDRs FreeSWITCH could not post"]),
]


@pytest.mark.parametrize("changes, messages", [case[1:] for case in CHANGED],
                         ids=[case[0] for case in CHANGED])
def test_settings_that_no_longer_match_the_site_file(tree, env, certs, tmp_path, changes,
                                                     messages):
    (tree / "site.xml").write_text(site.render(Settings.from_env(env)))
    changed = {**env, **changes}
    found = problems(tree, changed, certs, fs_environ={})
    assert len(found) == len(messages), found
    for problem, message in zip(found, messages, strict=True):
        assert message in problem
        assert ESL_PASSWORD not in problem and "Secret" not in problem  # never a secret


def test_the_certificate_can_be_wss_crt_and_wss_key(tree, env, tmp_path, certificate):
    certs = tmp_path / "split"
    certs.mkdir()
    key_at = certificate.index("-----BEGIN PRIVATE KEY")
    (certs / "wss.crt").write_text(certificate[:key_at])
    (certs / "wss.key").write_text(certificate[key_at:])
    assert problems(tree, env, certs) == []


def test_a_cert_dir_left_to_freeswitch_needs_certs_dir(tree, env):
    found = check_tree(tree, Settings.from_env(env), env, certs_dir=None)
    assert [p.message for p in found] == [
        "the WSS certificate's directory is FreeSWITCH's certs_dir: give it to fs-check with "
        "--certs-dir (FreeSWITCH's -certs) or set FREESWITCH_CERT_DIR to a path"]


def test_the_preprocessor_reads_lines_the_way_freeswitch_does(tmp_path):
    """Directives act even inside comments; other lines naming the directive vanish, as do
    lines with the include tag or a processing instruction."""
    root = tmp_path / "t"
    root.mkdir()
    (root / "freeswitch.xml").write_text(
        '<?xml version="1.0"?>\n'
        '<document type="freeswitch/xml">\n'
        '  <!-- <X-PRE-PROCESS cmd="set" data="IN_COMMENT=yes"/> -->\n'
        '  <X-PRE-PROCESS cmd="set" data="A = one "/>\n'
        '  <X-PRE-PROCESS cmd="set" data="B=$${A}-two"/>\n'
        '  <X-PRE-PROCESS cmd="env-set" data="C=$FROM_ENV"/>\n'
        '  <X-PRE-PROCESS cmd="env-set" data="D=$NOT_IN_ENV"/>\n'
        '  <X-PRE-PROCESS cmd="include" data="parts/*.xml"/>\n'
        '</document>\n')
    (root / "parts").mkdir()
    (root / "parts" / "a.xml").write_text(
        '<include>\n'
        '  <section name="$${B}" value="$${C}"/>\n'
        '  <!-- this line mentions X-PRE-PROCESS and goes; so would the next -->\n'
        '</include>\n')
    tree = read_tree(root, {"FROM_ENV": "env value"})
    assert tree.problems == []
    assert {k: tree.variables[k] for k in ("IN_COMMENT", "A", "B", "C")} == {
        "IN_COMMENT": "yes", "A": "one", "B": "one-two", "C": "env value"}
    assert "D" not in tree.variables
    section = tree.section("one-two")
    assert section is not None and section.get("value") == "env value"
    assert tree.where(section) == "parts/a.xml:2"


# A subprocess: the tests that call it are marked slow.
def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTER_")}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "callcenter.cli", *args], capture_output=True,
                          text=True, env=full, timeout=60)


@pytest.mark.slow
def test_cli_passes_the_shipped_tree_and_fails_a_broken_one(tree, env, certs):
    ok = _run(["fs-check", str(tree), "--certs-dir", str(certs)], env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout == f"{tree}: no problems found\n"

    edit(tree / ESL, 'value="$${CALLCENTER_ESL_PASSWORD}"', 'value="ClueCon"')
    (certs / "wss.pem").unlink()
    bad = _run(["fs-check", str(tree), "--certs-dir", str(certs)], env)
    assert bad.returncode == 1
    lines = bad.stdout.splitlines()
    assert len(lines) == 2 and all(line.startswith(f"{tree}/") for line in lines), bad.stdout
    assert "well-known default" in lines[0] and "no WSS certificate" in lines[1]
    assert bad.stderr == f"2 problem(s) in {tree}\n"


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["fs-check", "/nonexistent/conf"], "/nonexistent/conf is not a directory: give the one "
                                        "holding freeswitch.xml"),
    (["fs-check", ".", "--certs-dir", "/nonexistent/certs"], "--certs-dir /nonexistent/certs "
                                                               "is not a directory"),
])
def test_cli_refuses_what_it_cannot_check(env, args, message):
    result = _run(args, env)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == f"callcenter: error: {message}\n"


@pytest.mark.slow
def test_cli_on_a_directory_that_is_no_configuration(env, tmp_path):
    result = _run(["fs-check", str(tmp_path)], env)
    assert result.returncode == 1
    assert result.stdout == (f"{tmp_path}: no freeswitch.xml here: not a FreeSWITCH "
                             "configuration directory\n")
