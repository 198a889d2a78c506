"""Exact values of the layered limiter (`check_layers`, `verdict_of`), of costs above 1, of
`take`, of requests refused whatever the wait (`_remaining`) and of the sweeps' bookkeeping: the
numbers a wrong limiter would get away with when a test only asks "allowed or not". Every test
drives a manual clock (plain floats); none sleeps."""

from __future__ import annotations

import pytest

from mockstatus.scenarios import ratelimit
from mockstatus.scenarios.model import RateLimitSpec
from mockstatus.scenarios.ratelimit import RateLimiter, verdict_of
from mockstatus.scenarios.ratelimit_styles import PolicyState
from mockstatus.types import RequestFacts

ALGORITHMS = ["fixed-window", "sliding-window", "token-bucket"]
T0 = 1000.0  # a clock far from zero, as a real monotonic clock is (a sign error shows)


def by(remote: str = "10.0.0.1") -> RequestFacts:
    return RequestFacts("GET", "/r", remote=remote)


def take(lim: RateLimiter, spec: RateLimitSpec, now: float, owner: str = "s/r", remote="10.0.0.1"):
    return lim.take(owner, spec, by(remote), now)


def layers(lim: RateLimiter, specs: tuple[RateLimitSpec, ...], now: float, costs=None):
    owners = tuple(f"s/r#{i}" for i in range(len(specs)))
    return lim.check_layers(owners, specs, by(), now, costs or (1,) * len(specs))


def remaining(verdict) -> list[int]:
    return [p.remaining for p in verdict.policies]


# --- take: check's decision without fields ------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("fixed-window", [(True, 1, 10, 0), (True, 0, 7, 0), (False, 0, 6, 6)]),
        ("sliding-window", [(True, 1, 10, 0), (True, 0, 7, 0), (False, 0, 6, 6)]),
        # a token every 5 s: after two, the first is back at 5 (1 s after 4), full at 13
        ("token-bucket", [(True, 1, 5, 0), (True, 0, 7, 0), (False, 0, 1, 1)]),
    ],
)
def test_take_answers_and_takes_like_check(algorithm, expected):
    spec = RateLimitSpec(2, 10, algorithm)
    took, checked = RateLimiter(), RateLimiter()
    answers = [take(took, spec, t) for t in (0, 3, 4)]
    assert answers == expected
    assert [tuple(checked.check("s/r", spec, by(), t))[:4] for t in (0, 3, 4)] == expected


# --- one policy, costs above 1 ------------------------------------------------------------------


def test_single_policy_with_a_cost_takes_the_cost():
    spec, lim = RateLimitSpec(5, 10, name="api"), RateLimiter()
    v = layers(lim, (spec,), 0, (3,))
    assert v == (True, 0, (PolicyState("api", 5, 10, 2, 10),), None, None)
    v = layers(lim, (spec,), 1, (3,))  # 3 + 3 > 5: refused, 2 left, the window ends at 10
    assert v == (False, 9, (PolicyState("api", 5, 10, 2, 9),), spec, None)
    v = layers(lim, (spec,), 2, (2,))  # exactly the rest fits
    assert v == (True, 0, (PolicyState("api", 5, 10, 0, 8),), None, None)


def test_the_policy_fields_come_from_the_spec():
    spec = RateLimitSpec(4, 2.5, name="search", unit="tokens", secondary=True)
    v = layers(RateLimiter(), (spec,), 0, (1,))
    assert v.policies == (PolicyState("search", 4, 3, 3, 3, "tokens", True),)


def test_sliding_window_with_costs_waits_for_enough_hits_to_leave():
    spec, lim = RateLimitSpec(5, 10, "sliding-window"), RateLimiter()
    for now, cost in ((0, 2), (1, 2), (2, 1)):
        assert layers(lim, (spec,), now, (cost,)).allowed
    # 3 more need 3 freed: the hits of 0 (2) and 1 (2) must leave: at 11, 8 s from now
    assert layers(lim, (spec,), 3, (3,))[:2] == (False, 8)
    # 2 more need 2 freed: the hit of 0 alone is enough: at 10
    assert layers(lim, (spec,), 3, (2,))[:2] == (False, 7)
    assert layers(lim, (spec,), 10, (2,)).policies[0].remaining == 0  # 2 + 1 + 2
    assert layers(lim, (spec,), 10.5, (1,))[:2] == (False, 1)  # the hit of 1 leaves at 11


