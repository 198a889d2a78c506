"""Outages on the injected scenario clock: one-off and recurring windows, Retry-After counting
down, the clock starting at load and restarting on reset (per session too). No sleeps."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mockstatus import semantics
from mockstatus.scenarios import outage
from mockstatus.scenarios.loader import load_text
from mockstatus.scenarios.model import OutageWindow, ScenarioSet
from mockstatus.scenarios.runtime import ScenarioRuntime
from mockstatus.types import Fault, ManualClock, RequestFacts

SEM = semantics.StatusSemantics(random.Random(1))


def runtime(text: str, tmp_path: Path, clock: ManualClock, name: str = "t") -> ScenarioRuntime:
    scenario = load_text(text, f"{name}.yaml", tmp_path, name)
    return ScenarioRuntime(ScenarioSet((scenario,)), clock=clock, rng=random.Random(1))


def call(rt: ScenarioRuntime, path: str = "/m", session: str | None = None):
    headers = {"x-mockstatus-session": session} if session else {}
    plan, _, _ = rt.respond(RequestFacts(method="GET", path=path, headers=headers))
    return plan


def retry_after(plan) -> str | None:
    return next((v for n, v in plan.headers if n.lower() == "retry-after"), None)


# --- pure windows ---------------------------------------------------------------------------

ONCE = OutageWindow(duration=60, start=30)
FLAP = OutageWindow(duration=5, every=20, offset=10)


@pytest.mark.parametrize(
    ("elapsed", "down"),
    [(0, False), (29.999, False), (30, True), (89.999, True), (90, False), (1e6, False)],
)
def test_one_off_window_is_half_open(elapsed, down):
    assert outage.is_active(ONCE, elapsed) is down


@pytest.mark.parametrize(
    ("elapsed", "down"),
    [(0, False), (5, False), (10, True), (14.9, True), (15, False), (30, True), (35, False)],
)
def test_recurring_window_starts_at_offset(elapsed, down):
    assert outage.is_active(FLAP, elapsed) is down


@pytest.mark.parametrize(
    ("elapsed", "left"), [(30, 60), (30.5, 60), (31, 59), (89, 1), (89.999, 1)]
)
def test_seconds_left_rounds_up(elapsed, left):
    assert outage.seconds_left((ONCE,), elapsed) == left


def test_seconds_left_in_a_recurring_window():
    assert outage.seconds_left((FLAP,), 10) == 5
    assert outage.seconds_left((FLAP,), 1012.5) == 3  # 1010 + 5 - 1012.5 = 2.5 → 3


def test_back_to_back_and_overlapping_windows_count_as_one_outage():
    first = OutageWindow(duration=10, start=0)
    second = OutageWindow(duration=20, start=10)  # begins as the first ends
    inner = OutageWindow(duration=5, start=2)  # inside the first
    assert outage.seconds_left((first, second), 3) == 27
    assert outage.seconds_left((first, inner), 3) == 7
    assert outage.up_at((first, second), 3) == 30


@given(
    every=st.floats(2, 1000),
    share=st.floats(0.01, 0.99),
    offset=st.floats(0, 100),
    elapsed=st.floats(0, 10_000),
)
def test_the_route_is_up_when_retry_after_says(every, share, offset, elapsed):
    window = OutageWindow(duration=every * share, every=every, offset=offset)
    if outage.is_active(window, elapsed):
        left = outage.seconds_left((window,), elapsed)
        assert left >= 1
        assert not outage.is_active(window, outage.up_at((window,), elapsed))
        assert outage.up_at((window,), elapsed) <= elapsed + left


# --- through the runtime --------------------------------------------------------------------

MAINTENANCE = """
routes:
  - match: {path: /m}
    outage:
      - start: 30s
        duration: 60s
        respond: {status: 503, json: {error: maintenance}}
    respond: {status: 200, body: ok}
