"""Response templates: `{{ method }}`, `{{ path.id }}`, `{{ uuid }}` … compiled once at load time.

A compiled Template is a tuple of literal strings and variable references; rendering is a join with
no parsing and no code execution, so a scenario file can never run code or slow the hot path.
"""

from __future__ import annotations

import difflib
import email.utils
import json
import random as random_module
import re
import time
import uuid as uuid_module
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mockstatus.http_syntax import FIELD_CONTROL
from mockstatus.scenarios.jsonpath import JsonPath, JsonPathTooDeep, compile_jsonpath
from mockstatus.scenarios.request_parts import cookies, form
from mockstatus.scenarios.template_exprs import (
    MAX_RANDOM_CHOICES,
    Expr,
    ExprError,
    Instant,
    compile_expr,
)
from mockstatus.types import RequestFacts

VARIABLES_HINT = (
    "method, path, path.<param>, query.<name>, headers.<name>, cookies.<name>, form.<name>, "
    "body, body.$<jsonpath>, uuid, now, count, random.int: LOW, HIGH, random.choice: A, B"
)
_SIMPLE = ("method", "path", "body", "uuid", "now", "count")
_PREFIXED = ("path", "query", "headers", "cookies", "form")
_VAR_RE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


class TemplateError(ValueError):
    """A template refers to a variable that does not exist."""


def _http_date_now() -> str:
    return email.utils.formatdate(usegmt=True)


def _new_uuid() -> str:
    return str(uuid_module.uuid4())


@dataclass(slots=True)
class TemplateContext:
    """What templates may read. `now_http_date` and `uuid` may be callables: they are called at
    most once, and only if a template uses them (one uuid per response, shared by every field)."""

    facts: RequestFacts
    params: Mapping[str, str] = field(default_factory=dict)
    count: int = 0
    now_http_date: str | Callable[[], str] = _http_date_now
    uuid: str | Callable[[], str] = _new_uuid
    wall: Callable[[], float] | None = None  # the clock, for `now` with filters
    draw: Callable[[int], int] | None = None  # i → 64 seeded bits (`random.*`)
    _body_text: str | None = field(default=None, init=False, repr=False)
    memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    draws: int = field(default=0, init=False, repr=False)

    def get_wall(self) -> float:
        return self.wall() if self.wall is not None else time.time()

    def next_bits(self) -> int:
        """64 random bits: seeded (the route's draws) when the runtime gives `draw`."""
        i = self.draws
        self.draws = i + 1
        return self.draw(i) if self.draw is not None else random_module.getrandbits(64)

    def get_now(self) -> str:
        value = self.now_http_date
        if not isinstance(value, str):
            value = self.now_http_date = value()
        return value

    def get_uuid(self) -> str:
        value = self.uuid
        if not isinstance(value, str):
            value = self.uuid = value()
        return value

    def get_body(self) -> str:
        if self._body_text is None:
            body = self.facts.body
            self._body_text = body.decode("utf-8", "replace") if body else ""
        return self._body_text


# One getter per variable kind; `arg` is the part after the dot (header names lower-cased).
_GETTERS: dict[str, Callable[[TemplateContext, str], str]] = {
    "method": lambda ctx, _: ctx.facts.method,
    "path": lambda ctx, _: ctx.facts.path,
    "body": lambda ctx, _: ctx.get_body(),
    "uuid": lambda ctx, _: ctx.get_uuid(),
    "now": lambda ctx, _: ctx.get_now(),
    "count": lambda ctx, _: str(ctx.count),
    "path.": lambda ctx, arg: ctx.params.get(arg) or "",
    "query.": lambda ctx, arg: ctx.facts.query.get(arg) or "",
    "headers.": lambda ctx, arg: ctx.facts.headers.get(arg) or "",
    "cookies.": lambda ctx, arg: cookies(ctx.facts, ctx.memo).get(arg) or "",
    "form.": lambda ctx, arg: (form(ctx.facts, ctx.memo).get(arg) or [""])[0],
}


@dataclass(frozen=True, slots=True)
class _Ref:
    name: str  # as written, e.g. "headers.X-Id"
    get: Callable[[TemplateContext, Any], str]
    arg: Any  # the getter's argument: a name, or an Expr (filters, JSONPath, random)


