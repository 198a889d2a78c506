"""The scenario-level `http2: {max_streams: N}` (docs/http2.md): the loader's value and its
problems, the JSON Schema, and the SETTINGS a new connection gets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hyperframe.frame import SettingsFrame

from mockstatus.errors import ScenarioError
from mockstatus.scenarios import load_text
from mockstatus.scenarios.schema_export import scenario_schema
from tests.test_h2_rawclient import H2Client, h2_server

ROUTES = "routes:\n  - respond: {status: 204}\n"


def test_the_loader_reads_max_streams(tmp_path: Path) -> None:
    scenario = load_text("http2: {max_streams: 3}\n" + ROUTES, "a.yaml", tmp_path, "a")
    assert scenario.h2_max_streams == 3
    assert load_text(ROUTES, "b.yaml", tmp_path, "b").h2_max_streams is None


@pytest.mark.parametrize(
    ("http2", "message"),
    [
        ("{max_streams: 0}", "a.yaml:1:22: 'max_streams' must be 1 to 10000, got 0"),
        ("{max_streams: lots}", "a.yaml:1:22: 'max_streams' must be 1 to 10000, got 'lots'"),
        (
            "{max_stream: 3}",
            "a.yaml:1:9: unknown key 'max_stream' in http2 (did you mean 'max_streams'?)",
        ),
        ("5", "a.yaml:1:8: 'http2' must be a mapping"),
    ],
    ids=["zero", "word", "typo", "scalar"],
)
def test_a_bad_http2_key_is_a_located_problem(tmp_path: Path, http2: str, message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        load_text(f"http2: {http2}\n" + ROUTES, "a.yaml", tmp_path, "a")
    assert message in str(err.value)


def test_the_json_schema_has_the_key() -> None:
    validator = jsonschema.Draft7Validator(scenario_schema())
    assert not list(validator.iter_errors({"http2": {"max_streams": 3}, "routes": [{}]}))
    assert list(validator.iter_errors({"http2": {"streams": 3}, "routes": [{}]}))


def settings_of(tmp_path: Any, scenarios: dict[str, str], **kwargs: Any) -> int:
    server = h2_server(tmp_path, scenarios=scenarios, **kwargs)
    try:
        with H2Client(server.port) as c:
            assert c.get("/status/204").status == 204
            return c.remote_settings[SettingsFrame.MAX_CONCURRENT_STREAMS]
    finally:
        server.stop()


def test_the_smallest_max_streams_of_the_loaded_scenarios_is_announced(tmp_path: Any) -> None:
    scenarios = {
        "a.yaml": "http2: {max_streams: 7}\n" + ROUTES,
        "b.yaml": "http2: {max_streams: 3}\n" + ROUTES,
        "c.yaml": ROUTES,
    }
    assert settings_of(tmp_path, scenarios, h2_max_streams=50) == 3


def test_without_the_key_the_flag_holds(tmp_path: Any) -> None:
    assert settings_of(tmp_path, {"c.yaml": ROUTES}, h2_max_streams=50) == 50
