"""Template expressions with filters: `{{ now | add: '1h' | format: 'epoch' }}`,
`{{ random.int: 1, 6 }}`, `{{ cookies.sid | default: 'none' }}`, `{{ body.$.items[0].id | int }}`.

Compiled once at load time into a source getter and a tuple of filter functions; an unknown
variable, filter or bad argument is a TemplateError (a located load-time problem), never an
empty string. Values flow as Python objects (a JSON value, an `Instant`, text) and become text
at the end, or a typed JSON value when the whole string is one expression ending in `int`,
`float`, `bool` or `json`.
"""

from __future__ import annotations

import base64
import datetime
import difflib
import email.utils
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mockstatus.durations import parse_duration

if TYPE_CHECKING:
    from mockstatus.scenarios.templates import TemplateContext

FILTERS_HINT = "upper, lower, default, json, base64, int, float, bool, add, format"
TYPED_FILTERS = frozenset({"int", "float", "bool", "json"})
FORMATS = ("epoch", "epoch_ms", "iso", "http-date")
MAX_RANDOM_CHOICES = 100  # choices one `random.choice` lists


class ExprError(ValueError):
    """A template expression that cannot be compiled (reported as a TemplateError)."""


@dataclass(frozen=True, slots=True)
class Instant:
    """A point in time (epoch seconds): `now`, maybe moved by `add`. Text: an HTTP-date."""

    seconds: float

    def __str__(self) -> str:
        return _http_date(self.seconds)


def _http_date(seconds: float) -> str:
    return email.utils.formatdate(max(0.0, min(seconds, 253_402_300_799)), usegmt=True)


Getter = Callable[["TemplateContext"], Any]
Filter = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Expr:
    source: str  # as written
    get: Getter
    filters: tuple[Filter, ...]
    typed: str | None  # the last filter when it makes a typed value (int, float, bool, json)
    uses_now: bool
    uses_random: bool
    uses_body: bool

    def value(self, ctx: TemplateContext) -> Any:
        value = self.get(ctx)
        for apply in self.filters:
            value = apply(value)
        return value

    def text(self, ctx: TemplateContext) -> str:
        return as_text(self.value(ctx))


def as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, Instant):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


# --- parsing ------------------------------------------------------------------------------------


def split_outside(text: str, sep: str) -> list[str]:
    """Split on `sep` outside quotes and brackets (a JSONPath keeps its `||` and `,`)."""
    parts: list[str] = []
    depth, quote, start, i = 0, "", 0, 0
    while i < len(text):
        char = text[i]
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        elif char == sep and depth == 0:
            if sep == "|" and text[i + 1 : i + 2] == "|":
                i += 2
                continue
            parts.append(text[start:i])
            start = i + 1
        i += 1
    if quote:
        raise ExprError(f"unclosed quote in {text.strip()!r}")
    parts.append(text[start:])
    return parts


def _call(segment: str) -> tuple[str, list[str]]:
    """`name: a, 'b'` → (name, ["a", "b"]). A JSONPath source keeps its colons."""
    segment = segment.strip()
    if segment.startswith("body.$"):
        return segment, []
    name, colon, rest = segment.partition(":")
    name = name.strip()
    if not colon:
        return name, []
    args = [_unquote(a.strip()) for a in split_outside(rest, ",")]
    if any(a == "" for a in args):
        raise ExprError(f"'{name}' has an empty argument")
    return name, args


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


# --- filters ------------------------------------------------------------------------------------


def _to_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value and abs(value) < 1e18:
        return int(value)
    if isinstance(value, Instant):
        return int(value.seconds)
    try:
        return int(str(value).strip())
    except ValueError:
        try:
            number = float(str(value).strip())
        except ValueError:
            return None
        return int(number) if number == number and abs(number) < 1e18 else None


def _to_float(value: Any) -> float | None:
    if isinstance(value, Instant):
        return value.seconds
    try:
        number = float(value if isinstance(value, int | float) else str(value).strip())
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "off", "null")
    return bool(value)


def _format(kind: str) -> Filter:
    def apply(value: Any) -> Any:
        seconds = value.seconds if isinstance(value, Instant) else _to_float(value)
        if seconds is None:
            return None
        if kind == "epoch":
            return int(seconds)
        if kind == "epoch_ms":
            return int(seconds * 1000)
        if kind == "iso":
            moment = datetime.datetime.fromtimestamp(
                max(0.0, min(seconds, 253_402_300_799)), datetime.UTC
            )
            return moment.isoformat().replace("+00:00", "Z")
        return _http_date(seconds)

    return apply


def _add(offset: float) -> Filter:
    def apply(value: Any) -> Any:
        if isinstance(value, Instant):
            return Instant(value.seconds + offset)
        number = _to_float(value)
        return None if number is None else number + offset

    return apply


def _signed_duration(text: str) -> float:
    sign = -1.0 if text.startswith("-") else 1.0
    try:
        return sign * parse_duration(text.lstrip("+-"), "add")
    except ValueError as exc:
        raise ExprError(str(exc)) from None


def _default(fallback: str) -> Filter:
    return lambda value: fallback if value in ("", None) else value


def _b64(value: Any) -> str:
    return base64.b64encode(as_text(value).encode("utf-8")).decode("ascii")


_NO_ARGS: dict[str, Filter] = {
    "upper": lambda v: as_text(v).upper(),
    "lower": lambda v: as_text(v).lower(),
    "json": lambda v: json.dumps(str(v) if isinstance(v, Instant) else v, ensure_ascii=False),
    "base64": _b64,
    "int": _to_int,
    "float": _to_float,
    "bool": _to_bool,
}
_WITH_ARG: dict[str, Callable[[str], Filter]] = {
    "default": _default,
    "add": lambda arg: _add(_signed_duration(arg)),
    "format": lambda arg: _format(_choice(arg, FORMATS, "format")),
}


def _choice(arg: str, options: tuple[str, ...], name: str) -> str:
    if arg not in options:
        raise ExprError(f"'{name}' takes one of {', '.join(options)}, got {arg!r}")
    return arg


def compile_filter(name: str, args: list[str]) -> Filter:
    if name in _NO_ARGS:
        if args:
            raise ExprError(f"filter '{name}' takes no argument")
        return _NO_ARGS[name]
    if name in _WITH_ARG:
        if len(args) != 1:
            raise ExprError(f"filter '{name}' takes one argument, as in {name}: 'x'")
        return _WITH_ARG[name](args[0])
    known = [*_NO_ARGS, *_WITH_ARG]
    guess = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean '{guess[0]}'?)" if guess else ""
    raise ExprError(f"unknown filter '{name}'{hint}; filters: {FILTERS_HINT}")


def compile_expr(
    text: str, source_getter: Callable[[str, list[str]], tuple[Getter, set[str]]]
) -> Expr:
    """`text` is what is between `{{ }}`; `source_getter` compiles its first segment (the
    variable) into a getter and the flags it needs ("now", "random", "body")."""
    segments = split_outside(text, "|")
    name, args = _call(segments[0])
    get, flags = source_getter(name, args)
    filters = []
    last = None
    for segment in segments[1:]:
        fname, fargs = _call(segment)
        if not fname:
            raise ExprError(f"empty filter in {{{{ {text.strip()} }}}}")
        filters.append(compile_filter(fname, fargs))
        last = fname
    typed = last if last in TYPED_FILTERS else None
    return Expr(
        text.strip(),
        get,
        tuple(filters),
        typed,
        "now" in flags,
        "random" in flags,
        "body" in flags,
    )
