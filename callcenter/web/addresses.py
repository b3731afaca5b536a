"""Who is asking: the client's address, through the reverse proxies we trust.

Behind a reverse proxy every request comes from the proxy, which names the client in
X-Forwarded-For (appending to whatever the client itself sent there). So the header is believed
only when the peer is one of CALLCENTER_TRUSTED_PROXIES, and then read from the right: the
right-most address that is not a trusted proxy is the client (what lies left of it the client
could have written).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from flask import current_app, request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as proxies write it ("203.0.113.5", "2001:db8::1", with a port:
    "203.0.113.5:4711", "[2001:db8::1]:4711"), or None."""
    text = text.strip()
    if text.startswith("[") and "]" in text:
        text = text[1:text.index("]")]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    return (ip.ipv4_mapped or ip) if ip.version == 6 else ip


def _trusted(ip, proxies: tuple[Network, ...]) -> bool:
    return ip is not None and any(ip.version == net.version and ip in net for net in proxies)


def client_address(peer: str | None, forwarded_for: Iterable[str],
                   proxies: tuple[Network, ...]) -> str:
    """The client's address, given the TCP peer and every X-Forwarded-For header received."""
    address = parse_address(peer or "")
    if not _trusted(address, proxies):
        return str(address) if address is not None else (peer or "unknown")
    hops = [hop for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        ip = parse_address(hop)
        if ip is None:           # garbage a client wrote: the hop that passed it on is the client
            break
        address = ip
        if not _trusted(ip, proxies):
            break
    return str(address)


def request_client_address() -> str:
    """The current request's client address (see client_address)."""
    proxies = current_app.extensions["callcenter"].settings.trusted_proxies
    return client_address(request.remote_addr, request.headers.getlist("X-Forwarded-For"),
                          proxies)
