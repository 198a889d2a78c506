"""Rate limits on the injected clock: fixed-window, sliding-window, token-bucket; keys; fields;
honest Retry-After; bounded memory. No sleeps: time moves only when a test says so."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockstatus import semantics
from mockstatus.scenarios import ratelimit
from mockstatus.scenarios.loader import load_text
from mockstatus.scenarios.model import RateLimitSpec, ScenarioSet
from mockstatus.scenarios.ratelimit import RateLimiter
from mockstatus.scenarios.runtime import ScenarioRuntime
from mockstatus.types import ManualClock, Query, RequestFacts

SEM = semantics.StatusSemantics(random.Random(1))
ALGORITHMS = ["fixed-window", "sliding-window", "token-bucket"]


def facts(remote: str = "10.0.0.1", headers: dict | None = None, query: dict | None = None):
    return RequestFacts(
        method="GET",
        path="/r",
        remote=remote,
        headers={k.lower(): v for k, v in (headers or {}).items()},
        query=Query(tuple((query or {}).items())),
    )


class Limiter:
    """One route's limiter driven at explicit times."""

    def __init__(self, limit: int, window: float, algorithm: str, key: str = "client") -> None:
        self.spec = RateLimitSpec(limit, window, algorithm, key)  # type: ignore[arg-type]
        self.limiter = RateLimiter()

    def at(self, now: float, **kw) -> ratelimit.Decision:
        return self.limiter.check("s/r", self.spec, facts(**kw), now)

    def allowed(self, now: float, n: int = 1, **kw) -> list[bool]:
        return [self.at(now, **kw).allowed for _ in range(n)]


# --- fixed window ---------------------------------------------------------------------------


def test_fixed_window_counts_down_and_rejects_with_seconds_left():
    lim = Limiter(3, 10, "fixed-window")
    decisions = [lim.at(0) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True] * 3
    assert [d.remaining for d in decisions] == [2, 1, 0]
    assert all(d.reset == 10 and d.retry_after == 0 for d in decisions)
    over = lim.at(0)
    assert (over.allowed, over.remaining, over.retry_after) == (False, 0, 10)
    assert lim.at(3.5).retry_after == 7  # 6.5 s left, rounded up: the client is never early
    assert lim.at(9.999).retry_after == 1
    back = lim.at(10)
    assert (back.allowed, back.remaining) == (True, 2)


def test_fixed_windows_follow_back_to_back_while_the_key_is_busy():
    lim = Limiter(1, 10, "fixed-window")
    assert lim.allowed(5) == [True]
    assert lim.allowed(14.9) == [False]  # window [5, 15)
    assert lim.allowed(15) == [True]  # window [15, 25)
    assert lim.allowed(24.9) == [False]
    assert lim.allowed(25) == [True]  # window [25, 35): busy, so back to back
    # Idle for a whole window (25 → 37): the next request starts a new window [37, 47).
    assert lim.at(37).allowed and lim.at(37).retry_after == 10


def test_fixed_window_allows_a_burst_at_the_boundary_but_sliding_does_not():
    fixed, sliding = Limiter(2, 10, "fixed-window"), Limiter(2, 10, "sliding-window")
    for lim in (fixed, sliding):
        lim.at(0)  # starts the window
    assert fixed.allowed(9.5, 1) + fixed.allowed(10, 2) == [True, True, True]
    assert sliding.allowed(9.5, 1) + sliding.allowed(10, 2) == [True, True, False]


# --- sliding window -------------------------------------------------------------------------


def test_sliding_window_lets_a_request_through_when_the_oldest_hit_expires():
    lim = Limiter(2, 10, "sliding-window")
    assert lim.allowed(0) == [True]
    assert lim.at(4).remaining == 0
    over = lim.at(5)
    assert (over.allowed, over.retry_after) == (False, 5)  # the hit at 0 expires at 10
    assert lim.allowed(10) == [True]
    over = lim.at(11)
    assert (over.allowed, over.retry_after) == (False, 3)  # the hit at 4 expires at 14
    assert lim.allowed(14) == [True]


# --- token bucket ---------------------------------------------------------------------------


def test_token_bucket_allows_a_burst_then_refills_at_limit_per_window():
    lim = Limiter(2, 10, "token-bucket")  # 0.2 tokens/s, 2 at most
    first, second = lim.at(0), lim.at(0)
    assert (first.allowed, first.remaining, second.allowed, second.remaining) == (
        True,
        1,
        True,
        0,
    )
    over = lim.at(0)
    assert (over.allowed, over.retry_after) == (False, 5)  # one token takes 5 s
    assert lim.at(2).retry_after == 3
    assert lim.allowed(5) == [True]
    assert lim.allowed(5) == [False]
    assert lim.allowed(1000, 3) == [True, True, False]  # never more than the bucket holds


