"""Counter-based draws: each value is a pure function of (seed, scenario, route, session,
behaviour, n), so sessions and routes never shift each other and a session reset replays it."""

from __future__ import annotations

import random
from pathlib import Path

import httpx
import pytest

from mockstatus import semantics
from mockstatus.scenarios import draws
from mockstatus.scenarios.loader import load_text
from mockstatus.scenarios.model import ScenarioSet
from mockstatus.scenarios.runtime import ScenarioRuntime
from mockstatus.types import ManualClock, RequestFacts

SEM = semantics.StatusSemantics(random.Random(1))

# Every kind of draw: two chaos rules, a random latency, a weighted status, a uuid.
RANDOM = """
%s
routes:
  - name: a
    match: {path: /a}
    chaos:
      - {probability: 0.2, fault: reset}
      - {probability: 0.2, respond: {status: 502}}
    latency: {normal: {mean: 100ms, stddev: 30ms}}
    respond: {status: "200:0.5,503:0.5", body: "{{ uuid }}"}
  - name: b
    match: {path: /b}
    latency: {uniform: [0s, 1s]}
    chaos: [{probability: 0.5, respond: {status: 500}}]
    respond: {status: 200}
"""


def make(text: str, tmp_path: Path, rng_seed: int = 1) -> ScenarioRuntime:
    scenario = load_text(text, "r.yaml", tmp_path, "r")
    return ScenarioRuntime(
        ScenarioSet((scenario,)), clock=ManualClock(), rng=random.Random(rng_seed)
    )


def call(rt: ScenarioRuntime, path: str, session: str | None = None) -> tuple:
    headers = {"x-mockstatus-session": session} if session is not None else {}
    answer = rt.respond(RequestFacts("GET", path, headers=headers))
    assert answer is not None
    plan = answer[0]
    return (plan.status, plan.fault.kind if plan.fault else None, plan.delay, plan.body)


SEEDED = RANDOM % "seed: 5"


def test_parallel_sessions_see_what_a_lone_session_sees(tmp_path):
    rt = make(SEEDED, tmp_path)
    alone = [call(rt, "/a", "A") for _ in range(40)]
    rt = make(SEEDED, tmp_path)
    interleaved = []
    for i in range(40):
        call(rt, "/a", "B")  # another session on the same route
        if i % 3 == 0:
            call(rt, "/a")  # and the default session
        interleaved.append(call(rt, "/a", "A"))
    assert interleaved == alone
    # Every behaviour really drew something different from call to call.
    assert {s for s, f, _, _ in alone if f is None} >= {200, 503, 502}
    assert {f for _, f, _, _ in alone} == {None, "reset"}
    assert len({d for _, _, d, _ in alone}) == 40
    assert len({b for s, f, _, b in alone if s in (200, 503) and f is None}) > 10


def test_sessions_draw_differently(tmp_path):
    rt = make(SEEDED, tmp_path)
    a = [call(rt, "/a", "A") for _ in range(20)]
    b = [call(rt, "/a", "B") for _ in range(20)]
    assert a != b


def test_resetting_a_session_replays_it_and_leaves_the_others(tmp_path):
    rt = make(SEEDED, tmp_path)
    first = [call(rt, "/a", "A") for _ in range(15)]
    b_before = [call(rt, "/a", "B") for _ in range(5)]
    rt.reset("A")
    assert [call(rt, "/a", "A") for _ in range(15)] == first
    b_after = [call(rt, "/a", "B") for _ in range(5)]
    fresh = make(SEEDED, tmp_path)
    assert b_before + b_after == [call(fresh, "/a", "B") for _ in range(10)]


def test_one_routes_draws_do_not_shift_anothers(tmp_path):
    rt = make(SEEDED, tmp_path)
    lone = [call(rt, "/b") for _ in range(30)]
    rt = make(SEEDED, tmp_path)
    mixed = []
    for _ in range(30):
        call(rt, "/a")  # latency, chaos, status and uuid draws on route a
        mixed.append(call(rt, "/b"))
    assert mixed == lone


def test_a_rate_limited_call_does_not_change_what_later_calls_draw(tmp_path):
    """Call n draws at n whether or not earlier calls drew (here: some were refused)."""
    text = """
seed: 2
routes:
  - match: {path: /r}
    rate_limit: {limit: 1, window: 1s}
    chaos: [{probability: 0.5, respond: {status: 500}}]
    respond: {status: 200}
"""
    scenario = load_text(text, "r.yaml", tmp_path, "r")
    clock = ManualClock()
    rt = ScenarioRuntime(ScenarioSet((scenario,)), clock=clock, rng=random.Random(1))
    spaced = []
    for _ in range(40):  # one call a second: every call passes
        spaced.append(call(rt, "/r")[0])
        clock.advance(1)
    assert set(spaced) == {200, 500}
    clock = ManualClock()
    rt = ScenarioRuntime(ScenarioSet((scenario,)), clock=clock, rng=random.Random(1))
    answered = []
    for _ in range(20):  # two calls a second: calls 0, 2, 4 … pass, the others get 429
        answered.append(call(rt, "/r")[0])
        assert call(rt, "/r")[0] == 429
        clock.advance(1)
    assert answered == spaced[::2]


