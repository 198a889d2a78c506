"""templates.py by value: each variable's rendering, the use flags, laziness, seeded random
values, the error messages word for word, and JSON bodies (static once, dynamic per request)."""

from __future__ import annotations

import json
import re

import pytest

from mockstatus.scenarios import templates as T
from mockstatus.scenarios.templates import (
    JsonTemplate,
    Template,
    TemplateContext,
    TemplateError,
    compile_template,
    literal,
)
from mockstatus.types import Query, RequestFacts

HINT = (
    "method, path, path.<param>, query.<name>, headers.<name>, cookies.<name>, form.<name>, "
    "body, body.$<jsonpath>, uuid, now, count, random.int: LOW, HIGH, random.choice: A, B"
)
UUID = "00000000-0000-4000-8000-000000000000"
NOW = "Thu, 01 Jan 2026 00:00:00 GMT"


def facts(**kw) -> RequestFacts:
    base = dict(
        method="PUT",
        path="/p/42",
        query=Query((("q", "1"), ("q", "2"), ("e", ""))),
        headers={
            "x-id": "abc",
            "cookie": "sid=s1; o=2",
            "content-type": "application/x-www-form-urlencoded",
        },
        body=b"k=v1&k=v2&e=",
    )
    base.update(kw)
    return RequestFacts(**base)  # type: ignore[arg-type]


def ctx(**kw) -> TemplateContext:
    base: dict = dict(facts=facts(), params={"id": "42"}, count=7, now_http_date=NOW, uuid=UUID)
    base.update(kw)
    return TemplateContext(**base)


def render(text: str, **kw) -> str:
    return compile_template(text).render(ctx(**kw))


def test_variables_hint():
    assert T.VARIABLES_HINT == HINT
    assert T._SIMPLE == ("method", "path", "body", "uuid", "now", "count")
    assert T._PREFIXED == ("path", "query", "headers", "cookies", "form")


def test_default_now_and_uuid():
    assert re.fullmatch(
        r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT", T._http_date_now()
    )
    u = T._new_uuid()
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", u)
    assert T._new_uuid() != u


@pytest.mark.parametrize(
    ("source", "rendered"),
    [
        ("{{ method }}", "PUT"),
        ("{{path}}", "/p/42"),
        ("{{ path.id }}", "42"),
        ("{{ path.other }}", ""),
        ("{{ query.q }}", "1"),
        ("{{ query.e }}", ""),
        ("{{ query.none }}", ""),
        ("{{ headers.X-ID }}", "abc"),
        ("{{ headers.none }}", ""),
        ("{{ cookies.sid }}", "s1"),
        ("{{ cookies.none }}", ""),
        ("{{ form.k }}", "v1"),
        ("{{ form.e }}", ""),
        ("{{ form.none }}", ""),
        ("{{ body }}", "k=v1&k=v2&e="),
        ("{{ uuid }}", UUID),
        ("{{ now }}", NOW),
        ("{{ count }}", "7"),
        ("a{{ method }}b{{ count }}c", "aPUTb7c"),
        ("{{ method }}{{ method }}", "PUTPUT"),
        ("{{ query. q }}", "1"),
    ],
)
def test_variable_values(source, rendered):
    assert render(source) == rendered


def test_body_decoding():
    assert render("{{ body }}", facts=facts(body=b"\xffa")) == "\ufffda"
    assert render("{{ body }}", facts=facts(body=None)) == ""
    assert render("{{ body }}", facts=facts(body=b"")) == ""


def test_context_getters_call_once_and_keep_the_value():
    calls = []

    def now() -> str:
        calls.append("now")
        return NOW

    def uuid() -> str:
        calls.append("uuid")
        return UUID

    c = ctx(now_http_date=now, uuid=uuid)
    assert c.get_now() == NOW and c.get_now() == NOW and c.now_http_date == NOW
    assert c.get_uuid() == UUID and c.get_uuid() == UUID and c.uuid == UUID
    assert calls == ["now", "uuid"]


def test_context_body_is_decoded_once():
    c = ctx()
    assert c.get_body() == "k=v1&k=v2&e="
    c.facts = facts(body=b"other")
    assert c.get_body() == "k=v1&k=v2&e="


def test_context_wall_and_draws():
    assert ctx(wall=lambda: 12.5).get_wall() == 12.5
    assert abs(ctx().get_wall() - __import__("time").time()) < 60
    seen = []
    c = ctx(draw=lambda i: seen.append(i) or i * 10)
    assert [c.next_bits(), c.next_bits(), c.next_bits()] == [0, 10, 20]
    assert seen == [0, 1, 2] and c.draws == 3
    free = ctx()
    assert 0 <= free.next_bits() < 2**64 and free.draws == 1


