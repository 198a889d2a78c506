"""Shadowing: which earlier route hides which later one, "full" or "possible" (pure calls)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockstatus.scenarios import load_text
from mockstatus.scenarios.model import Route, Scenario, ScenarioSet
from mockstatus.scenarios.shadow import overlap, shadowed_routes, shadowing


def route(match: str, extra: str = "") -> Route:
    text = f"routes:\n  - name: r\n    match: {match}\n    respond: {{status: 200}}\n{extra}"
    return load_text(text, "<t>", Path("."), "t").routes[0]


CASES = [
    # (earlier match, later match, expected)
    ("{path: /a}", "{path: /a}", "full"),
    ("{path: /a}", "{path: /b}", None),
    ("{}", "{path: /a, method: GET}", "full"),  # no conditions: hides everything
    ("{path: /a, method: GET}", "{}", "possible"),
    ("{path: /a, method: GET}", "{path: /a, method: POST}", None),
    ("{path: /a, method: [GET, POST]}", "{path: /a, method: GET}", "full"),
    ("{path: /a, method: GET}", "{path: /a}", "possible"),
    ('{path: "/jobs/{id}"}', "{path: /jobs/7}", "full"),
    ('{path: "/jobs/{id}"}', '{path: "/jobs/{job}"}', "full"),
    ('{path: "/jobs/{id}"}', "{path: /jobs/7/log}", None),
    ('{path: "/jobs/{id}"}', "{path: /jobs}", None),
    ('{path: "/jobs/**"}', '{path: "/jobs/{id}/log"}', "full"),
    ('{path: "/jobs/**"}', "{path: /jobs}", "full"),  # ** is zero or more segments
    ('{path: "/jobs/{id}/log"}', '{path: "/jobs/**"}', "possible"),
    ('{path: "/files/*.json"}', "{path: /files/a.json}", "full"),
    ('{path: "/files/*.json"}', "{path: /files/a.xml}", None),
    ('{path: "/files/*.json"}', '{path: "/files/{name}"}', "possible"),
    ('{path: "/files/{name}"}', '{path: "/files/*.json"}', "full"),
    ('{path: "/a/*/c"}', '{path: "/a/b/*"}', "possible"),
    ('{path: "/a/*/c"}', '{path: "/x/**"}', None),
    ('{path: "~^/jobs/[0-9]+$"}', "{path: /jobs/7}", "possible"),  # regex paths: never full
    ('{path: "~^/jobs/[0-9]+$"}', "{path: /jobs/x}", None),
    ('{path: "~^/jobs/.*"}', '{path: "/jobs/{id}"}', "possible"),
    ("{path: /a, query: {v: '1'}}", "{path: /a}", "possible"),
    ("{path: /a}", "{path: /a, query: {v: '1'}}", "full"),
    ("{path: /a, query: {v: '1'}}", "{path: /a, query: {v: '1', w: '2'}}", "full"),
    ("{path: /a, query: {v: '1'}}", "{path: /a, query: {v: '2'}}", "possible"),  # ?v=1&v=2
    ("{path: /a, headers: {X-V: '1'}}", "{path: /a, headers: {X-V: '2'}}", None),
    ("{path: /a, headers: {X-V: null}}", "{path: /a, headers: {X-V: '2'}}", "full"),
    ("{path: /a, headers: {X-V: '~^1'}}", "{path: /a, headers: {X-V: '~^1'}}", "full"),
    ("{path: /a, body: {contains: x}}", "{path: /a}", "possible"),
    ("{path: /a, body: {contains: x}}", "{path: /a, body: {contains: x}}", "full"),
]


@pytest.mark.parametrize(
    ("first", "later", "expected"), CASES, ids=[f"{a} over {b}" for a, b, _ in CASES]
)
def test_overlap(first: str, later: str, expected: str | None) -> None:
    assert overlap(route(first), route(later)) == expected


def scenario(name: str, text: str) -> Scenario:
    return load_text(text, f"{name}.yaml", Path("."), name)


LOGIN = """
routes:
  - name: me
    match: {method: GET, path: /auth/me}
    state: {machine: session, when: logged-in}
    respond: {status: 200}
  - name: me-out
    match: {method: GET, path: /auth/me}
    state: {machine: session, when: logged-out}
    respond: {status: 401}
  - name: me-any
    match: {method: GET, path: /auth/me}
    respond: {status: 401}
  - name: never
    match: {method: GET, path: /auth/me}
    respond: {status: 500}