@dataclass(frozen=True, slots=True)
class Template:
    """A compiled template. `static` is the constant text when `is_static`, else None."""

    source: str
    parts: tuple[str | _Ref, ...]
    static: str | None
    variables: tuple[str, ...]
    uses_uuid: bool
    uses_now: bool
    uses_body: bool
    typed: Expr | None = None  # the whole text is one expression ending in int/float/bool/json

    def render_value(self, ctx: TemplateContext) -> Any:
        """In a `json:` body: a typed expression's value (a number, a boolean, JSON)."""
        if self.typed is None:
            return self.render(ctx)
        value = self.typed.value(ctx)
        if isinstance(value, Instant):
            return str(value)
        if self.typed.typed == "json" and isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    @property
    def is_static(self) -> bool:
        return self.static is not None

    def render(self, ctx: TemplateContext) -> str:
        if self.static is not None:
            return self.static
        out = []
        for part in self.parts:
            out.append(part if isinstance(part, str) else part.get(ctx, part.arg))
        return "".join(out)

    def render_field(self, ctx: TemplateContext) -> str:
        """Render for a header value: CR/LF/NUL from the request become spaces (no injection)."""
        return FIELD_CONTROL.sub(" ", self.render(ctx))


def literal(text: str) -> Template:
    """A template that is just `text`."""
    return Template(text, (text,), text, (), False, False, False)


def compile_template(text: str, path_params: frozenset[str] | None = None) -> Template:
    """Compile `text`; raise TemplateError for an unknown variable.

    `path_params`, when given, are the parameters the route's path defines: `{{ path.x }}` with any
    other name is an error (it would always render empty).
    """
    if "{{" not in text:
        return literal(text)
    parts: list[str | _Ref] = []
    names: list[str] = []
    flags: set[str] = set()
    pos = 0
    for match in _VAR_RE.finditer(text):
        if match.start() > pos:
            parts.append(text[pos : match.start()])
        ref = _compile_ref(match.group(1).strip(), path_params)
        parts.append(ref)
        names.append(ref.name)
        if isinstance(ref.arg, Expr):
            flags |= {f for f in ("now", "body") if getattr(ref.arg, f"uses_{f}")}
            if ref.arg.uses_random:
                flags.add("uuid")
        pos = match.end()
    if pos < len(text):
        parts.append(text[pos:])
    if not names:
        return literal(text)
    typed = None
    if len(parts) == 1 and isinstance(parts[0], _Ref) and isinstance(parts[0].arg, Expr):
        typed = parts[0].arg if parts[0].arg.typed is not None else None
    return Template(
        text,
        tuple(parts),
        None,
        tuple(names),
        "uuid" in names or "uuid" in flags,
        "now" in names or "now" in flags,
        "body" in names or "body" in flags,
        typed,
    )


def _compile_ref(name: str, path_params: frozenset[str] | None) -> _Ref:
    if "|" in name or name.startswith(("body.$", "random.")):
        try:
            expr = compile_expr(name, lambda n, a: _source(n, a, path_params))
        except ExprError as exc:
            raise TemplateError(f"template '{{{{ {name} }}}}': {exc}") from None
        return _Ref(expr.source, _expr_text, expr)
    return _plain_ref(name, path_params)


def _plain_ref(name: str, path_params: frozenset[str] | None) -> _Ref:
    """A variable without filters (the hot path renders it with one getter call)."""
    if name in _SIMPLE:
        return _Ref(name, _GETTERS[name], "")
    prefix, dot, arg = name.partition(".")
    if dot and prefix in _PREFIXED and arg.strip():
        arg = arg.strip()
        if prefix == "path" and path_params is not None and arg not in path_params:
            known = ", ".join(sorted(path_params)) or "none"
            raise TemplateError(
                f"template variable '{{{{ {name} }}}}': the route path has no parameter "
                f"'{arg}' (it has: {known})"
            )
        if prefix == "headers":
            arg = arg.lower()  # RequestFacts.headers has lower-cased names
        return _Ref(name, _GETTERS[prefix + "."], arg)
    if dot:  # `pth.id` → `path.id`
        guesses = [g + "." + arg for g in difflib.get_close_matches(prefix, _PREFIXED, n=1)]
    else:
        guesses = difflib.get_close_matches(name, _SIMPLE, n=1)
    hint = f" (did you mean '{{{{ {guesses[0]} }}}}'?)" if guesses else ""
    raise TemplateError(
        f"unknown template variable '{{{{ {name} }}}}'{hint}; valid: {VARIABLES_HINT}"
    )


def _expr_text(ctx: TemplateContext, expr: Expr) -> str:
    return expr.text(ctx)


def _source(
    name: str, args: list[str], path_params: frozenset[str] | None
) -> tuple[Callable[[TemplateContext], Any], set[str]]:
    """The getter of an expression's variable, and what it uses (now, random, body)."""
    if name.startswith("random."):
        return _random_source(name, args)
    if args:
        raise ExprError(f"variable '{name}' takes no arguments")
    if name == "now":
        return (lambda ctx: Instant(ctx.get_wall())), {"now"}
    if name.startswith("body.$"):
        try:
            path = compile_jsonpath(name[5:])
        except ValueError as exc:
            raise ExprError(str(exc)) from None
        return (lambda ctx: _jsonpath_value(ctx, path)), {"body"}
    try:
        ref = _plain_ref(name, path_params)
    except TemplateError as exc:
        raise ExprError(str(exc)) from None
    get, arg = ref.get, ref.arg
    flags = {"body"} if name == "body" else ({"random"} if name == "uuid" else set())
    return (lambda ctx: get(ctx, arg)), flags


