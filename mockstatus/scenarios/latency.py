"""Latency distributions, sampled from the injected random source; never negative, capped."""

from __future__ import annotations

import random

from mockstatus.scenarios.model import LatencySpec

MAX_LATENCY = 300.0


def sample(spec: LatencySpec, rng: random.Random) -> float:
    kind, p = spec.kind, spec.params
    if kind == "fixed":
        value = p[0]
    elif kind == "uniform":
        value = rng.uniform(p[0], p[1])
    elif kind == "normal":
        value = rng.gauss(p[0], p[1])
    elif kind == "lognormal":
        # median m, sigma s: exp(N(ln m, s)) has median m.
        import math

        value = rng.lognormvariate(math.log(p[0]), p[1]) if p[0] > 0 else 0.0
    else:  # the loader rejects other kinds
        raise ValueError(f"unknown latency kind {kind!r}")
    return min(max(value, 0.0), MAX_LATENCY)