def test_token_bucket_refill_is_exact_despite_float_steps():
    clock = ManualClock()
    lim = Limiter(10, 1, "token-bucket")  # one token every 0.1 s
    assert lim.allowed(clock.monotonic(), 11) == [True] * 10 + [False]
    for _ in range(50):
        clock.advance(0.1)
        assert lim.allowed(clock.monotonic(), 2) == [True, False]


# --- every algorithm ------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_exactly_limit_pass_when_many_arrive_at_once(algorithm):
    lim = Limiter(50, 60, algorithm)
    assert lim.allowed(0, 200).count(True) == 50


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_limit_zero_rejects_everything(algorithm):
    lim = Limiter(0, 30, algorithm)
    decisions = [lim.at(t) for t in (0, 100, 1000)]
    assert not any(d.allowed for d in decisions)
    assert all(d.retry_after == 30 and d.remaining == 0 for d in decisions)


@pytest.mark.parametrize(
    ("key", "same", "other"),
    [
        ("client", {"remote": "1.1.1.1"}, {"remote": "2.2.2.2"}),
        ("header:X-Api-Key", {"headers": {"X-Api-Key": "a"}}, {"headers": {"X-Api-Key": "b"}}),
        ("query:api_key", {"query": {"api_key": "a"}}, {"query": {"api_key": "b"}}),
    ],
    ids=["client", "header", "query"],
)
def test_keys_give_separate_buckets(key, same, other):
    lim = Limiter(1, 60, "fixed-window", key)
    assert lim.allowed(0, 2, **same) == [True, False]
    assert lim.allowed(0, 2, **other) == [True, False]


def test_global_key_is_shared_by_every_client():
    lim = Limiter(2, 60, "fixed-window", "global")
    assert lim.allowed(0, remote="1.1.1.1") + lim.allowed(0, remote="2.2.2.2") == [True, True]
    assert lim.allowed(0, remote="3.3.3.3") == [False]


def test_header_names_are_case_insensitive():
    lim = Limiter(1, 60, "fixed-window", "header:x-api-KEY")
    assert lim.allowed(0, headers={"X-Api-Key": "k"}) == [True]
    assert lim.allowed(0, headers={"x-api-key": "k"}) == [False]


@settings(max_examples=200, deadline=None)
@given(
    algorithm=st.sampled_from(ALGORITHMS),
    limit=st.integers(1, 5),
    window=st.sampled_from([0.5, 1.0, 3.0, 10.0, 60.0]),
    gaps=st.lists(st.floats(0, 20, allow_nan=False), min_size=1, max_size=30),
)
def test_retry_after_is_honest(algorithm, limit, window, gaps):
    """After a 429 with Retry-After r, a request r seconds later passes, and (r > 1) one
    second earlier would not have: the wait is exact to the rounded-up second."""
    lim = Limiter(limit, window, algorithm)
    now = 0.0
    for gap in gaps:
        now += gap
        decision = lim.at(now)
        if decision.allowed:
            continue
        retry = decision.retry_after
        assert retry >= 1
        if retry > 1:
            assert not lim.at(now + retry - 1).allowed
        now += retry
        assert lim.at(now).allowed


@settings(max_examples=100, deadline=None)
@given(
    limit=st.integers(1, 5),
    window=st.sampled_from([1.0, 2.5, 10.0]),
    times=st.lists(st.floats(0, 30, allow_nan=False), min_size=1, max_size=40),
)
def test_sliding_window_never_passes_more_than_limit_in_any_window(limit, window, times):
    lim = Limiter(limit, window, "sliding-window")
    passed = [t for t in sorted(times) if lim.at(t).allowed]
    for i, t in enumerate(passed):
        # A hit expires ratelimit._EPS early on purpose (a client waiting exactly its
        # Retry-After is on time despite float rounding): the window it guards is that much shorter.
        assert sum(1 for u in passed[i:] if u < t + window - ratelimit._EPS) <= limit


def test_sliding_window_slack_is_the_documented_microsecond():
    # Hypothesis found it once: a hit at 2.2e-16 has expired by 1.0 with a 1 s window (the
    # slack), but not a microsecond and a bit earlier.
    lim = Limiter(1, 1.0, "sliding-window")
    assert lim.allowed(2.220446049250313e-16) + lim.allowed(1.0) == [True, True]
    lim = Limiter(1, 1.0, "sliding-window")
    assert lim.allowed(0.0) + lim.allowed(1.0 - 2e-6) == [True, False]


# --- bounded memory -------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["sliding-window", "token-bucket"])
def test_idle_keys_expire(algorithm):
    spec = RateLimitSpec(1, 10, algorithm)
    lim = RateLimiter()
    for i in range(500):
        lim.check("s/r", spec, facts(remote=f"10.0.{i // 256}.{i % 256}"), 0)
    assert len(lim) == 500
    lim.sweep(9)
    assert len(lim) == 500  # not idle for a whole window yet
    lim.sweep(10)
    assert len(lim) == 0


