"""matcher.py by value: compiled paths (regex, params, prefix, engine), value rules, body rules,
the reasons given for the journal word for word, and the index's candidate order.

Plain calls on hand-built specs (no YAML): the matcher is pure, and each test names the exact
value a wrong implementation would change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from mockstatus.scenarios import load_text
from mockstatus.scenarios.jsonpath import compile_jsonpath
from mockstatus.scenarios.matcher import (
    _JSON_NULL,
    _UNSET,
    BodyMatch,
    Matcher,
    MatchResult,
    MatchSpec,
    PathPattern,
    StateSpec,
    ValueMatch,
    _jsonpath_reason,
    _linear,
    _parse_json,
    _value_reason,
    compile_path,
    compile_value,
    explain,
    json_condition,
    json_subset,
    match_route,
    negated,
    presence,
)
from mockstatus.scenarios.safe_regex import SafeRegex
from mockstatus.types import Query, RequestFacts


@dataclass(frozen=True)
class R:
    name: str
    match: MatchSpec
    state: StateSpec | None = None
    scenario: str = "s"


def facts(method="GET", path="/", query=(), headers=None, body=None) -> RequestFacts:
    headers = headers or {}
    return RequestFacts(
        method, path, Query(tuple(query)), headers, tuple(headers.items()), body=body
    )


def start(scenario: str, machine: str) -> str:
    return "start"


# --- paths --------------------------------------------------------------------------------------


def test_exact_path():
    p = compile_path("/a/b")
    assert p == PathPattern("/a/b", "/a/b", None, frozenset(), ("a", "b"))
    assert p.match("/a/b") == {} and p.match("/a/b/") is None and p.match("/a") is None
    assert compile_path("/").prefix == ("",)


@pytest.mark.parametrize(
    ("source", "regex", "params", "prefix", "engine"),
    [
        ("/a/{id}", r"/a/(?P<id>[^/]+)", {"id"}, ("a",), re.Pattern),
        ("/a/{ id }/c", r"/a/(?P<id>[^/]+)/c", {"id"}, ("a",), re.Pattern),
        ("/s/**", r"/s(?:/.*)?", set(), ("s",), re.Pattern),
        ("/f/*", r"/f/[^/]+", set(), ("f",), re.Pattern),
        ("/f/*.json", r"/f/[^/]*\.json", set(), ("f",), re.Pattern),
        ("/x/{a}-{b}", r"/x/(?P<a>[^/]+)\-(?P<b>[^/]+)", {"a", "b"}, ("x",), SafeRegex),
        ("/**/x", r"(?:/.*)?/x", set(), (), SafeRegex),
        ("/a/b/{c}/d", r"/a/b/(?P<c>[^/]+)/d", {"c"}, ("a", "b"), re.Pattern),
    ],
)
def test_generated_path_regex(source, regex, params, prefix, engine):
    p = compile_path(source)
    assert (p.source, p.exact, p.params, p.prefix) == (source, None, frozenset(params), prefix)
    assert isinstance(p.regex, engine)
    assert p.regex.pattern == regex


@pytest.mark.parametrize(
    ("source", "path", "params"),
    [
        ("/a/{id}", "/a/42", {"id": "42"}),
        ("/a/{id}", "/a/", None),
        ("/a/{id}", "/a/1/2", None),
        ("/s/**", "/s", {}),
        ("/s/**", "/s/x/y", {}),
        ("/s/**", "/sx", None),
        ("/f/*", "/f/", None),
        ("/f/*.json", "/f/.json", {}),
        ("/x/{a}-{b}", "/x/1-2", {"a": "1", "b": "2"}),
        ("~/r/(?P<n>[0-9]+)", "/r/12", {"n": "12"}),
        ("~/r/(?P<n>[0-9]+)", "/r/12x", None),
        ("~/o(?P<opt>x)?", "/o", {}),
    ],
)
def test_path_match(source, path, params):
    assert compile_path(source).match(path) == params


def test_regex_path_pattern():
    p = compile_path("~/r/(?P<n>[0-9]+)")
    assert (p.source, p.exact, p.params, p.prefix) == ("~/r/(?P<n>[0-9]+)", None, {"n"}, ())
    assert isinstance(p.regex, SafeRegex) and p.regex.cap == 8 * 1024


def test_generated_path_input_cap_is_8_kib():
    p = compile_path("/a/*")
    ok = "/a/" + "x" * (8 * 1024 - 3)
    assert len(ok) == 8 * 1024 and p.match(ok) == {}
    assert p.match(ok + "x") is None


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("a/b", "'path' must start with '/' or be a '~regex', got 'a/b'"),
        ("", "'path' must start with '/' or be a '~regex', got ''"),
        ("/a?b=1", "'path' must not contain '?'; match parameters with 'query'"),
        ("/a/x**", "'**' in 'path' must be a whole segment, as in /static/**"),
        ("/a/{1x}", "path parameter {1x} must be a name like {id}"),
        ("/a/{}", "path parameter {} must be a name like {id}"),
        ("/a/{id}/{id}", "path parameter {id} appears twice"),
        ("/a/{id", "unbalanced '{' in 'path'"),
        ("/a/id}", "unbalanced '}' in 'path'"),
    ],
)
def test_compile_path_errors(source, message):
    with pytest.raises(ValueError) as err:
        compile_path(source)
    assert str(err.value) == message


def test_compile_path_regex_error():
    with pytest.raises(ValueError) as err:
        compile_path("~/(")
    assert str(err.value).startswith("'path' regex does not compile: ")


@pytest.mark.parametrize(
    ("segments", "linear"),
    [
        (["a", "{id}"], True),
        (["a", "*.json"], True),
        (["a", "**"], True),
        (["**"], True),
        (["**", "a"], False),
        (["a", "**", "b"], False),
        (["{a}-{b}"], False),
        (["*{a}"], False),
        (["{a}", "{b}", "*"], True),
    ],
)
def test_linear(segments, linear):
    assert _linear(segments) is linear


# --- value rules --------------------------------------------------------------------------------


def test_compile_value_forms():
    assert compile_value(None) == ValueMatch(None, None, None)
    assert compile_value("x") == ValueMatch("x", "x", None)
    rule = compile_value("~^a+$")
    assert (rule.source, rule.equal, rule.absent, rule.negate) == ("~^a+$", None, False, False)
    assert isinstance(rule.regex, SafeRegex) and rule.regex.cap == 8 * 1024
    assert rule.regex.pattern == "^a+$"
    with pytest.raises(ValueError) as err:
        compile_value("~(")
    assert str(err.value).startswith("regex '(' does not compile: ")


@pytest.mark.parametrize(
    ("rule", "value", "holds"),
    [
        (compile_value(None), "x", True),
        (compile_value(None), "", True),
        (compile_value(None), None, False),
        (compile_value("x"), "x", True),
        (compile_value("x"), "X", False),
        (compile_value("x"), "xx", False),
        (compile_value("x"), None, False),
        (compile_value("~b"), "abc", True),  # search, not fullmatch
        (compile_value("~^b"), "abc", False),
        (compile_value("~b"), None, False),
        (presence(True), "", True),
        (presence(True), None, False),
        (presence(False), None, True),
        (presence(False), "x", False),
        (negated(compile_value("x")), "x", False),
        (negated(compile_value("x")), "y", True),
        (negated(compile_value("x")), None, True),
        (negated(presence(False)), None, False),
        (negated(presence(False)), "x", True),
    ],
)
def test_value_rule_test(rule, value, holds):
    assert rule.test(value) is holds


@pytest.mark.parametrize(
    ("rule", "values", "holds"),
    [
        (compile_value("b"), ["a", "b"], True),
        (compile_value("b"), ["a"], False),
        (compile_value("b"), [], False),
        (negated(compile_value("b")), ["a", "b"], False),
        (negated(compile_value("b")), ["a"], True),
        (presence(False), [], True),
        (presence(False), ["a"], False),
        (negated(presence(False)), [], False),
        (negated(presence(False)), ["a"], True),
        (presence(True), ["a"], True),
        (presence(True), [], False),
    ],
)
def test_value_rule_test_any(rule, values, holds):
    assert rule.test_any(iter(values)) is holds


@pytest.mark.parametrize(
    ("rule", "values", "holds"),
    [
        (json_condition(1), [1], True),
        (json_condition(1), [1.0], True),
        (json_condition(1), [True], False),
        (json_condition(True), [1], False),
        (json_condition(None), [None], True),
        (json_condition(None), [0], False),  # `null` is JSON null, not "present"
        (json_condition(None), [{}], False),
        (negated(json_condition(None)), [5], True),
        (json_condition({"a": 1}), [{"a": 1, "b": 2}], True),
        (json_condition("~^ab"), ["abc"], True),
        (json_condition("~^ab"), [5], False),
        (json_condition("x"), ["y", "x"], True),
        (json_condition("x"), [], False),
        (negated(json_condition("x")), ["x"], False),
        (negated(json_condition("x")), ["y"], True),
        (presence(False), [], True),
        (presence(False), [0], False),
        (negated(presence(False)), [], False),
        (presence(True), [0], True),
    ],
)
def test_value_rule_test_json(rule, values, holds):
    assert rule.test_json(values) is holds


def test_json_condition_and_presence_and_negated_values():
    assert json_condition({"a": [1, None]}) == ValueMatch(
        '{"a": [1, null]}', {"a": [1, None]}, None
    )
    assert json_condition(None) == ValueMatch("null", _JSON_NULL, None)
    assert repr(_JSON_NULL) == "null"
    assert json_condition("x") == ValueMatch('"x"', "x", None)
    assert presence(True) == ValueMatch("present", None, None, absent=False)
    assert presence(False) == ValueMatch("absent", None, None, absent=True)
    rule = compile_value("x")
    assert negated(rule) == ValueMatch("not x", "x", None, False, True)
    assert negated(negated(rule)) == ValueMatch("not not x", "x", None, False, False)
    assert negated(presence(False)) == ValueMatch("not absent", None, None, True, True)


def test_describe():
    assert compile_value("x").describe() == "x"
    assert ValueMatch(None, None, None).describe() == "present"
    assert ValueMatch(None, None, None, absent=True).describe() == "absent"
    assert negated(ValueMatch(None, None, None)).describe() == "not present"


# --- JSON subset --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected", "actual", "holds"),
    [
        ({}, {}, True),
        ({}, [], False),
        ({"a": 1}, {"a": 1, "b": 2}, True),
        ({"a": 1}, {"b": 1}, False),
        ({"a": 1, "b": 2}, {"a": 1, "b": 3}, False),
        ({"a": {"b": 1}}, {"a": {"b": 1, "c": 0}}, True),
        ([1], [2, 1], True),
        ([1, 3], [2, 1], False),
        ([], [], True),
        ([], {}, False),
        ([{"a": 1}], [{"a": 1, "b": 0}], True),
        (True, 1, False),
        (1, True, False),
        (True, True, True),
        (False, False, True),
        (False, True, False),
        (1, 1.0, True),
        (1, 2, False),
        ("1", 1, False),
        (None, None, True),
        (None, 0, False),
        ("a", "a", True),
        ("a", "b", False),
    ],
)
def test_json_subset(expected, actual, holds):
    assert json_subset(expected, actual) is holds


# --- body rules ---------------------------------------------------------------------------------


def test_parse_json():
    assert _parse_json(b'{"a": 1}') == {"a": 1}
    assert _parse_json(b"null") is None
    assert _parse_json(b"{") is _UNSET
    assert _parse_json(b"\xff") is _UNSET
    assert _parse_json(b"[" * 100_000) is _UNSET


@pytest.mark.parametrize(
    ("rule", "body", "reason"),
    [
        (BodyMatch(contains=b"x"), b"axb", None),
        (BodyMatch(contains=b"zz\xff"), b"abc", "body does not contain 'zz\ufffd'"),
        (BodyMatch(json={"a": 1}), b'{"a": 1, "b": 2}', None),
        (BodyMatch(json=None), b"null", None),
        (BodyMatch(json={"a": 1}), b"{", "body is not JSON"),
        (BodyMatch(json={"a": 1}), b'{"a": 2}', 'body JSON does not contain {"a": 1}'),
        (BodyMatch(regex=SafeRegex("^ab", 64 * 1024)), b"abc", None),
        (BodyMatch(regex=SafeRegex("^ab", 64 * 1024)), b"cab", "body does not match regex '^ab'"),
        (
            BodyMatch(jsonpath=((compile_jsonpath("$.a"), json_condition(1)),)),
            b'{"a": 1}',
            None,
        ),
        (
            BodyMatch(jsonpath=((compile_jsonpath("$.a"), json_condition(1)),)),
            b'{"b": 1}',
            "body json $.a missing",
        ),
        (
            BodyMatch(jsonpath=((compile_jsonpath("$.a"), json_condition(1)),)),
            b'{"a": 2}',
            "body json $.a: 2 does not match 1",
        ),
        (
            BodyMatch(jsonpath=((compile_jsonpath("$.a"), json_condition(1)),)),
            b"nope",
            "body is not JSON",
        ),
        (
            BodyMatch(contains=b"q", json={"a": 1}),
            b'{"a": 2}',
            "body does not contain 'q'",
        ),
    ],
)
def test_body_why_not(rule, body, reason):
    assert rule.why_not(body, {}) == reason


def test_body_regex_over_64_kib_says_so():
    rule = BodyMatch(regex=SafeRegex("x", 64 * 1024))
    assert rule.why_not(b"x" + b"a" * (64 * 1024 - 1), {}) is None
    assert rule.why_not(b"a" * (64 * 1024), {}) == "body does not match regex 'x'"
    assert rule.why_not(b"a" * (64 * 1024 + 1), {}) == (
        "body is larger than the 64 KiB a regex runs on"
    )


def test_body_json_is_parsed_once_per_request():
    memo: dict = {}
    rule = BodyMatch(json={"a": 1})
    assert rule.why_not(b'{"a": 1}', memo) is None
    assert memo == {"json": {"a": 1}}
    assert rule.why_not(b"not json at all", memo) is None  # the memo answers
    bad: dict = {}
    assert rule.why_not(b"{", bad) == "body is not JSON" and bad == {"json": _UNSET}


def test_jsonpath_reason_cuts_at_60_characters():
    rule = json_condition("x")
    assert _jsonpath_reason("$.a", [], rule) == "body json $.a missing"
    assert _jsonpath_reason("$.a", ["é", 2], rule) == 'body json $.a: "é" does not match "x"'
    shown = "a" * 58  # 60 characters with its quotes
    assert _jsonpath_reason("$.a", [shown], rule) == f'body json $.a: "{shown}" does not match "x"'
    long = "b" * 59
    assert _jsonpath_reason("$.a", [long], rule) == (
        f'body json $.a: "{"b" * 56}... does not match "x"'
    )


# --- reasons ------------------------------------------------------------------------------------


def test_value_reason():
    assert _value_reason("header", "x", "1", presence(False)) == (
        "header x is present, route wants it absent"
    )
    assert _value_reason("header", "x", None, compile_value("1")) == "header x missing"
    assert _value_reason("query", "q", None, negated(presence(False))) == "query q missing"
    assert _value_reason("query", "q", "2", compile_value("1")) == "query q='2' does not match '1'"
    assert _value_reason("cookie", "c", "a" * 60, compile_value("1")) == (
        f"cookie c={'a' * 60!r} does not match '1'"
    )
    assert _value_reason("cookie", "c", "a" * 61, compile_value("1")) == (
        f"cookie c={'a' * 57 + '...'!r} does not match '1'"
    )
    rx = compile_value("~z")
    assert (
        _value_reason("header", "h", "a" * 8192, rx)
        == f"header h={'a' * 57 + '...'!r} does not match '~z'"
    )
    assert _value_reason("header", "h", "a" * 8193, rx) == (
        "header h is longer than the 8 KiB a regex runs on"
    )
    assert _value_reason("header", "h", "é" * 4097, rx) == (
        "header h is longer than the 8 KiB a regex runs on"
    )


def test_match_route_reasons_in_check_order():
    spec = MatchSpec(
        methods=frozenset({"POST", "PUT"}),
        path=compile_path("/a/{id}"),
        query=(("q", compile_value("1")),),
        headers=(("h", compile_value("2")),),
    )
    route = R("r", spec)
    assert match_route(route, facts("POST", "/a/7", [("q", "1")], {"h": "2"})) == MatchResult(
        True, {"id": "7"}
    )
    assert match_route(route, facts("post", "/a/7", [("q", "1")], {"h": "2"})).matched is True
    got = match_route(route, facts("GET", "/b", [("q", "0")], {}))
    assert got == MatchResult(False, {}, "method GET not in [POST, PUT]", "method")
    assert explain(route, facts("GET", "/b", [("q", "0")], {}), None, {}) == [
        ("method", "method GET not in [POST, PUT]"),
        ("path", "path /b does not match /a/{id}"),
        ("query", "query q='0' does not match '1'"),
        ("header", "header h missing"),
    ]
    assert explain(route, facts("PUT", "/a/1", [("q", "1")], {"h": "2"}), None, {}) == []


def test_long_path_reason():
    route = R("r", MatchSpec(path=compile_path("/a/*")))
    assert explain(route, facts(path="/a/" + "x" * 9000), None, {}) == [
        ("path", "path is longer than the 8 KiB a regex runs on")
    ]
    exact = R("r", MatchSpec(path=compile_path("/a")))
    assert explain(exact, facts(path="/b" * 5000), None, {}) == [
        ("path", f"path {'/b' * 5000} does not match /a")
    ]


def test_host_and_state_reasons():
    spec = MatchSpec(host=compile_value("api.example"))
    route = R("r", spec, StateSpec("m", frozenset({"up", "down"})))
    f = RequestFacts("GET", "/", host="other.example:8080")
    assert explain(route, f, lambda s, m: "start", {}) == [
        ("host", "host 'other.example' does not match 'api.example'"),
        ("state", "state 'm' is 'start', route wants 'down', 'up'"),
    ]
    ok = RequestFacts("GET", "/", host="API.example:1")
    assert explain(route, ok, lambda s, m: "up", {}) == []
    assert explain(route, ok, None, {}) == []  # no state_of: state is not checked
    assert match_route(route, f, lambda s, m: "up") == MatchResult(
        False, {}, "host 'other.example' does not match 'api.example'", "host"
    )


def test_state_of_is_asked_for_the_routes_scenario_and_machine():
    asked = []

    def state_of(scenario: str, machine: str) -> str:
        asked.append((scenario, machine))
        return "up"

    route = R("r", MatchSpec(), StateSpec("m", frozenset({"up"})), scenario="sc")
    assert match_route(route, facts(), state_of).matched is True
    assert asked == [("sc", "m")]
    assert match_route(R("r", MatchSpec(), StateSpec("m")), facts(), state_of).matched
    assert asked == [("sc", "m")]  # `when: None` asks nothing


def test_cookie_form_and_body_reasons():
    spec = MatchSpec(
        cookies=(("c", compile_value("1")),),
        form=(("f", compile_value("2")),),
        body=BodyMatch(contains=b"zzz"),
    )
    route = R("r", spec)
    headers = {"cookie": "c=0", "content-type": "application/x-www-form-urlencoded"}
    assert explain(route, facts("POST", "/", headers=headers, body=b"f=3&f=4"), None, {}) == [
        ("cookie", "cookie c='0' does not match '1'"),
        ("form", "form field f='3' does not match '2'"),
        ("body", "body does not contain 'zzz'"),
    ]
    assert explain(route, facts("POST", "/", headers=headers, body=None), None, {}) == [
        ("cookie", "cookie c='0' does not match '1'"),
        ("body", "body was not read"),
    ]
    ok = {"cookie": "c=1", "content-type": "application/x-www-form-urlencoded"}
    assert explain(route, facts("POST", "/", headers=ok, body=b"f=3&f=2&zzz"), None, {}) == []
    missing = facts("POST", "/", headers={"content-type": "text/plain"}, body=b"zzz")
    assert explain(route, missing, None, {}) == [
        ("cookie", "cookie c missing"),
        ("form", "form field f missing"),
    ]


def test_match_route_without_failures_says_no_match():
    route = R("r", MatchSpec(body=BodyMatch(contains=b"x")))
    assert match_route(route, facts(body=None)) == MatchResult(
        False, {}, "body was not read", "body"
    )


@pytest.mark.parametrize(
    ("spec", "only"),
    [
        (MatchSpec(), True),
        (MatchSpec(methods=frozenset({"GET"}), path=compile_path("/a")), True),
        (MatchSpec(query=(("q", compile_value(None)),)), False),
        (MatchSpec(headers=(("h", compile_value(None)),)), False),
        (MatchSpec(body=BodyMatch()), False),
        (MatchSpec(cookies=(("c", compile_value(None)),)), False),
        (MatchSpec(form=(("f", compile_value(None)),)), False),
        (MatchSpec(host=compile_value("h")), False),
    ],
)
def test_by_method_and_path_only(spec, only):
    assert spec.by_method_and_path_only is only


def test_state_spec_defaults():
    assert StateSpec("m") == StateSpec("m", None, None, "global")


# --- the index ----------------------------------------------------------------------------------


def routes_for(*paths: str | None) -> list[R]:
    return [
        R(f"r{i}", MatchSpec(path=compile_path(p) if p is not None else None))
        for i, p in enumerate(paths)
    ]


def names(found) -> list[str]:
    return [r.name for r in found]


def test_candidates_keep_route_order():
    routes = routes_for("/a/b", "/a/{id}", None, "/a/b", "/c/**", "~/a/.*", "/a/b/c", "/a/*/d")
    m = Matcher(routes)
    assert m.routes == tuple(routes)
    assert names(m.candidates("/a/b")) == ["r0", "r1", "r2", "r3", "r5", "r7"]
    assert names(m.candidates("/a/x")) == ["r1", "r2", "r5", "r7"]
    assert names(m.candidates("/a/b/c")) == ["r1", "r2", "r5", "r6", "r7"]
    assert names(m.candidates("/c/d/e")) == ["r2", "r4", "r5"]
    assert names(m.candidates("/z")) == ["r2", "r5"]
    assert names(m.candidates("nopath")) == ["r2", "r5"]


def test_match_returns_the_first_matching_route_with_params():
    routes = routes_for("/a/b", "/a/{id}", None)
    m = Matcher(routes)
    assert m.match(facts(path="/a/b"), start) == (routes[0], {})
    assert m.match(facts(path="/a/7"), start) == (routes[1], {"id": "7"})
    assert m.match(facts(path="/zz"), start) == (routes[2], {})
    assert Matcher(routes_for("/a")).match(facts(path="/b"), start) is None


def test_match_skips_a_route_in_another_state():
    a = R("a", MatchSpec(), StateSpec("m", frozenset({"up"})))
    b = R("b", MatchSpec())
    assert Matcher([a, b]).match(facts(), lambda s, m: "down") == (b, {})
    assert Matcher([a, b]).match(facts(), lambda s, m: "up") == (a, {})


def test_matcher_reads_a_route_order():
    class Ordered:
        def routes_in_order(self):
            return routes_for("/x", "/y")

    m = Matcher(Ordered())
    assert names(m.routes) == ["r0", "r1"]


def test_needs_body():
    body_route = R(
        "b", MatchSpec(methods=frozenset({"POST"}), path=compile_path("/a/{id}"), body=BodyMatch())
    )
    form_route = R("f", MatchSpec(path=compile_path("/f"), form=(("x", compile_value(None)),)))
    anywhere = R("n", MatchSpec(body=BodyMatch(contains=b"x")))
    plain = R("p", MatchSpec(path=compile_path("/a/1")))
    assert Matcher([plain]).needs_body(facts("POST", "/a/1")) is False
    m = Matcher([plain, body_route, form_route])
    assert m.needs_body(facts("POST", "/a/1")) is True
    assert m.needs_body(facts("post", "/a/1")) is True
    assert m.needs_body(facts("GET", "/a/1")) is False
    assert m.needs_body(facts("POST", "/a/1/2")) is False
    assert m.needs_body(facts("GET", "/f")) is True
    assert m.needs_body(facts("GET", "/g")) is False
    assert Matcher([plain, anywhere]).needs_body(facts("DELETE", "/anything")) is True


def test_a_jsonpath_null_condition_matches_null_only():
    """Regression: `jsonpath: {$.a: null}` matched any present value (`equal` None meant
    "present"); docs/authoring.md says a JSONPath value is compared as JSON."""
    text = "routes:\n  - match: {body: {jsonpath: {'$.a': null}}}\n    respond: {}\n"
    route = load_text(text, "t.yaml", Path("."), "t").routes[0]
    assert match_route(route, facts("POST", "/", body=b'{"a": null}')).matched is True
    got = match_route(route, facts("POST", "/", body=b'{"a": 5}'))
    assert (got.matched, got.reason) == (False, "body json $.a: 5 does not match null")
    assert (
        match_route(route, facts("POST", "/", body=b'{"b": 1}')).reason == "body json $.a missing"
    )


# --- survivors of the first mutation run (rules built inside the tests: a parametrize value is
# built at collection, before a mutant is switched on) ---------------------------------------


def test_rules_built_at_run_time():
    assert json_condition("~^ab").test_json(["abc"]) is True
    assert json_condition("~^ab").regex is not None
    assert negated(compile_value("~a")).test("a") is False
    assert compile_path("/X").exact == "/X"
    assert compile_path("/X/{id}").prefix == ("X",)
    assert repr(_UNSET) == "UNSET"


def test_a_path_of_exactly_8_kib_is_still_compared():
    route = R("r", MatchSpec(path=compile_path("/a/*")))
    path = "/b" + "x" * (8 * 1024 - 2)
    assert explain(route, facts(path=path), None, {}) == [
        ("path", f"path {path} does not match /a/*")
    ]


def test_a_present_header_is_shown_in_the_reason():
    route = R("r", MatchSpec(headers=(("h", compile_value("2")),)))
    assert explain(route, facts(headers={"h": "0"}), None, {}) == [
        ("header", "header h='0' does not match '2'")
    ]


def test_a_path_without_a_slash_walks_nowhere():
    assert names(Matcher(routes_for("/opath/{id}")).candidates("nopath")) == []


def test_match_reads_cookies_with_a_memo():
    route = R("c", MatchSpec(cookies=(("sid", compile_value("1")),)))
    assert Matcher([route]).match(facts(headers={"cookie": "sid=1"}), start) == (route, {})


def test_a_negated_regex_holds_for_a_value_it_does_not_find():
    # `{not: "~a"}` keeps its regex: "b" has no "a", so the negation holds (a rule without the
    # regex would be "present", which "b" is, and its negation would fail).
    rule = negated(compile_value("~a"))
    assert rule.test("b") is True
    assert rule.test("xay") is False
    assert rule.regex is not None and rule.regex.pattern == "a"


def test_needs_body_when_every_route_reads_the_body():
    anywhere = R("n", MatchSpec(body=BodyMatch(contains=b"x")))
    assert Matcher([anywhere]).needs_body(facts("GET", "/x")) is True


def test_needs_body_looks_past_a_route_for_another_method():
    post_only = R("b", MatchSpec(methods=frozenset({"POST"}), body=BodyMatch()))
    anywhere = R("n", MatchSpec(body=BodyMatch(contains=b"x")))
    m = Matcher([post_only, anywhere])
    assert m.needs_body(facts("GET", "/a/1")) is True
    assert Matcher([post_only]).needs_body(facts("GET", "/a/1")) is False


def test_a_body_nested_past_the_jsonpath_depth_is_named_in_the_reason() -> None:
    rule = BodyMatch(jsonpath=((compile_jsonpath("$..sku"), json_condition("x")),))
    deep = b'{"a":' * 150 + b"1" + b"}" * 150  # past the JSONPath library's 100 levels
    assert rule.why_not(deep, {}) == "body JSON is nested too deep for $..sku"
