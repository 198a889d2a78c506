"""Rate-limit values a wrong limiter would get away with: the sliding window's `reset` on allowed
requests, the header fields for odd windows, the keys, and sweeps that run while keys are still
active (a sweep may only forget a key whose state is back to initial). Public API only:
`RateLimiter.check`, `len()`, `client_key`, `rate_headers`."""

from __future__ import annotations

import pytest

from mockstatus.scenarios.model import RateLimitSpec
from mockstatus.scenarios.ratelimit import RateLimiter, client_key, rate_headers
from mockstatus.types import Query, RequestFacts

ALGORITHMS = ["fixed-window", "sliding-window", "token-bucket"]


def facts(remote: str = "10.0.0.1", headers: dict | None = None, query: dict | None = None):
    return RequestFacts(
        method="GET",
        path="/r",
        remote=remote,
        headers=headers or {},
        query=Query(tuple((query or {}).items())),
    )


def check(limiter: RateLimiter, spec: RateLimitSpec, now: float, remote: str = "10.0.0.1"):
    d = limiter.check("s/r", spec, facts(remote), now)
    return d.allowed, d.remaining, d.reset, d.retry_after


# --- sliding window: reset on allowed requests ---------------------------------------------------


def test_sliding_window_reset_counts_to_the_oldest_hit_leaving():
    spec, lim = RateLimitSpec(3, 10, "sliding-window"), RateLimiter()
    assert check(lim, spec, 0) == (True, 2, 10, 0)
    assert check(lim, spec, 4) == (True, 1, 6, 0)  # the hit at 0 leaves at 10
    assert check(lim, spec, 7.5) == (True, 0, 3, 0)  # 2.5 s, rounded up
    assert check(lim, spec, 8) == (False, 0, 2, 2)
    assert check(lim, spec, 10) == (True, 0, 4, 0)  # 0 left; the hit at 4 leaves at 14
    assert check(lim, spec, 13.9) == (False, 0, 1, 1)
    assert check(lim, spec, 14) == (True, 0, 4, 0)  # hits 7.5, 10, 14: 7.5 leaves at 17.5
    assert check(lim, spec, 30) == (True, 2, 10, 0)  # all expired: a fresh window


def test_fixed_window_values():
    spec, lim = RateLimitSpec(2, 10, "fixed-window"), RateLimiter()
    assert check(lim, spec, 0) == (True, 1, 10, 0)
    assert check(lim, spec, 2.2) == (True, 0, 8, 0)
    assert check(lim, spec, 2.5) == (False, 0, 8, 8)
    assert check(lim, spec, 10) == (True, 1, 10, 0)
    assert check(lim, spec, 35) == (True, 1, 10, 0)  # idle for a whole window: a fresh one from 35


def test_token_bucket_values():
    spec, lim = RateLimitSpec(2, 10, "token-bucket"), RateLimiter()  # a token every 5 s
    assert check(lim, spec, 0) == (True, 1, 5, 0)
    assert check(lim, spec, 0) == (True, 0, 10, 0)
    assert check(lim, spec, 1) == (False, 0, 4, 4)
    assert check(lim, spec, 5) == (True, 0, 10, 0)
    assert check(lim, spec, 100) == (True, 1, 5, 0)  # refilled to 2, never above


def test_token_bucket_refills_while_not_empty():
    spec, lim = RateLimitSpec(2, 10, "token-bucket"), RateLimiter()  # a token every 5 s
    assert check(lim, spec, 0) == (True, 1, 5, 0)
    assert check(lim, spec, 5) == (True, 1, 5, 0)  # one token back: 2, then 1 taken


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_limit_zero_waits_a_window(algorithm):
    spec, lim = RateLimitSpec(0, 2.5, algorithm), RateLimiter()  # type: ignore[arg-type]
    assert check(lim, spec, 0) == (False, 0, 3, 3)


# --- header fields -------------------------------------------------------------------------------


@pytest.mark.parametrize(("window", "w"), [(60, 60), (2.5, 3), (0.5, 1), (10.0000001, 10), (1, 1)])
def test_rate_headers_round_the_window_up_to_whole_seconds(window, w):
    assert rate_headers(RateLimitSpec(7, window), 4, 9) == (
        ("RateLimit-Policy", f'"default";q=7;w={w}'),
        ("RateLimit", '"default";r=4;t=9'),
        ("X-RateLimit-Limit", "7"),
        ("X-RateLimit-Remaining", "4"),
        ("X-RateLimit-Reset", "9"),
    )


def test_decision_headers_match_the_decision():
    spec, lim = RateLimitSpec(3, 10, "sliding-window"), RateLimiter()
    lim.check("s/r", spec, facts(), 0)
    d = lim.check("s/r", spec, facts(), 4)
    assert d.headers == rate_headers(spec, 1, 6)


# --- keys ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "request_facts", "value"),
    [
        ("client", facts("10.1.2.3"), "10.1.2.3"),
        ("global", facts("10.1.2.3"), ""),
        ("header:X-Api-Key", facts(headers={"x-api-key": "k1"}), "k1"),
        ("header:X-Api-Key", facts(), ""),
        ("query:user", facts(query={"user": "ann"}), "ann"),
        ("query:user", facts(), ""),
    ],
)
def test_client_key(key, request_facts, value):
    assert client_key(RateLimitSpec(1, 1, key=key), request_facts) == value


