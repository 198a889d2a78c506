"""Sequences: the n-th call of a route gets the n-th step (`times` each), then repeat-last or loop."""

from __future__ import annotations

from mockstatus.scenarios.model import ResponseSpec, SequenceSpec
from mockstatus.types import RequestFacts


def per_key(spec: SequenceSpec | None, facts: RequestFacts) -> str:
    """Whose counter a call advances: global (""), the client address, or a header's value."""
    if spec is None or spec.per == "global":
        return ""
    if spec.per == "client":
        return facts.remote
    return "h:" + (facts.header(spec.per[len("header:") :].lower()) or "")


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
