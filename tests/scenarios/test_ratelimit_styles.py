"""Every rate-limit header style, field by field, read off the wire with the manual clock.

The clock starts at 2026-01-01T00:00:00Z (epoch 1767225600), so every epoch and HTTP-date
reset below is exact. Provider shapes: docs/rate-limits.md (with the providers' links).
"""

from __future__ import annotations

import pytest

from mockstatus.scenarios.ratelimit_styles import go_duration, reset_at
from mockstatus.types import ManualClock
from tests import rawhttp

EPOCH = 1_767_225_600
RATE_NAMES = {
    "ratelimit",
    "ratelimit-policy",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "retry-after",
}


def rate_fields(r: rawhttp.RawResponse) -> list[tuple[str, str]]:
    """The rate-limit fields of a response, as sent (name case and order kept)."""
    return [
        (n, v)
        for n, v in r.headers
        if n.lower() in RATE_NAMES or n.lower().startswith("x-ratelimit")
    ]


def route(name: str, spec: str) -> str:
    return f"""
  - name: {name}
    match: {{path: /{name}}}
    rate_limit: {spec}
    respond: {{status: 200, body: ok}}
"""


STYLES = "routes:" + "".join(
    route(name, spec)
    for name, spec in [
        ("default", "{limit: 3, window: 1m}"),
        ("ietf", "{limit: 3, window: 1m, headers: [ietf]}"),
        ("legacy", "{limit: 3, window: 1m, headers: [ietf-legacy]}"),
        ("x-seconds", "{limit: 3, window: 1m, headers: [x-ratelimit]}"),
        ("x-epoch", "{limit: 3, window: 1m, headers: [{x-ratelimit: {reset: epoch}}]}"),
        ("x-ms", "{limit: 3, window: 1m, headers: [{x-ratelimit: {reset: epoch-ms}}]}"),
        ("x-date", "{limit: 3, window: 1m, headers: [{x-ratelimit: {reset: http-date}}]}"),
        ("github", "{limit: 3, window: 1h, headers: [{github: {resource: search}}]}"),
        ("github-core", "{limit: 3, window: 1h, headers: [github]}"),
        ("none", "{limit: 3, window: 1m, headers: [none]}"),
        ("two", "{limit: 3, window: 1m, headers: [ietf-legacy, {x-ratelimit: {reset: epoch}}]}"),
    ]
)


@pytest.fixture
def styled(make_server):
    clock = ManualClock()
    server = make_server({"styles.yaml": STYLES}, clock=clock)

    def get(path: str, headers: dict[str, str] | None = None) -> rawhttp.RawResponse:
        return rawhttp.request(server.port, "GET", path, headers)[1]

    get.clock = clock  # type: ignore[attr-defined]
    return get


CASES = {
    "default": [
        ("RateLimit-Policy", '"default";q=3;w=60'),
        ("RateLimit", '"default";r=1;t=45'),
        ("X-RateLimit-Limit", "3"),
        ("X-RateLimit-Remaining", "1"),
        ("X-RateLimit-Reset", "45"),
    ],
    "ietf": [("RateLimit-Policy", '"default";q=3;w=60'), ("RateLimit", '"default";r=1;t=45')],
    "legacy": [("RateLimit-Limit", "3"), ("RateLimit-Remaining", "1"), ("RateLimit-Reset", "45")],
    "x-seconds": [
        ("X-RateLimit-Limit", "3"),
        ("X-RateLimit-Remaining", "1"),
        ("X-RateLimit-Reset", "45"),
    ],
    "x-epoch": [
        ("X-RateLimit-Limit", "3"),
        ("X-RateLimit-Remaining", "1"),
        ("X-RateLimit-Reset", str(EPOCH + 60)),
    ],
    "x-ms": [
        ("X-RateLimit-Limit", "3"),
        ("X-RateLimit-Remaining", "1"),
        ("X-RateLimit-Reset", str((EPOCH + 60) * 1000)),
    ],
    "x-date": [
        ("X-RateLimit-Limit", "3"),
        ("X-RateLimit-Remaining", "1"),
        ("X-RateLimit-Reset", "Thu, 01 Jan 2026 00:01:00 GMT"),
    ],
    "github": [
        ("x-ratelimit-limit", "3"),
        ("x-ratelimit-remaining", "1"),
        ("x-ratelimit-used", "2"),
        ("x-ratelimit-reset", str(EPOCH + 3600)),
        ("x-ratelimit-resource", "search"),
    ],
    "github-core": [
        ("x-ratelimit-limit", "3"),
        ("x-ratelimit-remaining", "1"),
        ("x-ratelimit-used", "2"),
        ("x-ratelimit-reset", str(EPOCH + 3600)),
        ("x-ratelimit-resource", "core"),
    ],
    "none": [],
    "two": [
        ("RateLimit-Limit", "3"),
        ("RateLimit-Remaining", "1"),
        ("RateLimit-Reset", "45"),
        ("X-RateLimit-Limit", "3"),
        ("X-RateLimit-Remaining", "1"),
        ("X-RateLimit-Reset", str(EPOCH + 60)),
    ],
}


@pytest.mark.parametrize("name", CASES)
def test_style_fields_on_the_wire(styled, name):
    """The first request at t=0 starts the window; the second, 15 s later, sees 1 left. Resets
    in delta seconds count down (45); epoch-based ones name the window's end (t=60 or 3600)."""
    assert styled(f"/{name}").status == 200
    styled.clock.advance(15)
    r = styled(f"/{name}")
    assert r.status == 200
    assert rate_fields(r) == CASES[name]


