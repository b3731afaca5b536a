"""The client's address: X-Forwarded-For is believed only from trusted proxies, right to left."""

from __future__ import annotations

import ipaddress

import pytest

from callcenter.web.addresses import client_address, parse_address

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8:ffff::/48"))


@pytest.mark.parametrize("peer, forwarded, client", [
    # No proxy in between: the peer is the client, whatever it wrote in the header.
    ("203.0.113.5", [], "203.0.113.5"),
    ("203.0.113.5", ["198.51.100.1"], "203.0.113.5"),
    # Through a trusted proxy: the address it appended.
    ("10.0.0.2", ["198.51.100.1"], "198.51.100.1"),
    # The client wrote its own header first: the right-most untrusted address still wins.
    ("10.0.0.2", ["1.2.3.4, 198.51.100.1"], "198.51.100.1"),
    ("10.0.0.2", ["1.2.3.4", "198.51.100.1"], "198.51.100.1"),
    # Two trusted proxies in a row.
    ("10.0.0.2", ["1.2.3.4, 198.51.100.1, 10.9.9.9"], "198.51.100.1"),
    # Ports and brackets, as some proxies write them.
    ("10.0.0.2", ["198.51.100.1:4711"], "198.51.100.1"),
    ("10.0.0.2", ["[2001:db8::7]:4711"], "2001:db8::7"),
    ("2001:db8:ffff::1", ["2001:db8::7"], "2001:db8::7"),
    # Garbage the client wrote, with nothing trusted appended after it: the proxy is all we know.
    ("10.0.0.2", ["not-an-address"], "10.0.0.2"),
    ("10.0.0.2", ["evil, 10.0.0.3"], "10.0.0.3"),
    # A trusted proxy that sent no header.
    ("10.0.0.2", [], "10.0.0.2"),
    ("::ffff:203.0.113.5", [], "203.0.113.5"),
])
def test_client_address(peer, forwarded, client):
    assert client_address(peer, forwarded, PROXIES) == client


def test_without_trusted_proxies_the_header_is_ignored():
    assert client_address("127.0.0.1", ["198.51.100.1"], ()) == "127.0.0.1"


@pytest.mark.parametrize("text", ["", "x", "1.2.3", "[::1", "1.2.3.4:5:6"])
def test_unparseable_addresses(text):
    assert parse_address(text) is None