"""


def test_maintenance_window_and_retry_after_counting_down(tmp_path):
    clock = ManualClock()
    rt = runtime(MAINTENANCE, tmp_path, clock)
    assert call(rt).status == 200
    clock.advance(30)
    down = call(rt)
    assert down.status == 503 and json.loads(down.body) == {"error": "maintenance"}
    assert retry_after(down) == "60"  # the seconds left, not the 503's default of 120
    clock.advance(29.5)
    assert retry_after(call(rt)) == "31"
    clock.advance(30.5)
    assert call(rt).status == 200


def test_the_scenario_clock_starts_at_load_not_at_the_first_request(tmp_path):
    clock = ManualClock()
    rt = runtime(MAINTENANCE, tmp_path, clock)
    clock.advance(40)  # nobody called yet
    assert call(rt).status == 503
    assert retry_after(call(rt)) == "50"


def test_reset_restarts_the_clock(tmp_path):
    clock = ManualClock()
    rt = runtime(MAINTENANCE, tmp_path, clock)
    clock.advance(40)
    assert call(rt).status == 503
    rt.reset()
    assert call(rt).status == 200
    clock.advance(29)
    assert call(rt).status == 200
    clock.advance(1)
    assert call(rt).status == 503


def test_each_session_has_its_own_clock(tmp_path):
    clock = ManualClock()
    rt = runtime(MAINTENANCE, tmp_path, clock)
    clock.advance(40)
    assert call(rt).status == 503
    assert call(rt, session="a").status == 200  # a's clock starts at its first request
    clock.advance(30)
    assert call(rt, session="a").status == 503
    assert retry_after(call(rt, session="a")) == "60"
    rt.reset("a")
    assert call(rt, session="a").status == 200
    assert call(rt).status == 503  # resetting a leaves the default session alone


def test_a_reloaded_scenario_keeps_its_clock_a_replaced_one_restarts(tmp_path):
    clock = ManualClock()
    old = runtime(MAINTENANCE, tmp_path, clock)
    clock.advance(40)
    same = ScenarioRuntime(old.set, clock=clock, rng=random.Random(1))
    same.adopt_state(old)
    assert call(same).status == 503  # same scenario object: its clock goes on
    replaced = runtime(MAINTENANCE, tmp_path, clock)
    replaced.adopt_state(old)
    assert call(replaced).status == 200  # a new upload's clock starts at its load


FLAPPING = """
routes:
  - match: {path: /m}
    outage:
      - {every: 20s, duration: 5s, offset: 10s}
      - {every: 60s, duration: 3s, offset: 45s, fault: reset}
    respond: {status: 200}
"""


def test_flapping_windows_and_a_fault_window(tmp_path):
    clock = ManualClock()
    rt = runtime(FLAPPING, tmp_path, clock)
    seen = []
    for _ in range(60):
        plan = call(rt)
        seen.append("R" if plan.fault else str(plan.status)[0])
        clock.advance(1)
    timeline = "".join(seen)
    assert (
        timeline
        == "2" * 10 + "5" * 5 + "2" * 15 + "5" * 5 + "2" * 10 + "RRR" + "2" * 2 + "5" * 5 + "2" * 5
    )
    clock.advance(10 * 60)  # 660 s: the 20 s cycle at phase 0 (up), and again later
    assert call(rt).status == 200
    clock.advance(10)
    down = call(rt)
    assert down.status == 503 and retry_after(down) == "5"


def test_a_fault_window_carries_no_retry_after_and_keeps_the_route_body(tmp_path):
    clock = ManualClock()
    rt = runtime(FLAPPING, tmp_path, clock)
    clock.advance(46)
    plan = call(rt)
    assert plan.fault == Fault("reset")
    assert plan.status == 200 and retry_after(plan) is None


OUTAGE_STATUSES = """
routes:
  - match: {path: /a}
    outage: [{start: 0s, duration: 10s, respond: {status: 500}}]
    respond: {status: 200}
  - match: {path: /b}
    outage: [{start: 0s, duration: 10s, respond: {status: 503, headers: {Retry-After: "300"}}}]
    respond: {status: 200}
  - match: {path: /c}
    outage: [{start: 0s, duration: 10s}]
    respond: {status: 200}
  - match: {path: /d}
    outage: [{start: 0s, duration: 10s, respond: {status: 429}}]
    respond: {status: 200}
"""


def test_retry_after_defaults_only_where_it_belongs(tmp_path):
    clock = ManualClock()
    rt = runtime(OUTAGE_STATUSES, tmp_path, clock)
    clock.advance(2.5)
    assert retry_after(call(rt, "/a")) is None  # a 500 has no Retry-After
    assert retry_after(call(rt, "/b")) == "300"  # the file's own value wins
    plain = call(rt, "/c")
    assert (plain.status, retry_after(plain)) == (503, "8")  # no respond: a plain 503
    assert retry_after(call(rt, "/d")) == "8"


SEQUENCE_AND_STATE = """
routes:
  - match: {path: /m}
    outage: [{every: 10s, duration: 5s}]
    sequence:
      - {status: 202, times: 2}
      - {status: 200}
    state: {machine: m, set: done}
  - match: {path: /state}
    state: {machine: m, when: done}
    respond: {status: 204}
"""


def test_an_outage_answers_instead_of_the_route(tmp_path):
    """Calls answered by the outage neither use up the sequence nor move the state."""
    clock = ManualClock()
    rt = runtime(SEQUENCE_AND_STATE, tmp_path, clock)
    assert [call(rt).status for _ in range(3)] == [503] * 3
    assert rt.respond(RequestFacts(method="GET", path="/state")) is None
    clock.advance(5)
    assert [call(rt).status for _ in range(3)] == [202, 202, 200]
    assert call(rt, "/state").status == 204