def test_literal():
    t = literal("x{y")
    assert t == Template("x{y", ("x{y",), "x{y", (), False, False, False)
    assert t.is_static and t.render(ctx()) == "x{y" and t.typed is None
    assert compile_template("plain") == literal("plain")
    assert compile_template("{{ }x") == literal("{{ }x")  # no closing pair: text


def test_compiled_template_fields():
    t = compile_template("a{{ method }}b{{ headers.X-Id }}")
    assert t.source == "a{{ method }}b{{ headers.X-Id }}"
    assert t.static is None and not t.is_static
    assert t.variables == ("method", "headers.X-Id")
    assert [p if isinstance(p, str) else (p.name, p.arg) for p in t.parts] == [
        "a",
        ("method", ""),
        "b",
        ("headers.X-Id", "x-id"),
    ]
    assert (t.uses_uuid, t.uses_now, t.uses_body, t.typed) == (False, False, False, None)


@pytest.mark.parametrize(
    ("source", "flags"),
    [
        ("{{ uuid }}", (True, False, False)),
        ("{{ now }}", (False, True, False)),
        ("{{ body }}", (False, False, True)),
        ("{{ body.$.a }}", (False, False, True)),
        ("{{ now | format: 'iso' }}", (False, True, False)),
        ("{{ random.int: 1, 2 }}", (True, False, False)),
        ("{{ random.choice: a }}", (True, False, False)),
        ("{{ body | upper }}", (False, False, True)),
        ("{{ uuid | upper }}", (True, False, False)),
        ("{{ method | upper }}", (False, False, False)),
        ("{{ count }}{{ path }}", (False, False, False)),
    ],
)
def test_use_flags(source, flags):
    t = compile_template(source)
    assert (t.uses_uuid, t.uses_now, t.uses_body) == flags


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("{{ body.$.n | int }}", 5),
        ("{{ body.$.f | float }}", 1.5),
        ("{{ body.$.b | bool }}", True),
        ("{{ body.$.o | json }}", {"a": [1]}),
        ("{{ body.$.s | json }}", "not json"),
        ("{{ body.$.n }}", "5"),
        ("{{ method }}", "POST"),
        ("x{{ body.$.n | int }}", "x5"),
        ("{{ now }}", NOW),
        ("{{ now | add: '1h' }}", "Thu, 01 Jan 1970 01:00:00 GMT"),
    ],
)
def test_render_value(source, value):
    body = json.dumps({"n": 5, "f": 1.5, "b": True, "o": {"a": [1]}, "s": "not json"}).encode()
    c = ctx(facts=facts(method="POST", body=body), wall=lambda: 0.0)
    got = compile_template(source).render_value(c)
    assert got == value and type(got) is type(value)


def test_typed_is_set_for_one_typed_expression_only():
    assert compile_template("{{ body.$.n | int }}").typed is not None
    assert compile_template("{{ body.$.n | upper }}").typed is None
    assert compile_template(" {{ body.$.n | int }}").typed is None
    assert compile_template("{{ method }}").typed is None


def test_render_field_replaces_controls_with_spaces():
    c = ctx(facts=facts(headers={"x-id": "a\r\nb\x00c\td"}))
    assert compile_template("{{ headers.x-id }}").render_field(c) == "a  b c\td"
    assert compile_template("{{ headers.x-id }}").render(c) == "a\r\nb\x00c\td"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ methd }}", f"unknown template variable '{{{{ methd }}}}' (did you mean '{{{{ method }}}}'?); valid: {HINT}"),
        ("{{ zzz }}", f"unknown template variable '{{{{ zzz }}}}'; valid: {HINT}"),
        ("{{ pth.id }}", f"unknown template variable '{{{{ pth.id }}}}' (did you mean '{{{{ path.id }}}}'?); valid: {HINT}"),
        ("{{ zzz.id }}", f"unknown template variable '{{{{ zzz.id }}}}'; valid: {HINT}"),
        ("{{ query. }}", f"unknown template variable '{{{{ query. }}}}' (did you mean '{{{{ query. }}}}'?); valid: {HINT}"),
        ("{{ random.int: 6, 1 }}", "template '{{ random.int: 6, 1 }}': 'random.int' needs LOW <= HIGH, got 6, 1"),
        ("{{ random.int: 1 }}", "template '{{ random.int: 1 }}': 'random.int' takes two integers, as in random.int: 1, 6"),
        ("{{ random.int: a, b }}", "template '{{ random.int: a, b }}': 'random.int' takes two integers, as in random.int: 1, 6"),
        ("{{ random.choice }}", "template '{{ random.choice }}': 'random.choice' takes 1 to 100 values"),
        ("{{ random.dice }}", "template '{{ random.dice }}': unknown variable 'random.dice' (did you mean 'random.choice'?); random values: random.int, random.choice"),
        ("{{ random.zzzzzzzz }}", "template '{{ random.zzzzzzzz }}': unknown variable 'random.zzzzzzzz'; random values: random.int, random.choice"),
        ("{{ now: 1 | upper }}", "template '{{ now: 1 | upper }}': variable 'now' takes no arguments"),
        ("{{ methd | upper }}", f"template '{{{{ methd | upper }}}}': unknown template variable '{{{{ methd }}}}' (did you mean '{{{{ method }}}}'?); valid: {HINT}"),
    ],
)  # fmt: skip
def test_errors(source, message):
    with pytest.raises(TemplateError) as err:
        compile_template(source)
    assert str(err.value) == message


