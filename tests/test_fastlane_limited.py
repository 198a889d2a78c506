"""The fast lane's rate-limit tier (wire/lane_limited.py) sends the general path's bytes (minus
Date) for allowed answers and 429s alike, decides exactly as it does (same counts, journal,
metrics, rejections), and steps aside when the scenario state is shared (issues 13 and 19).
The second tier's renderings of reused plans (Lane.rendered_entry) too."""

from __future__ import annotations

import json
import random
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockstatus.app import Mockstatus
from mockstatus.runner import BackgroundServer
from mockstatus.types import ManualClock, RequestFacts
from mockstatus.wire.lane_limited import LimitedEntry
from tests import rawhttp

LIMITED = """\
name: limited
routes:
  - name: global
    match: {path: /rl/global}
    rate_limit: {limit: 3, window: 1m, key: global}
    respond: {status: 200, body: ok}
  - name: client
    match: {method: GET, path: /rl/client}
    rate_limit: {limit: 2, window: 10s, key: client}
    respond: {status: 503, headers: {Retry-After: "7", X-Thing: a}, json: {down: true}}
  - name: header
    match: {path: /rl/header}
    rate_limit: {limit: 2, window: 30s, key: "header:x-api-key", algorithm: token-bucket}
    respond: {status: 201, body: "made 100%d %s %% %b\\n"}  # a % in the bytes stays one
  - name: sliding
    match: {path: /rl/sliding}
    rate_limit: {limit: 2, window: 5s, key: global, algorithm: sliding-window}
    respond: {status: 204}
  - name: own-field
    match: {path: /rl/own}
    rate_limit: {limit: 2, window: 1m, key: global}
    respond: {status: 200, headers: {X-RateLimit-Limit: "99"}, body: mine}
  - name: styled
    match: {path: /rl/styled}
    rate_limit: {limit: 2, window: 1m, key: global, headers: [github]}
    respond: {status: 200, body: styled}
  - name: steps
    match: {path: /seq/steps}
    sequence: [{status: 503, headers: {Retry-After: "1"}}, {status: 200, json: {n: 2}}]
    after: loop
"""
TIER = ["/rl/global", "/rl/client", "/rl/header", "/rl/sliding", "/rl/own"]  # the tier's
OTHERS = ["/rl/styled"]  # a style: planned per request by the second tier
_DATE = re.compile(rb"\r\nDate: [^\r]*")


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[list[BackgroundServer]]:
    (tmp_path / "limited.yaml").write_text(LIMITED)
    started = []
    for lane in (True, False):
        app = Mockstatus(clock=ManualClock(), rng=random.Random(5), scenarios_dir=tmp_path)
        app.store.load_initial()
        started.append(BackgroundServer(app, fast_lane=lane).start())
    yield started
    for server in started:
        server.stop()


def _exchange(port: int, requests: list[tuple[str, str, dict[str, str], str]]) -> list[bytes]:
    """Each request on one keep-alive connection (a new one after a closing answer)."""
    out: list[bytes] = []
    while len(out) < len(requests):
        with rawhttp.connect(port) as sock:
            reader = rawhttp.Reader(sock)
            for method, target, headers, version in requests[len(out) :]:
                sock.sendall(rawhttp.build(method, target, headers, version=version))
                _, final = reader.read_response(method)
                out.append(_DATE.sub(b"", final.head) + b"\r\n\r\n" + final.body)
                connection = (final.header("Connection") or "").lower()
                if connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive"):
                    break
    return out


def _both(pair: list[BackgroundServer], requests: list[tuple[str, str, dict[str, str], str]]):
    lane, general = pair
    before = lane.lane.answered if lane.lane else 0
    fast = _exchange(lane.port, requests)
    slow = _exchange(general.port, requests)
    for request, a, b in zip(requests, fast, slow, strict=True):
        assert a == b, request
    return fast, (lane.lane.answered if lane.lane else 0) - before


