"""User regexes run on RE2 (linear time) and on capped inputs; RE2-only syntax is a located
load error. Tests assert results only: a backtracking engine would not finish them."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from mockstatus import semantics
from mockstatus.errors import ScenarioError
from mockstatus.limits import MAX_REGEX_BODY, MAX_REGEX_INPUT
from mockstatus.scenarios.loader import load_folder, load_text
from mockstatus.scenarios.matcher import compile_path, match_route
from mockstatus.scenarios.model import ScenarioSet
from mockstatus.scenarios.runtime import ScenarioRuntime
from mockstatus.scenarios.safe_regex import SafeRegex
from mockstatus.types import ManualClock, Query, RequestFacts

SEM = semantics.StatusSemantics(random.Random(1))
REPO = Path(__file__).resolve().parents[2]

REDOS = """
routes:
  - name: path
    match: {path: "~/redos/(a+)+$"}
    respond: {status: 201}
  - name: header
    match: {path: /h, headers: {x-name: "~^(a+)+$"}}
    respond: {status: 202}
  - name: query
    match: {path: /q, query: {name: "~^(a|aa)+$"}}
    respond: {status: 203}
  - name: body
    match: {path: /b, method: POST, body: {regex: "^(a+)+$"}}
    respond: {status: 204}
"""


def runtime(text: str, tmp_path: Path) -> ScenarioRuntime:
    scenario = load_text(text, "r.yaml", tmp_path, "r")
    return ScenarioRuntime(ScenarioSet((scenario,)), clock=ManualClock(), rng=random.Random(1))


def status(rt: ScenarioRuntime, facts: RequestFacts) -> int | None:
    answer = rt.respond(facts)
    return None if answer is None else answer[0].status


EVIL = "a" * 36 + "b"  # 9 s on a backtracking engine at 36 bytes; doubling per extra byte


def test_the_issues_pattern_answers_correctly_on_long_inputs(tmp_path):
    rt = runtime(REDOS, tmp_path)
    assert status(rt, RequestFacts("GET", "/redos/" + EVIL)) is None
    assert status(rt, RequestFacts("GET", "/redos/" + "a" * 4000 + "b")) is None
    assert status(rt, RequestFacts("GET", "/redos/" + "a" * 4000)) == 201
    assert status(rt, RequestFacts("GET", "/h", headers={"x-name": EVIL * 50})) is None
    assert status(rt, RequestFacts("GET", "/h", headers={"x-name": "a" * 3000})) == 202
    assert status(rt, RequestFacts("GET", "/q", query=Query((("name", EVIL * 50),)))) is None
    assert status(rt, RequestFacts("GET", "/q", query=Query((("name", "a" * 3001),)))) == 203
    body = ("a" * 30_000 + "b").encode()
    assert status(rt, RequestFacts("POST", "/b", body=body)) is None
    assert status(rt, RequestFacts("POST", "/b", body=body[:-1])) == 204


def test_inputs_over_the_cap_never_match_and_say_why(tmp_path):
    rt = runtime(REDOS, tmp_path)
    route = {r.name: r for r in rt.set.scenarios[0].routes}
    long_path = "/redos/" + "a" * MAX_REGEX_INPUT
    assert status(rt, RequestFacts("GET", long_path)) is None
    assert (
        "8 KiB a regex runs on" in match_route(route["path"], RequestFacts("GET", long_path)).reason
    )
    at_cap = "/redos/" + "a" * (MAX_REGEX_INPUT - len("/redos/"))
    assert status(rt, RequestFacts("GET", at_cap)) == 201
    # The cap is in bytes: 2-byte characters reach it at half the length.
    wide = RequestFacts("GET", "/h", headers={"x-name": "é" * (MAX_REGEX_INPUT // 2 + 1)})
    assert "8 KiB" in match_route(route["header"], wide).reason
    big = b"a" * (MAX_REGEX_BODY + 1)
    assert status(rt, RequestFacts("POST", "/b", body=big)) is None
    assert "64 KiB" in match_route(route["body"], RequestFacts("POST", "/b", body=big)).reason
    assert status(rt, RequestFacts("POST", "/b", body=big[:-1])) == 204


@pytest.mark.parametrize(
    ("pattern", "path", "params"),
    [
        # Several wildcards in one segment, or `**` before more pattern: polynomial on a
        # backtracking engine, so these run on RE2.
        ("/p/{a}-{b}-{c}/end", "/p/" + "-" * 6000 + "/nope", None),
        ("/p/{a}-{b}-{c}/end", "/p/x-y-z/end", {"a": "x", "b": "y", "c": "z"}),
        ("/p/*{a}*/end", "/p/" + "x" * 6000 + "/nope", None),
        ("/a/**/b/**/c", "/a" + "/b" * 3000 + "/d", None),
        ("/a/**/b/**/c", "/a/x/b/y/z/c", {}),
        ("/files/*.json", "/files/a.json", {}),
        ("/u/{id}/orders/**", "/u/7/orders/x/y", {"id": "7"}),
    ],
)
def test_generated_patterns_are_safe_too(pattern, path, params):
    assert compile_path(pattern).match(path) == params


def test_only_linear_generated_patterns_stay_on_pythons_engine():
    assert not isinstance(compile_path("/u/{id}/orders/*.json").regex, SafeRegex)
    assert not isinstance(compile_path("/static/**").regex, SafeRegex)
    assert isinstance(compile_path("/p/{a}-{b}").regex, SafeRegex)
    assert isinstance(compile_path("/a/**/b").regex, SafeRegex)
    assert isinstance(compile_path("~/x").regex, SafeRegex)


def test_named_groups_of_a_regex_path_are_params(tmp_path):
    text = """
