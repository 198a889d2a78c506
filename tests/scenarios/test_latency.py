"""Latency: fixed, uniform, normal, lognormal; never negative, capped, seeded; and a slow
request never holds up another one on the same server."""

from __future__ import annotations

import asyncio
import random
import statistics
from pathlib import Path

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mockstatus import semantics
from mockstatus.limits import MAX_DELAY
from mockstatus.scenarios import latency
from mockstatus.scenarios.loader import load_text
from mockstatus.scenarios.model import LatencySpec, ScenarioSet
from mockstatus.scenarios.runtime import ScenarioRuntime
from mockstatus.types import ManualClock, RequestFacts

SEM = semantics.StatusSemantics(random.Random(1))


def samples(spec: LatencySpec, n: int = 4000, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [latency.sample(spec, rng) for _ in range(n)]


def test_fixed():
    assert set(samples(LatencySpec("fixed", (0.05,)), 10)) == {0.05}


def test_uniform_stays_in_its_bounds():
    found = samples(LatencySpec("uniform", (0.01, 0.2)))
    assert min(found) >= 0.01 and max(found) <= 0.2
    assert statistics.mean(found) == pytest.approx(0.105, abs=0.005)


def test_normal_has_its_mean_and_stddev():
    found = samples(LatencySpec("normal", (0.08, 0.02)))
    assert statistics.mean(found) == pytest.approx(0.08, abs=0.002)
    assert statistics.stdev(found) == pytest.approx(0.02, abs=0.002)


def test_normal_is_never_negative():
    found = samples(LatencySpec("normal", (0.0, 0.05)))
    assert min(found) == 0.0 and found.count(0.0) > 1000  # the negative half is clamped to 0


def test_lognormal_has_its_median_and_a_long_tail():
    found = samples(LatencySpec("lognormal", (0.08, 0.5)))
    assert statistics.median(found) == pytest.approx(0.08, rel=0.05)
    assert statistics.mean(found) > statistics.median(found)  # skewed right
    assert min(found) > 0


def test_lognormal_with_median_zero_is_zero():
    assert set(samples(LatencySpec("lognormal", (0.0, 1.0)), 10)) == {0.0}


def test_a_huge_latency_is_capped():
    assert samples(LatencySpec("fixed", (10_000.0,)), 1) == [MAX_DELAY]
    assert max(samples(LatencySpec("lognormal", (100.0, 100.0)), 200)) == MAX_DELAY


@given(
    kind=st.sampled_from(["fixed", "uniform", "normal", "lognormal"]),
    a=st.floats(0, 1e6),
    b=st.floats(0, 1e6),
    seed=st.integers(0, 2**32),
)
def test_always_between_zero_and_the_cap(kind, a, b, seed):
    params = {"fixed": (a,), "uniform": (min(a, b), max(a, b)), "normal": (a - b, b)}.get(
        kind, (a, min(b, 100.0))
    )
    value = latency.sample(LatencySpec(kind, params), random.Random(seed))  # type: ignore[arg-type]
    assert 0.0 <= value <= MAX_DELAY


def test_same_seed_same_latencies():
    spec = LatencySpec("lognormal", (0.08, 0.5))
    assert samples(spec, 50, seed=3) == samples(spec, 50, seed=3)


def test_the_runtime_adds_latency_to_the_response_delay(tmp_path: Path):
    text = """
seed: 4
routes:
  - match: {path: /l}
    latency: {uniform: [100ms, 200ms]}
    respond: {status: 200, delay: 1s}
"""
    scenario = load_text(text, "l.yaml", tmp_path, "l")
    rt = ScenarioRuntime(ScenarioSet((scenario,)), clock=ManualClock(), rng=random.Random(1))
    delays = [rt.respond(RequestFacts(method="GET", path="/l"))[0].delay for _ in range(50)]
    assert all(1.1 <= d <= 1.2 for d in delays)
    assert len(set(delays)) == 50


SLOW = """
routes:
  - match: {path: /slow}
    latency: 600ms
    respond: {status: 200, body: slow}
"""


async def test_a_slow_request_does_not_block_others(make_server):
    server = make_server({"slow.yaml": SLOW})
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as client:

        async def get(path: str) -> str:
            async with client.get(server.url(path)) as resp:
                return await resp.text()

        slow = asyncio.create_task(get("/slow"))
        await asyncio.sleep(0.05)  # let the slow request reach the server
        fast = [await get("/status/200") for _ in range(5)]  # one after another meanwhile
        assert fast == ["200 OK"] * 5
        assert not slow.done()  # the slow one is still waiting out its latency
        assert await asyncio.wait_for(slow, 5) == "slow"