def test_sliding_window_reset_after_a_free_request_counts_from_the_first_real_hit():
    spec, lim = RateLimitSpec(3, 10, "sliding-window"), RateLimiter()
    v = layers(lim, (spec,), 0, (0,))  # free: takes nothing, logs nothing
    assert v.policies[0].remaining == 3 and v.policies[0].reset == 10
    v = layers(lim, (spec,), 5, (1,))  # the only hit is this one: it leaves at 15
    assert v.policies[0].remaining == 2 and v.policies[0].reset == 10


def test_token_bucket_with_costs():
    spec, lim = RateLimitSpec(5, 10, "token-bucket"), RateLimiter()  # half a token a second
    assert layers(lim, (spec,), 0, (3,)).policies[0][3:5] == (2, 6)  # full again in 3 / 0.5 s
    v = layers(lim, (spec,), 1, (3,))  # 2.5 tokens: the third is there at 2
    assert (v.allowed, v.retry_after, v.policies[0].remaining) == (False, 1, 2)
    v = layers(lim, (spec,), 2, (3,))  # 3 tokens, all taken: full again in 10 s
    assert (v.allowed, v.policies[0].remaining, v.policies[0].reset) == (True, 0, 10)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_cost_equal_to_the_limit_passes_on_a_full_quota(algorithm):
    spec, lim = RateLimitSpec(3, 10, algorithm), RateLimiter()
    v = layers(lim, (spec,), 0, (3,))
    assert (v.allowed, v.policies[0].remaining) == (True, 0)


# --- refused whatever the wait: a cost above the limit ------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "left"),
    [("fixed-window", 2), ("sliding-window", 2), ("token-bucket", 2)],
)
def test_a_cost_above_the_limit_reports_what_is_left_and_takes_nothing(algorithm, left):
    spec, lim = RateLimitSpec(3, 10, algorithm), RateLimiter()
    assert layers(lim, (spec,), 0, (1,)).allowed
    v = layers(lim, (spec,), 0, (4,))
    assert v == (
        False,
        10,  # "a window": no wait would do
        (PolicyState("default", 3, 10, left, 10),),
        spec,
        "rate limit 'default': cost 4 is above the limit 3: refused whatever the wait",
    )
    after = layers(lim, (spec,), 0, (1,))  # the refusal took nothing
    assert (after.allowed, after.policies[0].remaining) == (True, left - 1)


def test_a_cost_above_the_limit_counts_the_token_refill():
    spec, lim = RateLimitSpec(4, 8, "token-bucket"), RateLimiter()  # half a token a second
    assert layers(lim, (spec,), 0, (3,)).allowed  # 1 token left at 0
    v = layers(lim, (spec,), 4, (5,))  # 1 + 4 * 0.5 = 3 tokens now
    assert (v.allowed, v.retry_after, v.policies[0].remaining) == (False, 8, 3)


def test_a_cost_above_the_limit_counts_the_sliding_log():
    spec, lim = RateLimitSpec(3, 10, "sliding-window"), RateLimiter()
    assert layers(lim, (spec,), 0, (2,)).allowed
    v = layers(lim, (spec,), 5, (7,))
    assert (v.policies[0].remaining, v.retry_after) == (1, 10)
    v = layers(lim, (spec,), 10, (7,))  # the hit of 0 has left
    assert (v.policies[0].remaining, v.retry_after) == (3, 10)


def test_a_limit_of_one_with_a_cost_of_two_reports_the_one_left():
    spec = RateLimitSpec(1, 10)
    assert take_verdict(spec, 2) == (False, 10, 1)


def test_a_limit_of_zero_reports_zero_left_and_the_cost_in_the_note():
    spec = RateLimitSpec(0, 2.5)
    v = layers(RateLimiter(), (spec,), 0, (1,))
    assert (v.allowed, v.retry_after, v.policies[0].remaining, v.policies[0].reset) == (
        False,
        3,
        0,
        3,
    )
    assert v.note == "rate limit 'default': cost 1 is above the limit 0: refused whatever the wait"


def take_verdict(spec: RateLimitSpec, cost: int) -> tuple[bool, int, int]:
    v = layers(RateLimiter(), (spec,), 0, (cost,))
    return v.allowed, v.retry_after, v.policies[0].remaining


# --- several policies: all take or none does ----------------------------------------------------

BURST = RateLimitSpec(2, 1, name="burst")
HOUR = RateLimitSpec(3, 60, name="hour")


