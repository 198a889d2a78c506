"""Rate limits: fixed-window, sliding-window and token-bucket, keyed per client/global/header/query.

Checks are synchronous on the event loop (no `await` between reading and updating a bucket), so a
limit of N lets exactly N requests through per window however many arrive at once. Memory stays
bounded at O(1) cost per check: buckets are kept least recently used first, each check looks at
a few of the oldest and drops those idle for a whole window (an incremental sweep), and past
MAX_KEYS the least recently used bucket goes. No check ever walks every bucket.

A key idle for a whole window starts afresh at its next request, whatever the algorithm (for a
fixed window: a new window starts then; while a key is busy its windows follow back to back).
So whether the sweep has dropped its bucket yet — which depends on other keys' traffic — never
shows in an answer.

A request may cost more than 1 (`cost`), and a route may draw from several policies at once
(layered, or a file's shared `limiters`): `check_layers` first evaluates every policy without
taking anything, then takes from all of them only when all allow, so a refusal by one policy
costs the others nothing ("the tightest decides"). Still no `await` in between: exact.

Response fields come from `ratelimit_styles` (the one home of their format); Retry-After
(RFC 9110 §10.2.3) on a rejection.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from mockstatus.idcache import IdentityCache
from mockstatus.limits import MAX_KEYS
from mockstatus.scenarios.model import RateLimitSpec
from mockstatus.scenarios.ratelimit_styles import Fields, PolicyState, default_fields
from mockstatus.types import RequestFacts

SWEEP_STEPS = 2  # oldest buckets each check examines for idleness: the sweep keeps pace with
# new keys (one check adds at most one) while its cost per request stays constant
# Float slack (a microsecond): a client that waits exactly the Retry-After it was given is on
# time even when `start + window` rounds a hair above `now + wait`.
_EPS = 1e-6


class Decision(NamedTuple):
    """A limiter's answer for one request (a tuple: one is made per request)."""

    allowed: bool
    remaining: int
    reset: int  # whole seconds until the quota is fully (fixed) or partly (others) restored
    retry_after: int  # whole seconds until a request would pass; 0 when allowed
    headers: tuple[tuple[str, str], ...]


@dataclass(slots=True)
class _Bucket:
    window: float  # the spec's window: a bucket idle this long is as good as a new one
    last_seen: float
    window_start: float = 0.0  # fixed: start of the current window; token: last refill
    count: int = 0
    hits: deque[tuple[float, int]] = field(default_factory=deque)  # sliding: (time, cost)
    tokens: float = -1.0


def client_key(spec: RateLimitSpec, facts: RequestFacts) -> str:
    key = spec.key
    if key == "client":
        return facts.remote
    if key == "global":
        return ""
    if key.startswith("header:"):
        return facts.header(key[7:].lower()) or ""
    if key.startswith("query:"):
        return facts.query.get(key[6:]) or ""
    raise ValueError(f"unknown rate-limit key {key!r}")  # the loader rejects these


def rate_headers(spec: RateLimitSpec, remaining: int, reset: int) -> Fields:
    """The default fields (`ratelimit_styles.default_fields`) of one policy."""
    return default_fields(spec.limit, _window_seconds(spec), remaining, reset)


# timeit (arch2): 0.20 µs cached vs 0.52 µs recomputed per policy per request.
_WINDOWS: IdentityCache[RateLimitSpec, int] = IdentityCache(4096)


def _window_seconds(spec: RateLimitSpec) -> int:
    """The window in whole seconds (at least 1), made once per spec (`idcache`)."""
    entry = _WINDOWS.get(id(spec))
    if entry is None:
        return _WINDOWS.put(spec, max(1, math.ceil(spec.window - _EPS)))
    return entry[1]


class Verdict(NamedTuple):
    """The answer of every policy of a route for one request."""

    allowed: bool
    retry_after: int  # whole seconds until a request would pass; 0 when allowed
    policies: tuple[PolicyState, ...]  # in the route's order
    decider: RateLimitSpec | None  # the policy whose refusal is answered (None when allowed)
    note: str | None  # why, for the journal: a cost above a limit, a cost that is not a number


def _ceil(seconds: float) -> int:
    """Whole seconds, rounded up (a client that waits this long is not early), at least 1."""
    return max(1, math.ceil(seconds - _EPS))


