"""`callcenter fs-check DIR`: what would stop a configuration tree working with this controller.

Each check reads the tree as FreeSWITCH will (`preprocess.read_tree`) and yields one `Problem` per
finding, pointing at the file and line. Nothing here prints a secret: mismatches name the
setting, never its value.
"""

from __future__ import annotations

import ipaddress
import re
import ssl
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from xml.etree import ElementTree as ET

from ..config import Settings
from .preprocess import Problem, Tree, deferred_names, param, param_element, params, read_tree
from .site import wss_port

# Every module the product needs, and what breaks without it.
REQUIRED_MODULES: dict[str, str] = {
    "mod_console": "the console log",
    "mod_logfile": "the log file",
    "mod_xml_curl": "agents' SIP credentials and the inbound numbers come from the controller "
                    "through it",
    "mod_event_socket": "the controller's link to FreeSWITCH",
    "mod_json_cdr": "CDRs reach the controller through it",
    "mod_sofia": "SIP: phones, browsers and the carrier",
    "mod_loopback": "loopback legs",
    "mod_commands": "the api commands the controller sends",
    "mod_dptools": "park, bridge, playback and the other applications calls run",
    "mod_conference": "three-way calls: a consult's conference room",
    "mod_hash": "hash and limit",
    "mod_db": "db and limit",
    "mod_expr": "expressions in the dialplan",
    "mod_dialplan_xml": "the dialplan",
    "mod_opus": "OPUS, the browsers' codec",
    "mod_sndfile": "recordings and .wav files",
    "mod_native_file": "native-format files",
    "mod_tone_stream": "ringback and hold tones",
    "mod_local_stream": "music on hold from files",
    "mod_say_en": "English number and date phrases",
}
# Who provides each dial-string function and endpoint an operator is likely to write.
API_MODULES: dict[str, str] = {
    **dict.fromkeys(("sofia_contact", "sofia_username_of", "sofia_count_reg", "sofia_dig",
                     "sofia_presence_data", "sofia_gateway_data"), "mod_sofia"),
    "verto_contact": "mod_verto",
    **dict.fromkeys(("user_data", "regex", "cond", "url_encode", "url_decode", "md5", "expand",
                     "eval", "strftime_tz", "strepoch", "domain_data", "group_call"),
                    "mod_commands"),
    "db": "mod_db",
    "hash": "mod_hash",
    "expr": "mod_expr",
}
ENDPOINT_MODULES: dict[str, str | None] = {
    "sofia": "mod_sofia", "verto.rtc": "mod_verto", "loopback": "mod_loopback",
    "user": "mod_dptools", "group": "mod_dptools", "pickup": "mod_dptools", "error": None,
}
# FreeSWITCH's built-in network lists (switch_core.c): who they let in.
_WORLD_LISTS = frozenset({"wan.auto", "wan_v4.auto", "wan_v6.auto", "any_v4.auto",
                          "any_v6.auto"})
_LOCAL_LISTS = frozenset({"loopback.auto", "localnet.auto", "rfc1918.auto", "nat.auto",
                          "rfc6598.auto"})