def test_layers_all_allow_and_all_take():
    lim = RateLimiter()
    v = layers(lim, (BURST, HOUR), 0)
    assert v == (
        True,
        0,
        (PolicyState("burst", 2, 1, 1, 1), PolicyState("hour", 3, 60, 2, 60)),
        None,
        None,
    )
    v = layers(lim, (BURST, HOUR), 0.1)
    assert remaining(v) == [0, 1] and [p.reset for p in v.policies] == [1, 60]


def test_a_refusal_by_the_burst_costs_the_hour_nothing():
    lim = RateLimiter()
    layers(lim, (BURST, HOUR), 0)
    layers(lim, (BURST, HOUR), 0.1)
    v = layers(lim, (BURST, HOUR), 0.2)
    # the hour would allow (1 left after this one); it reports 1 left without this request
    assert v == (
        False,
        1,
        (PolicyState("burst", 2, 1, 0, 1), PolicyState("hour", 3, 60, 1, 60)),
        BURST,
        None,
    )
    v = layers(lim, (BURST, HOUR), 1.0)  # a new burst window; the hour still had 1
    assert v.allowed and remaining(v) == [1, 0]


def test_a_refusal_by_the_hour_costs_the_burst_nothing():
    lim = RateLimiter()
    for now in (0, 1, 2):
        assert layers(lim, (BURST, HOUR), now).allowed
    v = layers(lim, (BURST, HOUR), 3)
    assert v == (
        False,
        57,
        (PolicyState("burst", 2, 1, 2, 1), PolicyState("hour", 3, 60, 0, 57)),
        HOUR,
        None,
    )
    # the burst bucket of 3 s is untouched: both of its requests are still there
    assert take(lim, BURST, 3.5, owner="s/r#0") == (True, 1, 1, 0)
    assert take(lim, BURST, 3.6, owner="s/r#0") == (True, 0, 1, 0)


def test_layers_with_costs_add_each_cost_back_on_a_refusal():
    day, minute = RateLimitSpec(100, 86400, name="day"), RateLimitSpec(10, 60, name="minute")
    lim = RateLimiter()
    assert remaining(layers(lim, (day, minute), 0, (7, 3))) == [93, 7]
    v = layers(lim, (day, minute), 1, (20, 8))  # the day allows 20; the minute refuses 8 > 7
    assert (v.allowed, v.decider, remaining(v)) == (False, minute, [93, 7])
    assert remaining(layers(lim, (day, minute), 2, (1, 1))) == [92, 6]


def test_the_longest_wait_decides():
    short, long = RateLimitSpec(1, 10, name="short"), RateLimitSpec(1, 30, name="long")
    for specs in ((short, long), (long, short)):
        lim = RateLimiter()
        assert layers(lim, specs, 0).allowed
        v = layers(lim, specs, 4)
        assert (v.retry_after, v.decider) == (26, long)


def test_on_equal_waits_the_first_policy_decides():
    a, b, c = (RateLimitSpec(1, 10, name=n) for n in "abc")
    lim = RateLimiter()
    assert layers(lim, (a, b, c), 0).allowed
    v = layers(lim, (a, b, c), 1)
    assert v.decider is a and v.retry_after == 9


def test_the_note_names_the_deciding_policy_and_its_own_cost():
    wide = RateLimitSpec(50, 60, name="wide")
    tight = RateLimitSpec(3, 60, name="tight")
    last = RateLimitSpec(50, 60, name="last")
    v = layers(RateLimiter(), (wide, tight, last), 0, (4, 5, 6))
    assert v.decider is tight and v.retry_after == 60
    assert v.note == "rate limit 'tight': cost 5 is above the limit 3: refused whatever the wait"
    assert remaining(v) == [50, 3, 50]  # wide and last report their quota without the costs


# --- verdict_of: the shared store's results in memory's shape -----------------------------------


def test_verdict_of_allowed_reports_every_policy_as_given():
    specs = (RateLimitSpec(5, 10, name="a"), RateLimitSpec(9, 0.5, name="b", unit="tokens"))
    v = verdict_of(specs, (2, 3), [(True, 3, 7, 0), (True, 6, 1, 0)])
    assert v == (
        True,
        0,
        (PolicyState("a", 5, 10, 3, 7), PolicyState("b", 9, 1, 6, 1, "tokens")),
        None,
        None,
    )


def test_verdict_of_refused_adds_the_cost_back_to_the_policies_that_allowed():
    specs = tuple(RateLimitSpec(10, 60, name=n) for n in "abc")
    v = verdict_of(specs, (2, 3, 4), [(True, 5, 50, 0), (False, 1, 40, 40), (True, 2, 30, 0)])
    assert remaining(v) == [7, 1, 6]
    assert (v.allowed, v.retry_after, v.decider, v.note) == (False, 40, specs[1], None)


