"""Templates: one test per variable, whitespace, missing values, unknown names, laziness, JSON."""

from __future__ import annotations

import json

import pytest

from mockstatus.scenarios.templates import (
    JsonTemplate,
    TemplateContext,
    TemplateError,
    compile_template,
)
from mockstatus.types import Query, RequestFacts

FACTS = RequestFacts(
    "POST",
    "/payments/42",
    Query((("page", "2"), ("page", "3"))),
    {"x-request-id": "abc"},
    body=b'{"amount": 5}',
)


def ctx(**overrides: object) -> TemplateContext:
    base: dict[str, object] = {
        "facts": FACTS,
        "params": {"id": "42"},
        "count": 3,
        "now_http_date": "Thu, 01 Jan 2026 00:00:00 GMT",
        "uuid": "00000000-0000-4000-8000-000000000000",
    }
    base.update(overrides)
    return TemplateContext(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("source", "rendered"),
    [
        ("{{ method }}", "POST"),
        ("{{ path }}", "/payments/42"),
        ("{{ path.id }}", "42"),
        ("{{ query.page }}", "2"),
        ("{{ headers.X-Request-Id }}", "abc"),
        ("{{ headers.x-request-id }}", "abc"),
        ("{{ body }}", '{"amount": 5}'),
        ("{{ uuid }}", "00000000-0000-4000-8000-000000000000"),
        ("{{ now }}", "Thu, 01 Jan 2026 00:00:00 GMT"),
        ("{{ count }}", "3"),
        ("{{method}} {{  path  }}", "POST /payments/42"),
        ("id={{ path.id }};n={{count}}!", "id=42;n=3!"),
        ("{{ query.missing }}|{{ headers.missing }}|{{ path.nope }}", "||"),
        ("no variables {here}", "no variables {here}"),
        ("{{ unclosed", "{{ unclosed"),
    ],
)
def test_variables(source: str, rendered: str) -> None:
    assert compile_template(source).render(ctx()) == rendered


def test_missing_body_renders_empty() -> None:
    assert compile_template("[{{ body }}]").render(ctx(facts=RequestFacts("GET", "/"))) == "[]"


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("{{ methd }}", "unknown template variable '{{ methd }}' (did you mean '{{ method }}'?)"),
        ("{{ pth.id }}", "(did you mean '{{ path.id }}'?)"),
        ("{{ query. }}", "unknown template variable '{{ query. }}'"),
        ("{{ __import__('os') }}", "unknown template variable"),
        ("{{ }}", "unknown template variable '{{  }}'"),
    ],
)
def test_unknown_variables(source: str, fragment: str) -> None:
    with pytest.raises(TemplateError) as info:
        compile_template(source)
    assert fragment in str(info.value)
    assert "valid: method, path, path.<param>, query.<name>, headers.<name>" in str(info.value)


def test_path_params_checked_when_known() -> None:
    assert compile_template("{{ path.id }}", frozenset({"id"})).variables == ("path.id",)
    with pytest.raises(TemplateError, match="has no parameter 'idd' \\(it has: id\\)"):
        compile_template("{{ path.idd }}", frozenset({"id"}))
    with pytest.raises(TemplateError, match="it has: none"):
        compile_template("{{ path.id }}", frozenset())


def test_static_template_needs_no_work() -> None:
    t = compile_template("plain")
    assert t.is_static and t.static == "plain" and t.variables == ()
    assert t.render(None) == "plain"  # type: ignore[arg-type]  # not even the context is read
    dynamic = compile_template("{{ count }}")
    assert not dynamic.is_static and dynamic.static is None


def test_uuid_and_now_are_lazy_and_computed_once() -> None:
    calls: list[str] = []

    def make(name: str):
        def produce() -> str:
            calls.append(name)
            return f"<{name}>"

        return produce

    c = ctx(uuid=make("uuid"), now_http_date=make("now"))
    assert compile_template("{{ method }}").render(c) == "POST"
    assert calls == []
    t = compile_template("{{ uuid }} {{ uuid }} {{ now }}")
    assert (t.uses_uuid, t.uses_now, t.uses_body) == (True, True, False)
    assert t.render(c) == "<uuid> <uuid> <now>"
    assert compile_template("{{ uuid }}").render(c) == "<uuid>"  # same response, same uuid
    assert calls == ["uuid", "now"]


def test_default_context_values() -> None:
    c = TemplateContext(RequestFacts("GET", "/"))
    assert len(c.get_uuid()) == 36 and c.get_uuid() == c.get_uuid()
    assert c.get_now().endswith(" GMT")


def test_render_field_strips_request_controlled_newlines() -> None:
    c = ctx(params={"id": "a\r\nSet-Cookie: x"})
    t = compile_template("/p/{{ path.id }}")
    assert t.render(c) == "/p/a\r\nSet-Cookie: x"
    assert t.render_field(c) == "/p/a  Set-Cookie: x"


def test_json_static_is_serialised_once() -> None:
    body = JsonTemplate({"ok": True, "n": [1, None], "s": compile_template("text")})
    assert body.is_static
    assert body.static_bytes == b'{"ok": true, "n": [1, null], "s": "text"}'
    assert body.render(ctx()) is body.static_bytes


def test_json_dynamic_renders_string_leaves() -> None:
    body = JsonTemplate(
        {
            "id": compile_template("{{ path.id }}"),
            "nested": [{"at": compile_template("{{ now }}")}, 7],
            "fixed": {"k": "v"},
            "é": "ü",
        }
    )
    assert not body.is_static and body.uses_now and not body.uses_uuid
    out = body.render(ctx())
    assert json.loads(out) == {
        "id": "42",
        "nested": [{"at": "Thu, 01 Jan 2026 00:00:00 GMT"}, 7],
        "fixed": {"k": "v"},
        "é": "ü",
    }
    assert "é".encode() in out  # UTF-8, not \\u escapes
    assert body.value["id"] == "{{ path.id }}"


def test_json_renders_request_text_safely() -> None:
    body = JsonTemplate({"echo": compile_template("{{ body }}")})
    c = ctx(facts=RequestFacts("POST", "/", body=b'"quoted" \xff'))
    assert json.loads(body.render(c)) == {"echo": '"quoted" \ufffd'}
