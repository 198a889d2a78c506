"""The rejection a rate limit answers: `respond:` (status, body, json, headers) with the decision
variables, and `retry_after: seconds|http-date|none`. On the wire, with the manual clock
(2026-01-01T00:00:00Z = epoch 1767225600)."""

from __future__ import annotations

import json

import pytest

from mockstatus.types import ManualClock
from tests import rawhttp

EPOCH = 1_767_225_600

SCENARIO = """
routes:
  - name: json
    match: {path: /json}
    rate_limit:
      limit: 2
      window: 1m
      name: per-minute
      respond:
        status: 403
        headers: {X-Limit-Note: "{{ limit }} per {{ policy }}"}
        json:
          message: "API rate limit exceeded: {{ remaining }} of {{ limit }} left"
          reset_after: "{{ reset_after }}"
          reset_at: "{{ reset_at }}"
          path: "{{ path }}"
    respond: {status: 200}
  - name: date
    match: {path: /date}
    rate_limit: {limit: 1, window: 90s, retry_after: http-date, respond: {status: 503, body: "later"}}
    respond: {status: 200}
  - name: bare
    match: {path: /bare}
    rate_limit: {limit: 0, window: 1m, headers: [none], retry_after: none, respond: {status: 503}}
    respond: {status: 200}
  - name: own-retry
    match: {path: /own}
    rate_limit:
      limit: 0
      window: 1m
      headers: [ietf]
      respond: {status: 429, headers: {Retry-After: "soon"}}
    respond: {status: 200}
"""


@pytest.fixture
def get(make_server):
    clock = ManualClock()
    server = make_server({"respond.yaml": SCENARIO}, clock=clock)

    def get(path: str) -> rawhttp.RawResponse:
        return rawhttp.request(server.port, "GET", path)[1]

    get.clock = clock  # type: ignore[attr-defined]
    return get


def test_respond_renders_the_decision_into_status_headers_and_json(get):
    assert [get("/json").status for _ in range(2)] == [200, 200]
    get.clock.advance(20)
    r = get("/json")
    assert r.status == 403
    assert r.header("Content-Type") == "application/json"
    assert r.header("X-Limit-Note") == "2 per per-minute"
    assert r.header("Retry-After") == "40"
    assert r.header("X-RateLimit-Reset") == "40" and r.header("X-RateLimit-Remaining") == "0"
    assert json.loads(r.body) == {
        "message": "API rate limit exceeded: 0 of 2 left",
        "reset_after": "40",
        "reset_at": str(EPOCH + 20 + 40),
        "path": "/json",  # request templates still work beside the decision variables
    }


def test_retry_after_as_an_http_date(get):
    assert get("/date").status == 200
    get.clock.advance(30)
    r = get("/date")
    assert (r.status, r.body) == (503, b"later")
    assert r.header("Retry-After") == "Thu, 01 Jan 2026 00:01:30 GMT"  # t=0 + 90 s


def test_retry_after_none_and_style_none_send_no_hint_at_all(get):
    r = get("/bare")
    assert r.status == 503
    names = {n.lower() for n, _ in r.headers}
    assert "retry-after" not in names  # the 503 rule's default Retry-After is dropped too
    assert not any(n.startswith("ratelimit") or n.startswith("x-ratelimit") for n in names)


def test_a_respond_header_wins_over_the_computed_retry_after(get):
    r = get("/own")
    assert r.status == 429
    assert r.all("Retry-After") == ["soon"]
    assert r.header("RateLimit") == '"default";r=0;t=60'
    # ietf only: the 429 rule's default X-RateLimit-* fields are not sent beside it
    assert r.header("X-RateLimit-Limit") is None