def test_verdict_of_picks_the_longest_wait_then_the_first():
    specs = tuple(RateLimitSpec(10, 60, name=n) for n in "abcd")
    results = [(False, 0, 5, 5), (False, 0, 9, 9), (True, 3, 1, 0), (False, 0, 9, 9)]
    v = verdict_of(specs, (1, 1, 1, 1), results)
    assert v.decider is specs[1] and v.retry_after == 9


# --- sweeps: the work they do and what they forget ----------------------------------------------


def test_a_check_sweeps_when_the_oldest_bucket_has_been_idle_exactly_a_window():
    spec, lim = RateLimitSpec(1, 10), RateLimiter()
    take(lim, spec, 0, remote="a")
    take(lim, spec, 9.5, remote="b")
    assert lim.sweep_steps == 0  # the oldest was not idle: no sweep at all
    take(lim, spec, 10, remote="c")  # a idle for exactly 10 s: dropped; b is looked at, kept
    assert lim.sweep_steps == 2
    assert [k for _, k in lim.buckets] == ["b", "c"]


def test_a_sweep_looks_at_two_buckets_at_most():
    spec, lim = RateLimitSpec(1, 10), RateLimiter()
    for key in "abcd":
        take(lim, spec, 0, remote=key)
    take(lim, spec, 20, remote="e")
    assert lim.sweep_steps == 2 and [k for _, k in lim.buckets] == ["c", "d", "e"]
    take(lim, spec, 20, remote="e")
    assert lim.sweep_steps == 4 and [k for _, k in lim.buckets] == ["e"]


def test_a_sweep_of_the_last_bucket_stops_on_an_empty_table():
    spec, lim = RateLimitSpec(1, 10), RateLimiter()
    take(lim, spec, 0, remote="a")
    assert take(lim, spec, 10, remote="b") == (True, 0, 10, 0)
    assert lim.sweep_steps == 1 and [k for _, k in lim.buckets] == ["b"]


def test_the_full_sweep_walks_every_bucket_and_drops_the_idle_ones():
    spec, lim = RateLimitSpec(1, 10), RateLimiter()
    take(lim, spec, 0, remote="a")
    take(lim, spec, 1, remote="b")
    take(lim, spec, 5, remote="c")
    lim.sweep(11)  # a and b idle for 10 s or more, c for 6
    assert lim.sweep_steps == 3 and [k for _, k in lim.buckets] == ["c"] and len(lim) == 1
    lim.sweep(15)  # c idle for exactly its window
    assert lim.sweep_steps == 4 and len(lim) == 0


def test_the_key_cap_evicts_and_counts(monkeypatch):
    monkeypatch.setattr(ratelimit, "MAX_KEYS", 2)
    spec, lim = RateLimitSpec(1, 10), RateLimiter()
    for key in "abc":
        assert take(lim, spec, 0, remote=key)[0] is True
    assert lim.evictions == 1 and [k for _, k in lim.buckets] == ["b", "c"]
    assert take(lim, spec, 0, remote="a")[0] is True  # a was forgotten: a fresh quota
    assert lim.evictions == 2 and [k for _, k in lim.buckets] == ["c", "a"]


# --- a key idle for a whole window starts afresh ------------------------------------------------


def test_a_fixed_window_key_idle_a_whole_window_starts_a_new_window_then():
    spec, lim = RateLimitSpec(1, 10), RateLimiter()
    assert take(lim, spec, 0) == (True, 0, 10, 0)
    assert take(lim, spec, 5) == (False, 0, 5, 5)
    # idle 10 s since 5: the window starts at 15, not at 10 (back to back from 0)
    assert take(lim, spec, 15) == (True, 0, 10, 0)


def test_a_busy_fixed_window_key_keeps_its_phase():
    spec, lim = RateLimitSpec(1, 10), RateLimiter()
    assert take(lim, spec, 0) == (True, 0, 10, 0)
    assert take(lim, spec, 9) == (False, 0, 1, 1)
    assert take(lim, spec, 17) == (True, 0, 3, 0)  # the window of 10..20
    assert take(lim, spec, 19) == (False, 0, 1, 1)