_WELL_KNOWN_PASSWORDS = frozenset({"cluecon", "1234"})
_CALL = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\(")
_BLOCKS = re.compile(r"\$\{[^{}]*\}|\{[^{}]*\}|\[[^\[\]]*\]|<[^<>]*>")
_TECH = re.compile(r"([a-z][a-z0-9_.]*)/")

Check = Callable[[Tree, Settings], Iterator[Problem]]


def check_tree(root_dir: Path, settings: Settings, environ: Mapping[str, str] | None = None,
               certs_dir: Path | None = None) -> list[Problem]:
    """Every problem found in the tree at ``root_dir``, in the order of the checks."""
    runtime = {"certs_dir": str(Path(certs_dir).resolve())} if certs_dir else {}
    tree = read_tree(Path(root_dir), environ, runtime)
    problems = list(tree.problems)
    if tree.document is None:
        return problems  # nothing sensible to check in a tree FreeSWITCH could not parse
    for check in CHECKS:
        problems.extend(check(tree, settings))
    return problems


# --------------------------------------------------------------------------- helpers

def _config(tree: Tree, name: str, purpose: str) -> tuple[ET.Element | None, list[Problem]]:
    element = tree.configuration(name)
    if element is None:
        file = f"autoload_configs/{name}.xml"
        return None, [Problem("", f"no <configuration name=\"{name}\"> (usually {file}): "
                                  f"{purpose}")]
    return element, []


def _deferred(tree: Tree, value: str, what: str, setting: str) -> str | None:
    """Why a value is only known when FreeSWITCH loads the tree, or None if it is known."""
    names = deferred_names(value)
    if not names:
        return None
    reasons = [tree.deferred.get(n, "unknown") for n in names]
    if any(r.startswith("generated") for r in reasons):
        return (f"{what}: random at each start (site.xml); set {setting} in FreeSWITCH's "
                "environment as well, or write site.xml with `callcenter fs-config`")
    return f"{what}: depends on {', '.join(reasons)}, which fs-check cannot know"


def _profile(tree: Tree, name: str) -> ET.Element | None:
    return next((p for p in tree.profiles() if p.get("name") == name), None)


def _credentials(tree: Tree, settings: Settings, element: ET.Element, value: str,
                 what: str) -> Iterator[Problem]:
    where = tree.where(element)
    settings_names = "CALLCENTER_FREESWITCH_HTTP_USER/_PASSWORD"
    if reason := _deferred(tree, value, what, settings_names):
        yield Problem(where, reason)
    elif value and value != f"{settings.freeswitch_http_user}:{settings.freeswitch_http_password}":
        yield Problem(where, f"{what} do not match the controller's {settings_names}: FreeSWITCH "
                             "would be refused (run `callcenter fs-config`)")


# ---------------------------------------------------------------------------- checks

def check_modules(tree: Tree, settings: Settings) -> Iterator[Problem]:
    modules, problems = _config(tree, "modules.conf", "FreeSWITCH would load no module")
    yield from problems
    if modules is None:
        return
    loaded = {m.get("module") for m in modules.iter("load")}
    for module, purpose in REQUIRED_MODULES.items():
        if module not in loaded:
            yield Problem(tree.where(modules), f"{module} is not loaded: {purpose}")


def check_event_socket(tree: Tree, settings: Settings) -> Iterator[Problem]:
    socket, problems = _config(tree, "event_socket.conf", "the controller cannot connect")
    yield from problems
    if socket is None:
        return
    where = tree.where(socket)
    listen_ip = param(socket, "listen-ip") or "127.0.0.1"
    acl_element = param_element(socket, "apply-inbound-acl")
    acl = acl_element.get("value", "") if acl_element is not None else ""
    if not _is_loopback(listen_ip):
        if not acl:
            yield Problem(where, f"the event socket listens on {listen_ip}, reachable from "
                                 "other machines, with no apply-inbound-acl naming who may "
                                 "connect")
        elif reason := _acl_too_open(tree, acl):
            yield Problem(tree.where(acl_element), f"the event socket listens on {listen_ip} "
                                                   f"and its ACL {acl!r} {reason}")
    elif acl and acl not in _WORLD_LISTS | _LOCAL_LISTS and not _acl_list(tree, acl):
        yield Problem(tree.where(acl_element), f"apply-inbound-acl names {acl!r}, which "
                                               "acl.conf.xml does not define")
    port = param(socket, "listen-port") or "8021"
    if not deferred_names(port) and port != str(settings.esl_port):
        yield Problem(where, f"the event socket listens on port {port} but the controller "
                             f"connects to CALLCENTER_ESL_PORT={settings.esl_port}")
    host = settings.esl_host
    if host and _is_ip(host) and _is_ip(listen_ip) and not _is_wildcard(listen_ip) \
            and ipaddress.ip_address(host) != ipaddress.ip_address(listen_ip):
        yield Problem(where, f"the event socket listens on {listen_ip} but the controller "
                             f"connects to CALLCENTER_ESL_HOST={host}")
    password_element = param_element(socket, "password")
    password = password_element.get("value", "") if password_element is not None else ""
    if settings.esl_password is None:
        yield Problem(where, "CALLCENTER_ESL_PASSWORD is not set for the controller: set it to "
                             "the event socket password")
    elif reason := _deferred(tree, password, "the event socket password",
                             "CALLCENTER_ESL_PASSWORD"):
        yield Problem(tree.where(password_element) or where, reason)
    elif password and password.lower() not in _WELL_KNOWN_PASSWORDS \
            and password != settings.esl_password:
        yield Problem(tree.where(password_element), "the event socket password does not match "
                                                    "CALLCENTER_ESL_PASSWORD")


def check_passwords(tree: Tree, settings: Settings) -> Iterator[Problem]:
    """No empty or well-known secret anywhere FreeSWITCH takes one."""
    socket = tree.configuration("event_socket.conf")
    if socket is not None:
        element = param_element(socket, "password")
        value = element.get("value", "") if element is not None else ""
        if not value.strip():
            yield Problem(tree.where(element if element is not None else socket),
                          "the event socket password is empty: FreeSWITCH then uses its "
                          "well-known default ClueCon")
        elif value.lower() in _WELL_KNOWN_PASSWORDS:
            yield Problem(tree.where(element), "the event socket password is FreeSWITCH's "
                                               "well-known default: choose your own")
    for config, name, what in (("xml_curl.conf", "gateway-credentials", "xml_curl credentials"),
                               ("json_cdr.conf", "cred", "json_cdr credentials")):
        element = tree.configuration(config)
        holders = element.iter() if element is not None else []
        for found in (p for p in holders if p.tag == "param" and p.get("name") == name):
            user, _, password = found.get("value", "").partition(":")
            if not user or not password:
                yield Problem(tree.where(found), f"{what} have an empty user or password")
            elif password.lower() in _WELL_KNOWN_PASSWORDS:
                yield Problem(tree.where(found), f"{what} use a well-known default password")
    for profile in tree.profiles():
        for gateway in profile.iter("gateway"):
            register = (param(gateway, "register", None) or "false").lower()
            if register in ("true", "yes", "on", "1") and not (
                    param(gateway, "username", None) and param(gateway, "password", None)):
                yield Problem(tree.where(gateway), f"gateway {gateway.get('name')!r} registers "
                                                   "with an empty username or password")
    if tree.variables.get("default_password") == "1234":
        yield Problem("", "default_password is 1234, FreeSWITCH's example password: remove it")


def check_wss_certificate(tree: Tree, settings: Settings) -> Iterator[Problem]:
    internal = _profile(tree, "internal")
    if internal is None or param(internal, "wss-binding") is None:
        return  # check_internal_profile reports the missing profile or binding
    element = param_element(internal, "tls-cert-dir")
    value = element.get("value", "") if element is not None else "$${certs_dir}"
    if element is None and "certs_dir" in tree.variables:
        value = tree.variables["certs_dir"]
    where = tree.where(element if element is not None else internal)
    if deferred_names(value):
        yield Problem(where, "the WSS certificate's directory is FreeSWITCH's certs_dir: give "
                             "it to fs-check with --certs-dir (FreeSWITCH's -certs) or set "
                             "FREESWITCH_CERT_DIR to a path")
        return
    directory = Path(value)
    crt, key, pem = directory / "wss.crt", directory / "wss.key", directory / "wss.pem"
    chain = (crt, key) if crt.is_file() and key.is_file() else (pem, pem)
    if not chain[0].is_file():
        yield Problem(where, f"no WSS certificate in {directory}: put wss.pem (certificate, "
                             "chain, then key) there; without it FreeSWITCH makes a self-signed "
                             "one that browsers refuse")
        return
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(*chain)
    except (ssl.SSLError, OSError) as exc:
        yield Problem(where, f"{chain[0]} is not a certificate with its private key "
                             f"({getattr(exc, 'reason', None) or exc})")


# What the controller serves mod_xml_curl, each section at its own URL, and why it matters.
XML_CURL_SECTIONS: dict[str, str] = {
    "directory": "agents' SIP credentials",
    "dialplan": "the public context from the inbound numbers table (else the static dids.xml "
                "routes every call)",
}


def check_xml_curl(tree: Tree, settings: Settings) -> Iterator[Problem]:
    curl, problems = _config(tree, "xml_curl.conf", "agents' SIP credentials and the inbound "
                                                    "numbers come from the controller through it")
    yield from problems
    if curl is None:
        return
    bound: set[str] = set()
    for binding in curl.iter("binding"):
        for url in binding.findall("param"):
            if url.get("name") != "gateway-url":
                continue
            sections = [s for s in url.get("bindings", "").split("|") if s]
            served = [s for s in sections if s in XML_CURL_SECTIONS]
            others = [s for s in sections if s not in XML_CURL_SECTIONS]
            if not sections:
                yield Problem(tree.where(url), "the binding names no sections (bindings=...): "
                                               "FreeSWITCH would fetch every section from it")
            if others:
                yield Problem(tree.where(url), f"the binding also fetches {', '.join(others)} "
                                               "from the controller, which serves only the "
                                               "directory and the dialplan")
            if len(served) > 1:
                bound.update((s, "") for s in served)   # reported once, here
                yield Problem(tree.where(url), f"one binding fetches {' and '.join(served)}, "
                                               "which the controller serves each at its own "
                                               "URL: give each a binding of its own")
            elif served:
                bound.add((served[0], url.get("value", "")))
                yield from _xml_curl_binding(tree, settings, binding, url, served[0])
    for section, purpose in XML_CURL_SECTIONS.items():
        urls = {url for bound_section, url in bound if bound_section == section}
        if "" in urls:
            continue
        for base in dict.fromkeys(settings.freeswitch_http_urls):
            expected = f"{base}/freeswitch/{section}"
            if urls and expected not in urls and base != settings.freeswitch_http_url:
                yield Problem(tree.where(curl), f"no binding asks the standby pair's other "
                                                f"controller for the {section}: add gateway-url "
                                                f'{expected} with bindings="{section}" '
                                                "(CALLCENTER_PEER_HTTP_URL)")
            elif not urls:
                yield Problem(tree.where(curl), f"no binding serves the {section} from the "
                                                f"controller ({purpose}): add gateway-url "
                                                f'{expected} with bindings="{section}"')
                break


def _xml_curl_binding(tree: Tree, settings: Settings, binding: ET.Element, url: ET.Element,
                      section: str) -> Iterator[Problem]:
    expected = [f"{base}/freeswitch/{section}" for base in settings.freeswitch_http_urls]
    value = url.get("value", "")
    if reason := _deferred(tree, value, f"the {section} URL", "CALLCENTER_FREESWITCH_HTTP_URL"):
        yield Problem(tree.where(url), reason)
    elif value not in expected:
        yield Problem(tree.where(url), f"the {section} URL is {value}, not "
                                       f"{' or '.join(dict.fromkeys(expected))} "
                                       f"(CALLCENTER_FREESWITCH_HTTP_URL or "
                                       f"CALLCENTER_PEER_HTTP_URL + /freeswitch/{section})")
    credentials = param_element(binding, "gateway-credentials", None)
    if credentials is None:
        yield Problem(tree.where(binding), f"the {section} binding has no "
                                           "gateway-credentials: the controller refuses it")
    else:
        yield from _credentials(tree, settings, credentials, credentials.get("value", ""),
                                "the xml_curl credentials")
    scheme = param(binding, "auth-scheme", None)
    if scheme is not None and scheme.lstrip("=").lower() != "basic":
        yield Problem(tree.where(binding), f"auth-scheme is {scheme}: the controller "
                                           "expects basic")


def check_json_cdr(tree: Tree, settings: Settings) -> Iterator[Problem]:
    cdr, problems = _config(tree, "json_cdr.conf", "CDRs reach the controller through it")
    yield from problems
    if cdr is None:
        return
    where = tree.where(cdr)
    expected = [f"{base}/freeswitch/cdr" for base in settings.freeswitch_http_urls]
    urls = [p for p in cdr.iter("param") if p.get("name") == "url" and p.get("value")]
    if not urls:
        yield Problem(where, f"json_cdr posts nowhere: set url to {expected[0]}")
    for url in urls:
        value = url.get("value", "")
        if reason := _deferred(tree, value, "the CDR URL", "CALLCENTER_FREESWITCH_HTTP_URL"):
            yield Problem(tree.where(url), reason)
        elif value not in expected:
            yield Problem(tree.where(url), f"the CDR URL is {value}, not "
                                           f"{' or '.join(dict.fromkeys(expected))} "
                                           "(CALLCENTER_FREESWITCH_HTTP_URL or "
                                           "CALLCENTER_PEER_HTTP_URL + /freeswitch/cdr)")
    values = {url.get("value") for url in urls}
    if urls and values <= set(expected):
        for missing in [e for e in dict.fromkeys(expected) if e not in values]:
            yield Problem(where, f"json_cdr never posts to {missing}: add a url param for it "
                                 "(each controller of a standby pair gets one)")
    cred = param_element(cdr, "cred")
    if cred is None:
        yield Problem(where, "json_cdr has no cred: the controller refuses its posts")
    else:
        yield from _credentials(tree, settings, cred, cred.get("value", ""),
                                "the json_cdr credentials")
    scheme = param(cdr, "auth-scheme")
    if scheme is not None and scheme.lstrip("=").lower() != "basic":
        yield Problem(where, f"auth-scheme is {scheme}: the controller expects basic")
    if (param(cdr, "encode") or "true").lower() not in ("false", "no", "off", "0"):
        yield Problem(where, "encode must be false: the controller takes the raw JSON document")
    if (param(cdr, "disable-100-continue") or "false").lower() in ("true", "yes", "on", "1"):
        yield Problem(where, "disable-100-continue is true: in FreeSWITCH 1.10 it drops the "
                             "Content-Type header, so the raw JSON arrives labelled as a form")
    if (param(cdr, "log-b-leg") or "true").lower() in ("false", "no", "off", "0"):
        yield Problem(where, "log-b-leg is false: the CDRs of legs FreeSWITCH bridges to would "
                             "never arrive")
    if int(_number(param(cdr, "retries")) or 0) < 1:
        yield Problem(where, "retries is 0: one failed post sends a CDR straight to the error "
                             "directory")
    err_dir = (param(cdr, "err-log-dir") or "").strip()
    if not err_dir:
        yield Problem(where, "err-log-dir is not set: name the directory `callcenter cdr "
                             "import` reads after an outage")
    elif settings.cdr_spool_dir is not None and err_dir != str(settings.cdr_spool_dir):
        yield Problem(where, f"err-log-dir is {err_dir}, not CALLCENTER_CDR_SPOOL_DIR "
                             f"{settings.cdr_spool_dir}: the controller would never load the "
                             "CDRs FreeSWITCH could not post (`callcenter fs-config` writes it)")
    if (param(cdr, "log-errors-to-disk") or "true").lower() in ("false", "no", "off", "0"):
        yield Problem(where, "log-errors-to-disk is false: CDRs that cannot be posted are lost")


def check_internal_profile(tree: Tree, settings: Settings) -> Iterator[Problem]:
    internal = _profile(tree, "internal")
    if internal is None:
        yield Problem("", "no sofia profile named internal: agents' phones have nowhere to "
                          "register")
        return
    where = tree.where(internal)
    if param(internal, "ws-binding") is None:
        yield Problem(where, "the internal profile has no ws-binding")
    wss = param_element(internal, "wss-binding")
    if wss is None:
        yield Problem(where, "the internal profile has no wss-binding: browser softphones "
                             "register over WSS")
    else:
        port = wss.get("value", "").rpartition(":")[2]
        expected = wss_port(settings)
        if not deferred_names(port) and port != str(expected):
            yield Problem(tree.where(wss), f"wss-binding is on port {port or '?'} but "
                                           f"CALLCENTER_SOFTPHONE_WSS_URL says {expected}")
    candidates = [v for v in params(internal, "apply-candidate-acl") if v and v != "none"]
    if not candidates:
        yield Problem(where, "the internal profile has no apply-candidate-acl: FreeSWITCH falls "
                             "back to wan.auto, which drops browsers' private addresses on a "
                             "LAN (\"488 / no suitable candidates\")")
    elif all(c in ("wan.auto", "wan_v4.auto", "wan_v6.auto") for c in candidates):
        yield Problem(where, f"apply-candidate-acl is only {', '.join(candidates)}, which drops "
                             "browsers' private addresses on a LAN: add localnet.auto and "
                             "rfc1918.auto")


def check_dial_string(tree: Tree, settings: Settings) -> Iterator[Problem]:
    directory = tree.section("directory")
    domains = list(directory.iter("domain")) if directory is not None else []
    modules = tree.configuration("modules.conf")
    loaded = {m.get("module") for m in modules.iter("load")} if modules is not None else set()
    if not any(d.get("name") == settings.sip_domain for d in domains):
        names = ", ".join(repr(d.get("name")) for d in domains) or "none"
        yield Problem(tree.where(directory), f"the directory has no domain "
                                             f"{settings.sip_domain!r} (CALLCENTER_SIP_DOMAIN); "
                                             f"it has {names}")
    for domain in domains:
        element = param_element(domain, "dial-string", "params")
        if element is None:
            yield Problem(tree.where(domain), f"domain {domain.get('name')!r} has no "
                                              "dial-string: originate user/EXT reaches no phone")
            continue
        for problem in _dial_string_modules(element.get("value", ""), loaded):
            yield Problem(tree.where(element), problem)


def _dial_string_modules(dial_string: str, loaded: set[str | None]) -> Iterator[str]:
    for function in dict.fromkeys(_CALL.findall(dial_string)):
        module = API_MODULES.get(function)
        if module is None:
            yield f"the dial-string calls ${{{function}()}}, which no module fs-check knows " \
                  "provides"
        elif module not in loaded:
            yield f"the dial-string calls ${{{function}()}} from {module}, which is not loaded"
    skeleton, previous = dial_string, None
    while skeleton != previous:  # drop {vars}, [vars], <vars> and ${...}, innermost first
        previous, skeleton = skeleton, _BLOCKS.sub("", skeleton)
    for part in re.split(r"[,|]|:_:", skeleton):
        match = _TECH.match(part.strip())
        if not match:
            continue
        tech = match.group(1)
        if tech not in ENDPOINT_MODULES:
            yield f"the dial-string dials {tech}/..., an endpoint fs-check does not know"
        elif (module := ENDPOINT_MODULES[tech]) and module not in loaded:
            yield f"the dial-string dials {tech}/... through {module}, which is not loaded"


def check_shared_names(tree: Tree, settings: Settings) -> Iterator[Problem]:
    external = [g for p in tree.profiles() for g in p.iter("gateway")]
    if not any(g.get("name") == settings.gateway for g in external):
        names = ", ".join(repr(g.get("name")) for g in external) or "none"
        yield Problem("", f"no sofia gateway named {settings.gateway!r} (CALLCENTER_GATEWAY): "
                          f"calls to customers would fail; the gateways are {names}")
    internal = _profile(tree, "internal")
    forced = param(internal, "force-register-domain") if internal is not None else None
    if forced and not deferred_names(forced) and forced != settings.sip_domain:
        yield Problem(tree.where(internal), f"force-register-domain is {forced}, not "
                                            f"CALLCENTER_SIP_DOMAIN={settings.sip_domain}")


def check_unauthenticated_routes(tree: Tree, settings: Settings) -> Iterator[Problem]:
    """A context unauthenticated callers land in must not lead out through a gateway."""
    open_contexts: dict[str, str] = {}
    for profile in tree.profiles():
        auth = (param(profile, "auth-calls") or "false").lower() in ("true", "yes", "on", "1")
        if not auth:
            context = param(profile, "context") or "public"
            open_contexts.setdefault(context, f"profile {profile.get('name')}")
        for gateway in profile.iter("gateway"):
            if context := param(gateway, "context", None):
                open_contexts.setdefault(context, f"gateway {gateway.get('name')}")
    dialplan = tree.section("dialplan")
    if dialplan is None:
        yield Problem("", "no dialplan section: calls have nowhere to go")
        return
    for context in dialplan.iter("context"):
        source = open_contexts.get(context.get("name", ""))
        if source is None:
            continue
        for action in context.iter():
            if action.tag not in ("action", "anti-action"):
                continue
            app = action.get("application", "")
            if app in ("bridge", "transfer", "execute_extension", "socket") or (
                    "gateway/" in action.get("data", "")):
                yield Problem(tree.where(action), f"context {context.get('name')!r} takes calls "
                                                  f"nobody authenticated ({source}) and runs "
                                                  f"{app}: a stranger could call out through it")


GUEST_CONTEXT = "guests"
# All a guest's call may do: park for the controller, or be refused.
_GUEST_APPLICATIONS = frozenset({"set", "log", "park", "respond", "hangup"})
_GUEST_TARGET = "^call$"


def check_guests(tree: Tree, settings: Settings) -> Iterator[Problem]:
    """Website visitors land in the guests context (their directory entry's user_context): it
    must exist, park only `call`, and run nothing that could lead anywhere else; the internal
    profile must take VP8 from browsers (visitors' video) and the external one must not."""
    dialplan = tree.section("dialplan")
    contexts = list(dialplan.iter("context")) if dialplan is not None else []
    context = next((c for c in contexts if c.get("name") == GUEST_CONTEXT), None)
    if context is not None:
        yield from _guest_extensions(tree, context)
    elif contexts:      # no dialplan at all is another check's finding
        yield Problem(tree.where(dialplan), "no dialplan context named guests "
                                            "(dialplan/guests.xml): website visitors' calls "
                                            "would find no way into their queue")
    internal, external = _profile(tree, "internal"), _profile(tree, "external")
    if internal is not None and "VP8" not in _codecs(param(internal, "inbound-codec-prefs")):
        yield Problem(tree.where(internal), "the internal profile's inbound-codec-prefs has no "
                                            "VP8: website visitors' video calls get no video")
    if external is not None and "VP8" in _codecs(param(external, "inbound-codec-prefs")):
        yield Problem(tree.where(external), "the external profile's inbound-codec-prefs takes "
                                            "VP8: the carrier's calls stay audio-only")


def _guest_extensions(tree: Tree, context: ET.Element) -> Iterator[Problem]:
    parks, wrong = 0, 0
    for extension in context.iter("extension"):
        targets = [c.get("expression", "") for c in extension.iter("condition")
                   if c.get("field") == "destination_number"]
        for action in extension.iter():
            if action.tag not in ("action", "anti-action"):
                continue
            app = action.get("application", "")
            if app not in _GUEST_APPLICATIONS:
                wrong += 1
                yield Problem(tree.where(action), f"the guests context runs {app}: a website "
                                                  "visitor may only reach its queue (park)")
            elif app == "park" and (action.tag != "action" or targets != [_GUEST_TARGET]):
                wrong += 1
                yield Problem(tree.where(action), "the guests context parks a destination "
                                                  "other than `call` (a destination_number "
                                                  "condition of ^call$ alone)")
            elif app == "park":
                parks += 1
    if not parks and not wrong:
        yield Problem(tree.where(context), "the guests context never parks `call`: website "
                                           "visitors' calls would find no way into their queue")


def _codecs(value: str | None) -> list[str]:
    return [c.strip().split("@")[0].upper() for c in (value or "").split(",") if c.strip()]


def check_nothing_outside(tree: Tree, settings: Settings) -> Iterator[Problem]:
    if tree.document is None:
        return
    for element in tree.document.iter("param"):
        if element.get("value", "").lower().startswith("stun:"):
            yield Problem(tree.where(element), f"{element.get('name')} asks a STUN server on "
                                               "the Internet: set the public IP address instead")


CHECKS: tuple[Check, ...] = (
    check_modules, check_event_socket, check_passwords, check_wss_certificate, check_xml_curl,
    check_json_cdr, check_internal_profile, check_dial_string, check_shared_names,
    check_unauthenticated_routes, check_guests, check_nothing_outside,
)


# ------------------------------------------------------------------------- networks

def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _is_loopback(value: str) -> bool:
    return _is_ip(value) and ipaddress.ip_address(value).is_loopback


def _is_wildcard(value: str) -> bool:
    return _is_ip(value) and ipaddress.ip_address(value).is_unspecified


def _acl_list(tree: Tree, name: str) -> ET.Element | None:
    acl = tree.configuration("acl.conf")
    if acl is None:
        return None
    return next((x for x in acl.iter("list") if x.get("name") == name), None)


def _acl_too_open(tree: Tree, name: str) -> str | None:
    """Why an ACL lets any address in, or None if it does not."""
    if name in _WORLD_LISTS:
        return "lets in any address"
    if name in _LOCAL_LISTS:
        return None
    acl = _acl_list(tree, name)
    if acl is None:
        return "is not defined in acl.conf.xml"
    if (acl.get("default") or "deny").lower() == "allow":
        return "allows every address it does not deny"
    for node in acl.iter("node"):
        cidr = node.get("cidr", "")
        if node.get("type", "").lower() == "allow" and cidr.split("/")[-1:] == ["0"]:
            return f"allows {cidr}"
    return None


def _number(value: str | None) -> str | None:
    return value if value and value.strip().isdigit() else None
