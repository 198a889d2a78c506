"""Matcher: one test per matching rule, the reasons given for the journal, order and index."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockstatus.scenarios import Matcher, Route, ScenarioSet, load_text, match_route
from mockstatus.scenarios.matcher import compile_path, json_subset
from mockstatus.types import Query, RequestFacts


def facts(
    method: str = "GET",
    path: str = "/",
    query: dict[str, str] | list[tuple[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> RequestFacts:
    items = tuple(query.items() if isinstance(query, dict) else query or ())
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    return RequestFacts(method, path, Query(items), lowered, tuple(lowered.items()), body=body)


def route(match: str) -> Route:
    text = f"routes:\n  - match: {match}\n    respond: {{}}\n"
    return load_text(text, "t.yaml", Path("."), "t").routes[0]


def scenario_set(*texts: str) -> ScenarioSet:
    return ScenarioSet(
        tuple(
            load_text(textwrap.dedent(t), f"{i}.yaml", Path("."), f"s{i}")
            for i, t in enumerate(texts)
        )
    )


def always_start(scenario: str, machine: str) -> str:
    return "start"


@pytest.mark.parametrize(
    ("pattern", "path", "params"),
    [
        ("/a/b", "/a/b", {}),
        ("/a/b", "/a/b/", None),
        ("/a/b", "/a", None),
        ("/payments/{id}", "/payments/42", {"id": "42"}),
        ("/payments/{id}", "/payments/42/x", None),
        ("/payments/{id}", "/payments/", None),
        ("/u/{user}/posts/{post}", "/u/ann/posts/7", {"user": "ann", "post": "7"}),
        ("/files/{name}.json", "/files/x.json", {"name": "x"}),
        ("/static/**", "/static/css/a.css", {}),
        ("/static/**", "/static", {}),
        ("/static/**", "/staticx", None),
        ("/a/**/z", "/a/b/c/z", {}),
        ("/a/*/c", "/a/b/c", {}),
        ("/a/*/c", "/a/b/x/c", None),
        ("/a/*.txt", "/a/readme.txt", {}),
        ("/**", "/anything/at/all", {}),
        ("~/orders/(?P<id>[0-9]+)", "/orders/12", {"id": "12"}),
        ("~/orders/(?P<id>[0-9]+)", "/orders/12/items", None),  # full match
        ("~/x(/(?P<opt>y))?", "/x", {}),  # a group that did not take part is left out
        ("/a.b", "/aXb", None),  # literal dots
    ],
)
def test_path_patterns(pattern: str, path: str, params: dict[str, str] | None) -> None:
    assert compile_path(pattern).match(path) == params
    result = match_route(route(f"{{path: '{pattern}'}}"), facts(path=path))
    assert result.matched == (params is not None)
    assert result.params == (params or {})
    if params is None:
        assert result.reason == f"path {path} does not match {pattern}"


@pytest.mark.parametrize("bad", ["a/b", "/a?b=1", "/{a}/{a}", "/{}", "/a{b", "/a**b", "~("])
def test_bad_path_patterns(bad: str) -> None:
    with pytest.raises(ValueError):
        compile_path(bad)


def test_method_single_list_and_default() -> None:
    assert match_route(route("{method: post}"), facts("POST")).matched
    assert match_route(route("{method: post}"), facts("post")).matched
    result = match_route(route("{method: [POST, PUT]}"), facts("GET"))
    assert (result.matched, result.reason) == (False, "method GET not in [POST, PUT]")
    assert match_route(route("{path: /}"), facts("DELETE")).matched
    assert match_route(route("{method: ANY}"), facts("PATCH")).matched


@pytest.mark.parametrize(
    ("rule", "query", "matched", "reason"),
    [
        ("{dry_run: 'true'}", {"dry_run": "true"}, True, ""),
        (
            "{dry_run: 'true'}",
            {"dry_run": "false"},
            False,
            "query dry_run='false' does not match 'true'",
        ),
        ("{dry_run: 'true'}", {}, False, "query dry_run missing"),
        ("{page: 2}", {"page": "2"}, True, ""),  # YAML numbers compare as written
        ("{flag: true}", {"flag": "true"}, True, ""),
        ("{id: '~^[0-9]+$'}", {"id": "123"}, True, ""),
        ("{id: '~^[0-9]+$'}", {"id": "12a"}, False, "query id='12a' does not match '~^[0-9]+$'"),
        ("{debug: null}", {"debug": ""}, True, ""),  # null: present with any value
        ("{debug: null}", {}, False, "query debug missing"),
        ("{a: '1', b: '2'}", {"a": "1"}, False, "query b missing"),
        ("{tag: x}", [("tag", "y"), ("tag", "x")], True, ""),  # any of repeated values
    ],
)
def test_query(rule: str, query: dict[str, str], matched: bool, reason: str) -> None:
    result = match_route(route(f"{{query: {rule}}}"), facts(query=query))
    assert (result.matched, result.reason) == (matched, reason)


@pytest.mark.parametrize(
    ("rule", "headers", "matched"),
    [
        ("{X-Api-Key: '~^sk_'}", {"x-api-key": "sk_live"}, True),
        ("{x-api-key: '~^sk_'}", {"X-API-KEY": "sk_live"}, True),
        ("{X-Api-Key: '~^sk_'}", {"x-api-key": "pk_live"}, False),
        ("{Accept: application/json}", {"accept": "application/json"}, True),
        ("{Accept: application/json}", {"accept": "text/html"}, False),
        ("{Accept: application/json}", {}, False),
        ("{X-Trace: null}", {"x-trace": "1"}, True),
    ],
)
def test_headers(rule: str, headers: dict[str, str], matched: bool) -> None:
    assert match_route(route(f"{{headers: {rule}}}"), facts(headers=headers)).matched == matched


def test_header_reasons() -> None:
    r = route("{headers: {X-Api-Key: sk}}")
    assert match_route(r, facts()).reason == "header x-api-key missing"
    assert match_route(r, facts(headers={"X-Api-Key": "no"})).reason == (
        "header x-api-key='no' does not match 'sk'"
    )


@pytest.mark.parametrize(
    ("rule", "body", "reason"),
    [
        ("{contains: amount}", b'{"amount": 1}', ""),
        ("{contains: amount}", b"{}", "body does not contain 'amount'"),
        ("{json: {currency: EUR}}", b'{"currency": "EUR", "amount": 5}', ""),
        (
            "{json: {currency: EUR}}",
            b'{"currency": "USD"}',
            'body JSON does not contain {"currency": "EUR"}',
        ),
        ("{json: {currency: EUR}}", b"currency=EUR", "body is not JSON"),
        ("{json: {currency: EUR}}", b"\xff\xfe\x00", "body is not JSON"),
        ("{json: {a: {b: [2]}}}", b'{"a": {"b": [1, 2, 3], "c": 0}}', ""),
        ("{json: {n: 1}}", b'{"n": true}', 'body JSON does not contain {"n": 1}'),
        ("{json: {n: 1}}", b'{"n": 1.0}', ""),
        ("{json: {n: null}}", b'{"n": null}', ""),
        ("{regex: '\"id\":\\s*\\d+'}", b'{"id": 42}', ""),
        ("{regex: '^x$'}", b"y", "body does not match regex '^x$'"),
        ("{contains: a, regex: b}", b"ab", ""),
        ("{contains: amount}", None, "body was not read"),
    ],
)
def test_body(rule: str, body: bytes | None, reason: str) -> None:
    result = match_route(route(f"{{body: {rule}}}"), facts("POST", body=body))
    assert (result.matched, result.reason) == (reason == "", reason)


def test_deeply_nested_json_body_is_not_json() -> None:
    r = route("{body: {json: {a: 1}}}")
    assert match_route(r, facts(body=b"[" * 100_000)).reason == "body is not JSON"


def test_json_subset_rules() -> None:
    assert json_subset({"a": [1]}, {"a": [3, 1], "b": 2})
    assert not json_subset({"a": 1}, [1])
    assert not json_subset(True, 1) and not json_subset(1, True) and json_subset(False, False)
    assert not json_subset("1", 1)


def test_state_when() -> None:
    r = load_text(
        "routes:\n  - respond: {}\n    state: {machine: session, when: [logged-in]}\n",
        "t.yaml",
        Path("."),
        "t",
    ).routes[0]
    assert match_route(r, facts()).matched  # without state_of, state is not checked
    result = match_route(r, facts(), always_start)
    assert result.reason == "state 'session' is 'start', route wants 'logged-in'"
    assert match_route(r, facts(), lambda s, m: "logged-in").matched


LOGIN = """\
routes:
  - name: login
    match: {method: POST, path: /login}
    respond: {status: 200}
    state: {machine: session, when: start, set: in}
  - name: me-in
    match: {path: /me}
    respond: {status: 200}
    state: {machine: session, when: in}
  - name: me-out
    match: {path: /me}
    respond: {status: 401}
