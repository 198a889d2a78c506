"""The bundled provider scenarios, header for header against the providers' documents (cited in
each file and in docs/rate-limits.md), and the retry pack's exact fields. Manual clock at
2026-01-01T00:00:00Z (epoch 1767225600)."""

from __future__ import annotations

import json

import pytest

from mockstatus.app import bundled_scenarios
from mockstatus.types import ManualClock
from tests import rawhttp

EPOCH = 1_767_225_600
GITHUB_FIELDS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-used")


def serve(make_server, *names: str):
    clock = ManualClock()
    files = {n: (bundled_scenarios() / n).read_text() for n in names}
    server = make_server(files, clock=clock)
    server.clock = clock
    return server


def call(server, method: str, path: str, **headers: str) -> rawhttp.RawResponse:
    return rawhttp.request(server.port, method, path, headers)[1]


def fields(r: rawhttp.RawResponse, prefix: str = "x-ratelimit") -> list[tuple[str, str]]:
    return [(n, v) for n, v in r.headers if n.lower().startswith(prefix)]


@pytest.fixture
def github(make_server):
    return serve(make_server, "github-rate-limit.yaml")


def test_github_primary_fields_on_every_response(github):
    r = call(github, "GET", "/github/repos/octo/cat", Authorization="token a")
    assert r.status == 200
    assert fields(r) == [
        ("x-ratelimit-limit", "5000"),
        ("x-ratelimit-remaining", "4999"),
        ("x-ratelimit-used", "1"),
        ("x-ratelimit-reset", str(EPOCH + 3600)),
        ("x-ratelimit-resource", "core"),
    ]
    assert r.header("Retry-After") is None
    anonymous = call(github, "GET", "/github/repos/octo/cat")
    assert fields(anonymous)[:3] == [
        ("x-ratelimit-limit", "60"),
        ("x-ratelimit-remaining", "59"),
        ("x-ratelimit-used", "1"),
    ]


def test_github_primary_limit_is_403_with_remaining_0_and_no_retry_after(github):
    for _ in range(60):
        assert call(github, "GET", "/github/repos/octo/cat").status == 200
    github.clock.advance(600)
    r = call(github, "GET", "/github/repos/octo/cat")
    assert r.status == 403
    assert fields(r) == [
        ("x-ratelimit-limit", "60"),
        ("x-ratelimit-remaining", "0"),
        ("x-ratelimit-used", "60"),
        ("x-ratelimit-reset", str(EPOCH + 3600)),
        ("x-ratelimit-resource", "core"),
    ]
    assert r.header("Retry-After") is None  # GitHub: wait until x-ratelimit-reset
    body = json.loads(r.body)
    assert body["message"].startswith("API rate limit exceeded for ")
    assert body["documentation_url"].startswith("https://docs.github.com/rest/")


def test_github_secondary_limit_is_403_with_retry_after_and_primary_fields(github):
    for _ in range(80):
        assert (
            call(github, "POST", "/github/repos/o/r/issues", Authorization="token a").status == 201
        )
    github.clock.advance(20)
    r = call(github, "POST", "/github/repos/o/r/issues", Authorization="token a")
    assert r.status == 403
    assert r.header("Retry-After") == "40"
    # The x-ratelimit-* fields still describe the primary limit, which the refusal did not use.
    assert fields(r)[:3] == [
        ("x-ratelimit-limit", "5000"),
        ("x-ratelimit-remaining", "4920"),
        ("x-ratelimit-used", "80"),
    ]
    assert json.loads(r.body)["message"].startswith("You have exceeded a secondary rate limit")


def test_github_search_resource(github):
    r = call(github, "GET", "/github/search/repositories", Authorization="token a")
    assert dict(fields(r))["x-ratelimit-resource"] == "search"
    assert dict(fields(r))["x-ratelimit-limit"] == "30"


def test_generic_api_layered_burst_and_minute(make_server):
    server = serve(make_server, "rate-limited-api.yaml")
    key = {"X-Api-Key": "k1"}
    r = call(server, "GET", "/api/v1/items/7", **key)
    assert r.status == 200 and json.loads(r.body) == {"id": "7", "name": "widget"}
    assert r.header("RateLimit-Policy") == '"burst";q=5;w=1, "per-minute";q=100;w=60'
    assert r.header("RateLimit") == '"burst";r=4;t=1, "per-minute";r=99;t=60'
    assert fields(r, "x-ratelimit") == [
        ("X-RateLimit-Limit", "5"),
        ("X-RateLimit-Remaining", "4"),
        ("X-RateLimit-Reset", str(EPOCH + 1)),
    ]
    for _ in range(4):
        call(server, "GET", "/api/v1/items/7", **key)
    refused = call(server, "GET", "/api/v1/items/7", **key)
    assert refused.status == 429
    assert refused.header("Content-Type") == "application/problem+json"
    assert refused.header("Retry-After") == "1"
    assert json.loads(refused.body) == {
        "type": "https://example.com/problems/rate-limited",
        "title": "Too Many Requests",
        "status": 429,
        "detail": "Quota 'burst' of 5 exhausted: retry in 1 s",
    }


PACK = {
    "seconds": (429, [("Retry-After", "2")]),
    "zero": (429, [("Retry-After", "0")]),
    "fractional": (429, [("Retry-After", "1.5")]),
    "past-date": (503, [("Retry-After", "Thu, 01 Jan 2015 00:00:00 GMT")]),
    "far-future": (503, [("Retry-After", "Fri, 01 Jan 2100 00:00:00 GMT")]),
    "garbage": (429, [("Retry-After", "soon")]),
    "disagree": (
        429,
        [
            ("Retry-After", "1"),
            ("RateLimit", '"default";r=0;t=30'),
            ("RateLimit-Policy", '"default";q=10;w=60'),
            ("X-RateLimit-Reset", "30"),
        ],
    ),
    "retry-after-ms": (429, [("retry-after-ms", "1500")]),
    "no-hint": (503, []),
}
HINTS = ("retry-after", "ratelimit", "ratelimit-policy", "x-ratelimit-reset", "retry-after-ms")


@pytest.mark.parametrize("name", PACK)
def test_retry_pack_sends_exactly_its_hints(make_server, name):
    server = serve(make_server, "retry-pack.yaml")
    status, expected = PACK[name]
    for _ in range(2):  # refused every time
        r = call(server, "GET", f"/retry-pack/{name}")
        assert r.status == status
        hints = [(n, v) for n, v in r.headers if n.lower() in HINTS or "ratelimit" in n.lower()]
        assert hints == expected
