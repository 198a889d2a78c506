"""Rate limits: fixed-window, sliding-window and token-bucket, keyed per client/global/header/query.

Checks are synchronous on the event loop, so a limit of N lets exactly N requests through per
window however many arrive at once. Idle keys expire, so memory stays bounded.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from mockstatus.scenarios.model import RateLimitSpec
from mockstatus.types import RequestFacts

MAX_KEYS = 100_000
SWEEP_EVERY = 1024  # checks between sweeps of idle keys


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    remaining: int
    reset: int  # whole seconds until the quota is fully (fixed) or partly (others) restored
    retry_after: int  # whole seconds until a request would pass; 0 when allowed
    headers: tuple[tuple[str, str], ...]


@dataclass(slots=True)
class _Bucket:
    last_seen: float
    window_start: float = 0.0
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
    window = max(1, math.ceil(spec.window))
    return (
        ("RateLimit-Policy", f'"default";q={spec.limit};w={window}'),
        ("RateLimit", f'"default";r={remaining};t={reset}'),
        ("X-RateLimit-Limit", str(spec.limit)),
        ("X-RateLimit-Remaining", str(remaining)),
        ("X-RateLimit-Reset", str(reset)),
    )


def _ceil(seconds: float) -> int:
    return max(0, math.ceil(seconds - 1e-9))


class RateLimiter:
    """Buckets for every (route, key) pair of one session."""

    def __init__(self) -> None:
        self.buckets: dict[tuple[str, str], _Bucket] = {}
        self._checks = 0

    def check(self, route: str, spec: RateLimitSpec, facts: RequestFacts, now: float) -> Decision:
        self._checks += 1
        if self._checks % SWEEP_EVERY == 0 or len(self.buckets) >= MAX_KEYS:
            self.sweep(now, spec.window)
        key = (route, client_key(spec, facts))
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = _Bucket(last_seen=now, window_start=now)
        bucket.last_seen = now
        if spec.algorithm == "sliding-window":
            allowed, remaining, reset, retry = _sliding(bucket, spec, now)
        elif spec.algorithm == "token-bucket":
            allowed, remaining, reset, retry = _token(bucket, spec, now)
        else:
            allowed, remaining, reset, retry = _fixed(bucket, spec, now)
        return Decision(allowed, remaining, reset, retry, rate_headers(spec, remaining, reset))

    def sweep(self, now: float, window: float) -> None:
        """Drop keys idle for two windows (their state would have reset anyway)."""
        idle = [k for k, b in self.buckets.items() if now - b.last_seen > 2 * window]
        for k in idle:
            del self.buckets[k]
        while len(self.buckets) >= MAX_KEYS:  # still full: drop the oldest inserted
            self.buckets.pop(next(iter(self.buckets)))


def _fixed(b: _Bucket, spec: RateLimitSpec, now: float) -> tuple[bool, int, int, int]:
    # Windows start at the first request of a key and follow back to back.
    if now - b.window_start >= spec.window:
        b.window_start += (now - b.window_start) // spec.window * spec.window
        b.count = 0
    reset = max(1, _ceil(b.window_start + spec.window - now))
    if b.count < spec.limit:
        b.count += 1
        return True, spec.limit - b.count, reset, 0
    return False, 0, reset, reset


def _sliding(b: _Bucket, spec: RateLimitSpec, now: float) -> tuple[bool, int, int, int]:
    hits = b.hits
    while hits and now - hits[0] >= spec.window:
        hits.popleft()
    if len(hits) < spec.limit:
        hits.append(now)
        reset = max(1, _ceil(hits[0] + spec.window - now))
        return True, spec.limit - len(hits), reset, 0
    retry = max(1, _ceil(hits[0] + spec.window - now))
    return False, 0, retry, retry


def _token(b: _Bucket, spec: RateLimitSpec, now: float) -> tuple[bool, int, int, int]:
    rate = spec.limit / spec.window  # tokens per second; the bucket holds `limit`
    if b.tokens < 0:
        b.tokens = float(spec.limit)
    else:
        b.tokens = min(float(spec.limit), b.tokens + (now - b.window_start) * rate)
    b.window_start = now  # last refill time
    if b.tokens >= 1.0:
        b.tokens -= 1.0
        full = max(1, _ceil((spec.limit - b.tokens) / rate))
        return True, int(b.tokens), full, 0
    retry = max(1, _ceil((1.0 - b.tokens) / rate))
    return False, 0, retry, retry
