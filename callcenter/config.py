"""Settings from CALLCENTER_* environment variables, with safe defaults.

Secrets are never built in: a missing Flask secret key or FreeSWITCH HTTP credential is generated
once and kept under the instance directory (mode 0600); a missing ESL password while a FreeSWITCH
host is set is refused, and so is a weak secret given in the environment. The README's settings
table mirrors `SETTINGS` below.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import thresholds
from .private_files import make_private_dir


class ConfigError(Exception):
    """A setting is wrong; the message names it and says what to fix."""


# name, default (None: derived or generated), one-line description. The README table follows this.
SETTINGS: tuple[tuple[str, str, str], ...] = (
    ("CALLCENTER_INSTANCE_DIR", "./instance", "where the SQLite file, generated secrets and "
     "recordings live by default"),
    ("CALLCENTER_DATABASE_URL", "sqlite:///<instance>/callcenter.db", "SQLAlchemy URL; "
     "PostgreSQL in production: postgresql+psycopg://user:pass@host/db"),
    ("CALLCENTER_HTTP_BIND", "127.0.0.1:8080", "address:port the web server listens on "
     "(port 0 picks a free one and prints it)"),
    ("CALLCENTER_PUBLIC_URL", "http://<bind>", "how browsers and FreeSWITCH reach the controller; "
     "https makes the session cookie Secure"),
    ("CALLCENTER_SECRET_KEY", "generated, kept in <instance>/secrets.json", "Flask session key"),
    ("CALLCENTER_ESL_HOST", "unset: the built-in simulator", "FreeSWITCH Event Socket host"),
    ("CALLCENTER_ESL_PORT", "8021", "FreeSWITCH Event Socket port"),
    ("CALLCENTER_ESL_PASSWORD", "required when CALLCENTER_ESL_HOST is set", "Event Socket "
     "password (never FreeSWITCH's well-known default)"),
    ("CALLCENTER_FREESWITCH_HTTP_URL", "CALLCENTER_PUBLIC_URL", "how FreeSWITCH reaches the "
     "controller (xml_curl directory, json_cdr), when not the way browsers do"),
    ("CALLCENTER_PEER_HTTP_URL", "unset: none", "the other controller of a standby pair, as "
     "FreeSWITCH reaches it (its CALLCENTER_FREESWITCH_HTTP_URL): FreeSWITCH's second directory, "
     "dialplan and CDR URL, tried when this controller does not answer"),
    ("CALLCENTER_FREESWITCH_HTTP_USER", "generated, kept in <instance>/secrets.json",
     "user FreeSWITCH presents to the xml_curl and json_cdr endpoints"),
    ("CALLCENTER_FREESWITCH_HTTP_PASSWORD", "generated, kept in <instance>/secrets.json",
     "its password"),
    ("CALLCENTER_SIP_DOMAIN", "the host of CALLCENTER_PUBLIC_URL", "SIP domain agents register to"),
    ("CALLCENTER_SOFTPHONE_WSS_URL", "wss://<sip domain>:7443", "where browser softphones "
     "register (FreeSWITCH's wss-binding)"),
    ("CALLCENTER_GUEST_WSS_URL", "CALLCENTER_SOFTPHONE_WSS_URL (the built-in simulator: its "
     "guest listener)", "where website visitors' calls connect (SIP over WebSocket)"),
    ("CALLCENTER_ICE_SERVERS", "[] (none)", "JSON list of RTCIceServer objects for the softphone"),
    ("CALLCENTER_GUEST_REALM", "guests.<sip domain> (guests.callcenter.invalid for an address)",
     "the SIP realm of website visitors' "
     "one-call credentials (README: Calls from your website)"),
    ("CALLCENTER_GUEST_CALLS_KEEP_DAYS", "30", "days (1-36500) a website visitor's call "
     "details (fields, page, address) are kept after the call ended; unused one-call "
     "credentials go after 10 minutes"),
    ("CALLCENTER_TURN_URLS", "unset: none", "STUN/TURN URLs given to website visitors, "
     "separated by commas (e.g. stun:turn.example.com:3478, turn:turn.example.com:3478?"
     "transport=udp)"),
    ("CALLCENTER_TURN_SECRET", "unset: no TURN", "coturn's static-auth-secret: visitors get "
     "TURN credentials minted from it for each call, never the secret"),
    ("CALLCENTER_GATEWAY", "carrier", "FreeSWITCH gateway that carries calls to customers"),
    ("CALLCENTER_OUTBOUND_CALLER_ID", "unset: the carrier's default", "number customers see "
     "(never an agent's extension)"),
    ("CALLCENTER_RECORDINGS_DIR", "<instance>/recordings", "where call recordings are written"),
    ("CALLCENTER_RECORDINGS_KEEP_DAYS", "unset: kept for ever", "recordings older than this "
     "many days (1-36500) are removed by `callcenter recordings prune --apply`"),
    ("CALLCENTER_MEDIA_DIR", "<instance>/media", "where the sounds admins upload for queues are "
     "kept; FreeSWITCH must be able to read it (`callcenter fs-check --media-dir` checks)"),
    ("CALLCENTER_CDR_SPOOL_DIR", "unset: none", "mod_json_cdr's err-log-dir, when FreeSWITCH "
     "runs on this machine: CDRs it could not post are loaded from there at start, after each "
     "reconnect and every minute (fs-config writes it as FreeSWITCH's err-log-dir)"),
    ("CALLCENTER_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR"),
    ("CALLCENTER_LOG_FORMAT", "text", "text (one readable line per record) or json (one JSON "
     "object per line, with call id, agent, leg UUID and request id where there is one)"),
    ("CALLCENTER_METRICS_TOKEN", "unset: GET /metrics answers 404", "the bearer token "
     "Prometheus presents to GET /metrics (at least 16 characters)"),
    ("CALLCENTER_SESSION_HOURS", "12", "a web login ends this many hours after it began, "
     "whatever happens (1-168)"),
    ("CALLCENTER_SESSION_IDLE_MINUTES", "120", "a web login with no request and no open page "
     "for this long ends (5-1440)"),
    ("CALLCENTER_TRUSTED_PROXIES", "unset: none", "reverse proxies whose X-Forwarded-For is "
     "believed: addresses or CIDRs, separated by commas (e.g. 127.0.0.1, 10.0.0.0/8)"),
    ("CALLCENTER_LOGIN_LIMITS", "on", "off lifts the growing delays after failed logins "
     "(benchmarks only)"),
    ("CALLCENTER_AUDIT_SECONDS", "5", "how often the auditor compares the switchboard with "
     "FreeSWITCH and repairs what drifted (stuck agents, vanished callers, orphan legs, a "
     "stalled dispatch); 1-300"),
    ("CALLCENTER_TIMEZONE", "UTC", "the site's timezone, an IANA name like Europe/Paris: "
     "queues' open hours and holidays are read in it"),
    ("CALLCENTER_ATTENTION", '{"long_call_s": 600, "long_break_s": 900, "missed_offers": 3}',
     "when an agent's row stands out on the supervisor's page (JSON; any key may be left out)"),
    ("CALLCENTER_WALL_THRESHOLDS", '{"*": {"waiting": [5, 10], "longest_wait_s": [60, 180], '
     '"service_level": [0.8, 0.6]}}', "the wall display's colours, [warn, alert] per measure, "
     'per queue name ("*": every other queue)'),
    ("CALLCENTER_REQUEUE_KEEPS_PLACE", "on", "off makes a customer an agent sends back to the "
     "queue it came from enter the line now, behind later callers, instead of at its first "
     "entry time"),
    ("CALLCENTER_MONITOR_NOTICE", "off", "on shows agents a small indicator while a supervisor "
     "listens to, whispers to or barges into their call"),
    ("CALLCENTER_STANDBY", "off", "on: this controller is one of two (or more) on one "
     "PostgreSQL; the one holding the database's lock drives FreeSWITCH, the others wait to take "
     "over (needs CALLCENTER_ESL_HOST and every secret set in the environment both share)"),
    ("CALLCENTER_SIM_CALLERS", "unset: no callers", "the built-in simulator only: inbound "
     "callers per second to 5550100 (queue sales), e.g. 0.25; each gives up after 20-60 s "
     "with no agent and talks 10-40 s, as with `callcenter simulate --demo`"),
)

MIN_SECRET = 16
# Secrets given in the environment: each must be at least MIN_SECRET characters and not
# FreeSWITCH's well-known default.
SECRETS = ("CALLCENTER_SECRET_KEY", "CALLCENTER_ESL_PASSWORD",
           "CALLCENTER_FREESWITCH_HTTP_PASSWORD", "CALLCENTER_METRICS_TOKEN",
           "CALLCENTER_TURN_SECRET")
WELL_KNOWN = "cluecon"


@dataclass(frozen=True)
class Settings:
    instance_dir: Path
    database_url: str
    http_host: str
    http_port: int
    public_url: str
    secret_key: str
    esl_host: str | None
    esl_port: int
    esl_password: str | None
    freeswitch_http_url: str
    freeswitch_http_user: str
    freeswitch_http_password: str
    sip_domain: str
    softphone_wss_url: str
    gateway: str
    outbound_caller_id: str | None
    recordings_dir: Path
    media_dir: Path
    recordings_keep_days: int | None = None   # None: recordings are kept for ever
    cdr_spool_dir: Path | None = None
    log_level: str = "INFO"
    log_format: str = "text"          # "text" | "json"
    metrics_token: str | None = None  # None: GET /metrics answers 404
    ice_servers: list[dict] = field(default_factory=list)
    session_hours: int = 12
    session_idle_minutes: int = 120
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    login_limits: bool = True
    monitor_notice: bool = False
    requeue_keeps_place: bool = True
    audit_seconds: int = 5
    timezone: str = "UTC"
    sim_callers: float | None = None  # callers per second into the built-in simulator
    standby: bool = False             # one of several controllers on one PostgreSQL (standby.py)
    peer_http_url: str | None = None  # the standby pair's other controller, for FreeSWITCH
    guest_wss_url: str = ""           # website visitors' SIP over WebSocket (see from_env)
    guest_realm: str = ""             # website visitors' SIP realm ("" : guests.<sip domain>)
    turn_urls: tuple[str, ...] = ()
    turn_secret: str | None = None
    guest_calls_keep_days: int = 30   # guest_calls rows, after their call ended (widgets/upkeep.py)

    @property
    def freeswitch_http_urls(self) -> tuple[str, ...]:
        """Where FreeSWITCH reaches a controller, in the order it tries them."""
        return (self.freeswitch_http_url, self.peer_http_url or self.freeswitch_http_url)
    attention: dict = field(default_factory=lambda: thresholds.attention(None))
    wall_thresholds: dict = field(default_factory=lambda: thresholds.wall(None))

    @property
    def simulated(self) -> bool:
        """No FreeSWITCH configured: the built-in simulator is the switch."""
        return self.esl_host is None

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        for name in SECRETS:
            check_secret(name, get(name))
        instance_dir = Path(get("CALLCENTER_INSTANCE_DIR") or "instance").resolve()
        database_url = get("CALLCENTER_DATABASE_URL") or f"sqlite:///{instance_dir}/callcenter.db"
        check_database_url(database_url)
        http_host, http_port = parse_bind(get("CALLCENTER_HTTP_BIND") or "127.0.0.1:8080")
        public_url = (get("CALLCENTER_PUBLIC_URL") or f"http://{http_host}:{http_port}").rstrip("/")
        public = urlsplit(public_url)
        if public.scheme not in ("http", "https") or not public.hostname:
            raise ConfigError(
                f"CALLCENTER_PUBLIC_URL must be an http(s) URL like https://cc.example.com, "
                f"not {public_url!r}")
        esl_host = get("CALLCENTER_ESL_HOST")
        esl_password = get("CALLCENTER_ESL_PASSWORD")
        if esl_host and not esl_password:
            raise ConfigError(
                "CALLCENTER_ESL_HOST is set but CALLCENTER_ESL_PASSWORD is not: set it to the "
                "password in FreeSWITCH's event_socket.conf.xml")
        freeswitch_http_url = _http_url(get("CALLCENTER_FREESWITCH_HTTP_URL") or public_url,
                                        "CALLCENTER_FREESWITCH_HTTP_URL")
        sip_domain = get("CALLCENTER_SIP_DOMAIN") or public.hostname
        needed = [key for key, name in _GENERATED.items() if not get(name)]
        standby = _on_off(get("CALLCENTER_STANDBY") or "off", "CALLCENTER_STANDBY")
        if standby:
            _check_standby(database_url, esl_host, [_GENERATED[key] for key in needed])
        kept = _kept_secrets(instance_dir, needed)
        return cls(
            instance_dir=instance_dir,
            database_url=database_url,
            http_host=http_host,
            http_port=http_port,
            public_url=public_url,
            secret_key=get("CALLCENTER_SECRET_KEY") or kept.get("secret_key", ""),
            esl_host=esl_host,
            esl_port=_port(get("CALLCENTER_ESL_PORT") or "8021", "CALLCENTER_ESL_PORT"),
            esl_password=esl_password,
            freeswitch_http_url=freeswitch_http_url,
            freeswitch_http_user=get("CALLCENTER_FREESWITCH_HTTP_USER")
            or kept.get("freeswitch_http_user", ""),
            freeswitch_http_password=get("CALLCENTER_FREESWITCH_HTTP_PASSWORD")
            or kept.get("freeswitch_http_password", ""),
            sip_domain=sip_domain,
            softphone_wss_url=get("CALLCENTER_SOFTPHONE_WSS_URL") or f"wss://{sip_domain}:7443",
            # Unset with the built-in simulator: `serve` gives its guest listener's URL.
            guest_wss_url=get("CALLCENTER_GUEST_WSS_URL") or ("" if esl_host is None else (
                get("CALLCENTER_SOFTPHONE_WSS_URL") or f"wss://{sip_domain}:7443")),
            ice_servers=_ice_servers(get("CALLCENTER_ICE_SERVERS") or "[]"),
            gateway=get("CALLCENTER_GATEWAY") or "carrier",
            outbound_caller_id=get("CALLCENTER_OUTBOUND_CALLER_ID"),
            recordings_dir=Path(get("CALLCENTER_RECORDINGS_DIR")
                                or instance_dir / "recordings").resolve(),
            media_dir=Path(get("CALLCENTER_MEDIA_DIR") or instance_dir / "media").resolve(),
            guest_calls_keep_days=_whole(get("CALLCENTER_GUEST_CALLS_KEEP_DAYS") or "30",
                                         "CALLCENTER_GUEST_CALLS_KEEP_DAYS", 1, 36500),
            recordings_keep_days=_whole(get("CALLCENTER_RECORDINGS_KEEP_DAYS"),
                                        "CALLCENTER_RECORDINGS_KEEP_DAYS", 1, 36500)
            if get("CALLCENTER_RECORDINGS_KEEP_DAYS") else None,
            cdr_spool_dir=_absolute_dir(get("CALLCENTER_CDR_SPOOL_DIR"),
                                        "CALLCENTER_CDR_SPOOL_DIR"),
            log_level=_log_level(get("CALLCENTER_LOG_LEVEL") or "INFO"),
            log_format=_log_format(get("CALLCENTER_LOG_FORMAT") or "text"),
            metrics_token=get("CALLCENTER_METRICS_TOKEN"),
            session_hours=_whole(get("CALLCENTER_SESSION_HOURS") or "12",
                                 "CALLCENTER_SESSION_HOURS", 1, 168),
            session_idle_minutes=_whole(get("CALLCENTER_SESSION_IDLE_MINUTES") or "120",
                                        "CALLCENTER_SESSION_IDLE_MINUTES", 5, 1440),
            trusted_proxies=_networks(get("CALLCENTER_TRUSTED_PROXIES") or "",
                                      "CALLCENTER_TRUSTED_PROXIES"),
            login_limits=_on_off(get("CALLCENTER_LOGIN_LIMITS") or "on", "CALLCENTER_LOGIN_LIMITS"),
            monitor_notice=_on_off(get("CALLCENTER_MONITOR_NOTICE") or "off",
                                   "CALLCENTER_MONITOR_NOTICE"),
            requeue_keeps_place=_on_off(get("CALLCENTER_REQUEUE_KEEPS_PLACE") or "on",
                                        "CALLCENTER_REQUEUE_KEEPS_PLACE"),
            audit_seconds=_whole(get("CALLCENTER_AUDIT_SECONDS") or "5",
                                 "CALLCENTER_AUDIT_SECONDS", 1, 300),
            timezone=_timezone(get("CALLCENTER_TIMEZONE") or "UTC"),
            sim_callers=_sim_callers(get("CALLCENTER_SIM_CALLERS"), esl_host),
            standby=standby,
            peer_http_url=_optional_http_url(get("CALLCENTER_PEER_HTTP_URL"),
                                             "CALLCENTER_PEER_HTTP_URL"),
            guest_realm=_guest_realm(get("CALLCENTER_GUEST_REALM"), sip_domain),
            turn_urls=_turn_urls(get("CALLCENTER_TURN_URLS") or ""),
            turn_secret=get("CALLCENTER_TURN_SECRET"),
            attention=_threshold(thresholds.attention, get("CALLCENTER_ATTENTION")),
            wall_thresholds=_threshold(thresholds.wall, get("CALLCENTER_WALL_THRESHOLDS")),
        )


def _check_standby(database_url: str, esl_host: str | None, unset: list[str]) -> None:
    """A standby-capable controller shares one PostgreSQL, one FreeSWITCH and every secret with
    the others: a secret generated per machine would differ between them (agents' SIP passwords
    derive from the secret key; FreeSWITCH presents one HTTP user and password to all)."""
    if not database_url.startswith("postgresql"):
        raise ConfigError("CALLCENTER_STANDBY=on needs PostgreSQL (CALLCENTER_DATABASE_URL="
                          "postgresql+psycopg://...): controllers on two machines share it")
    if not esl_host:
        raise ConfigError("CALLCENTER_STANDBY=on needs FreeSWITCH (CALLCENTER_ESL_HOST): the "
                          "built-in simulator lives inside one controller")
    if unset:
        raise ConfigError(f"CALLCENTER_STANDBY=on needs {', '.join(unset)} set in the "
                          "environment every controller shares: generated secrets differ per "
                          "machine, and agents' SIP passwords derive from the secret key")


def check_secret(name: str, value: str | None) -> None:
    """A secret from the environment must be long and not FreeSWITCH's well-known default."""
    if value is None:
        return
    if value.lower() == WELL_KNOWN:
        raise ConfigError(f"{name} is ClueCon, FreeSWITCH's well-known default password that "
                          "every scanner tries: choose a random one of at least "
                          f"{MIN_SECRET} characters")
    if len(value) < MIN_SECRET:
        raise ConfigError(f"{name} is too short ({len(value)} characters): use a random value "
                          f"of at least {MIN_SECRET} (e.g. the output of `openssl rand -hex 16`)")