class RateLimiter:
    """Buckets for every (route, key) pair of one session, least recently seen first.

    `sweep_steps` and `evictions` count the work done to stay bounded (tests assert on them)."""

    def __init__(self) -> None:
        self.buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()
        self.sweep_steps = 0
        self.evictions = 0

    def check(self, route: str, spec: RateLimitSpec, facts: RequestFacts, now: float) -> Decision:
        """One policy, cost 1, with the default fields (the single-limit fast path)."""
        allowed, remaining, reset, retry = self._evaluate(route, spec, facts, now, 1, True)
        return Decision(allowed, remaining, reset, retry, rate_headers(spec, remaining, reset))

    def take(
        self, route: str, spec: RateLimitSpec, facts: RequestFacts, now: float
    ) -> tuple[bool, int, int, int]:
        """`check`'s decision without its fields: (allowed, remaining, reset, retry). For the
        fast lane, whose bytes hold `rate_headers` rendered once with slots (wire/lane_limited)."""
        return self._evaluate(route, spec, facts, now, 1, True)

    def check_layers(
        self,
        owners: tuple[str, ...],
        specs: tuple[RateLimitSpec, ...],
        facts: RequestFacts,
        now: float,
        costs: tuple[int, ...],
    ) -> Verdict:
        """Every policy of a route (`owners[i]` owns `specs[i]`'s buckets: a route or a shared
        limiter), each taking `costs[i]`: all take, or none does."""
        single = len(specs) == 1
        if single:
            results = [self._evaluate(owners[0], specs[0], facts, now, costs[0], True)]
        else:
            results = [
                self._evaluate(owner, spec, facts, now, cost, False)
                for owner, spec, cost in zip(owners, specs, costs, strict=True)
            ]
        allowed = all(r[0] for r in results)
        if allowed and not single:
            results = [
                self._evaluate(owner, spec, facts, now, cost, True)
                for owner, spec, cost in zip(owners, specs, costs, strict=True)
            ]
        return verdict_of(specs, costs, results)

    def _evaluate(
        self,
        owner: str,
        spec: RateLimitSpec,
        facts: RequestFacts,
        now: float,
        cost: int,
        commit: bool,
    ) -> tuple[bool, int, int, int]:
        """(allowed, remaining, reset, retry) for a request costing `cost`; takes the cost from
        the bucket only when `commit` (a layered check asks first, then takes)."""
        buckets = self.buckets
        if buckets:  # peek at the oldest bucket; sweep only when it is idle
            oldest = next(iter(buckets.values()))
            if now - oldest.last_seen >= oldest.window:
                self._sweep_some(now)
        key = (owner, client_key(spec, facts))
        bucket = buckets.get(key)
        if bucket is None:
            if len(buckets) >= MAX_KEYS:
                buckets.popitem(last=False)  # the least recently used
                self.evictions += 1
            bucket = buckets[key] = _Bucket(spec.window, now, window_start=now)
        else:
            buckets.move_to_end(key)
            if bucket.window != spec.window or now - bucket.last_seen >= bucket.window:
                # A changed spec, or idle a whole window: a new key (see the module docstring).
                bucket = buckets[key] = _Bucket(spec.window, now, window_start=now)
        bucket.last_seen = now
        if spec.limit <= 0 or cost > spec.limit:
            # Nothing ever passes (a limit of 0, or a cost no window can hold); the honest wait
            # is "a window".
            wait = _ceil(spec.window)
            left = _remaining(bucket, spec, now) if spec.limit > 0 else 0
            return False, left, wait, wait
        if spec.algorithm == "sliding-window":
            return _sliding(bucket, spec, now, cost, commit)
        if spec.algorithm == "token-bucket":
            return _token(bucket, spec, now, cost, commit)
        return _fixed(bucket, spec, now, cost, commit)

    def _sweep_some(self, now: float) -> None:
        """Look at up to SWEEP_STEPS of the least recently used buckets; drop the idle ones.
        Stops at the first it keeps: the ones behind it were seen more recently."""
        buckets = self.buckets
        for _ in range(SWEEP_STEPS):
            if not buckets:
                return
            key, bucket = next(iter(buckets.items()))
            self.sweep_steps += 1
            if not _idle(bucket, now):
                return
            del buckets[key]

    def sweep(self, now: float) -> None:
        """Drop every idle key. A full walk: for tests and tools, never called per request."""
        idle = [k for k, b in self.buckets.items() if _idle(b, now)]
        self.sweep_steps += len(self.buckets)
        for k in idle:
            del self.buckets[k]

    def __len__(self) -> int:
        return len(self.buckets)


def verdict_of(
    specs: tuple[RateLimitSpec, ...],
    costs: tuple[int, ...],
    results: Sequence[tuple[bool, int, int, int]],
) -> Verdict:
    """The route's verdict from each policy's (allowed, remaining, reset, retry): in memory
    (`check_layers`) or from a shared state store's script (mockstatus.state)."""
    allowed = all(r[0] for r in results)
    policies = tuple(
        PolicyState(
            spec.name, spec.limit, _window_seconds(spec), r[1], r[2], spec.unit, spec.secondary
        )
        for spec, r in zip(specs, results, strict=True)
    )
    if allowed:
        return Verdict(True, 0, policies, None, None)
    # Refused: the policies that would have allowed took nothing, so they report what is
    # left without this request's cost.
    policies = tuple(
        p._replace(remaining=p.remaining + cost) if r[0] else p
        for p, r, cost in zip(policies, results, costs, strict=True)
    )
    # The refusing policy with the longest wait decides: waiting less would fail again.
    retry, index = max((r[3], -i) for i, r in enumerate(results) if not r[0])
    decider = specs[-index]
    note = None
    if costs[-index] > decider.limit:
        note = (
            f"rate limit '{decider.name}': cost {costs[-index]} is above the limit "
            f"{decider.limit}: refused whatever the wait"
        )
    return Verdict(False, retry, policies, decider, note)


