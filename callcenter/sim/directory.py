"""The registration table of the simulated internal profile, and its sofia events.

`register()`/`unregister()` stand in for a softphone's REGISTER (Expires 300 / 0) and fire
the CUSTOM sofia::* events FreeSWITCH fires for them (02-registration capture).
"""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass

from callcenter.sim.bus import EventBus
from callcenter.sim.events import EventFactory
from callcenter.sim.variables import INTERNAL_PORT, LOCAL_IP

EXPIRES = 300


@dataclass
class Registration:
    extension: str
    port: int  # the softphone's SIP port (its Contact)
    call_id: str
    expires_at: int
    network_port: int


class Directory:
    def __init__(self, bus: EventBus, factory: EventFactory, domain: str, *,
                 auto_register: bool = False) -> None:
        self.bus = bus
        self.factory = factory
        self.domain = domain
        self.auto_register = auto_register
        self.registrations: dict[str, Registration] = {}
        self._ports = itertools.count(5091)
        self._call_ids = itertools.count(random.randrange(1000, 9000))

    def contact_port(self, extension: str) -> int | None:
        """The port to reach a registered extension on, or None if it is not registered."""
        reg = self.registrations.get(extension)
        if reg is not None:
            return reg.port
        if self.auto_register:
            return self.register(extension, quiet=True).port
        return None

    def contact(self, extension: str) -> str:
        port = self.contact_port(extension)
        if port is None:
            return "error/user_not_registered"
        return f"sofia/internal/sip:{extension}@{LOCAL_IP}:{port};transport=udp"

    def register(self, extension: str, *, quiet: bool = False) -> Registration:
        reg = self.registrations.get(extension)
        if reg is None:
            reg = Registration(extension, next(self._ports), f"1-{next(self._call_ids)}@{LOCAL_IP}",
                               0, random.randrange(5062, 5999))
            self.registrations[extension] = reg
        reg.expires_at = int(self.factory.clock.now()) + EXPIRES
        if not quiet:
            self._fire("sofia::pre_register", self._basic(reg, EXPIRES))
            self._fire("sofia::register_attempt", self._attempt(reg, EXPIRES))
            self._fire("sofia::register", self._registered(reg))
        return reg

    def unregister(self, extension: str) -> bool:
        reg = self.registrations.pop(extension, None)
        if reg is None:
            return False
        self._fire("sofia::pre_register", self._basic(reg, 0))
        self._fire("sofia::register_attempt", self._attempt(reg, 0))
        self.bus.fire("PRESENCE_IN", lambda: self.factory.plain(
            "PRESENCE_IN", [
                ("proto", "sip"), ("rpid", "unknown"),
                ("login", f"sip:mod_sofia@{LOCAL_IP}:{INTERNAL_PORT}"), ("user-agent", "sim"),
                ("from", f"{extension}@{self.domain}"), ("status", "Unregistered"),
                ("presence-source", "register"), ("event_type", "presence"),
            ], calling=("sofia_reg.c", "sofia_reg_handle_register_token", 2103)))
        self._fire("sofia::unregister", self._unregistered(reg))
        return True

    def show_json(self) -> str:
        if not self.registrations:
            return '{"row_count": 0}\n'
        rows = [{
            "reg_user": reg.extension, "realm": self.domain, "token": reg.call_id,
            "url": f"sofia/internal/sip:{reg.extension}@{LOCAL_IP}:{reg.port};transport=udp",
            "expires": str(reg.expires_at), "network_ip": LOCAL_IP,
            "network_port": str(reg.network_port), "network_proto": "udp",
            "hostname": self.factory.hostname, "metadata": "",
        } for reg in self.registrations.values()]
        return json.dumps({"row_count": len(rows), "rows": rows}, separators=(",", ":"))

    # --- event bodies --------------------------------------------------------------------

    def _fire(self, subclass: str, headers: list[tuple[str, str]]) -> None:
        self.bus.fire("CUSTOM", lambda: self.factory.plain("CUSTOM", headers, subclass=subclass),
                      subclass)

    def _contact(self, reg: Registration) -> str:
        return f'"" <sip:{reg.extension}@{LOCAL_IP}:{reg.port};transport=udp>'

    def _basic(self, reg: Registration, expires: int) -> list[tuple[str, str]]:
        ext = reg.extension
        return [
            ("profile-name", "internal"), ("from-user", ext), ("from-host", self.domain),
            ("contact", self._contact(reg)), ("call-id", reg.call_id), ("rpid", "unknown"),
            ("status", "Registered(UDP)"), ("expires", str(expires)), ("to-user", ext),
            ("to-host", self.domain), ("network-ip", LOCAL_IP),
            ("network-port", str(reg.network_port)), ("user-agent", "sim"),
        ]

    def _attempt(self, reg: Registration, expires: int) -> list[tuple[str, str]]:
        headers = self._basic(reg, expires)[:-1]
        return headers + [("username", reg.extension), ("realm", self.domain),
                          ("user-agent", "sim"), ("auth-result", "RENEWED")]

    def _user_vars(self, ext: str) -> list[tuple[str, str]]:
        return [
            ("sip_number_alias", ext), ("sip_auth_username", ext),
            ("sip_auth_realm", self.domain), ("number_alias", ext), ("user_name", ext),
            ("domain_name", self.domain), ("record_stereo", "true"),
            ("default_gateway", "example.com"), ("default_areacode", "918"),
            ("transfer_fallback_extension", "operator"),
            ("toll_allow", "domestic,international,local"), ("accountcode", ext),
            ("user_context", "default"), ("effective_caller_id_name", f"Extension {ext}"),
            ("effective_caller_id_number", ext), ("outbound_caller_id_name", "FreeSWITCH"),
            ("outbound_caller_id_number", "0000000000"), ("callgroup", "techsupport"),
        ]

    def _registered(self, reg: Registration) -> list[tuple[str, str]]:
        headers = self._attempt(reg, EXPIRES)[:-1]  # without auth-result
        headers.insert(3, ("presence-hosts", f"{self.domain},{self.domain}"))
        return headers + self._user_vars(reg.extension)

    def _unregistered(self, reg: Registration) -> list[tuple[str, str]]:
        ext = reg.extension
        return [
            ("profile-name", "internal"), ("username", ext), ("from-user", ext),
            ("from-host", self.domain), ("contact", self._contact(reg)),
            ("call-id", reg.call_id), ("rpid", "unknown"), ("realm", self.domain),
            ("network-ip", LOCAL_IP), ("network-port", str(reg.network_port)),
            ("user-agent", "sim"), ("expires", "0"),
        ] + self._user_vars(ext)
