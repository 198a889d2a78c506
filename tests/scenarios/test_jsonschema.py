"""The generated JSON Schema agrees with the loader: every scenario the loader accepts validates
(bundled ones, a corpus of valid documents, and fuzzer-made ones the loader accepts); a corpus of
invalid documents is rejected by both; a key added to a validator's table is in the schema."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given

from mockstatus.cli import main
from mockstatus.errors import ScenarioError
from mockstatus.scenarios import load_text, schema
from mockstatus.scenarios.schema_export import scenario_schema, schema_text
from tests.scenarios.test_loader_fuzz import FUZZ, scenario

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = sorted((ROOT / "mockstatus" / "bundled_scenarios").glob("*.yaml"))
SHIPPED = ROOT / "mockstatus" / "scenario.schema.json"
VALIDATOR = jsonschema.Draft7Validator(scenario_schema())

VALID = [
    "routes:\n  - respond: {}\n",
    "name: x\nseed: 3\ndescription: d\nroutes:\n  - {match: {path: /a}, respond: {status: 204}}\n",
    textwrap.dedent(
        """\
        routes:
          - name: all
            priority: 2
            match:
              method: [GET, post]
              path: '/a/{id}'
              query: {q: "~^x", r: null, s: {absent: true}}
              headers: {X-Id: 5, X-No: {not: {present: true}}}
              cookies: {sid: {present: true}}
              form: {kind: photo}
              host: api.example.com
              body: {contains: x, json: {a: [1]}, regex: "^{", jsonpath: {"$.a[0]": 1, "$.b": {absent: true}}}
            respond:
              status: {200: 0.9, 503: 0.1}
              reason: Fine
              headers: {X-A: [1, two], X-B: "{{ path.id }}"}
              json: {id: "{{ path.id }}", n: [1, 2]}
              interim: [103]
              delay: 10ms
              etag: false
            rate_limit: {limit: 5, window: 1s, algorithm: token-bucket, key: "header:X-Id"}
            outage: {start: 1s, duration: 2s, fault: reset}
            chaos: [{probability: 0.5, respond: {status: 500}}, {probability: 0.1, fault: {kind: slow-headers, delay: 1s}}]
            latency: {uniform: [10ms, 20ms]}
            state: {machine: m, when: [start], set: in}
          - name: seq
            sequence:
              - {status: 503, times: "2"}
              - {status: 200, drip: {chunk: 1, every: 10ms}, fault: drip}
            after: loop
            per: client
            latency: {lognormal: {median: 10ms, sigma: 0.5}}
          - name: lat
            match: {method: ANY}
            respond: {status: "200:0.5,503:0.5", body: x}
            latency: 5ms
            outage: [{every: 10s, duration: 1s, offset: 2s}]
        """
    ),
]

INVALID = [
    "routes: 5\n",  # not a list
    "routes:\n  - respond: {}\nextra: 1\n",  # unknown top-level key
    "routes:\n  - respond: {}\n    bogus: 1\n",  # unknown route key
    "routes:\n  - {match: {pth: /a}, respond: {}}\n",  # typo in match
    "routes:\n  - {respond: {stauts: 200}}\n",  # typo in response
    "routes:\n  - {respond: {}, rate_limit: {limit: 1}}\n",  # missing window
    "routes:\n  - {respond: {}, state: {when: [a]}}\n",  # missing machine
    "routes:\n  - {respond: {}, chaos: {probability: 2, fault: reset}}\n",  # out of range
    "routes:\n  - {respond: {}, latency: {gaussian: 1}}\n",  # unknown latency kind
    "routes:\n  - {respond: {}, after: forever, sequence: [{}]}\n",  # bad choice
    "routes:\n  - {respond: {headers: {X: {a: 1}}}}\n",  # a header value must be a scalar
    "routes:\n  - {match: {headers: {X: {present: 1}}}, respond: {}}\n",  # present takes a bool
    "routes:\n  - {match: {cookies: [a]}, respond: {}}\n",  # cookies is a mapping
    "routes:\n  - {respond: {interim: [101]}}\n",  # interim codes
    "routes:\n  - {respond: {drip: {chunk: 1}}}\n",  # drip needs every
    "routes:\n  - respond: {}\n    sequence: []\n",  # empty sequence (and both)
    "name: x\n",  # no routes
    "- a\n- b\n",  # not a mapping
]


def loads(text: str) -> bool:
    try:
        load_text(text, "t.yaml", Path("/nonexistent-base"), "t")
    except ScenarioError:
        return False
    return True


def schema_accepts(document: Any) -> bool:
    return VALIDATOR.is_valid(document)


def test_the_schema_is_draft_07_and_shipped_up_to_date():
    jsonschema.Draft7Validator.check_schema(scenario_schema())
    assert scenario_schema()["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert SHIPPED.read_text() == schema_text(), "run: mockstatus schema > " + str(SHIPPED)


def test_cli_prints_the_schema():
    out = io.StringIO()
    assert main(["schema"], {}, out) == 0
    assert out.getvalue() == schema_text()


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_bundled_scenarios_validate(path):
    text = path.read_text()
    assert loads(text)
    errors = [e.message for e in VALIDATOR.iter_errors(yaml.safe_load(text))]
    assert errors == []


@pytest.mark.parametrize("text", VALID, ids=range(len(VALID)))
def test_valid_corpus_loads_and_validates(text):
    assert loads(text)
    errors = [e.message for e in VALIDATOR.iter_errors(yaml.safe_load(text))]
    assert errors == []


@pytest.mark.parametrize("text", INVALID, ids=range(len(INVALID)))
def test_invalid_corpus_is_rejected_by_both(text):
    assert not loads(text)
    assert not schema_accepts(yaml.safe_load(text))


@FUZZ
@given(scenario)
def test_whatever_the_loader_accepts_the_schema_accepts(value: dict[str, Any]) -> None:
    """The fuzzer's scenario-shaped documents: loader accepts ⇒ schema accepts (so schema
    rejects ⇒ loader rejects: both reject the fuzzer's invalid documents the schema can see)."""
    text = yaml.safe_dump(value, allow_unicode=True)
    if loads(text):
        assert schema_accepts(yaml.safe_load(text)), text


