"""RFC 9112 §3.2: a request whose Host field value is not `uri-host [":" port]` is answered 400,
byte for byte on a real socket, through the fast lane and the general path alike (CI runs the
wire tests with MOCKSTATUS_FAST_LANE=off too). A missing Host on HTTP/1.1 and a repeated Host
were already 400s (aiohttp's parser); valid values are served as before."""

from __future__ import annotations

import socket

import pytest

from mockstatus.http_syntax import valid_host
from tests import rawhttp

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

BODY = b"400 Bad Request: the Host field is not a valid host[:port] (RFC 9112 \xc2\xa73.2)\n"


def exchange(
    port: int, host: bytes, path: str = "/status/200"
) -> tuple[rawhttp.RawResponse, bytes]:
    data = f"GET {path} HTTP/1.1\r\n".encode() + b"Host: " + host + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        reader = rawhttp.Reader(sock)
        _, final = reader.read_response()
        rest = reader.read_to_close() if final.header("Connection") == "close" else b""
    return final, rest


@pytest.mark.parametrize(
    "host",
    [b"a b", b"a/b", b"a@b", b"a:b:c", b"[::1", b"caf\xc3\xa9.example", b"a\tb"],
    ids=["space", "slash", "userinfo", "two-colons", "open-bracket", "non-ascii", "tab"],
)
@pytest.mark.parametrize("path", ["/status/200", "/status/503?sleep=0", "/anything/else"])
def test_an_invalid_host_is_400_and_closed(server, host: bytes, path: str) -> None:
    final, rest = exchange(server.port, host, path)
    assert final.status == 400
    assert final.body == BODY
    assert final.header("Connection") == "close"
    assert int(final.header("Content-Length") or -1) == len(BODY)
    assert rest == b""


@pytest.mark.parametrize(
    "host",
    [b"localhost", b"127.0.0.1:8080", b"[::1]:8080", b"[::1]", b"example.com", b"", b"a%20b"],
)
def test_a_valid_host_is_served(server, host: bytes) -> None:
    final, _ = exchange(server.port, host)
    assert final.status == 200
    assert final.body == b"200 OK"


def test_the_check_is_the_grammar_not_a_guess() -> None:
    assert [valid_host(h) for h in ("x:", ":80", "x:65536", "v.example:443")] == [True] * 4
    assert [valid_host(h) for h in ("x y", "x\x00", "[x", "x]", "x:8a")] == [False] * 5


def test_the_host_check_is_cached_per_value() -> None:
    # The lane checks Host on every request: one grammar match per distinct value, not per request.
    valid_host.cache_clear()
    assert valid_host("example.test:8080") and valid_host("example.test:8080")
    assert valid_host.cache_info().hits == 1
