"""`/status/{3xx}?location=` sends a URI-reference (RFC 9110 §10.2.2), as `/redirect-to` does:
a space or non-ASCII character is percent-encoded. It used to go out raw (`Location: /x y`), which
requests and httpx then follow to a different URL than the one asked for, and over HTTP/2 as well."""

from __future__ import annotations

import httpx
import pytest
import requests

from tests import rawhttp

CASES = [
    ("/x%20y", "/x%20y"),  # the query decodes to "/x y"
    ("/caf%C3%A9?q=a%2520b", "/caf%C3%A9?q=a%20b"),  # existing escapes stay escapes
    ("/plain?a=1%26b=2", "/plain?a=1&b=2"),
    ("http%3A%2F%2Fexample.test%2Fp%3Fx%3D1", "http://example.test/p?x=1"),
]


@pytest.mark.parametrize(("given", "sent"), CASES)
def test_location_on_the_wire_is_a_uri_reference(server, given: str, sent: str) -> None:
    _, r = rawhttp.request(server.port, "GET", f"/status/302?location={given}")
    assert (r.status, r.header("Location")) == (302, sent)


@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "h2c"])
def test_httpx_sees_the_same_location_over_both_protocols(server, http2: bool) -> None:
    with httpx.Client(http1=not http2, http2=http2, base_url=server.base_url) as client:
        r = client.get("/status/307?location=/anything/a%20b%C3%A9")
    assert (r.status_code, r.headers["location"]) == (307, "/anything/a%20b%C3%A9")


def test_requests_follows_to_the_encoded_path(server) -> None:
    r = requests.get(server.url("/status/302?location=/anything/a%20b"), timeout=10)
    assert r.status_code == 200 and [h.status_code for h in r.history] == [302]
    assert r.json()["path"] == "/anything/a b" and r.url.endswith("/anything/a%20b")