def _networks(value: str, name: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for item in value.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"{name}: {item!r} is not an address or CIDR (examples: "
                              "127.0.0.1, 10.0.0.0/8, ::1)") from None
    return tuple(networks)


def _threshold(parse, value: str | None) -> dict:
    try:
        return parse(value)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ValueError, OSError, ZoneInfoNotFoundError):
        raise ConfigError(f"CALLCENTER_TIMEZONE: {value[:60]!r} is not a timezone; give an IANA "
                          "name like Europe/Paris, America/New_York or UTC") from None
    return value


def _on_off(value: str, name: str) -> bool:
    if value.lower() not in ("on", "off"):
        raise ConfigError(f"{name} must be on or off, not {value!r}")
    return value.lower() == "on"


def _http_url(value: str, name: str) -> str:
    url = value.rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(f"{name} must be an http(s) URL like http://10.0.0.5:8080, not {value!r}")
    return url


def _optional_http_url(value: str | None, name: str) -> str | None:
    return None if value is None else _http_url(value, name)


def check_database_url(url: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"CALLCENTER_DATABASE_URL is not a database URL: {url!r} (examples: "
            "sqlite:///instance/callcenter.db, postgresql+psycopg://user:pass@host/dbname)"
        ) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"CALLCENTER_DATABASE_URL: {parsed.get_backend_name()!r} is not supported; "
            "use sqlite:/// or postgresql+psycopg://")


