"""Latency distributions, sampled from the injected random source; never negative, capped.

The sample is only a number: the wire layer waits it out with `asyncio.sleep`, so a slow request
never blocks the others.
"""

from __future__ import annotations

import math

from mockstatus.limits import MAX_DELAY
from mockstatus.scenarios.draws import RandomSource
from mockstatus.scenarios.model import LatencySpec


def sample(spec: LatencySpec, rng: RandomSource) -> float:
    """Seconds to wait: fixed, uniform [low, high], normal (mean, stddev) or lognormal
    (median, sigma), clamped to [0, MAX_DELAY]."""
    kind, p = spec.kind, spec.params
    if kind == "fixed":
        value = p[0]
    elif kind == "uniform":
        value = rng.uniform(p[0], p[1])
    elif kind == "normal":
        value = rng.gauss(p[0], p[1])
    elif kind == "lognormal":
        # median m, sigma s: exp(N(ln m, s)) has median m (the exponent is capped: no overflow).
        value = math.exp(min(rng.gauss(math.log(p[0]), p[1]), 700.0)) if p[0] > 0 else 0.0
    else:  # the loader rejects other kinds
        raise ValueError(f"unknown latency kind {kind!r}")
    if not math.isfinite(value):
        return MAX_DELAY if value > 0 else 0.0
    return min(max(value, 0.0), MAX_DELAY)
