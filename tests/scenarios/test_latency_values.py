"""Exact values of the latency and chaos draws, with a scripted random source: which parameters
reach the distribution, what a non-finite sample becomes, and the strict `<` of a chaos roll
(found by scripts/mutation)."""

from __future__ import annotations

import math

import pytest

from mockstatus.limits import MAX_DELAY
from mockstatus.scenarios import chaos, latency
from mockstatus.scenarios.model import ChaosRule, LatencySpec


class Scripted:
    """A random source that records what it was asked and answers from a script."""

    def __init__(self, *values: float) -> None:
        self.values = list(values)
        self.calls: list[tuple[str, tuple[float, ...]]] = []

    def _next(self, name: str, args: tuple[float, ...]) -> float:
        self.calls.append((name, args))
        return self.values.pop(0)

    def random(self) -> float:
        return self._next("random", ())

    def uniform(self, a: float, b: float) -> float:
        return self._next("uniform", (a, b))

    def gauss(self, mu: float, sigma: float) -> float:
        return self._next("gauss", (mu, sigma))


def test_lognormal_draws_a_normal_of_the_log_median_and_sigma():
    rng = Scripted(math.log(0.2) + 0.5)
    value = latency.sample(LatencySpec("lognormal", (0.2, 0.5)), rng)
    assert rng.calls == [("gauss", (math.log(0.2), 0.5))]
    assert value == pytest.approx(0.2 * math.exp(0.5))


def test_normal_and_uniform_pass_their_parameters_through():
    rng = Scripted(0.07, 0.03)
    assert latency.sample(LatencySpec("normal", (0.1, 0.02)), rng) == 0.07
    assert latency.sample(LatencySpec("uniform", (0.01, 0.05)), rng) == 0.03
    assert rng.calls == [("gauss", (0.1, 0.02)), ("uniform", (0.01, 0.05))]


@pytest.mark.parametrize(
    ("drawn", "expected"),
    [
        (math.inf, MAX_DELAY),
        (-math.inf, 0.0),
        (math.nan, 0.0),
        (-0.5, 0.0),
        (MAX_DELAY + 1, MAX_DELAY),
        (0.25, 0.25),
    ],
)
def test_samples_are_clamped_to_zero_and_the_cap(drawn, expected):
    assert latency.sample(LatencySpec("normal", (0.1, 0.02)), Scripted(drawn)) == expected


def test_an_unknown_kind_is_named():
    with pytest.raises(ValueError, match="unknown latency kind 'gamma'"):
        latency.sample(LatencySpec("gamma", (1.0,)), Scripted())


def test_a_chaos_roll_equal_to_the_probability_misses():
    """A rule of probability p fires when the roll is below p: a roll of exactly p misses, so
    probability 0 never fires and 1 always does."""
    half = ChaosRule(probability=0.5)
    assert chaos.pick((half,), Scripted(0.5)) is None
    assert chaos.pick((half,), Scripted(0.4999)) is half


def test_every_chaos_rule_rolls_and_the_first_hit_wins():
    a = ChaosRule(probability=0.5)
    b = ChaosRule(probability=0.5)
    rng = Scripted(0.9, 0.1)
    assert chaos.pick((a, b), rng) is b
    rng = Scripted(0.1, 0.1)
    assert chaos.pick((a, b), rng) is a
    assert len(rng.calls) == 2  # the second rule rolled although the first hit