def test_without_a_seed_the_server_seed_decides_and_is_not_consumed(tmp_path):
    unseeded = RANDOM % ""
    rt = make(unseeded, tmp_path, 7)
    one = [call(rt, "/a") for _ in range(20)]
    again = make(unseeded, tmp_path, 7)
    assert [call(again, "/a") for _ in range(20)] == one
    other = make(unseeded, tmp_path, 8)
    assert [call(other, "/a") for _ in range(20)] != one
    # Deriving the seed reads the server's source without drawing from it.
    rng = random.Random(7)
    ScenarioRuntime(ScenarioSet(()), clock=ManualClock(), rng=rng)
    assert rng.random() == random.Random(7).random()


def test_a_file_seed_ignores_the_server_seed(tmp_path):
    a = make(SEEDED, tmp_path, 1)
    b = make(SEEDED, tmp_path, 999)
    assert [call(a, "/a") for _ in range(20)] == [call(b, "/a") for _ in range(20)]


def test_reload_keeps_an_unchanged_scenarios_draws_and_restarts_a_changed_one(tmp_path):
    rt = make(SEEDED, tmp_path)
    first = [call(rt, "/a", "A") for _ in range(10)]
    # The same Scenario object (file unchanged): the draws go on.
    same = ScenarioRuntime(rt.set, clock=ManualClock(), rng=random.Random(3))
    same.adopt_state(rt)
    fresh = make(SEEDED, tmp_path)
    expected = [call(fresh, "/a", "A") for _ in range(20)]
    assert first == expected[:10]
    assert [call(same, "/a", "A") for _ in range(10)] == expected[10:]
    # A changed file (a new Scenario object): its draws restart from call 0.
    changed = make(SEEDED, tmp_path)
    changed.adopt_state(same)
    assert [call(changed, "/a", "A") for _ in range(10)] == first


def test_values_are_pinned():
    """The derivation is part of the contract (a shared store recomputes it): pin it."""
    keys = draws.keys_for("file:5", "r", "a", "A")
    assert keys == draws.keys_for("file:5", "r", "a", "A")
    assert len(set(keys)) == 5
    assert draws.keys_for("file:5", "r", "a", None) != draws.keys_for("file:5", "r", "a", "")
    assert draws.word(0, 0, 0) == 0xE220A8397B1DCDAF  # SplitMix64's first output for seed 0
    stream = draws.Stream(12345, 7)
    values = [stream.random() for _ in range(3)]
    assert values == [draws.Stream(12345, 7).random(), *values[1:]]
    assert all(0.0 <= v < 1.0 for v in values)


def test_stream_distributions():
    n = 20_000
    uniforms = [draws.Stream(99, i).random() for i in range(n)]
    assert sum(uniforms) / n == pytest.approx(0.5, abs=0.01)
    normals = [draws.Stream(7, i).gauss(10.0, 2.0) for i in range(n)]
    mean = sum(normals) / n
    assert mean == pytest.approx(10.0, abs=0.05)
    assert (sum((x - mean) ** 2 for x in normals) / n) ** 0.5 == pytest.approx(2.0, abs=0.05)
    picks = [draws.Stream(3, i).choices([200, 503], [0.9, 0.1])[0] for i in range(n)]
    assert picks.count(503) / n == pytest.approx(0.1, abs=0.01)
    bits = draws.Stream(1, 0).getrandbits(128)
    assert 0 <= bits < 2**128 and bits.bit_length() > 64


NO_WAIT = """
routes:
  - match: {path: /b}
    chaos: [{probability: 0.3, respond: {status: 500}}]
    respond: {status: "200:0.5,201:0.5", body: "{{ uuid }}"}
"""


def test_over_http_sessions_interleave_and_reset_replays(make_server):
    server = make_server({"r.yaml": NO_WAIT})
    with httpx.Client(base_url=server.base_url) as client:

        def get(session: str) -> tuple[int, str]:
            r = client.get("/b", headers={"X-Mockstatus-Session": session})
            return r.status_code, r.text

        alone = [get("A") for _ in range(12)]
        assert {s for s, _ in alone} == {200, 201, 500}
        client.post("/__mockstatus/reset", params={"session": "A"}).raise_for_status()
        interleaved = []
        for _ in range(12):
            get("B")
            interleaved.append(get("A"))
    assert interleaved == alone