def test_random_choice_cap():
    ok = compile_template("{{ random.choice: " + ", ".join(str(i) for i in range(100)) + " }}")
    assert ok.render(ctx(draw=lambda i: 99)) == "99"
    with pytest.raises(TemplateError) as err:
        compile_template("{{ random.choice: " + ", ".join(str(i) for i in range(101)) + " }}")
    assert str(err.value).endswith("'random.choice' takes 1 to 100 values")


def test_body_jsonpath_error():
    with pytest.raises(TemplateError) as err:
        compile_template("{{ body.$.a[ }}")
    assert str(err.value).startswith("template '{{ body.$.a[ }}': JSONPath '$.a[' is not valid")


def test_path_params_are_checked_when_known():
    assert compile_template("{{ path.id }}", frozenset({"id"})).render(ctx()) == "42"
    assert compile_template("{{ path.x }}").render(ctx()) == ""  # unknown params: not checked
    with pytest.raises(TemplateError) as err:
        compile_template("{{ path.x }}", frozenset({"b", "a"}))
    assert str(err.value) == (
        "template variable '{{ path.x }}': the route path has no parameter 'x' (it has: a, b)"
    )
    with pytest.raises(TemplateError) as err:
        compile_template("{{ path.x }}", frozenset())
    assert str(err.value).endswith("has no parameter 'x' (it has: none)")
    with pytest.raises(TemplateError) as err:
        compile_template("{{ path.x | upper }}", frozenset({"id"}))
    assert "has no parameter 'x' (it has: id)" in str(err.value)


@pytest.mark.parametrize(
    ("source", "draws", "rendered"),
    [
        ("{{ random.int: 1, 6 }}", [0], "1"),
        ("{{ random.int: 1, 6 }}", [5], "6"),
        ("{{ random.int: 1, 6 }}", [6], "1"),
        ("{{ random.int: 1, 6 }}", [13], "2"),
        ("{{ random.int: -3, -3 }}", [12345], "-3"),
        ("{{ random.int: 0, 9 }}{{ random.int: 0, 9 }}", [3, 27], "37"),
        ("{{ random.choice: a, 'b c', d }}", [0], "a"),
        ("{{ random.choice: a, 'b c', d }}", [1], "b c"),
        ("{{ random.choice: a, 'b c', d }}", [5], "d"),
        ("{{ random.choice: only }}", [7], "only"),
    ],
)
def test_seeded_random_values(source, draws, rendered):
    assert render(source, draw=lambda i: draws[i]) == rendered


def test_jsonpath_values_and_memo():
    body = b'{"a": {"b": [10, 20]}, "s": "x"}'
    c = ctx(facts=facts(body=body))
    assert compile_template("{{ body.$.a.b[1] }}").render(c) == "20"
    assert compile_template("{{ body.$.s }}").render(c) == "x"
    assert compile_template("{{ body.$.missing }}").render(c) == ""
    assert c.memo["json"] == {"a": {"b": [10, 20]}, "s": "x"}
    c.facts = facts(body=b"{}")
    assert compile_template("{{ body.$.s }}").render(c) == "x"  # parsed once per context
    for bad in (b"{", b"\xff", b"[" * 100_000, b""):
        c = ctx(facts=facts(body=bad))
        assert compile_template("{{ body.$.s }}").render(c) == ""
        assert c.memo["json"] is None
    assert compile_template("{{ body.$ }}").render(ctx(facts=facts(body=b"null"))) == ""


def test_json_template_static():
    t = JsonTemplate({"a": [1, literal("x")], "b": "é", "c": None})
    assert t.is_static and t.static_bytes == '{"a": [1, "x"], "b": "é", "c": null}'.encode()
    assert t.render(ctx()) is t.static_bytes
    assert t.value == {"a": [1, "x"], "b": "é", "c": None}
    assert (t.uses_uuid, t.uses_now, t.uses_body) == (False, False, False)


