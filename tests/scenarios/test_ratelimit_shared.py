"""Named shared limiters, layered policies, request costs, and the located errors of bad ones."""

from __future__ import annotations

import json
import textwrap
import urllib.request
from pathlib import Path

import pytest

from mockstatus.errors import ScenarioError
from mockstatus.scenarios import load_text
from mockstatus.types import ManualClock
from tests import rawhttp

SHARED = """
limiters:
  api: {limit: 3, window: 1m, key: global}
  burst: {limit: 2, window: 1s, key: global}
routes:
  - name: a
    match: {path: /a}
    rate_limit: api
    respond: {status: 200}
  - name: b
    match: {path: /b}
    rate_limit: [api]
    respond: {status: 200}
  - name: heavy
    match: {path: /heavy}
    rate_limit: {limit: 10, window: 1m, cost: 4}
    respond: {status: 200}
  - name: layered
    match: {path: /layered}
    rate_limit: [burst, api]
    respond: {status: 200}
  - name: costly
    match: {path: /costly}
    rate_limit:
      - {limit: 5, window: 1m, cost: "{{ headers.x-cost }}"}
    respond: {status: 200}
  - name: strict
    match: {path: /strict}
    rate_limit:
      - {limit: 5, window: 1m, cost: "{{ query.n }}", on_cost_error: reject,
         respond: {status: 400, body: "bad cost"}}
    respond: {status: 200}
"""


@pytest.fixture
def srv(make_server):
    clock = ManualClock()
    server = make_server({"shared.yaml": SHARED}, clock=clock)
    server.clock = clock
    return server


def get(server, path: str, **headers: str) -> rawhttp.RawResponse:
    return rawhttp.request(server.port, "GET", path, headers)[1]


def journal(server) -> list[dict]:
    with urllib.request.urlopen(server.url("/__mockstatus/requests"), timeout=5) as resp:
        return json.load(resp)["requests"]


def test_routes_naming_one_limiter_share_its_quota(srv):
    assert [get(srv, p).status for p in ("/a", "/b", "/a", "/b")] == [200, 200, 200, 429]
    assert get(srv, "/a").header("X-RateLimit-Remaining") == "0"
    srv.clock.advance(60)
    assert get(srv, "/b").status == 200


def test_a_cost_counts_that_many_and_a_cost_over_what_is_left_is_refused(srv):
    first = get(srv, "/heavy")
    assert (first.status, first.header("X-RateLimit-Remaining")) == (200, "6")
    assert get(srv, "/heavy").header("X-RateLimit-Remaining") == "2"
    refused = get(srv, "/heavy")  # 4 > 2 left
    assert (refused.status, refused.header("X-RateLimit-Remaining")) == (429, "2")


def test_layered_the_tightest_decides_and_a_refusal_takes_from_none(srv):
    assert [get(srv, "/layered").status for _ in range(3)] == [200, 200, 429]  # burst: 2 per s
    r = get(srv, "/layered")
    assert r.header("RateLimit") == '"burst";r=0;t=1, "api";r=1;t=60'
    assert r.header("Retry-After") == "1"
    srv.clock.advance(1)
    assert get(srv, "/layered").status == 200  # api: the third of 3
    r = get(srv, "/layered")  # burst has 1 left, api none: api decides
    assert (r.status, r.header("Retry-After")) == (429, "59")
    assert r.header("RateLimit") == '"burst";r=1;t=1, "api";r=0;t=59'


def test_a_cost_above_the_limit_is_refused_with_the_reason_in_the_journal(srv):
    r = get(srv, "/costly", **{"X-Cost": "6"})
    assert (r.status, r.header("Retry-After")) == (429, "60")
    entry = journal(srv)[-1]
    assert entry["note"] == (
        "rate limit 'default': cost 6 is above the limit 5: refused whatever the wait"
    )
    assert get(srv, "/costly", **{"X-Cost": "5"}).status == 200  # the refusal took nothing


def test_a_cost_that_is_not_a_number_counts_1_by_default_with_a_note(srv):
    r = get(srv, "/costly", **{"X-Cost": "lots"})
    assert (r.status, r.header("X-RateLimit-Remaining")) == (200, "4")
    assert journal(srv)[-1]["note"] == (
        "rate limit 'default': cost 'lots' is not a whole number: counted as 1 "
        "(on_cost_error: allow)"
    )
    assert journal(srv)[-1]["status"] == 200