def _idle(b: _Bucket, now: float) -> bool:
    """Idle a whole window: the next check would replace it anyway (fixed: a new window;
    sliding: every hit expired; token: refilled), so dropping it is never seen."""
    return now - b.last_seen >= b.window


def _remaining(b: _Bucket, spec: RateLimitSpec, now: float) -> int:
    """What is left now, taking nothing (for a request refused whatever the wait)."""
    if spec.algorithm == "sliding-window":
        return _sliding(b, spec, now, 0, False)[1]
    if spec.algorithm == "token-bucket":
        return _token(b, spec, now, 0, False)[1]
    return _fixed(b, spec, now, 0, False)[1]


def _fixed(
    b: _Bucket, spec: RateLimitSpec, now: float, cost: int = 1, commit: bool = True
) -> tuple[bool, int, int, int]:
    # Windows start at the first request of a key and follow back to back.
    if now - b.window_start >= spec.window - _EPS:
        b.window_start += (now - b.window_start + _EPS) // spec.window * spec.window
        b.count = 0
    reset = _ceil(b.window_start + spec.window - now)
    if b.count + cost <= spec.limit:
        if commit:
            b.count += cost
        return True, spec.limit - b.count - (0 if commit else cost), reset, 0
    return False, spec.limit - b.count, reset, reset


def _sliding(
    b: _Bucket, spec: RateLimitSpec, now: float, cost: int = 1, commit: bool = True
) -> tuple[bool, int, int, int]:
    # A log of the hits inside the last `window` seconds, each (time, cost), with their total in
    # `count` (exact; at most `limit` entries, since each costs at least 1).
    hits = b.hits
    while hits and now - hits[0][0] >= spec.window - _EPS:
        b.count -= hits.popleft()[1]
    if b.count + cost <= spec.limit:
        if commit and cost:
            hits.append((now, cost))
            b.count += cost
        used = b.count + (0 if commit else cost)
        first = hits[0][0] if hits else now
        return True, spec.limit - used, _ceil(first + spec.window - now), 0
    # Wait until enough of the oldest hits expire for `cost` to fit.
    need, freed, until = b.count + cost - spec.limit, 0, now
    for when, took in hits:
        freed += took
        until = when
        if freed >= need:
            break
    retry = _ceil(until + spec.window - now)
    return False, spec.limit - b.count, retry, retry


def _token(
    b: _Bucket, spec: RateLimitSpec, now: float, cost: int = 1, commit: bool = True
) -> tuple[bool, int, int, int]:
    # The bucket holds `limit` tokens and refills at limit/window per second. State: `tokens` at
    # `window_start`, moved only when a token is taken. A refused request changes nothing, so
    # every check until then computes the same `ready` from the same floats, and Retry-After is
    # judged by the very comparison (`now >= ready`) the later check makes.
    rate = spec.limit / spec.window
    if b.tokens < 0:
        b.tokens, b.window_start = float(spec.limit), now
    ready = b.window_start + (cost - b.tokens) / rate if b.tokens < cost else b.window_start
    ready -= _EPS  # a client that waited what it was told is on time, up to 1 µs early
    if now >= ready:
        tokens = min(float(spec.limit), b.tokens + (now - b.window_start) * rate)
        left = max(0.0, tokens - cost)
        if commit and cost:
            b.tokens, b.window_start = left, now
        full = _ceil((spec.limit - left) / rate)
        return True, math.floor(left + _EPS), full, 0
    retry = _wait_until(now, ready)
    tokens = b.tokens + (now - b.window_start) * rate
    return False, math.floor(min(float(spec.limit), tokens) + _EPS), retry, retry


def _wait_until(now: float, ready: float) -> int:
    """The least whole number of seconds r >= 1 with `now + r >= ready`, evaluated as a later
    check evaluates it: a client that waits r passes, one that waits r - 1 does not.
    (Rounding `ready - now` with a slack of its own disagreed with the check at the edges:
    Hypothesis found limit 1, window 10, a 429 at 0.99999 s saying 10 when 9 passed.)"""
    wait = max(1, math.ceil(ready - now))
    for _ in range(2):  # the float estimate is off by one at most
        if wait > 1 and now + (wait - 1) >= ready:
            wait -= 1
        elif now + wait < ready:
            wait += 1
    return wait
