"""The upstream's 1xx relayed (issue 14, optional part): `103 Early Hints` and `102 Processing`
reach the client before the final response, as raw bytes on the wire; not to an HTTP/1.0 client
(RFC 9110 §15.2) nor under `--interim off`; at most UPSTREAM_INTERIMS per request.

The upstream is a raw socket server: aiohttp's server cannot send 103 before its response."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import requests

from mockstatus.limits import UPSTREAM_INTERIMS
from tests import rawhttp
from tests.proxyhelp import proxy_server

LINK = "</style.css>; rel=preload; as=style"


class RawUpstream:
    """Answers every request on a connection (keep-alive) with `interims` then `200 ok`."""

    def __init__(self, interims: bytes) -> None:
        self.interims = interims
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                _, buf = buf.split(b"\r\n\r\n", 1)
                self.requests += 1
                conn.sendall(
                    self.interims + b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Up: 1\r\n\r\nok"
                )

    def close(self) -> None:
        self.sock.close()


def _hints(n: int = 1) -> bytes:
    return (
        f"HTTP/1.1 103 Early Hints\r\nLink: {LINK}\r\nConnection: X-Private\r\nX-Private: p\r\n\r\n"
    ).encode() * n


@pytest.fixture
def hints_upstream() -> Iterator[RawUpstream]:
    up = RawUpstream(_hints())
    yield up
    up.close()


def test_103_reaches_the_client_before_the_final_response(hints_upstream: RawUpstream) -> None:
    with proxy_server(f"http://127.0.0.1:{hints_upstream.port}") as front:
        with rawhttp.connect(front.port) as sock:
            reader = rawhttp.Reader(sock)
            for _ in range(2):  # the same connection stays in step after a relayed 103
                sock.sendall(rawhttp.build("GET", "/page"))
                interims, final = reader.read_response("GET")
                assert [(i.status, i.reason) for i in interims] == [(103, "Early Hints")]
                # hop-by-hop fields (and those Connection names) removed, Via added
                assert interims[0].headers == [("Link", LINK), ("Via", "1.1 mockstatus")]
                assert (final.status, final.body, final.header("X-Up")) == (200, b"ok", "1")
    assert hints_upstream.requests == 2


def test_102_and_103_in_order() -> None:
    up = RawUpstream(b"HTTP/1.1 102 Processing\r\n\r\n" + _hints())
    try:
        with proxy_server(f"http://127.0.0.1:{up.port}") as front:
            interims, final = rawhttp.request(front.port, "GET", "/slow")
    finally:
        up.close()
    assert [(i.status, i.reason) for i in interims] == [(102, "Processing"), (103, "Early Hints")]
    assert (final.status, final.body) == (200, b"ok")


def test_no_1xx_to_an_http_1_0_client(hints_upstream: RawUpstream) -> None:
    with proxy_server(f"http://127.0.0.1:{hints_upstream.port}") as front:
        interims, final = rawhttp.request(front.port, "GET", "/page", version="HTTP/1.0")
    assert interims == []
    assert (final.status, final.body) == (200, b"ok")


def test_interim_off_relays_none(hints_upstream: RawUpstream) -> None:
    with proxy_server(f"http://127.0.0.1:{hints_upstream.port}", interim_mode="off") as front:
        interims, final = rawhttp.request(front.port, "GET", "/page")
    assert interims == []
    assert (final.status, final.body) == (200, b"ok")


def test_a_flood_of_1xx_is_cut_at_the_cap() -> None:
    up = RawUpstream(_hints(UPSTREAM_INTERIMS + 5))
    try:
        with proxy_server(f"http://127.0.0.1:{up.port}") as front:
            interims, final = rawhttp.request(front.port, "GET", "/flood")
            journal = requests.get(front.url("/__mockstatus/requests"), timeout=5).json()
    finally:
        up.close()
    assert [i.status for i in interims] == [103] * UPSTREAM_INTERIMS
    assert (final.status, final.body) == (200, b"ok")
    assert [e["upstream"]["status"] for e in journal["requests"]] == [200]
