"""Load-time errors and warnings for what used to be silently wrong: a body on 204/304, weights
that do not add up to 1, unquoted `{id}` in a flow mapping, tabs, and no second error derived
from an unknown key."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from mockstatus.errors import ScenarioError
from mockstatus.scenarios import load_text, run_check


def problems(text: str) -> list[tuple[int, int, str]]:
    with pytest.raises(ScenarioError) as info:
        load_text(text, "t.yaml", Path("."), "t")
    return [(p.line, p.column, p.message) for p in info.value.problems]


@pytest.mark.parametrize("code", [204, 304])
@pytest.mark.parametrize("key", ["body: x", "json: {a: 1}"])
def test_a_body_on_a_bodiless_status_is_an_error(code, key):
    found = problems(f"routes:\n  - respond: {{status: {code}, {key}}}\n")
    assert len(found) == 1
    line, _col, message = found[0]
    assert line == 2
    assert message.startswith(f"status {code} never carries content (RFC 9110 §6.4.1)")


def test_a_weighted_status_with_a_bodiless_code_and_a_body_is_an_error():
    (found,) = problems("routes:\n  - respond: {status: '200:0.5,204:0.5', body: x}\n")
    assert "status 204 never carries content" in found[2]


def test_weights_not_adding_up_to_one_warn_in_the_scenario_and_in_check(tmp_path):
    text = "routes:\n  - respond: {status: {200: 0.5, 503: 0.6}}\n"
    scenario = load_text(text, "t.yaml", Path("."), "t")
    assert scenario.warnings == (
        "t.yaml:2:23: 'status' weights add up to 1.1, not 1: they are used as proportions "
        "(200: 0.455, 503: 0.545)",
    )
    (tmp_path / "w.yaml").write_text(text)
    out = io.StringIO()
    assert run_check([str(tmp_path)], out) == 0
    assert "warning: " + str(tmp_path / "w.yaml") + ":2:23: 'status' weights add up to 1.1" in (
        out.getvalue()
    )
    assert out.getvalue().rstrip().endswith("1 warning")


@pytest.mark.parametrize(
    "status", ["[200, 503]", "{200: 0.25, 503: 0.75}", "'200:0.9,503:0.1'", "200"]
)
def test_equal_or_exact_weights_do_not_warn(status):
    scenario = load_text(f"routes:\n  - respond: {{status: {status}}}\n", "t", Path("."), "t")
    assert scenario.warnings == ()


def test_weights_warning_in_the_admin_listing(make_server):
    import httpx

    server = make_server({"w.yaml": "routes:\n  - respond: {status: {200: 1, 503: 1}}\n"})
    doc = httpx.get(server.url("/__mockstatus/scenarios")).json()
    (scenario,) = doc["scenarios"]
    assert len(scenario["warnings"]) == 1
    assert "'status' weights add up to 2, not 1" in scenario["warnings"][0]


def test_unquoted_braces_in_a_flow_mapping_get_a_hint():
    (found,) = problems("routes:\n  - {match: {path: /a/{id}}, respond: {}}\n")
    assert found[0] == 2
    assert found[2].endswith(
        "(a value with { } inside a { } mapping must be quoted, as in {path: '/orders/{id}'})"
    )


def test_tabs_are_named():
    (found,) = problems("routes:\n  - respond:\n\t  status: 200\n")
    assert found[:2] == (3, 1)
    assert "(a tab: YAML indents with spaces only; replace the tab with spaces)" in found[2]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "routes:\n  - rspond: {}\n",
            (2, 5, "unknown key 'rspond' in route (did you mean 'respond'?)"),
        ),
        (
            "routes:\n  - respond: {}\n    rate_limit: {limt: 1, window: 1s}\n",
            (3, 18, "unknown key 'limt' in rate_limit (did you mean 'limit'?)"),
        ),
        (
            "routes:\n  - respond: {}\n    state: {machin: m}\n",
            (3, 13, "unknown key 'machin' in state (did you mean 'machine'?)"),
        ),
    ],
    ids=["route", "rate_limit", "state"],
)
def test_no_second_error_derived_from_an_unknown_key(text, expected):
    assert problems(text) == [expected]


def test_a_missing_key_without_a_typo_is_still_reported():
    assert problems("routes:\n  - name: x\n") == [
        (2, 5, "a route needs 'respond' (one response) or 'sequence' (one per call)")
    ]