def test_a_busy_fixed_window_key_at_the_exact_end_of_its_window_gets_a_new_one():
    spec, lim = RateLimitSpec(1, 10), RateLimiter()
    assert take(lim, spec, 0) == (True, 0, 10, 0)
    assert take(lim, spec, 5) == (False, 0, 5, 5)
    assert take(lim, spec, 10) == (True, 0, 10, 0)  # the window of 10..20, a whole one left


def test_a_refused_cost_equal_to_the_limit_has_no_note():
    spec, lim = RateLimitSpec(3, 10), RateLimiter()
    assert layers(lim, (spec,), 0, (1,)).allowed
    v = layers(lim, (spec,), 1, (3,))  # it would fit a fresh window: refused for 9 s only
    assert (v.allowed, v.retry_after, v.note) == (False, 9, None)


# --- the token bucket a hair early ---------------------------------------------------------------


def test_a_token_taken_a_hair_early_leaves_an_empty_bucket_not_a_full_one():
    """Up to 1 µs early passes (float slack), which takes a token the bucket holds only
    0.9999995 of: the bucket is then empty (0 tokens), never below: a negative count would read
    as "not started yet" and refill the bucket at once."""
    spec, lim = RateLimitSpec(1, 1, "token-bucket"), RateLimiter()
    assert take(lim, spec, 0) == (True, 0, 1, 0)
    assert take(lim, spec, 1 - 5e-7) == (True, 0, 1, 0)
    assert take(lim, spec, 1 - 4e-7) == (False, 0, 1, 1)
    assert take(lim, spec, 2 - 5e-7) == (True, 0, 1, 0)


@pytest.mark.parametrize(
    ("window", "first", "now", "retry"),
    [
        # ceil(ready - now) says 2, yet now + 1 == ready in floats: 1 is enough
        (2, 0.3, 1.2999989999999995, 1),
        # ceil says 4, now + 3 == ready: 3 (a correction of more than a second to 1)
        (5, 0.3, 2.2999989999999992, 3),
        # ceil says 1, yet now + 1 < ready in floats: 2 are needed
        (2, 0.0, 0.999999, 2),
        (7, 0.0, 1.9999989999999994, 6),
    ],
)
def test_token_bucket_retry_after_where_the_float_estimate_is_off_by_one(window, first, now, retry):
    """Retry-After is the least whole number of seconds that passes, as the later check judges
    it: waiting `retry` passes, waiting a second less does not."""
    spec = RateLimitSpec(1, window, "token-bucket")
    runs = [RateLimiter() for _ in range(3)]
    for lim in runs:
        assert take(lim, spec, first)[0] is True
    assert take(runs[0], spec, now) == (False, 0, retry, retry)
    assert take(runs[1], spec, now + retry)[0] is True
    assert take(runs[2], spec, now + retry - 1)[0] is False


def test_token_bucket_a_client_exactly_a_microsecond_early_is_on_time():
    spec, lim = RateLimitSpec(1, 1, "token-bucket"), RateLimiter()
    assert take(lim, spec, 0) == (True, 0, 1, 0)
    assert take(lim, spec, 1 - 1e-6) == (True, 0, 1, 0)


def test_token_bucket_refusal_counts_whole_tokens_exactly():
    spec, lim = RateLimitSpec(5, 10, "token-bucket"), RateLimiter()
    assert layers(lim, (spec,), 0, (3,)).policies[0].remaining == 2
    v = layers(lim, (spec,), 0, (3,))  # exactly 2.0 tokens: 2 left, not 1
    assert (v.allowed, v.retry_after, v.policies[0].remaining) == (False, 2, 2)


def test_a_cost_above_the_limit_reads_the_sliding_log_not_a_fixed_window():
    spec, lim = RateLimitSpec(3, 10, "sliding-window"), RateLimiter()
    assert layers(lim, (spec,), 0, (1,)).allowed
    assert layers(lim, (spec,), 8, (1,)).allowed
    v = layers(lim, (spec,), 12, (7,))  # the hit of 0 left; the one of 8 counts until 18
    assert (v.policies[0].remaining, v.retry_after) == (2, 10)
    v = layers(lim, (spec,), 12, (2,))
    assert (v.allowed, v.policies[0].remaining, v.policies[0].reset) == (True, 0, 6)


def test_a_cost_above_the_limit_rolls_a_busy_fixed_window_over():
    spec, lim = RateLimitSpec(3, 10), RateLimiter()
    assert layers(lim, (spec,), 0, (2,)).allowed
    assert layers(lim, (spec,), 9, (1,)).allowed
    v = layers(lim, (spec,), 12, (4,))  # the window of 10..20 has all 3 left
    assert (v.policies[0].remaining, v.retry_after) == (3, 10)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_limit_of_zero_refuses_even_a_free_request(algorithm):
    spec = RateLimitSpec(0, 10, algorithm)
    v = layers(RateLimiter(), (spec,), 0, (0,))
    assert (v.allowed, v.retry_after, v.policies[0].remaining) == (False, 10, 0)


