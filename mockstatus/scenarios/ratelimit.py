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

Response fields: the IETF httpapi draft "RateLimit header fields for HTTP"
(`RateLimit-Policy: "default";q=10;w=60` and `RateLimit: "default";r=3;t=42`) plus the common
`X-RateLimit-Limit/Remaining/Reset`; Retry-After (RFC 9110 §10.2.3) on a 429.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import NamedTuple

from mockstatus.limits import MAX_KEYS
from mockstatus.scenarios.model import RateLimitSpec
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
    hits: deque[float] = field(default_factory=deque)
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


def rate_headers(spec: RateLimitSpec, remaining: int, reset: int) -> tuple[tuple[str, str], ...]:
    """The IETF draft's RateLimit-Policy/RateLimit fields plus the common X-RateLimit-* ones."""
    policy, limit = _policy(spec)
    left, seconds = str(remaining), str(reset)
    return (
        ("RateLimit-Policy", policy),
        ("RateLimit", f'"default";r={left};t={seconds}'),
        ("X-RateLimit-Limit", limit),
        ("X-RateLimit-Remaining", left),
        ("X-RateLimit-Reset", seconds),
    )


_POLICIES: dict[int, tuple[RateLimitSpec, str, str]] = {}


def _policy(spec: RateLimitSpec) -> tuple[str, str]:
    """The fields that depend on the spec only, made once per spec (keyed by identity: hashing
    the spec per request would cost more; the entry holds the spec, so its id stays unique)."""
    entry = _POLICIES.get(id(spec))
    if entry is None:
        window = max(1, math.ceil(spec.window - _EPS))
        if len(_POLICIES) >= 4096:
            _POLICIES.clear()
        entry = _POLICIES[id(spec)] = (
            spec,
            f'"default";q={spec.limit};w={window}',
            str(spec.limit),
        )
    return entry[1], entry[2]


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
        buckets = self.buckets
        if buckets:  # peek at the oldest bucket; sweep only when it is idle
            oldest = next(iter(buckets.values()))
            if now - oldest.last_seen >= oldest.window:
                self._sweep_some(now)
        key = (route, client_key(spec, facts))
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
        if spec.limit <= 0:  # nothing ever passes; the honest wait is "a window"
            allowed, remaining, reset, retry = False, 0, _ceil(spec.window), _ceil(spec.window)
        elif spec.algorithm == "sliding-window":
            allowed, remaining, reset, retry = _sliding(bucket, spec, now)
        elif spec.algorithm == "token-bucket":
            allowed, remaining, reset, retry = _token(bucket, spec, now)
        else:
            allowed, remaining, reset, retry = _fixed(bucket, spec, now)
        return Decision(allowed, remaining, reset, retry, rate_headers(spec, remaining, reset))

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


def _idle(b: _Bucket, now: float) -> bool:
    """Idle a whole window: the next check would replace it anyway (fixed: a new window;
    sliding: every hit expired; token: refilled), so dropping it is never seen."""
    return now - b.last_seen >= b.window


def _fixed(b: _Bucket, spec: RateLimitSpec, now: float) -> tuple[bool, int, int, int]:
    # Windows start at the first request of a key and follow back to back.
    if now - b.window_start >= spec.window - _EPS:
        b.window_start += (now - b.window_start + _EPS) // spec.window * spec.window
        b.count = 0
    reset = _ceil(b.window_start + spec.window - now)
    if b.count < spec.limit:
        b.count += 1
        return True, spec.limit - b.count, reset, 0
    return False, 0, reset, reset


def _sliding(b: _Bucket, spec: RateLimitSpec, now: float) -> tuple[bool, int, int, int]:
    # A log of the hits inside the last `window` seconds (exact, at most `limit` entries).
    hits = b.hits
    while hits and now - hits[0] >= spec.window - _EPS:
        hits.popleft()
    if len(hits) < spec.limit:
        hits.append(now)
        reset = _ceil(hits[0] + spec.window - now)
        return True, spec.limit - len(hits), reset, 0
    retry = _ceil(hits[0] + spec.window - now)
    return False, 0, retry, retry


def _token(b: _Bucket, spec: RateLimitSpec, now: float) -> tuple[bool, int, int, int]:
    # The bucket holds `limit` tokens and refills at limit/window per second. State: `tokens` at
    # `window_start`, moved only when a token is taken. A refused request changes nothing, so
    # every check until then computes the same `ready` from the same floats, and Retry-After is
    # judged by the very comparison (`now >= ready`) the later check makes.
    rate = spec.limit / spec.window
    if b.tokens < 0:
        b.tokens, b.window_start = float(spec.limit), now
    ready = b.window_start + (1.0 - b.tokens) / rate if b.tokens < 1.0 else b.window_start
    ready -= _EPS  # a client that waited what it was told is on time, up to 1 µs early
    if now >= ready:
        tokens = min(float(spec.limit), b.tokens + (now - b.window_start) * rate)
        b.tokens, b.window_start = max(0.0, tokens - 1.0), now
        full = _ceil((spec.limit - b.tokens) / rate)
        return True, math.floor(b.tokens + _EPS), full, 0
    retry = _wait_until(now, ready)
    return False, 0, retry, retry


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
