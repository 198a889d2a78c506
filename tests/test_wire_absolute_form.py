"""RFC 9112 §3.2.2: a request in absolute-form names its own authority — the server uses it, not
the Host field — and §3.3 rebuilds the target URI from it. httpbin's echoes (`/anything`, `/get`)
reported `http://localhosthttps://localhost/anything` (the Host and the whole target pasted
together). Real socket; through the fast lane and the general path alike."""

from __future__ import annotations

import json

import pytest

from tests import rawhttp

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def echoed_url(port: int, target: str, host: str) -> str:
    _, final = rawhttp.request(port, "GET", target, {"Host": host, "Connection": "close"})
    assert final.status == 200
    return str(json.loads(final.body)["url"])


@pytest.mark.parametrize(
    ("target", "host", "url"),
    [
        ("https://localhost/anything?x=1", "localhost", "http://localhost/anything?x=1"),
        ("http://example.test:81/get", "other.test", "http://example.test:81/get"),
        ("http://user:pw@example.test/anything/a%20b", "x", "http://example.test/anything/a%20b"),
        ("/anything?x=1", "example.test:8080", "http://example.test:8080/anything?x=1"),
    ],
    ids=["https-target", "authority-over-host", "userinfo-dropped", "origin-form"],
)
def test_the_echoed_url_is_the_target_uri(server, target: str, host: str, url: str) -> None:
    assert echoed_url(server.port, target, host) == url