def test_unknown_keys_found_by_the_fuzzer_are_rejected_by_both():
    text = yaml.safe_dump({"routes": [{"respond": {}, "stream": 1}]})
    assert not loads(text)
    assert not schema_accepts(yaml.safe_load(text))


def test_a_key_added_to_a_validator_table_is_in_the_schema(monkeypatch):
    monkeypatch.setattr(schema, "_ROUTE_KEYS", (*schema._ROUTE_KEYS, "stream"))
    from mockstatus.scenarios import schema_export

    monkeypatch.setitem(
        schema_export.TABLES, "route", (schema._ROUTE_KEYS, schema_export.TABLES["route"][1])
    )
    route = schema_export.scenario_schema()["definitions"]["route"]
    assert "stream" in route["properties"]
    assert route["additionalProperties"] is False


@pytest.mark.skipif(shutil.which("check-jsonschema") is None, reason="check-jsonschema missing")
def test_check_jsonschema_cli_validates_bundled_scenarios():
    done = subprocess.run(
        ["check-jsonschema", "--schemafile", str(SHIPPED), *map(str, BUNDLED)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    bad = subprocess.run(
        ["check-jsonschema", "--schemafile", str(SHIPPED), "-"],
        input="routes:\n  - respond: {stauts: 200}\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1, bad.stdout + bad.stderr


def test_the_yaml_language_server_line_is_documented():
    doc = (ROOT / "docs" / "authoring.md").read_text()
    assert "# yaml-language-server: $schema=mockstatus.schema.json" in doc
    assert "mockstatus schema > mockstatus.schema.json" in doc
    assert sys.version_info >= (3, 11)