def _random_source(name: str, args: list[str]) -> tuple[Callable[[TemplateContext], Any], set[str]]:
    if name == "random.int":
        try:
            low, high = (int(a) for a in args)
        except ValueError:
            raise ExprError("'random.int' takes two integers, as in random.int: 1, 6") from None
        if low > high:
            raise ExprError(f"'random.int' needs LOW <= HIGH, got {low}, {high}")
        span = high - low + 1
        return (lambda ctx: low + ctx.next_bits() % span), {"random"}
    if name == "random.choice":
        if not args or len(args) > MAX_RANDOM_CHOICES:
            raise ExprError(f"'random.choice' takes 1 to {MAX_RANDOM_CHOICES} values")
        options = tuple(args)
        return (lambda ctx: options[ctx.next_bits() % len(options)]), {"random"}
    guess = difflib.get_close_matches(name, ("random.int", "random.choice"), n=1)
    hint = f" (did you mean '{guess[0]}'?)" if guess else ""
    raise ExprError(f"unknown variable '{name}'{hint}; random values: random.int, random.choice")


def _jsonpath_value(ctx: TemplateContext, path: JsonPath) -> Any:
    parsed = ctx.memo.get("json", _NO_JSON)
    if parsed is _NO_JSON:
        try:
            parsed = json.loads(ctx.facts.body or b"")
        except (ValueError, RecursionError):
            parsed = None
        ctx.memo["json"] = parsed
    try:
        found = path.values(parsed) if parsed is not None else []
    except JsonPathTooDeep:  # rendered like a body that is not JSON
        found = []
    return found[0] if found else ""


_NO_JSON: Any = object()


class JsonTemplate:
    """A JSON body whose string leaves may be templates.

    Built from a tree of dict/list/Template/plain values; fully static bodies are serialised once.
    """

    __slots__ = ("_tree", "static_bytes", "uses_body", "uses_now", "uses_uuid", "value")

    def __init__(self, tree: Any) -> None:
        flags = {"uuid": False, "now": False, "body": False}
        self._tree = _freeze(tree, flags)
        self.value = _plain(tree)  # the value with templates as their source text (admin API)
        self.uses_uuid = flags["uuid"]
        self.uses_now = flags["now"]
        self.uses_body = flags["body"]
        self.static_bytes: bytes | None = None
        if not isinstance(self._tree, _Dynamic):
            self.static_bytes = _dump(self._tree)

    @property
    def is_static(self) -> bool:
        return self.static_bytes is not None

    def render(self, ctx: TemplateContext) -> bytes:
        if self.static_bytes is not None:
            return self.static_bytes
        return _dump(_render(self._tree, ctx))


class _Dynamic:
    """A subtree that holds at least one variable; static subtrees stay plain values."""

    __slots__ = ("node",)

    def __init__(self, node: Template | dict[str, Any] | list[Any]) -> None:
        self.node = node


def _freeze(tree: Any, flags: dict[str, bool]) -> Any:
    if isinstance(tree, Template):
        if tree.is_static:
            return tree.static
        flags["uuid"] |= tree.uses_uuid
        flags["now"] |= tree.uses_now
        flags["body"] |= tree.uses_body
        return _Dynamic(tree)
    if isinstance(tree, dict):
        items = {key: _freeze(value, flags) for key, value in tree.items()}
        dynamic = any(isinstance(v, _Dynamic) for v in items.values())
        return _Dynamic(items) if dynamic else items
    if isinstance(tree, list):
        values = [_freeze(value, flags) for value in tree]
        return _Dynamic(values) if any(isinstance(v, _Dynamic) for v in values) else values
    return tree


def _render(node: Any, ctx: TemplateContext) -> Any:
    if not isinstance(node, _Dynamic):
        return node
    inner = node.node
    if isinstance(inner, Template):
        return inner.render_value(ctx) if inner.typed is not None else inner.render(ctx)
    if isinstance(inner, dict):
        return {key: _render(value, ctx) for key, value in inner.items()}
    return [_render(value, ctx) for value in inner]


def _plain(tree: Any) -> Any:
    if isinstance(tree, Template):
        return tree.source
    if isinstance(tree, dict):
        return {key: _plain(value) for key, value in tree.items()}
    if isinstance(tree, list):
        return [_plain(value) for value in tree]
    return tree


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")
