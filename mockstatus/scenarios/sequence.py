"""Sequences: the n-th call of a route gets the n-th step (`times` each), then repeat-last or loop."""

from __future__ import annotations

from mockstatus.scenarios.model import ResponseSpec, SequenceSpec
from mockstatus.scenarios.perkey import per_value
from mockstatus.types import RequestFacts


def per_key(spec: SequenceSpec | None, facts: RequestFacts) -> str:
    """Whose counter a call advances: global (""), the client address, or the value of a
    header, cookie or query parameter (prefixed by its kind: never "", never an address)."""
    if spec is None or spec.per == "global":
        return ""
    if spec.per == "client":
        return facts.remote
    return spec.per[0] + ":" + per_value(spec.per, facts)


def step(spec: SequenceSpec, index: int) -> ResponseSpec:
    """The response of the `index`-th call (0-based)."""
    total = sum(times for _, times in spec.steps)
    if index >= total:
        if spec.after == "loop":
            index %= total
        else:
            return spec.steps[-1][0]
    for response, times in spec.steps:
        if index < times:
            return response
        index -= times
    return spec.steps[-1][0]