def test_json_template_dynamic():
    tree = {
        "static": {"k": [1, 2]},
        "m": compile_template("{{ method }}"),
        "list": [compile_template("{{ count }}"), "s", {"u": compile_template("{{ uuid }}")}],
        "n": compile_template("{{ body.$.n | int }}"),
        "when": compile_template("{{ now }}"),
    }
    t = JsonTemplate(tree)
    assert not t.is_static and t.static_bytes is None
    assert (t.uses_uuid, t.uses_now, t.uses_body) == (True, True, True)
    c = ctx(facts=facts(body=b'{"n": 3}'))
    assert json.loads(t.render(c)) == {
        "static": {"k": [1, 2]},
        "m": "PUT",
        "list": ["7", "s", {"u": UUID}],
        "n": 3,
        "when": NOW,
    }
    assert t.value == {
        "static": {"k": [1, 2]},
        "m": "{{ method }}",
        "list": ["{{ count }}", "s", {"u": "{{ uuid }}"}],
        "n": "{{ body.$.n | int }}",
        "when": "{{ now }}",
    }


@pytest.mark.parametrize(
    ("tree", "flags"),
    [
        ([compile_template("{{ uuid }}")], (True, False, False)),
        ({"a": compile_template("{{ now }}")}, (False, True, False)),
        ({"a": [compile_template("{{ body }}")]}, (False, False, True)),
        ([compile_template("{{ method }}"), compile_template("{{ uuid }}")], (True, False, False)),
    ],
)
def test_json_template_flags(tree, flags):
    t = JsonTemplate(tree)
    assert (t.uses_uuid, t.uses_now, t.uses_body) == flags


def test_json_template_renders_non_ascii_as_utf8():
    t = JsonTemplate({"h": compile_template("{{ headers.x-id }}")})
    assert t.render(ctx(facts=facts(headers={"x-id": 'é"\n'}))) == '{"h": "é\\"\\n"}'.encode()


def test_json_template_only_dynamic_subtrees_are_rendered():
    frozen = T._freeze(
        {"a": {"b": 1}, "c": [compile_template("{{ count }}")]},
        {"uuid": False, "now": False, "body": False},
    )
    assert isinstance(frozen, T._Dynamic)
    assert frozen.node["a"] == {"b": 1}
    assert isinstance(frozen.node["c"], T._Dynamic)
    assert T._freeze([1, {"x": "y"}], {}) == [1, {"x": "y"}]
    assert T._render(5, ctx()) == 5
    assert T._plain(literal("s")) == "s" and T._plain(3) == 3
    assert T._dump({"a": "é"}) == '{"a": "é"}'.encode()


# --- survivors of the first mutation run, each pinned -------------------------------------------


def test_an_expression_is_named_by_its_source():
    assert compile_template("{{ method | upper }}").variables == ("method | upper",)
    assert compile_template("a{{ query.q | default: 'z' }}").variables == (
        "query.q | default: 'z'",
    )


def test_plain_variables_inside_expressions():
    assert render("{{ headers.X-Id | upper }}") == "ABC"
    assert render("{{ query.none | default: 'z' }}") == "z"
    assert render("{{ path.id | int }}") == "42"


def test_a_name_with_two_dots_keeps_the_rest_as_the_argument():
    c = ctx(facts=facts(query=Query((("a.b", "v"),))))
    assert compile_template("{{ query.a.b }}").render(c) == "v"


def test_random_typo_suggests_random_int():
    with pytest.raises(TemplateError) as err:
        compile_template("{{ random.itn }}")
    assert "unknown variable 'random.itn' (did you mean 'random.int'?)" in str(err.value)


def test_flags_of_several_expressions_add_up():
    t = compile_template("{{ random.int: 1, 2 }}{{ now | upper }}")
    assert (t.uses_uuid, t.uses_now, t.uses_body) == (True, True, False)
    t = compile_template("{{ now | upper }}{{ body | upper }}")
    assert (t.uses_uuid, t.uses_now, t.uses_body) == (False, True, True)


def test_json_flags_add_up_over_leaves():
    t = JsonTemplate([compile_template("{{ now }}"), compile_template("{{ method }}")])
    assert (t.uses_uuid, t.uses_now, t.uses_body) == (False, True, False)


def test_now_as_json_is_the_http_date_string():
    c = ctx(wall=lambda: 1.0)
    assert compile_template("{{ now | json }}").render_value(c) == "Thu, 01 Jan 1970 00:00:01 GMT"


def test_the_root_of_a_body_that_is_not_json_is_empty():
    assert compile_template("{{ body.$ | json }}").render(ctx(facts=facts(body=b"{"))) == '""'