def parse_bind(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host:
        raise ConfigError(f"CALLCENTER_HTTP_BIND must be address:port like 127.0.0.1:8080, "
                          f"not {value!r}")
    return host.strip("[]"), _port(port, "CALLCENTER_HTTP_BIND", allow_zero=True)


def _port(value: str, name: str, allow_zero: bool = False) -> int:
    if not value.isdigit() or not (0 if allow_zero else 1) <= int(value) <= 65535:
        raise ConfigError(f"{name}: {value!r} is not a TCP port number")
    return int(value)


def _whole(value: str, name: str, low: int, high: int) -> int:
    if not value.isdigit() or not low <= int(value) <= high:
        raise ConfigError(f"{name}: {value!r} is not a whole number from {low} to {high}")
    return int(value)


IP_GUEST_REALM = "guests.callcenter.invalid"   # when agents register to an address, not a name


def _guest_realm(value: str | None, sip_domain: str) -> str:
    """A host name (a browser's SIP stack refuses `guests.127.0.0.1`: its last label must not
    be a number), never the agents' domain."""
    if value:
        realm = value.lower()
    elif re.fullmatch(r"[0-9.]+|\[?[0-9a-fA-F:]+\]?", sip_domain):
        realm = IP_GUEST_REALM
    else:
        realm = f"guests.{sip_domain}".lower()
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*"
                        r"\.[a-z]([a-z0-9-]*[a-z0-9])?", realm):
        raise ConfigError(f"CALLCENTER_GUEST_REALM must be a domain name like "
                          f"guests.cc.example.com, not {realm!r}")
    if realm == sip_domain.lower():
        raise ConfigError("CALLCENTER_GUEST_REALM must differ from the SIP domain agents "
                          "register to: guests must never be taken for agents")
    return realm