def _advance(pair: list[BackgroundServer], seconds: float) -> None:
    for server in pair:
        server.app.clock.advance(seconds)


@pytest.mark.parametrize(
    ("method", "headers", "version"),
    [
        ("GET", {}, "HTTP/1.1"),
        ("GET", {"Accept": "application/json"}, "HTTP/1.1"),
        ("HEAD", {"Accept": "text/html"}, "HTTP/1.1"),
        ("GET", {"Connection": "close"}, "HTTP/1.1"),
        ("GET", {}, "HTTP/1.0"),
        ("GET", {"Connection": "keep-alive", "X-Api-Key": "k1"}, "HTTP/1.0"),
    ],
    ids=["text", "json", "head-html", "close", "http10", "http10-keepalive"],
)
def test_allowed_and_refused_answers_are_byte_identical(pair, method, headers, version) -> None:
    requests = [(method, t, headers, version) for t in TIER + OTHERS for _ in range(4)]
    answers, taken = _both(pair, requests)
    # Every tier route answered twice or thrice, then 429 (GET-only /rl/client: 404 for HEAD).
    statuses = [int(a.split(b" ", 2)[1]) for a in answers]
    assert statuses.count(429) >= 2 * len(TIER + OTHERS) - (4 if method == "HEAD" else 0) - 2
    assert taken >= 4 * (len(TIER) - (method == "HEAD")) + 4 * len(OTHERS)
    # The windows move on: the same clocks, the same reset values and refills on both paths.
    _advance(pair, 12.5)
    _both(pair, requests)
    _advance(pair, 60)
    _both(pair, requests)


