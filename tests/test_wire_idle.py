"""A client that never finishes its request head is closed after the idle timeout (aiohttp's
keep-alive timer, which runs from the connection's start), while other clients are served."""

from __future__ import annotations

import socket

from tests import rawhttp


def test_a_request_head_that_never_completes_is_closed_and_others_are_served(make_server):
    server = make_server(idle_timeout=0.3)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as slow:
        slow.sendall(b"GET /status/200 HTTP/1.1\r\nHost: x\r\nX-Slow: a")  # never ends
        _, resp = rawhttp.request(server.port, "GET", "/status/204")
        assert resp.status == 204
        assert slow.recv(1024) == b""  # closed by the server, not answered


def test_an_idle_connection_is_closed_after_the_idle_timeout(make_server):
    server = make_server(idle_timeout=0.3)
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as idle:
        assert idle.recv(1024) == b""
