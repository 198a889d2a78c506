"""Issue 11: the plan request's names have one home (`types`), and test-only helpers live in tests."""

from __future__ import annotations

import ast
from pathlib import Path

from mockstatus.scenarios.model import ScenarioSet

ROOT = Path(__file__).resolve().parent.parent
PLAN_REQUEST_NAMES = {"Options", "FORMATS", "DEFAULT_OPTIONS"}


def _sources() -> list[Path]:
    return sorted(
        [*ROOT.joinpath("mockstatus").rglob("*.py"), *ROOT.joinpath("tests").rglob("*.py")]
    )


def test_no_module_takes_the_plan_request_names_from_queries():
    found = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "mockstatus.queries":
                found += [(path.name, a.name) for a in node.names if a.name in PLAN_REQUEST_NAMES]
            elif (
                isinstance(node, ast.Attribute)
                and node.attr in PLAN_REQUEST_NAMES
                and isinstance(node.value, ast.Name)
                and node.value.id == "queries"
            ):
                found.append((path.name, node.attr))
    assert found == []


def test_scenario_set_has_no_test_only_builder():
    assert not hasattr(ScenarioSet, "with_scenario")
