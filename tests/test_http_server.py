"""The web server answers keep-alive requests without waiting on Nagle's algorithm."""

from __future__ import annotations

import socket
import statistics
import time

import gevent.socket

from callcenter.server import HttpServer

BODY = b'{"ok":true}'


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(BODY)))])
    return [BODY]


def test_keep_alive_answers_do_not_wait_for_delayed_acks():
    """Headers and body go out in two writes; with Nagle on, the second waited for the client's
    delayed ACK (40 ms at least on Linux) on every request after the first."""
    server = HttpServer(("127.0.0.1", 0), app, log=None)
    server.start()
    try:
        client = socket.create_connection(("127.0.0.1", server.server_port))
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client = gevent.socket.socket(fileno=client.detach())
        took = []
        for _ in range(9):
            sent = time.perf_counter()
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while not answer.endswith(BODY):
                answer += client.recv(4096)
            took.append(time.perf_counter() - sent)
        client.close()
    finally:
        server.stop()
    assert statistics.median(took[1:]) < 0.030, took