routes:
  - match: {path: "~/u/(?P<id>[0-9]+)(?:/(?P<tab>[a-z]+))?"}
    respond: {status: 200, body: "{{ path.id }}|{{ path.tab }}"}
"""
    rt = runtime(text, tmp_path)
    assert rt.respond(RequestFacts("GET", "/u/42/x"))[0].body == b"42|x"
    assert rt.respond(RequestFacts("GET", "/u/é42")) is None
    assert rt.respond(RequestFacts("GET", "/u/42"))[0].body == b"42|"


def test_odd_request_bytes_do_not_break_a_regex(tmp_path):
    rt = runtime(REDOS, tmp_path)
    # aiohttp hands undecodable bytes over as surrogates.
    assert status(rt, RequestFacts("GET", "/h", headers={"x-name": "a\udcff"})) is None
    assert status(rt, RequestFacts("GET", "/redos/\ud800")) is None
    assert status(rt, RequestFacts("POST", "/b", body=b"\xff\xfe")) is None


@pytest.mark.parametrize(
    ("yaml_value", "where", "fragment"),
    [
        ('path: "~/(?=a)b"', "path", "lookahead (?=…) is not supported"),
        ('path: "~/(?<!x)y"', "path", "lookbehind (?<!…) is not supported"),
        ('path: "~/(a)\\\\1"', "path", "backreferences"),
        ('headers: {x-a: "~(?!x)"}', "headers", "negative lookahead"),
        ('query: {q: "~a++"}', "query", "possessive"),
        ('body: {regex: "(a)\\\\1"}', "body", "backreferences"),
    ],
)
def test_re2_only_syntax_is_a_located_load_error(tmp_path, capfd, yaml_value, where, fragment):
    text = f"routes:\n  - match: {{{yaml_value}}}\n    respond: {{}}\n"
    with pytest.raises(ScenarioError) as info:
        load_text(text, "bad.yaml", tmp_path, "bad")
    (problem,) = info.value.problems
    assert (problem.file, problem.line) == ("bad.yaml", 2)
    assert problem.column > len("  - match: {")
    assert fragment in problem.message and "RE2" in problem.message
    assert f"bad.yaml:2:{problem.column}:" in str(info.value)
    assert capfd.readouterr().err == ""  # RE2 does not log the bad pattern itself


@pytest.mark.parametrize("folder", ["mockstatus/bundled_scenarios", "scenarios", "bench/scenarios"])
def test_shipped_scenarios_still_load(folder):
    path = REPO / folder
    if not path.is_dir():
        pytest.skip(f"{folder} is not in this checkout")
    assert len(load_folder(path)) > 0