def test_sweeps_happen_by_themselves_and_respect_each_keys_window():
    lim = RateLimiter()
    hourly, short = RateLimitSpec(1, 3600), RateLimitSpec(1, 1, "sliding-window")
    for i in range(40):
        lim.check("s/short", short, facts(remote=f"10.1.0.{i}"), 0)
    lim.check("s/hourly", hourly, facts(), 0)
    for _ in range(20):  # each check sweeps SWEEP_STEPS of the oldest
        lim.check("s/short", short, facts(remote="10.9.9.9"), 5)
    assert len(lim) == 2  # the 40 idle short keys went; the hourly one stays (its limit holds)
    assert not lim.check("s/hourly", hourly, facts(), 6).allowed


def test_the_number_of_keys_is_capped_least_recently_seen_first(monkeypatch):
    monkeypatch.setattr(ratelimit, "MAX_KEYS", 10)
    lim = RateLimiter()
    spec = RateLimitSpec(1, 3600)
    lim.check("s/r", spec, facts(remote="keep"), 0)
    for i in range(30):
        lim.check("s/r", spec, facts(remote=f"k{i}"), 0)
        lim.check("s/r", spec, facts(remote="keep"), 0)  # recently seen: survives
    assert len(lim) == 10
    assert not lim.check("s/r", spec, facts(remote="keep"), 0).allowed


# --- through the runtime: fields on 429 and on allowed responses ----------------------------

LIMITED = """
routes:
  - name: api
    match: {path: /r}
    rate_limit: {limit: 2, window: 1m, algorithm: %s, key: %s}
    sequence:
      - {status: 200, body: "first"}
      - {status: 200, body: "later"}
"""


def runtime(text: str, tmp_path: Path, clock: ManualClock) -> ScenarioRuntime:
    scenario = load_text(text, "t.yaml", tmp_path, "t")
    return ScenarioRuntime(ScenarioSet((scenario,)), clock=clock, rng=random.Random(1))


def answer(rt: ScenarioRuntime, **kw):
    plan, _, _ = rt.respond(facts(**kw))
    return plan, {n.lower(): v for n, v in plan.headers}


def test_fields_on_allowed_and_rejected_responses(tmp_path):
    clock = ManualClock()
    rt = runtime(LIMITED % ("fixed-window", "client"), tmp_path, clock)
    plan, h = answer(rt)
    assert plan.status == 200 and plan.body == b"first"
    assert h["ratelimit-policy"] == '"default";q=2;w=60'
    assert h["ratelimit"] == '"default";r=1;t=60'
    assert (h["x-ratelimit-limit"], h["x-ratelimit-remaining"], h["x-ratelimit-reset"]) == (
        "2",
        "1",
        "60",
    )
    assert "retry-after" not in h
    clock.advance(15.5)
    plan, h = answer(rt)
    assert plan.body == b"later" and h["x-ratelimit-remaining"] == "0"
    plan, h = answer(rt)
    assert plan.status == 429
    assert h["retry-after"] == "45"  # 44.5 s left, rounded up
    assert h["ratelimit"] == '"default";r=0;t=45'
    assert h["ratelimit-policy"] == '"default";q=2;w=60'
    assert (h["x-ratelimit-remaining"], h["x-ratelimit-reset"]) == ("0", "45")
    assert h["cache-control"] == "no-store"
    assert list(h).count("ratelimit") == 1  # the draft's fields once, not the 429 defaults too


def test_a_rejected_call_does_not_advance_the_sequence(tmp_path):
    clock = ManualClock()
    rt = runtime(
        LIMITED.replace("limit: 2", "limit: 1") % ("fixed-window", "global"), tmp_path, clock
    )
    assert answer(rt)[0].body == b"first"
    assert answer(rt)[0].status == 429
    clock.advance(60)
    assert answer(rt)[0].body == b"later"


def test_sessions_have_their_own_buckets_and_reset_refills(tmp_path):
    clock = ManualClock()
    rt = runtime(LIMITED % ("token-bucket", "global"), tmp_path, clock)
    a, b = {"X-Mockstatus-Session": "a"}, {"X-Mockstatus-Session": "b"}
    assert [answer(rt, headers=a)[0].status for _ in range(3)] == [200, 200, 429]
    assert [answer(rt, headers=b)[0].status for _ in range(3)] == [200, 200, 429]
    assert answer(rt)[0].status == 200  # the default session too
    rt.reset("a")
    assert answer(rt, headers=a)[0].status == 200
    assert answer(rt, headers=b)[0].status == 429
    rt.reset()
    assert answer(rt, headers=b)[0].status == 200


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_through_the_runtime(tmp_path, algorithm):
    clock = ManualClock()
    rt = runtime(LIMITED % (algorithm, "query:api_key"), tmp_path, clock)
    statuses = [answer(rt, query={"api_key": "k"})[0].status for _ in range(3)]
    assert statuses == [200, 200, 429]
    _, h = answer(rt, query={"api_key": "k"})
    clock.advance(int(h["retry-after"]))
    assert answer(rt, query={"api_key": "k"})[0].status == 200