def _turn_urls(value: str) -> tuple[str, ...]:
    urls = tuple(url.strip() for url in value.split(",") if url.strip())
    for url in urls:
        if not url.startswith(("stun:", "stuns:", "turn:", "turns:")) or any(
                c in url for c in " \"'<>"):
            raise ConfigError(f"CALLCENTER_TURN_URLS: {url!r} is not a stun:, stuns:, turn: or "
                              "turns: URL")
    return urls


def _ice_servers(value: str) -> list[dict]:
    try:
        servers = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"CALLCENTER_ICE_SERVERS is not JSON: {exc}") from None
    if not isinstance(servers, list) or not all(
        isinstance(s, dict) and "urls" in s for s in servers
    ):
        raise ConfigError('CALLCENTER_ICE_SERVERS must be a JSON list like '
                          '[{"urls": "stun:stun.example.com:3478"}]')
    return servers


def _absolute_dir(value: str | None, name: str) -> Path | None:
    # Absolute: FreeSWITCH reads the same path, and its working directory is not ours.
    if value is None:
        return None
    path = Path(value)
    if not path.is_absolute():
        raise ConfigError(f"{name} must be an absolute path (FreeSWITCH writes there too), "
                          f"not {value!r}")
    return path


def _sim_callers(value: str | None, esl_host: str | None) -> float | None:
    if value is None:
        return None
    if esl_host:
        raise ConfigError("CALLCENTER_SIM_CALLERS sends callers into the built-in simulator, "
                          "which does not run when CALLCENTER_ESL_HOST is set: unset one of them")
    from .sim.callers import parse_rate  # imports gevent: only when the simulator is wanted

    try:
        return parse_rate(value)
    except ValueError as exc:
        raise ConfigError(f"CALLCENTER_SIM_CALLERS: {exc}") from None