def test_unknown_key_kind_is_refused():
    with pytest.raises(ValueError, match="unknown rate-limit key 'cookie:x'"):
        client_key(RateLimitSpec(1, 1, key="cookie:x"), facts())


def test_routes_have_separate_buckets():
    spec, lim = RateLimitSpec(1, 10), RateLimiter()
    assert lim.check("s/a", spec, facts(), 0).allowed
    assert lim.check("s/b", spec, facts(), 0).allowed
    assert not lim.check("s/a", spec, facts(), 0).allowed
    assert len(lim) == 2


def test_a_new_window_for_the_same_key_starts_a_new_bucket():
    lim = RateLimiter()
    assert lim.check("s/r", RateLimitSpec(1, 10), facts(), 0).allowed
    assert not lim.check("s/r", RateLimitSpec(1, 10), facts(), 1).allowed
    # the route was reloaded with another window: its old count no longer applies
    assert lim.check("s/r", RateLimitSpec(1, 20), facts(), 2).allowed
    assert len(lim) == 1


# --- sweeps while keys are active ----------------------------------------------------------------

MANY = 5000  # more checks than any sweep interval: sweeps run while the test's key is active
T0 = 1000.0  # a clock far from zero, as a real monotonic clock is (a sign error shows)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_sweeps_never_forget_an_active_key(algorithm):
    spec, lim = RateLimitSpec(1, 10, algorithm), RateLimiter()  # type: ignore[arg-type]
    assert check(lim, spec, T0)[0] is True
    for i in range(MANY):  # another client keeps the limiter busy while ours waits
        lim.check("s/r", spec, facts("10.0.0.2"), T0 + 1 + i * 8 / MANY)
    assert check(lim, spec, T0 + 9.5) == (False, 0, 1, 1)  # still limited: its bucket survived
    assert check(lim, spec, T0 + 10)[0] is True


# Fixed windows follow back to back from a key's first request, so whether an idle fixed-window
# key may be forgotten is the limiter's choice (its phase is state); not pinned here.
@pytest.mark.parametrize("algorithm", ["sliding-window", "token-bucket"])
def test_sweeps_forget_idle_keys_whose_state_is_back_to_initial(algorithm):
    spec, lim = RateLimitSpec(1, 10, algorithm), RateLimiter()  # type: ignore[arg-type]
    for n in range(3):
        lim.check("s/r", spec, facts(f"10.0.1.{n}"), T0)
    assert len(lim) == 3
    for i in range(MANY):
        lim.check("s/r", spec, facts("10.0.0.2"), T0 + 10 + i / MANY)
    assert len(lim) == 1  # only the busy client is left
    assert check(lim, spec, T0 + 11, "10.0.1.0")[0] is True  # a forgotten key starts afresh


def test_a_key_idle_for_less_than_its_window_is_kept_by_sweeps():
    short, long = RateLimitSpec(1, 5, "sliding-window"), RateLimitSpec(1, 100, "sliding-window")
    lim = RateLimiter()
    lim.check("s/short", short, facts("10.0.1.1"), T0)
    lim.check("s/long", long, facts("10.0.1.1"), T0)
    for i in range(MANY):
        lim.check("s/other", short, facts("10.0.0.2"), T0 + 50 + i / MANY)
    # the 5 s key went (sliding: every hit expired), the 100 s key stays
    assert len(lim) == 2
    assert lim.check("s/long", long, facts("10.0.1.1"), T0 + 60).allowed is False


# --- the microsecond of slack --------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["fixed-window", "sliding-window"])
def test_a_client_a_microsecond_early_is_on_time(algorithm):
    """Float slack of the window algorithms: `start + window` may round a hair above
    `now + retry_after`; a client that waited what it was told is on time (up to 1 µs early),
    but not 10 µs early. (The token bucket judges Retry-After by the check's own comparison.)"""
    spec = RateLimitSpec(1, 1, algorithm)  # type: ignore[arg-type]
    early, on_time = RateLimiter(), RateLimiter()
    for lim in (early, on_time):
        assert check(lim, spec, 0)[0] is True
    assert check(early, spec, 1 - 1e-5)[0] is False
    assert check(on_time, spec, 1 - 1e-6)[0] is True


@pytest.mark.parametrize(
    ("window", "first", "now", "retry"),
    [
        (10, 0.3, 3.3, 7),  # 10.3 - 3.3 is 7.000000000000001 in floats: 7 s is still enough
        (10, 0.3, 4.3, 6),
        (10, 0.8, 3.8, 7),
        (10, 0.8, 4.8, 6),
        (10, 0.3, 9.3, 1),
    ],
)
def test_token_bucket_retry_after_is_exact_at_float_edges(window, first, now, retry):
    """Retry-After is the least whole number of seconds that works: waiting it passes, waiting
    a second less does not (fixed examples of the property test's edge cases)."""
    spec = RateLimitSpec(1, window, "token-bucket")
    runs = [RateLimiter() for _ in range(3)]
    for lim in runs:
        assert check(lim, spec, first)[0] is True
    assert check(runs[0], spec, now) == (False, 0, retry, retry)
    assert check(runs[1], spec, now + retry)[0] is True
    if retry > 1:
        assert check(runs[2], spec, now + retry - 1)[0] is False
