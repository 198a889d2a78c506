"""Every ```yaml block of the README and docs/ is checked: a scenario file (one with `routes:`)
loads without a problem and validates against the generated JSON Schema; any other block is at
least valid YAML. So a documented scenario cannot drift from what the loader accepts."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from mockstatus.proxy import POLICY, UpstreamPolicy
from mockstatus.scenarios.loader import load_text
from mockstatus.scenarios.schema_export import scenario_schema

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.S | re.M)
VALIDATOR = jsonschema.Draft7Validator(scenario_schema())


def blocks() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        text = doc.read_text()
        for m in BLOCK.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            found.append((f"{doc.name}:{line}", m[1]))
    return found


BLOCKS = blocks()


def test_there_are_yaml_examples() -> None:
    assert len(BLOCKS) >= 20


@pytest.mark.parametrize(("where", "text"), BLOCKS, ids=[w for w, _ in BLOCKS])
def test_yaml_example(where: str, text: str) -> None:
    doc = yaml.safe_load(text)
    if not (isinstance(doc, dict) and "routes" in doc):
        return  # a fragment or another tool's file: valid YAML is what can be checked
    # The docs' proxy examples name the upstream the server would be started with.
    token = POLICY.set(UpstreamPolicy(allowed=(("127.0.0.1", 9000),)))
    try:
        load_text(text, where, ROOT / "docs", where.replace(".", "-").replace(":", "-"))
    finally:
        POLICY.reset(token)
    errors = [e.message for e in VALIDATOR.iter_errors(doc)]
    assert errors == [], where
