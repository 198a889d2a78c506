"""Scenario files: load them (`loader`) and validate them (`schema`, `responses`, `values`),
the immutable model (`model`), route matching (`matcher`), response templates (`templates`) and
`mockstatus check` (`check`).

    load_folder(path) -> ScenarioSet        raises ScenarioError listing every problem
    Matcher(scenario_set).match(facts, state_of) -> (Route, params) | None
"""

from mockstatus.durations import parse_duration
from mockstatus.scenarios.check import run_check
from mockstatus.scenarios.loader import load_files, load_folder, load_text
from mockstatus.scenarios.matcher import Matcher, MatchResult, match_route
from mockstatus.scenarios.model import (
    ChaosRule,
    LatencySpec,
    MatchSpec,
    OutageWindow,
    RateLimitSpec,
    ResponseSpec,
    Route,
    Scenario,
    ScenarioSet,
    SequenceSpec,
    StateSpec,
)
from mockstatus.scenarios.templates import (
    JsonTemplate,
    Template,
    TemplateContext,
    TemplateError,
    compile_template,
)

__all__ = [
    "ChaosRule",
    "JsonTemplate",
    "LatencySpec",
    "MatchResult",
    "MatchSpec",
    "Matcher",
    "OutageWindow",
    "RateLimitSpec",
    "ResponseSpec",
    "Route",
    "Scenario",
    "ScenarioSet",
    "SequenceSpec",
    "StateSpec",
    "Template",
    "TemplateContext",
    "TemplateError",
    "compile_template",
    "load_files",
    "load_folder",
    "load_text",
    "match_route",
    "parse_duration",
    "run_check",
]
