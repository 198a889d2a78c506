"""Chaos: independent random failures; each rule fires with its own probability."""

from __future__ import annotations

from mockstatus.scenarios.draws import RandomSource
from mockstatus.scenarios.model import ChaosRule


def pick(rules: tuple[ChaosRule, ...], rng: RandomSource) -> ChaosRule | None:
    """The first rule whose die roll hits, or None.

    Every rule rolls on every call, whatever the earlier rules did: the rolls are independent, and
    a seeded source replays the same choices call after call.
    """
    hit = None
    for rule in rules:
        if rng.random() < rule.probability and hit is None:
            hit = rule
    return hit