def test_on_cost_error_reject_answers_the_rejection_and_takes_nothing(srv):
    r = get(srv, "/strict?n=-1")
    assert (r.status, r.body) == (400, b"bad cost")
    assert journal(srv)[-1]["note"].endswith("refused (on_cost_error: reject)")
    ok = get(srv, "/strict?n=5")
    assert (ok.status, ok.header("X-RateLimit-Remaining")) == (200, "0")


def test_a_plain_route_journals_no_note(srv):
    get(srv, "/a")
    assert journal(srv)[-1]["note"] is None


# --- located load errors ----------------------------------------------------------------------


def problems(text: str) -> list[tuple[int, int, str]]:
    with pytest.raises(ScenarioError) as info:
        load_text(textwrap.dedent(text), "s.yaml", Path("."), "s")
    return [(p.line, p.column, p.message) for p in info.value.problems]


BAD = [
    (
        "unknown-style",
        """
        routes:
          - respond: {status: 200}
            rate_limit: {limit: 1, window: 1s, headers: [ietf, githb]}
        """,
        [
            (
                4,
                56,
                "'headers' must be one of ietf, ietf-legacy, x-ratelimit, github, openai, none, "
                "got 'githb' (did you mean 'github'?)",
            )
        ],
    ),
    (
        "unknown-style-option",
        """
        routes:
          - respond: {status: 200}
            rate_limit: {limit: 1, window: 1s, headers: [{x-ratelimit: {reset: epoch-s}}]}
        """,
        [(4, 72, "'reset' must be one of seconds, epoch, epoch-ms, http-date, got 'epoch-s'")],
    ),
    (
        "unknown-limiter",
        """
        limiters:
          api: {limit: 1, window: 1s}
        routes:
          - respond: {status: 200}
            rate_limit: [apu]
        """,
        [(6, 18, "unknown limiter 'apu' (did you mean 'api'?)")],
    ),
    (
        "no-limiters",
        """
        routes:
          - respond: {status: 200}
            rate_limit: api
        """,
        [(4, 17, "unknown limiter 'api'; this file has no 'limiters'")],
    ),
    (
        "bad-cost",
        """
        routes:
          - respond: {status: 200}
            rate_limit: {limit: 1, window: 1s, cost: -2}
        """,
        [(4, 46, "'cost' must be a whole number from 0, got -2")],
    ),
    (
        "bad-cost-template",
        """
        routes:
          - respond: {status: 200}
            rate_limit: {limit: 1, window: 1s, cost: "{{ header.x }}"}
        """,
        [(4, 46, "unknown template variable '{{ header.x }}'")],
    ),
    (
        "on-cost-error-without-template",
        """
        routes:
          - respond: {status: 200}
            rate_limit: {limit: 1, window: 1s, on_cost_error: reject}
        """,
        [(4, 55, "'on_cost_error' only applies to a 'cost' template")],
    ),
    (
        "duplicate-policy-names",
        """
        routes:
          - respond: {status: 200}
            rate_limit: [{limit: 1, window: 1s, name: x}, {limit: 2, window: 1m, name: x}]
        """,
        [(4, 51, "two policies of one route are named 'x'")],
    ),
    (
        "unknown-key",
        """
        routes:
          - respond: {status: 200}
            rate_limit: {limit: 1, window: 1s, retry-after: http-date}
        """,
        [(4, 40, "unknown key 'retry-after' in rate_limit (did you mean 'retry_after'?)")],
    ),
    (
        "bad-retry-after",
        """
        routes:
          - respond: {status: 200}
            rate_limit: {limit: 1, window: 1s, retry_after: date}
        """,
        [(4, 53, "'retry_after' must be one of seconds, http-date, none, got 'date'")],
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_rate_limits_are_located_errors(text, expected):
    found = problems(text)
    assert len(found) == len(expected), found
    for (line, col, fragment), got in zip(expected, found, strict=True):
        assert (line, col) == got[:2] and fragment in got[2], found


def test_a_named_lone_inline_policy_is_named_in_its_fields(make_server):
    """Regression: the single-policy fast path wrote "default" whatever `name:` said."""
    text = "routes:\n  - match: {path: /n}\n    rate_limit: {limit: 2, window: 1m, name: api}\n"
    server = make_server({"n.yaml": text + "    respond: {status: 200}\n"})
    r = get(server, "/n")
    assert r.header("RateLimit-Policy") == '"api";q=2;w=60'
    assert r.header("RateLimit") == '"api";r=1;t=60'


def test_a_style_listed_twice_is_a_located_error():
    found = problems(
        """
        routes:
          - respond: {status: 200}
            rate_limit: {limit: 1, window: 1s, headers: [ietf, ietf]}
        """
    )
    assert found == [(4, 56, "style 'ietf' is listed twice in 'headers'")]