def test_rejection_carries_the_style_and_an_exact_retry_after(styled):
    clock = styled.clock
    for _ in range(3):
        styled("/github")
    clock.advance(600)
    r = styled("/github")
    assert r.status == 429  # the default rejection status; github.yaml answers 403 itself
    assert rate_fields(r) == [
        ("Retry-After", "3000"),
        ("x-ratelimit-limit", "3"),
        ("x-ratelimit-remaining", "0"),
        ("x-ratelimit-used", "3"),
        ("x-ratelimit-reset", str(EPOCH + 3600)),
        ("x-ratelimit-resource", "search"),
    ]


def test_none_sends_no_fields_even_when_rejecting_except_retry_after(styled):
    for _ in range(3):
        assert rate_fields(styled("/none")) == []
    r = styled("/none")
    assert (r.status, rate_fields(r)) == (429, [("Retry-After", "60")])


LAYERED = """
routes:
  - name: chat
    match: {path: /chat}
    rate_limit:
      - {name: rpm, limit: 3, window: 1m}
      - {name: tpm, limit: 1000, window: 1m, unit: tokens, algorithm: token-bucket,
         cost: "{{ headers.x-tokens }}"}
    respond: {status: 200}
  - name: openai
    match: {path: /openai}
    rate_limit:
      - {name: rpm, limit: 3, window: 1m, headers: [openai]}
      - {name: tpm, limit: 1000, window: 1m, unit: tokens, algorithm: token-bucket,
         cost: "{{ headers.x-tokens }}"}
    respond: {status: 200}
  - name: burst
    match: {path: /burst}
    rate_limit:
      - {name: burst, limit: 2, window: 1s, headers: [ietf, x-ratelimit]}
      - {name: hourly, limit: 100, window: 1h}
    respond: {status: 200}
"""


@pytest.fixture
def layered(make_server):
    clock = ManualClock()
    server = make_server({"layered.yaml": LAYERED}, clock=clock)

    def get(path: str, **headers: str) -> rawhttp.RawResponse:
        return rawhttp.request(server.port, "GET", path, headers)[1]

    get.clock = clock  # type: ignore[attr-defined]
    return get


def test_openai_reports_the_requests_and_the_tokens_triple(layered):
    r = layered("/openai", **{"X-Tokens": "100"})
    assert rate_fields(r) == [
        ("x-ratelimit-limit-requests", "3"),
        ("x-ratelimit-remaining-requests", "2"),
        ("x-ratelimit-reset-requests", "1m0s"),
        ("x-ratelimit-limit-tokens", "1000"),
        ("x-ratelimit-remaining-tokens", "900"),
        ("x-ratelimit-reset-tokens", "6s"),  # 100 tokens back at 1000/60 per second
    ]
    layered.clock.advance(3)  # 50 tokens back
    r = layered("/openai", **{"X-Tokens": "800"})
    assert rate_fields(r)[3:] == [
        ("x-ratelimit-limit-tokens", "1000"),
        ("x-ratelimit-remaining-tokens", "150"),
        ("x-ratelimit-reset-tokens", "51s"),  # 850 tokens at 16.67/s: 51 s
    ]


def test_a_token_cost_over_what_is_left_is_refused_and_takes_nothing(layered):
    assert layered("/openai", **{"X-Tokens": "900"}).status == 200
    refused = layered("/openai", **{"X-Tokens": "200"})
    assert refused.status == 429
    fields = dict(rate_fields(refused))
    # 100 tokens left, 200 asked: 100 more at 1000/60 per second → 6 s.
    assert fields["Retry-After"] == "6"
    assert fields["x-ratelimit-remaining-requests"] == "2"  # the refusal took no request
    assert fields["x-ratelimit-remaining-tokens"] == "100"
    assert layered("/openai", **{"X-Tokens": "100"}).status == 200


def test_ietf_lists_every_policy_the_others_the_tightest(layered):
    r = layered("/burst")
    assert rate_fields(r) == [
        ("RateLimit-Policy", '"burst";q=2;w=1, "hourly";q=100;w=3600'),
        ("RateLimit", '"burst";r=1;t=1, "hourly";r=99;t=3600'),
        ("X-RateLimit-Limit", "2"),
        ("X-RateLimit-Remaining", "1"),
        ("X-RateLimit-Reset", "1"),
    ]
    layered("/burst")
    refused = layered("/burst")
    assert refused.status == 429
    assert rate_fields(refused)[:3] == [
        ("Retry-After", "1"),
        ("RateLimit-Policy", '"burst";q=2;w=1, "hourly";q=100;w=3600'),
        ("RateLimit", '"burst";r=0;t=1, "hourly";r=98;t=3600'),  # the refusal took nothing
    ]


def test_go_durations_and_reset_at():
    assert [go_duration(s) for s in (0, 1, 59, 60, 360, 3599, 3600, 3661)] == [
        "0s",
        "1s",
        "59s",
        "1m0s",
        "6m0s",
        "59m59s",
        "1h0m0s",
        "1h1m1s",
    ]
    assert reset_at(1000.0, 5) == 1005 and reset_at(1000.2, 5) == 1006  # never early
