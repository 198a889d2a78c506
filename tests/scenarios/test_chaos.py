"""Chaos: independent probabilities per route, repeatable with a file-level seed."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from mockstatus import semantics
from mockstatus.scenarios import chaos
from mockstatus.scenarios.loader import load_text
from mockstatus.scenarios.model import ChaosRule, ResponseSpec, ScenarioSet
from mockstatus.scenarios.runtime import ScenarioRuntime
from mockstatus.types import Fault, ManualClock, RequestFacts

SEM = semantics.StatusSemantics(random.Random(1))
RESET = ChaosRule(0.5, fault=Fault("reset"))
E500 = ChaosRule(0.5, respond=ResponseSpec(statuses=((500, 1.0),)))


def test_probability_zero_never_and_one_always():
    rng = random.Random(0)
    never, always = ChaosRule(0.0, fault=Fault("close")), ChaosRule(1.0, fault=Fault("reset"))
    assert all(chaos.pick((never,), rng) is None for _ in range(1000))
    assert all(chaos.pick((always,), rng) is always for _ in range(1000))
    assert chaos.pick((), rng) is None


def test_every_rule_rolls_on_every_call():
    """Independent rolls: the number of draws does not depend on which rule hit first."""
    rng, mirror = random.Random(5), random.Random(5)
    for _ in range(200):
        chaos.pick((RESET, E500, RESET), rng)
        for _ in range(3):
            mirror.random()
    assert rng.random() == mirror.random()


def test_rules_fire_with_their_own_probability():
    rng = random.Random(11)
    rules = (ChaosRule(0.1, fault=Fault("reset")), ChaosRule(0.3, fault=Fault("close")))
    n = 20_000
    picks = [chaos.pick(rules, rng) for _ in range(n)]
    first = sum(p is rules[0] for p in picks) / n
    second = sum(p is rules[1] for p in picks) / n
    assert first == pytest.approx(0.1, abs=0.01)
    assert second == pytest.approx(0.9 * 0.3, abs=0.015)  # it fires when the first did not


CHAOTIC = """
seed: %d
routes:
  - match: {path: /c}
    chaos:
      - {probability: 0.2, fault: reset}
      - {probability: 0.2, respond: {status: 500}}
    respond: {status: 200}
"""


def outcomes(rt: ScenarioRuntime, n: int = 100) -> list[str]:
    out = []
    for _ in range(n):
        plan, _, _ = rt.respond(RequestFacts(method="GET", path="/c"))
        out.append(plan.fault.kind if plan.fault else str(plan.status))
    return out


def runtime(text: str, tmp_path: Path, rng_seed: int = 1) -> ScenarioRuntime:
    scenario = load_text(text, "c.yaml", tmp_path, "c")
    return ScenarioRuntime(
        ScenarioSet((scenario,)), clock=ManualClock(), rng=random.Random(rng_seed)
    )


def test_a_seed_makes_runs_repeatable(tmp_path):
    first = outcomes(runtime(CHAOTIC % 42, tmp_path, rng_seed=1))
    second = outcomes(runtime(CHAOTIC % 42, tmp_path, rng_seed=999))  # the server's rng is unused
    assert first == second
    assert set(first) == {"200", "500", "reset"}
    assert outcomes(runtime(CHAOTIC % 43, tmp_path)) != first


def test_reset_replays_the_seeded_run(tmp_path):
    rt = runtime(CHAOTIC % 42, tmp_path)
    first = outcomes(rt, 50)
    rt.reset()
    assert outcomes(rt, 50) == first


def test_the_rates_match_the_file(tmp_path):
    found = outcomes(runtime(CHAOTIC % 7, tmp_path), 5000)
    assert found.count("reset") / 5000 == pytest.approx(0.2, abs=0.02)
    assert found.count("500") / 5000 == pytest.approx(0.8 * 0.2, abs=0.02)


def test_without_a_seed_the_servers_random_source_is_used(tmp_path):
    text = CHAOTIC.replace("seed: %d\n", "")
    assert outcomes(runtime(text, tmp_path, 3)) == outcomes(runtime(text, tmp_path, 3))
    assert outcomes(runtime(text, tmp_path, 3)) != outcomes(runtime(text, tmp_path, 4))


def test_chaos_answers_instead_of_the_route_and_leaves_its_sequence_alone(tmp_path):
    text = """
seed: 1
routes:
  - match: {path: /c}
    chaos: [{probability: 0.5, respond: {status: 500}}]
    sequence:
      - {status: 202, times: 3}
      - {status: 200}
"""
    got = [s for s in outcomes(runtime(text, tmp_path), 40) if s != "500"]
    assert got[:4] == ["202", "202", "202", "200"] and set(got[4:]) == {"200"}


def test_no_chaos_roll_during_an_outage(tmp_path):
    text = """
routes:
  - match: {path: /c}
    outage: [{start: 0s, duration: 1h}]
    chaos: [{probability: 1, fault: reset}]
    respond: {status: 200}
"""
    assert set(outcomes(runtime(text, tmp_path), 10)) == {"503"}
