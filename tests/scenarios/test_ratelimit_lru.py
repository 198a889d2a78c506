"""The limiter stays O(1) per check at its key cap (LRU eviction, incremental sweep): the tests
count the work done (`sweep_steps`, `evictions`), never time it. And the token bucket's
Retry-After edge case Hypothesis found."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mockstatus.limits import MAX_KEYS
from mockstatus.scenarios import ratelimit
from mockstatus.scenarios.model import RateLimitSpec
from mockstatus.scenarios.ratelimit import SWEEP_STEPS, RateLimiter, _Bucket
from mockstatus.types import RequestFacts

HOURLY = RateLimitSpec(5, 3600, "token-bucket")


def by(key: str) -> RequestFacts:
    return RequestFacts("GET", "/r", remote=key)


def test_at_the_real_key_cap_a_new_key_costs_constant_work():
    lim = RateLimiter()
    for i in range(1000):
        lim.check("s/r", HOURLY, by(f"k{i}"), 0.0)
    # The rest of the table as `check` leaves it (faster to build than 99,000 checks).
    t = lim.buckets[("s/r", "k0")]
    for i in range(1000, MAX_KEYS):
        lim.buckets[("s/r", f"k{i}")] = _Bucket(t.window, t.last_seen, t.window_start)
    assert len(lim) == MAX_KEYS and lim.evictions == 0
    steps = lim.sweep_steps
    for i in range(1000):  # new keys past the cap: each evicts one, none walks the table
        before = lim.sweep_steps
        lim.check("s/r", HOURLY, by(f"new{i}"), 1.0)
        assert lim.sweep_steps - before <= SWEEP_STEPS
    assert lim.evictions == 1000 and len(lim) == MAX_KEYS
    assert lim.sweep_steps - steps <= 1000 * SWEEP_STEPS
    # The oldest went first: k0..k999 were evicted, k1000 is still counted.
    assert ("s/r", "k999") not in lim.buckets and ("s/r", "k1000") in lim.buckets


def test_eviction_is_least_recently_used(monkeypatch):
    monkeypatch.setattr(ratelimit, "MAX_KEYS", 3)
    lim = RateLimiter()
    for key in ("a", "b", "c"):
        lim.check("s/r", HOURLY, by(key), 0)
    lim.check("s/r", HOURLY, by("a"), 0)  # a is now the most recent
    lim.check("s/r", HOURLY, by("d"), 0)  # evicts b
    assert [k for _, k in lim.buckets] == ["c", "a", "d"]
    assert lim.evictions == 1


def test_idle_keys_go_a_few_per_check():
    lim = RateLimiter()
    short = RateLimitSpec(1, 1, "sliding-window")
    for i in range(100):
        lim.check("s/r", short, by(f"k{i}"), 0)
    assert len(lim) == 100
    for n in range(1, 11):  # all idle now: each check drops at most SWEEP_STEPS of them
        lim.check("s/r", short, by("live"), 5)
        assert len(lim) == 100 - n * SWEEP_STEPS + 1
    assert lim.sweep_steps <= 100 * SWEEP_STEPS + 10 * SWEEP_STEPS


def test_whether_the_sweep_ran_never_shows_in_an_answer():
    """An idle key starts afresh at its next request whether or not its bucket was swept
    (which depends on other keys' traffic)."""
    spec = RateLimitSpec(1, 10, "fixed-window")
    swept, kept = RateLimiter(), RateLimiter()
    for lim in (swept, kept):
        assert lim.check("s/r", spec, by("a"), 5).allowed  # window [5, 15)
    for i in range(50):  # other keys' traffic long after: the idle bucket of "a" is swept
        swept.check("s/r", RateLimitSpec(1, 1, "sliding-window"), by(f"x{i}"), 100 + i)
    assert ("s/r", "a") not in swept.buckets and ("s/r", "a") in kept.buckets
    for lim in (swept, kept):
        assert lim.check("s/r", spec, by("a"), 137).allowed  # a new window [137, 147)
        over = lim.check("s/r", spec, by("a"), 138)
        assert (over.allowed, over.retry_after) == (False, 9)


# --- Retry-After of the token bucket -------------------------------------------------------


def honest(algorithm: str, limit: int, window: float, gaps: list[float]) -> None:
    """After a 429 with Retry-After r, a request r seconds later passes, and (r > 1) one
    second earlier would not have."""
    lim = RateLimiter()
    spec = RateLimitSpec(limit, window, algorithm)  # type: ignore[arg-type]
    now = 0.0
    for gap in gaps:
        now += gap
        decision = lim.check("s/r", spec, by("c"), now)
        if decision.allowed:
            continue
        retry = decision.retry_after
        assert retry >= 1
        if retry > 1:
            assert not lim.check("s/r", spec, by("c"), now + retry - 1).allowed
        now += retry
        assert lim.check("s/r", spec, by("c"), now).allowed


def test_the_token_bucket_case_hypothesis_found():
    """Limit 1 per 10 s: a 429 at 0.99999 s said 10 s, yet a request 9 s later passed (the
    wait was rounded with a slack in seconds, the check had one in tokens)."""
    lim = RateLimiter()
    spec = RateLimitSpec(1, 10, "token-bucket")
    assert lim.check("s/r", spec, by("c"), 0.0).allowed
    refused = lim.check("s/r", spec, by("c"), 0.99999)
    assert (refused.allowed, refused.retry_after) == (False, 10)
    assert not lim.check("s/r", spec, by("c"), 0.99999 + 9).allowed
    assert lim.check("s/r", spec, by("c"), 0.99999 + 10).allowed
    honest("token-bucket", 1, 10.0, [3.0, 0.0, 0.0, 0.99999])  # found next, with a probe


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    algorithm=st.sampled_from(["fixed-window", "sliding-window", "token-bucket"]),
    limit=st.integers(1, 5),
    window=st.sampled_from([0.5, 1.0, 3.0, 10.0, 60.0]),
    gaps=st.lists(st.floats(0, 20, allow_nan=False), min_size=1, max_size=30),
)
@example(algorithm="token-bucket", limit=1, window=10.0, gaps=[0.0, 0.99999])
@example(algorithm="token-bucket", limit=1, window=10.0, gaps=[3.0, 0.0, 0.0, 0.99999])
def test_retry_after_is_honest_for_every_algorithm(algorithm, limit, window, gaps):
    honest(algorithm, limit, window, gaps)


@pytest.mark.parametrize("window", [0.5, 1.0, 10.0])
def test_a_token_bucket_wait_is_the_least_whole_second(window):
    lim = RateLimiter()
    spec = RateLimitSpec(2, window, "token-bucket")
    for _ in range(2):
        assert lim.check("s/r", spec, by("c"), 0.0).allowed
    refused = lim.check("s/r", spec, by("c"), 0.0)
    assert refused.retry_after == max(1, -(-window // 2))  # one token takes window/2 seconds
