"""The httpbin catalog answers the same over HTTP/1.1 and HTTP/2 (h2c prior knowledge), with
httpx on both. `/stream/{n}` lines are "the `/get` shape with an `id`" (docs/httpbin.md): their
`headers` used to be the raw names as received, so over HTTP/2 (always lower case) they differed
from `/get`'s canonical `User-Agent`, `X-Foo`, and from the same request over HTTP/1.1."""

from __future__ import annotations

import json

import httpx
import pytest

from tests import rawhttp

HEADERS = {"user-agent": "parity/1", "x-foo": "Bar", "accept": "*/*"}


def _stream_docs(client: httpx.Client) -> list[dict]:
    r = client.get("/stream/2", headers=HEADERS)
    assert r.status_code == 200
    return [json.loads(line) for line in r.text.splitlines()]


@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "h2c"])
def test_stream_lines_carry_the_get_headers(server, http2: bool) -> None:
    with httpx.Client(http1=not http2, http2=http2, base_url=server.base_url) as client:
        get = client.get("/get", headers=HEADERS).json()
        lines = _stream_docs(client)
    assert [line["id"] for line in lines] == [0, 1]
    for line in lines:
        assert line["headers"] == get["headers"]
        assert line["headers"]["X-Foo"] == "Bar" and line["headers"]["User-Agent"] == "parity/1"
        assert line["url"] == get["url"].replace("/get", "/stream/2")
        assert (line["args"], line["origin"]) == ({}, "127.0.0.1")


def test_stream_headers_are_the_same_over_both_protocols(server) -> None:
    with httpx.Client(base_url=server.base_url) as h1:
        over_h1 = _stream_docs(h1)
    with httpx.Client(http1=False, http2=True, base_url=server.base_url) as h2:
        over_h2 = _stream_docs(h2)
    for line in over_h1:
        # the one field HTTP/2 forbids (RFC 9113 §8.2.2); httpx sends it over HTTP/1.1
        assert line["headers"].pop("Connection") == "keep-alive"
    assert over_h1 == over_h2


def test_stream_canonicalises_lower_case_names_over_http1(server) -> None:
    _, r = rawhttp.request(server.port, "GET", "/stream/1", {"x-lower-case": "v"})
    line = json.loads(r.body)
    assert line["headers"] == {"Host": "127.0.0.1", "X-Lower-Case": "v"}
