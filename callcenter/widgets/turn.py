"""ICE servers for a visitor's call: time-limited TURN credentials by the TURN REST convention
coturn follows with `use-auth-secret` and `static-auth-secret` — username `<expiry unix
time>:<guest user>`, credential base64(HMAC-SHA1(secret, username)) — so no long-lived TURN
password ever reaches a page. Without a TURN secret, only the STUN servers of
CALLCENTER_TURN_URLS (or none)."""

from __future__ import annotations

import base64
import hashlib
import hmac


def credential(secret: str, username: str) -> str:
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def ice_servers(urls: tuple[str, ...], secret: str | None, guest: str,
                expires: float) -> list[dict]:
    """What the visitor's RTCPeerConnection is given; `expires` is a Unix time."""
    stun = [url for url in urls if url.startswith(("stun:", "stuns:"))]
    turn = [url for url in urls if url.startswith(("turn:", "turns:"))]
    servers: list[dict] = []
    if stun:
        servers.append({"urls": stun})
    if turn and secret:
        username = f"{int(expires)}:{guest}"
        servers.append({"urls": turn, "username": username,
                        "credential": credential(secret, username)})
    return servers