"""


def test_matcher_respects_state_and_order() -> None:
    matcher = Matcher(scenario_set(LOGIN))
    states = {("s0", "session"): "start"}

    def state_of(scenario: str, machine: str) -> str:
        return states.get((scenario, machine), "start")

    found = matcher.match(facts(path="/me"), state_of)
    assert found is not None and found[0].name == "me-out"
    states[("s0", "session")] = "in"
    found = matcher.match(facts(path="/me"), state_of)
    assert found is not None and found[0].name == "me-in"


def test_matcher_first_match_across_scenarios_in_load_order() -> None:
    first = "routes:\n  - {name: wild, match: {path: '/items/**'}, respond: {}}\n"
    second = (
        "routes:\n  - {name: exact, match: {path: /items/1}, respond: {}}\n"
        "  - {name: param, match: {path: '/items/{id}'}, respond: {}}\n"
        "  - {name: regex, match: {path: '~/r/(?P<n>.*)'}, respond: {}}\n"
        "  - {name: any, respond: {}}\n"
    )
    matcher = Matcher(scenario_set(first, second))
    for path, expected, params in [
        ("/items/1", ("s0", "wild"), {}),
        ("/items", ("s0", "wild"), {}),
        ("/r/a/b", ("s1", "regex"), {"n": "a/b"}),
        ("/other", ("s1", "any"), {}),
    ]:
        found = matcher.match(facts(path=path), always_start)
        assert found is not None
        assert ((found[0].scenario, found[0].name), found[1]) == (expected, params)
    matcher = Matcher(scenario_set(second))
    found = matcher.match(facts(path="/items/1"), always_start)
    assert found is not None and found[0].name == "exact"
    found = matcher.match(facts(path="/items/2"), always_start)
    assert found is not None and (found[0].name, found[1]) == ("param", {"id": "2"})


def test_index_makes_misses_a_lookup() -> None:
    matcher = Matcher(
        scenario_set(
            "routes:\n  - {match: {path: /a/b}, respond: {}}\n"
            "  - {match: {path: '/c/{id}'}, respond: {}}\n"
        )
    )
    assert matcher.candidates("/nothing/here") == ()
    assert matcher.candidates("") == ()
    assert [r.index for r in matcher.candidates("/a/b")] == [0]
    assert [r.index for r in matcher.candidates("/c/1")] == [1]
    assert matcher.match(facts(path="/zzz"), always_start) is None


def test_index_keeps_route_order_between_exact_prefix_and_wild() -> None:
    matcher = Matcher(
        scenario_set(
            "routes:\n  - {match: {path: '~/a/.*'}, respond: {}}\n"
            "  - {match: {path: '/a/{x}'}, respond: {}}\n"
            "  - {match: {path: /a/b}, respond: {}}\n"
        )
    )
    assert [r.index for r in matcher.candidates("/a/b")] == [0, 1, 2]
    assert [r.index for r in matcher.candidates("/a/c")] == [0, 1]
    assert [r.index for r in matcher.candidates("/z")] == [0]


def test_needs_body() -> None:
    matcher = Matcher(
        scenario_set(
            "routes:\n  - {match: {method: POST, path: /pay, body: {contains: x}}, respond: {}}\n"
            "  - {match: {path: /other}, respond: {}}\n"
        )
    )
    assert matcher.needs_body(facts("POST", "/pay"))
    assert not matcher.needs_body(facts("GET", "/pay"))
    assert not matcher.needs_body(facts("POST", "/other"))
    assert not Matcher(scenario_set("routes:\n  - respond: {}\n")).needs_body(facts("POST"))


def test_body_route_is_skipped_when_body_not_read() -> None:
    matcher = Matcher(
        scenario_set(
            "routes:\n  - {name: b, match: {body: {contains: x}}, respond: {}}\n"
            "  - {name: fallback, respond: {}}\n"
        )
    )
    found = matcher.match(facts("POST", "/"), always_start)
    assert found is not None and found[0].name == "fallback"
    found = matcher.match(facts("POST", "/", body=b"xyz"), always_start)
    assert found is not None and found[0].name == "b"


def test_empty_set() -> None:
    assert Matcher(ScenarioSet()).match(facts(), always_start) is None


SEGMENTS = ["a", "b", "{x}", "*", "**", "c.json", "*.json", ""]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=3), min_size=1, max_size=8),
    st.lists(st.lists(st.sampled_from(["a", "b", "c.json", "x", ""]), max_size=4), max_size=10),
)
def test_index_agrees_with_a_linear_scan(patterns: list[list[str]], paths: list[list[str]]) -> None:
    texts = []
    for segments in patterns:
        pattern = "/" + "/".join(segments)
        if segments.count("{x}") > 1 or any("**" in s and s != "**" for s in segments):
            continue
        texts.append(f"  - {{match: {{path: '{pattern}'}}, respond: {{}}}}")
    if not texts:
        return
    matcher = Matcher(scenario_set("routes:\n" + "\n".join(texts) + "\n"))
    for segments in paths:
        request = facts(path="/" + "/".join(segments))
        expected = next(
            ((r, res.params) for r in matcher.routes if (res := match_route(r, request)).matched),
            None,
        )
        found = matcher.match(request, always_start)
        assert (found and (found[0].index, found[1])) == (
            expected and (expected[0].index, expected[1])
        )
