"""Sequences beyond "503 twice then 200": middle steps, repeat-last and loop with three or more
steps, and whose counter a call advances — pinned call by call, on `sequence` and through the
runtime."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from mockstatus import semantics
from mockstatus.scenarios import sequence
from mockstatus.scenarios.loader import load_text
from mockstatus.scenarios.model import ResponseSpec, ScenarioSet, SequenceSpec
from mockstatus.scenarios.runtime import ScenarioRuntime
from mockstatus.types import ManualClock, RequestFacts


def response(code: int) -> ResponseSpec:
    return ResponseSpec(statuses=((code, 1.0),))


def spec(steps: list[tuple[int, int]], after: str = "repeat-last", per: str = "global"):
    return SequenceSpec(tuple((response(c), t) for c, t in steps), after, per)  # type: ignore[arg-type]


def codes(s: SequenceSpec, n: int) -> list[int]:
    return [sequence.step(s, i).statuses[0][0] for i in range(n)]


THREE = [(500, 1), (502, 2), (200, 1)]


def test_middle_steps_answer_their_own_calls_then_the_last_repeats():
    assert codes(spec(THREE), 8) == [500, 502, 502, 200, 200, 200, 200, 200]


def test_four_steps_each_once_then_repeat_last():
    s = spec([(201, 1), (202, 1), (203, 1), (204, 1)])
    assert codes(s, 7) == [201, 202, 203, 204, 204, 204, 204]


def test_loop_with_three_steps_starts_over_after_the_last():
    assert codes(spec(THREE, "loop"), 10) == [500, 502, 502, 200, 500, 502, 502, 200, 500, 502]


def test_repeat_last_returns_the_last_step_even_far_past_the_end():
    s = spec([(500, 3), (429, 2), (200, 1)])
    assert codes(s, 6) == [500, 500, 500, 429, 429, 200]
    assert sequence.step(s, 10_000).statuses == ((200, 1.0),)


def test_the_same_response_object_is_returned():
    s = spec(THREE)
    assert sequence.step(s, 1) is s.steps[1][0]
    assert sequence.step(s, 3) is s.steps[2][0]
    assert sequence.step(s, 99) is s.steps[2][0]


def facts(remote: str = "10.0.0.1", headers: dict[str, str] | None = None) -> RequestFacts:
    return RequestFacts(method="GET", path="/x", remote=remote, headers=headers or {})


@pytest.mark.parametrize(
    ("per", "request_facts", "key"),
    [
        ("global", facts(), ""),
        ("client", facts("10.9.8.7"), "10.9.8.7"),
        ("header:X-User", facts(headers={"x-user": "ann"}), "h:ann"),
        ("header:x-user", facts(headers={"x-user": "bob"}), "h:bob"),
        ("header:X-User", facts(), "h:"),
    ],
)
def test_per_key(per, request_facts, key):
    assert sequence.per_key(spec(THREE, per=per), request_facts) == key


def test_no_sequence_is_one_global_counter():
    assert sequence.per_key(None, facts("10.1.1.1")) == ""


YAML = """
routes:
  - match: {path: /x}
    sequence:
      - {status: 500}
      - {status: 502, times: 2}
      - {status: 503}
      - {status: 200}
    after: %s
    per: %s
"""


def runtime(text: str, tmp_path: Path) -> ScenarioRuntime:
    scenario = load_text(text, "test.yaml", tmp_path, "test")
    return ScenarioRuntime(ScenarioSet((scenario,)), clock=ManualClock(), rng=random.Random(1))


def call(rt: ScenarioRuntime, sem, **kw) -> int:
    kw.setdefault("remote", "10.0.0.1")
    answer = rt.respond(RequestFacts(method="GET", path="/x", **kw))
    assert answer is not None
    return answer[0].status


def test_runtime_four_steps_repeat_last(tmp_path):
    rt = runtime(YAML % ("repeat-last", "global"), tmp_path)
    sem = semantics.StatusSemantics(random.Random(1))
    assert [call(rt, sem) for _ in range(7)] == [500, 502, 502, 503, 200, 200, 200]


def test_runtime_four_steps_loop(tmp_path):
    rt = runtime(YAML % ("loop", "global"), tmp_path)
    sem = semantics.StatusSemantics(random.Random(1))
    assert [call(rt, sem) for _ in range(6)] == [500, 502, 502, 503, 200, 500]


def test_runtime_per_header_counters_are_independent_and_case_insensitive(tmp_path):
    rt = runtime(YAML % ("repeat-last", "header:X-User"), tmp_path)
    sem = semantics.StatusSemantics(random.Random(1))
    ann, bob = {"headers": {"x-user": "ann"}}, {"headers": {"x-user": "bob"}}
    got = [call(rt, sem, **ann), call(rt, sem, **ann), call(rt, sem, **bob), call(rt, sem, **ann)]
    assert got == [500, 502, 500, 502]