def test_the_note_reads_the_deciding_policy_s_cost_not_another_s():
    wide = RateLimitSpec(50, 60, name="wide")
    tight = RateLimitSpec(3, 60, name="tight")
    last = RateLimitSpec(50, 60, name="last")
    lim = RateLimiter()
    assert layers(lim, (wide, tight, last), 0, (1, 2, 1)).allowed
    v = layers(lim, (wide, tight, last), 1, (1, 2, 9))  # tight: 2 + 2 > 3, a wait helps
    assert (v.decider, v.retry_after, v.note) == (tight, 59, None)


@pytest.mark.parametrize("algorithm", ["sliding-window", "token-bucket"])
def test_a_refused_layer_costs_an_allowing_sliding_or_token_layer_nothing(algorithm):
    gate = RateLimitSpec(1, 60, name="gate")
    inner = RateLimitSpec(10, 10, algorithm, name="inner")  # type: ignore[arg-type]
    lim = RateLimiter()
    assert remaining(layers(lim, (gate, inner), 0, (1, 3))) == [0, 7]
    v = layers(lim, (gate, inner), 0, (1, 3))  # the gate refuses; inner would allow
    assert (v.allowed, v.decider, remaining(v)) == (False, gate, [0, 7])
    assert take(lim, inner, 0, owner="s/r#1")[:2] == (True, 6)  # the refusal took nothing


def test_one_policy_is_evaluated_once_per_check():
    """One policy: one evaluation, so one sweep of at most two buckets per request."""
    spec, lim = RateLimitSpec(1, 10), RateLimiter()
    for key in "abcd":
        take(lim, spec, 0, owner="s/other", remote=key)
    layers(lim, (spec,), 20)
    assert lim.sweep_steps == 2 and len(lim) == 3


def test_owners_have_separate_buckets():
    spec, lim = RateLimitSpec(1, 10), RateLimiter()
    assert take(lim, spec, 0, owner="s/a")[0] is True
    assert take(lim, spec, 0, owner="s/b")[0] is True
    assert lim.check_layers(("s/c",), (spec,), by(), 0, (1,)).allowed
    assert not lim.check_layers(("s/a",), (spec,), by(), 0, (1,)).allowed
    assert sorted(owner for owner, _ in lim.buckets) == ["s/a", "s/b", "s/c"]


def test_verdict_of_refuses_a_result_per_policy_mismatch():
    specs = (RateLimitSpec(5, 10, name="a"), RateLimitSpec(5, 10, name="b"))
    with pytest.raises(ValueError):  # a store that answered for one policy of two
        verdict_of(specs, (1, 1), [(True, 4, 10, 0)])
    with pytest.raises(ValueError):  # a cost missing
        verdict_of(specs, (1,), [(True, 4, 10, 0), (False, 0, 5, 5)])


# --- a key idle for a whole window, not swept first ----------------------------------------------


def test_an_idle_fixed_window_key_behind_a_busy_one_starts_afresh():
    """The oldest bucket (a 100 s policy) is not idle, so no sweep runs and the idle key's own
    bucket is replaced by the check itself."""
    spec, lim = RateLimitSpec(1, 10), RateLimiter()
    take(lim, RateLimitSpec(1, 100), T0, owner="s/slow")
    assert take(lim, spec, T0) == (True, 0, 10, 0)
    assert take(lim, spec, T0 + 5) == (False, 0, 5, 5)
    assert take(lim, spec, T0 + 15) == (True, 0, 10, 0)  # idle exactly 10 s: from T0 + 15
    assert take(lim, spec, T0 + 16) == (False, 0, 9, 9)
    assert lim.sweep_steps == 0


def test_no_sweep_while_the_oldest_bucket_is_busy_on_a_clock_far_from_zero():
    spec, lim = RateLimitSpec(1, 10), RateLimiter()
    take(lim, spec, T0, remote="a")
    take(lim, spec, T0 + 9.5, remote="b")
    assert lim.sweep_steps == 0
    take(lim, spec, T0 + 10, remote="c")
    assert lim.sweep_steps == 2 and [k for _, k in lim.buckets] == ["b", "c"]