def _log_level(value: str) -> str:
    level = value.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"CALLCENTER_LOG_LEVEL: {value!r} is not DEBUG, INFO, WARNING or ERROR")
    return level


def _log_format(value: str) -> str:
    if value.lower() not in ("text", "json"):
        raise ConfigError(f"CALLCENTER_LOG_FORMAT: {value!r} is not text or json")
    return value.lower()


_GENERATED = {
    "secret_key": "CALLCENTER_SECRET_KEY",
    "freeswitch_http_user": "CALLCENTER_FREESWITCH_HTTP_USER",
    "freeswitch_http_password": "CALLCENTER_FREESWITCH_HTTP_PASSWORD",
}


def _kept_secrets(instance_dir: Path, needed: list[str]) -> dict[str, str]:
    """Secrets generated on first need and kept in <instance>/secrets.json, so restarts (and
    FreeSWITCH's copy of the HTTP credentials) stay valid."""
    if not needed:
        return {}
    path = instance_dir / "secrets.json"
    kept: dict[str, str] = {}
    if path.exists():
        try:
            kept = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path} is unreadable ({exc}): fix or delete it") from None
    missing = [k for k in needed if not kept.get(k)]
    if missing:
        kept.setdefault("secret_key", secrets.token_hex(32))
        kept.setdefault("freeswitch_http_user", "freeswitch")
        kept.setdefault("freeswitch_http_password", secrets.token_urlsafe(24))
        try:
            make_private_dir(instance_dir)
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(kept, fh, indent=2)
            os.replace(tmp, path)
        except OSError as exc:
            raise ConfigError(f"cannot keep generated secrets in {path}: {exc}") from None
    return kept