"""


def test_states_within_a_scenario() -> None:
    login = scenario("login", LOGIN)
    pairs, complete = shadowed_routes(ScenarioSet((login,)))
    assert complete is True
    found = [(a.name, b.name, o) for a, b, o in pairs]
    # Disjoint `when` sets never compete; a state-guarded route only possibly hides a plain
    # one (a deliberate fallback: not reported within one file); the plain one hides the last.
    assert found == [("me-any", "never", "full")]


def test_shadowing_reports_both_directions_in_route_order() -> None:
    folder = scenario(
        "folder", "routes:\n  - name: jobs\n    match: {path: '/jobs/{id}'}\n    respond: {}\n"
    )
    mine = scenario(
        "mine", "routes:\n  - name: seven\n    match: {path: /jobs/7}\n    respond: {}\n"
    )
    anything = scenario("anything", "routes:\n  - name: all\n    respond: {status: 599}\n")
    scenario_set = ScenarioSet.ordered([anything, mine], [folder])  # newest upload: mine
    assert [s.name for s in scenario_set.scenarios] == ["mine", "anything", "folder"]
    assert shadowing(scenario_set, "mine") == {
        "shadows": [
            {"scenario": "anything", "route": "all", "overlap": "possible", "own_route": "seven"},
            {"scenario": "folder", "route": "jobs", "overlap": "possible", "own_route": "seven"},
        ],
        "shadowed_by": [],
        "shadowing_complete": True,
    }
    assert shadowing(scenario_set, "folder") == {
        "shadows": [],
        "shadowed_by": [
            {"scenario": "mine", "route": "seven", "overlap": "possible", "own_route": "jobs"},
            {"scenario": "anything", "route": "all", "overlap": "full", "own_route": "jobs"},
        ],
        "shadowing_complete": True,
    }
    missing = shadowing(scenario_set, "missing")
    assert missing == {"shadows": [], "shadowed_by": [], "shadowing_complete": True}


def test_order_and_ranks() -> None:
    a, b, c = (scenario(n, "routes:\n  - respond: {status: 200}\n") for n in "abc")
    scenario_set = ScenarioSet.ordered([a, b], [c, scenario("a", "routes:\n  - respond: {}\n")])
    assert [
        (s.name, scenario_set.source(s.name), scenario_set.rank(s.name))
        for s in scenario_set.scenarios
    ] == [
        ("b", "upload", 1),
        ("a", "upload", 2),
        ("c", "folder", 3),
    ]
    assert [r.scenario for r in scenario_set.routes_in_order()] == ["b", "a", "c"]


def many(name: str, count: int) -> Scenario:
    text = "routes:\n" + "".join(
        f"  - name: r{i}\n    match: {{path: '/api/{{x}}/{i}'}}\n    respond: {{}}\n"
        for i in range(count)
    )
    return scenario(name, text)


def test_reports_and_comparisons_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    from mockstatus.scenarios import shadow

    catch_all = scenario("all", "routes:\n  - name: any\n    respond: {}\n")
    scenario_set = ScenarioSet.ordered([many("m", 5)], [catch_all])
    monkeypatch.setattr(shadow, "MAX_SHADOW_REPORT", 3)
    report = shadowing(scenario_set, "all")
    assert len(report["shadowed_by"]) == 3 and report["shadowing_complete"] is False
    monkeypatch.setattr(shadow, "MAX_SHADOW_REPORT", 100)
    monkeypatch.setattr(shadow, "MAX_SHADOW_CHECKS", 4)
    report = shadowing(scenario_set, "all")
    assert len(report["shadowed_by"]) == 4 and report["shadowing_complete"] is False
    # check's walk compares m's routes among themselves first (6 pairs): cut before "all"
    assert shadowed_routes(scenario_set) == ([], False)
    monkeypatch.setattr(shadow, "MAX_SHADOW_CHECKS", 100)
    pairs, complete = shadowed_routes(scenario_set)
    assert ([(a.name, b.name) for a, b, _ in pairs], complete) == (
        [(f"r{i}", "any") for i in range(5)],
        True,
    )