def test_the_values_are_the_limiters(pair) -> None:
    """Field values pinned on the lane's side (not merely equal to the general path's)."""
    lane = pair[0]
    first, second, third, fourth = _exchange(lane.port, [("GET", "/rl/global", {}, "HTTP/1.1")] * 4)
    assert b'\r\nRateLimit: "default";r=2;t=60\r\n' in first
    assert b"\r\nX-RateLimit-Remaining: 0\r\n" in third
    assert fourth.startswith(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 60\r\n")
    assert b'\r\nRateLimit-Policy: "default";q=3;w=60\r\n' in fourth
    assert second.endswith(b"\r\n\r\nok")
    lane.app.clock.advance(45)
    (fifth,) = _exchange(lane.port, [("GET", "/rl/global", {}, "HTTP/1.1")])
    assert fifth.startswith(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 15\r\n")
    assert isinstance(lane.lane.entries[("/rl/global", "GET", "text", (1, 1), True)], LimitedEntry)
    # A field the route sets itself wins (as `build` has it); a style is planned per request.
    (own,) = _exchange(lane.port, [("GET", "/rl/own", {}, "HTTP/1.1")])
    assert b"\r\nX-RateLimit-Limit: 99\r\n" in own
    assert b"\r\nX-RateLimit-Remaining: 1\r\n" in own
    assert isinstance(lane.lane.entries[("/rl/own", "GET", "text", (1, 1), True)], LimitedEntry)
    assert lane.lane.entries.get(("/rl/styled", "GET", "text", (1, 1), True)) is None
    (made,) = _exchange(lane.port, [("GET", "/rl/header", {"X-Api-Key": "k9"}, "HTTP/1.1")])
    assert made.endswith(b"\r\n\r\nmade 100%d %s %% %b\n")  # the format's % kept as sent
    assert b"\r\nX-RateLimit-Remaining: 1\r\n" in made


def test_counts_journal_metrics_and_rejections_match_the_general_path(pair) -> None:
    requests = [("GET", t, {"X-Api-Key": "k"}, "HTTP/1.1") for t in TIER for _ in range(3)]
    _both(pair, requests)

    def seen(server: BackgroundServer) -> tuple:
        entries = [
            (e.method, e.path, e.route, e.status, e.http_version)
            for e in server.app.journal.entries
        ]
        listing = json.load(urllib.request.urlopen(server.url("/__mockstatus/scenarios")))
        runtime = server.app.store.runtime
        return (
            entries,
            listing["scenarios"],
            dict(server.app.metrics.requests),
            dict(runtime.rejections),
        )

    assert seen(pair[0]) == seen(pair[1])
    calls = {r["name"]: r["calls"] for r in seen(pair[0])[1][0]["routes"]}
    assert calls["global"] == 3 and calls["client"] == 2 and calls["sliding"] == 2
    assert dict(pair[0].app.store.runtime.rejections) == {
        ("limited", "client"): 1,
        ("limited", "header"): 1,
        ("limited", "sliding"): 1,
        ("limited", "own-field"): 1,
    }


def test_preconditions_take_the_second_tier(pair) -> None:
    headers = {"If-None-Match": "*"}
    answers, _ = _both(pair, [("GET", "/rl/global", headers, "HTTP/1.1")] * 4)
    assert [a[:12] for a in answers] == [b"HTTP/1.1 304"] * 3 + [b"HTTP/1.1 429"]


class _InProcessStore:
    """A stand-in for a shared state store: decides with this process's state."""

    async def respond(self, runtime, facts):
        return runtime.respond(facts)


def test_a_shared_state_store_sends_limited_routes_the_general_way(pair) -> None:
    lane = pair[0]
    # What `--state` sets up before the lane is installed (cli: link, then fastlane.install).
    lane.app.shared = _InProcessStore()
    assert lane.lane is not None
    lane.lane.shared = True
    before = lane.lane.answered
    _both(pair, [("GET", t, {}, "HTTP/1.1") for t in TIER + OTHERS])
    assert lane.lane.answered == before  # neither the rate-limit tier nor the second tier
    _exchange(lane.port, [("GET", "/status/503", {}, "HTTP/1.1")])
    assert lane.lane.answered == before + 1  # prepared bytes need no state: still the lane


@pytest.mark.parametrize(
    ("method", "headers", "version"),
    [
        ("GET", {}, "HTTP/1.1"),
        ("HEAD", {"Accept": "application/json"}, "HTTP/1.1"),
        ("GET", {"Connection": "close"}, "HTTP/1.1"),
        ("GET", {}, "HTTP/1.0"),
    ],
    ids=["get", "head-json", "close", "http10"],
)
def test_reused_plans_of_the_second_tier_are_rendered_once(pair, method, headers, version) -> None:
    requests = [(method, "/seq/steps", headers, version)] * 5
    answers, taken = _both(pair, requests)
    assert taken == 5
    assert [a[:12] for a in answers] == [
        f"{version} 503".encode(),
        f"{version} 200".encode(),
    ] * 2 + [f"{version} 503".encode()]
    rendered = pair[0].lane.rendered
    assert len(rendered) == 2  # one per step's plan, each rendered for this variant only
    assert all(len(variants) == 1 for _, variants in rendered.values())


def test_an_entry_whose_slots_do_not_give_the_general_bytes_is_refused(pair, monkeypatch) -> None:
    """limited_entry proves its slots at build time against the general rendering: a field
    format that does more than str() its values (here: zero-padding) leaves the route to the
    second tier instead of sending wrong values."""
    from mockstatus.scenarios import ratelimit
    from mockstatus.wire import fastlane, lane_limited

    runtime = pair[0].app.store.runtime
    route = next(r for r in runtime.matcher.routes if r.name == "global")
    facts = RequestFacts(method="GET", path="/rl/global", headers={"accept": "text/plain"})
    made = lane_limited.limited_entry(runtime, route, facts, True, fastlane.render)
    assert isinstance(made, LimitedEntry)

    def padded(spec, remaining, reset):
        fields = ratelimit.rate_headers(spec, remaining, reset)
        return (*fields, ("X-Padded", str(remaining).zfill(5)))  # a marker is 3 characters

    monkeypatch.setattr(lane_limited, "rate_headers", padded)
    assert lane_limited.limited_entry(runtime, route, facts, True, fastlane.render) is None
