"""Property: the loader raises ScenarioError and nothing else, whatever the input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockstatus.errors import ScenarioError
from mockstatus.scenarios import load_text
from mockstatus.scenarios.model import Scenario

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        [
            "200",
            "250ms",
            "5 minutes",
            "/a/{id}",
            "~(",
            "{{ path.id }}",
            "{{ x }}",
            "reset",
            "drip",
            "header:X",
            "GET",
            "../x",
            "\r\n",
            "200:0.5,503:0.5",
        ]
    ),
)
data = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)

# Scenario-shaped data: real keys with random values reach deep into the validators.
KEYS = {
    "route": [
        "name",
        "match",
        "respond",
        "sequence",
        "after",
        "per",
        "rate_limit",
        "outage",
        "chaos",
        "latency",
        "state",
    ],
    "response": [
        "status",
        "reason",
        "headers",
        "body",
        "json",
        "file",
        "interim",
        "delay",
        "fault",
        "drip",
        "times",
    ],
    "inner": [
        "method",
        "path",
        "query",
        "headers",
        "body",
        "limit",
        "window",
        "algorithm",
        "key",
        "start",
        "duration",
        "every",
        "offset",
        "probability",
        "machine",
        "when",
        "set",
        "kind",
        "chunk",
        "uniform",
        "normal",
        "lognormal",
        "mean",
        "stddev",
        "median",
        "sigma",
        "contains",
        "regex",
        "json",
        "respond",
        "fault",
    ],
}


def shaped(keys: list[str], values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(keys), values, max_size=5)


inner = st.recursive(
    scalars,
    lambda s: st.lists(s, max_size=3) | shaped(KEYS["inner"] + KEYS["response"], s),
    max_leaves=6,
)
response = shaped(KEYS["response"], inner)
route = shaped(KEYS["route"], st.one_of(inner, response, st.lists(response, max_size=2)))
scenario = st.fixed_dictionaries(
    {"routes": st.lists(route, max_size=3)},
    optional={"name": scalars, "seed": scalars, "description": scalars},
)


def load_or_error(text: str) -> None:
    try:
        result = load_text(text, "fuzz.yaml", Path("/nonexistent-base"), "fuzz")
    except ScenarioError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.line >= 1 and problem.column >= 1 and problem.message
    else:
        assert isinstance(result, Scenario)


@FUZZ
@given(st.text(max_size=300))
def test_random_text(text: str) -> None:
    load_or_error(text)


@FUZZ
@given(st.text(alphabet="{}[]:,-&*!|>'\"#? \n\tabc01%@`~\\<", max_size=200))
def test_yaml_punctuation(text: str) -> None:
    load_or_error(text)


@FUZZ
@given(data)
def test_random_data(value: Any) -> None:
    load_or_error(yaml.safe_dump(value, allow_unicode=True))


@FUZZ
@given(scenario)
def test_scenario_shaped_data(value: dict[str, Any]) -> None:
    load_or_error(yaml.safe_dump(value, allow_unicode=True))
