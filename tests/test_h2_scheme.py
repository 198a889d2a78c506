"""A `:scheme` the connection cannot serve is 421 Misdirected Request (RFC 9110 §7.4, §15.5.20),
never served as that scheme: `https` on h2c, `http` on TLS, or another scheme altogether."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from h2.errors import ErrorCodes

from mockstatus.http_syntax import ADMIN_PREFIX
from mockstatus.runner import BackgroundServer
from mockstatus.tls import server_context
from tests.test_h2_rawclient import Answer, H2Client, h2_server

pytest.importorskip("trustme")


@pytest.fixture
def srv(tmp_path: Any) -> Iterator[BackgroundServer]:
    server = h2_server(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def tls(tmp_path: Any) -> Iterator[tuple[BackgroundServer, ssl.SSLContext]]:
    context, ca = server_context()
    server = h2_server(tmp_path, ssl_context=context)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    client.set_alpn_protocols(["h2"])
    yield server, client
    server.stop()


def send(c: H2Client, scheme: str, path: str, *, end: bool = True) -> int:
    """A request with this `:scheme` (H2Client.request always says http)."""
    sid = c.conn.get_next_available_stream_id()
    fields = [(":method", "GET" if end else "POST"), (":scheme", scheme)]
    fields += [(":authority", "localhost"), (":path", path)]
    c.conn.send_headers(sid, fields, end_stream=end)
    c.answers[sid] = Answer()
    c.flush()
    return sid


MISDIRECTED = b"421 Misdirected Request: this connection serves %s, not %s\n"


def test_https_on_h2c_is_421_and_the_connection_goes_on(srv: Any) -> None:
    with H2Client(srv.port) as c:
        a = c.wait(send(c, "https", "/anything"))
        assert (a.status, a.body, a.reset) == (421, MISDIRECTED % (b"http", b"https"), None)
        ok = c.wait(send(c, "http", "/anything"))
        assert ok.status == 200 and json.loads(ok.body)["url"].startswith("http://localhost/")
        assert c.goaway is None
    entries = httpx.get(f"{srv.base_url}{ADMIN_PREFIX}/requests?path=/anything").json()
    assert [e["status"] for e in entries["requests"]] == [421, 200]


@pytest.mark.parametrize(
    ("scheme", "shown"), [("HTTPS", b"https"), ("ftp", b"ftp"), ("a b", b"an invalid scheme")]
)
def test_other_schemes_on_h2c_are_421(srv: Any, scheme: str, shown: bytes) -> None:
    with H2Client(srv.port) as c:
        a = c.wait(send(c, scheme, "/status/200"))
    assert (a.status, a.body) == (421, MISDIRECTED % (b"http", shown))


def test_uppercase_http_on_h2c_is_served(srv: Any) -> None:
    with H2Client(srv.port) as c:
        a = c.wait(send(c, "HTTP", "/status/503"))
    assert a.status == 503


def test_a_misdirected_upload_is_421_then_rst_stream_no_error(srv: Any) -> None:
    with H2Client(srv.port) as c:
        sid = send(c, "https", "/anything", end=False)  # the body never comes
        a = c.wait(sid)
        while a.reset is None and not c.closed:
            c.pump()
        assert (a.status, a.ended, a.reset) == (421, True, ErrorCodes.NO_ERROR)
        assert c.get("/status/204").status == 204 and c.goaway is None


def test_http_on_tls_is_421_and_https_is_served(tls: Any) -> None:
    server, client = tls
    with H2Client(server.port, tls=client) as c:
        a = c.wait(send(c, "http", "/anything"))
        assert (a.status, a.body) == (421, MISDIRECTED % (b"https", b"http"))
        ok = c.wait(send(c, "https", "/anything"))
        assert ok.status == 200
        assert json.loads(ok.body)["url"].startswith("https://localhost/")
