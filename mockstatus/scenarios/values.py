"""Located values (`_V`) and the typed reads the validators build on.

The loader composes a scenario file into `_V`s: each value keeps the line and column it was
written at. `_Reader` reads them as strings, integers, durations, choices and the like; each
read reports its own problem (through the loader's `report`) and returns None.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from mockstatus.durations import DURATION_HINT, parse_duration
from mockstatus.http_syntax import FIELD_CONTROL, TOKEN
from mockstatus.scenarios.templates import Template, TemplateError, compile_template

_DIGITS = re.compile(r"\s*[0-9]{1,9}\s*")

Params = frozenset[str] | None  # the route path's parameters; None = unknown (path was invalid)
At = tuple[int, int]


_Option = TypeVar("_Option", bound=str)


@dataclass(slots=True, eq=False)
class _V:
    """A located YAML value. kind: map | seq | str | int | float | bool | null | bad (reported)."""

    kind: str
    value: Any  # dict[str, _V] | list[_V] | a Python scalar
    text: str  # a scalar's source text
    line: int
    col: int
    keys: dict[str, At] | None = None  # map: where each key was written


def _describe(v: _V) -> str:
    if v.kind in ("map", "seq", "null"):
        return {"map": "a mapping", "seq": "a list", "null": "nothing"}[v.kind]
    text = repr(v.value) if v.kind == "str" else v.text
    return text if len(text) <= 60 else text[:57] + "..."


Report = Callable[[_V | At, str], None]  # records a problem at a value or a (line, column)


class _Reader:
    """One file's validators: the typed reads, with problems going to `report`."""

    def __init__(self, file: str, base_dir: Path | None, report: Report) -> None:
        self.file = file
        self.base_dir = base_dir
        self.problem = report
        # Keys that an unknown key was taken for (`rspond` → respond), per mapping: a "needs
        # 'respond'" about the same mapping would only repeat the typo, so it is not reported.
        self.typos: dict[int, set[str]] = {}
        self.warnings: list[tuple[_V | At, str]] = []  # shown by `check` and the admin API

    def warn(self, at: _V | At, message: str) -> None:
        self.warnings.append((at, message))

    # -- typed reads: each reports its own problem and returns None --------------------------

    def mapping(
        self, v: _V, where: str, allowed: Sequence[str] | None, what: str | None = None
    ) -> dict[str, _V] | None:
        if v.kind != "map":
            if v.kind != "bad":
                self.problem(v, f"{what or repr(where)} must be a mapping, got {_describe(v)}")
            return None
        for key, at in (v.keys or {}).items():
            if allowed is not None and key not in allowed:
                guess = difflib.get_close_matches(key, allowed, n=1)
                hint = f"did you mean '{guess[0]}'?" if guess else "valid: " + ", ".join(allowed)
                self.problem(at, f"unknown key '{key}' in {where} ({hint})")
                if guess:
                    self.typos.setdefault(id(v), set()).add(guess[0])
        entries: dict[str, _V] = v.value
        return entries

    def missing(self, at: _V, where: str, key: str) -> None:
        if key in self.typos.get(id(at), ()):
            return  # the unknown key that was meant to be `key` is reported already
        self.problem(at, f"{where} needs '{key}'")

    def string(self, v: _V, name: str) -> str | None:
        if v.kind in ("str", "int", "float", "bool"):  # `X-Count: 5` means "5", not 5
            return v.value if v.kind == "str" else v.text
        if v.kind != "bad":
            self.problem(v, f"'{name}' must be a string, got {_describe(v)}")
        return None

    def label(self, v: _V, what: str, slash_ok: bool = True) -> str | None:
        text = self.string(v, what)
        if text is not None and (
            not text.strip() or FIELD_CONTROL.search(text) or (not slash_ok and "/" in text)
        ):
            rule = "" if slash_ok else ", '/'"
            self.problem(v, f"'{what}' must be a non-empty name without control characters{rule}")
            return None
        return text.strip() if text is not None else None

    def integer(self, v: _V, name: str, low: float, high: float, expected: str) -> int | None:
        number: int | None = v.value if v.kind == "int" else None
        if v.kind == "str" and _DIGITS.fullmatch(v.value):
            number = int(v.value)
        if number is None or not low <= number <= high:
            if v.kind != "bad":
                self.problem(v, f"'{name}' must be {expected}, got {_describe(v)}")
            return None
        return number

    def number(self, v: _V, name: str, low: float, high: float, expected: str) -> float | None:
        if v.kind in ("int", "float") and math.isfinite(v.value) and low <= v.value <= high:
            return float(v.value)
        if v.kind != "bad":
            self.problem(v, f"'{name}' must be {expected}, got {_describe(v)}")
        return None

    def duration(
        self, v: _V, name: str, positive: bool = False, cap: float | None = None
    ) -> float | None:
        if v.kind not in ("int", "float", "str"):
            if v.kind != "bad":
                self.problem(v, f"'{name}' must be {DURATION_HINT}, got {_describe(v)}")
            return None
        try:
            seconds = parse_duration(v.value, name)
        except ValueError as exc:
            self.problem(v, str(exc))
            return None
        if positive and seconds <= 0:
            self.problem(v, f"'{name}' must be longer than 0, got {_describe(v)}")
            return None
        if cap is not None and seconds > cap:
            # A wait holds a connection (and a task) open: bound it as the query parameters are.
            self.problem(v, f"'{name}' must be at most {cap:g}s, got {_describe(v)}")
            return None
        return seconds

    def choice(self, v: _V, name: str, options: Sequence[_Option]) -> _Option | None:
        """The option `v` names (typed as the options are: a Literal stays a Literal)."""
        text = self.string(v, name)
        if text is None:
            return None
        for option in options:
            if option == text:
                return option
        guess = difflib.get_close_matches(text, options, n=1)
        hint = f" (did you mean '{guess[0]}'?)" if guess else ""
        self.problem(v, f"'{name}' must be one of {', '.join(options)}, got {text!r}{hint}")
        return None

    def counter_key(
        self, v: _V, name: str, plain: Sequence[str], prefixed: Sequence[str]
    ) -> str | None:
        """`client`, `global`, `header:X-Id` (stored lower-case), `query:key`."""
        text = self.string(v, name)
        if text is None:
            return None
        if text in plain:
            return text
        prefix, colon, arg = text.partition(":")
        arg = arg.strip()
        if colon and prefix in prefixed and arg and (prefix != "header" or TOKEN.fullmatch(arg)):
            return f"{prefix}:{arg.lower() if prefix == 'header' else arg}"
        options = ", ".join([*plain, *(f"{p}:NAME" for p in prefixed)])
        self.problem(v, f"'{name}' must be one of {options}, got {text!r}")
        return None

    def template(self, v: _V, text: str, params: Params) -> Template | None:
        try:
            return compile_template(text, params)
        except TemplateError as exc:
            self.problem(v, str(exc))
            return None

    def items(self, v: _V, name: str) -> list[_V]:
        """A list, or one value standing for a list of one."""
        return v.value if v.kind == "seq" else [v]

    def json_tree(self, v: _V, params: Params, templates: bool = True) -> Any:
        """Plain JSON data; with `templates`, string leaves become Templates."""
        if v.kind == "map":
            return {k: self.json_tree(item, params, templates) for k, item in v.value.items()}
        if v.kind == "seq":
            return [self.json_tree(item, params, templates) for item in v.value]
        if v.kind == "str" and templates:
            return self.template(v, v.value, params) or v.value
        if v.kind == "float" and not math.isfinite(v.value):
            self.problem(v, f"JSON has no {v.text}: use a finite number or a string")
        return v.value
