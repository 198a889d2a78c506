"""The forwarded header fields, computed in one pass (mockstatus.proxy): the `connection` and
`extra` arguments the wire passes give the same fields as the plain calls, and aiohttp's `istr`
names come out as plain `str` (the recorder writes them as YAML)."""

from __future__ import annotations

import pytest
import yaml
from multidict import CIMultiDict, CIMultiDictProxy, istr

from mockstatus import proxy
from mockstatus.proxy import ProxyTarget

CLIENT = [
    ("Host", "front:8080"),
    ("Connection", "keep-alive, X-Hop"),
    ("connection", "X-Other"),
    ("X-Hop", "1"),
    ("X-Other", "2"),
    ("Proxy-Connection", "keep-alive"),
    ("Via", "1.0 a"),
    ("VIA", "1.1 b"),
    ("X-Forwarded-Host", "spoofed"),
    ("x-forwarded-for", "10.0.0.9"),
    ("Accept", "*/*"),
    ("accept", "text/plain"),
]


@pytest.mark.parametrize("forwarded", proxy.FORWARDED_MODES)
def test_request_headers_with_connection_values_given_equal_the_plain_call(
    forwarded: proxy.Forwarded,
) -> None:
    target = ProxyTarget("http://up:9000", "http", "up", 9000, forwarded=forwarded)
    fields = CIMultiDictProxy(CIMultiDict(CLIENT))
    plain = proxy.request_headers(CLIENT, target, host="front", scheme="http", remote="::1")
    given = proxy.request_headers(
        fields.items(),
        target,
        host="front",
        scheme="http",
        remote="::1",
        connection=fields.getall("Connection", ()),
    )
    assert given == plain


def test_request_headers_values_in_each_forwarding_mode() -> None:
    sent = {
        mode: proxy.request_headers(
            CLIENT,
            ProxyTarget("http://up", "http", "up", 80, forwarded=mode),
            host="front",
            scheme="https",
            remote="10.0.0.1",
        )
        for mode in proxy.FORWARDED_MODES
    }
    end_to_end = [("Accept", "*/*"), ("accept", "text/plain")]
    via_host = [("Via", "1.0 a, 1.1 b, 1.1 mockstatus"), ("Host", "up")]
    assert sent["x-forwarded"] == [
        *end_to_end,
        *via_host,
        ("X-Forwarded-For", "10.0.0.9, 10.0.0.1"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "front"),
    ]
    # The client's X-Forwarded-* pass untouched when we add none of our own.
    client_xf = [("X-Forwarded-Host", "spoofed"), ("x-forwarded-for", "10.0.0.9")]
    assert sent["none"] == [*client_xf, *end_to_end, *via_host]
    assert sent["rfc7239"] == [
        *client_xf,
        *end_to_end,
        *via_host,
        ("Forwarded", "for=10.0.0.1;host=front;proto=https"),
    ]


def test_response_headers_add_extra_fields_the_upstream_did_not_send() -> None:
    upstream = [("Content-Type", "text/plain"), ("RateLimit-Limit", "100"), ("Via", "1.1 up")]
    extra = (("ratelimit-limit", "5"), ("RateLimit-Remaining", "4"), ("Retry-After", "1"))
    assert proxy.response_headers(upstream, extra) == [
        ("Content-Type", "text/plain"),
        ("RateLimit-Limit", "100"),  # the upstream's own wins
        ("Via", "1.1 up, 1.1 mockstatus"),
        ("RateLimit-Remaining", "4"),
        ("Retry-After", "1"),
    ]


def test_response_headers_from_aiohttp_names_are_plain_str() -> None:
    received = CIMultiDictProxy(
        CIMultiDict(
            [
                (istr("Content-Type"), "text/plain"),
                (istr("Connection"), "X-Private"),
                (istr("X-Private"), "p"),
                (istr("Set-Cookie"), "a=1"),
            ]
        )
    )
    fields = proxy.response_headers(received.items(), (), received.getall("Connection", ()))
    assert fields == [
        ("Content-Type", "text/plain"),
        ("Set-Cookie", "a=1"),
        ("Via", "1.1 mockstatus"),
    ]
    assert {type(name) for name, _ in fields} == {str}
    assert yaml.safe_dump(fields) == (
        "- - Content-Type\n  - text/plain\n- - Set-Cookie\n  - a=1\n- - Via\n  - 1.1 mockstatus\n"
    )


def test_hop_by_hop_still_names_the_connection_fields() -> None:
    assert proxy.hop_by_hop([("Connection", "close, X-A"), ("connection", " x-b ")]) == (
        proxy.HOP_BY_HOP | {"close", "x-a", "x-b"}
    )
