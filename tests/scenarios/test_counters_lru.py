"""Per-key sequence counters (`per: header:…`, `per: client`) are LRU-bound at MAX_COUNTERS per
session: clients choose those keys, so they must not grow the server without bound."""

from __future__ import annotations

import random
from pathlib import Path

from mockstatus import semantics
from mockstatus.limits import MAX_COUNTERS
from mockstatus.scenarios import runtime as runtime_module
from mockstatus.scenarios.loader import load_text
from mockstatus.scenarios.model import ScenarioSet
from mockstatus.scenarios.runtime import ScenarioRuntime
from mockstatus.types import ManualClock, RequestFacts

SEM = semantics.StatusSemantics(random.Random(1))

TEXT = """
routes:
  - name: keyed
    match: {path: /k}
    sequence: [{status: 202}, {status: 200}]
    per: header:X-Client-Id
  - name: global
    match: {path: /g}
    sequence: [{status: 202}, {status: 200}]
"""


def make(tmp_path: Path) -> ScenarioRuntime:
    scenario = load_text(TEXT, "c.yaml", tmp_path, "c")
    return ScenarioRuntime(ScenarioSet((scenario,)), clock=ManualClock(), rng=random.Random(1))


def status(rt: ScenarioRuntime, path: str, client: str | None = None) -> int:
    headers = {"x-client-id": client} if client is not None else {}
    answer = rt.respond(RequestFacts("GET", path, headers=headers))
    assert answer is not None
    return answer[0].status


def test_keyed_counters_are_capped_least_recently_used_first(tmp_path, monkeypatch):
    monkeypatch.setattr(runtime_module, "MAX_COUNTERS", 10)
    rt = make(tmp_path)
    assert status(rt, "/g") == 202  # the route's own counter
    assert status(rt, "/k", "keep") == 202
    for i in range(200):
        assert status(rt, "/k", f"id-{i}") == 202  # a new key starts its sequence
        assert status(rt, "/k", "keep") == 200  # recently used: never evicted
    state = rt.sessions[None]
    assert len(state.keyed) == 10
    assert status(rt, "/k", "id-199") == 200  # still counted
    assert status(rt, "/k", "id-0") == 202  # evicted long ago: starts over
    assert status(rt, "/g") == 200  # a flood of keys never evicts a route's own counter


def test_the_real_cap_holds(tmp_path):
    rt = make(tmp_path)
    state = rt.session(None)
    for i in range(MAX_COUNTERS + 300):
        state.keyed[("c/keyed", f"h:pre-{i}")] = 1  # as earlier calls left them
        if len(state.keyed) > MAX_COUNTERS:
            state.keyed.popitem(last=False)
    for i in range(50):
        status(rt, "/k", f"new-{i}")
    assert len(state.keyed) == MAX_COUNTERS
    assert rt.describe()[0]["routes"][0]["calls"] == MAX_COUNTERS
