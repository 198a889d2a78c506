"""Scenario files → model, with every problem located as `file:line:column`.

As yamllint does it: compose the YAML into a node tree (safe loader, C when present), turn nodes
into located values (`_V`; duplicate keys, tags, alias expansion and depth are checked there),
then validate those values and build the immutable model. Marks never reach the model. Every
failure becomes a ScenarioProblem; the public functions raise ScenarioError and nothing else.
"""

from __future__ import annotations

import difflib
import math
import mimetypes
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
import yaml.constructor
import yaml.reader

from mockstatus.errors import ScenarioError, ScenarioProblem
from mockstatus.scenarios.durations import DURATION_HINT, parse_duration
from mockstatus.scenarios.matcher import BodyMatch, PathPattern, compile_path, compile_value
from mockstatus.scenarios.model import (
    DEFAULT_OUTAGE_RESPONSE,
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
from mockstatus.scenarios.templates import JsonTemplate, Template, TemplateError, compile_template
from mockstatus.types import FAULT_KINDS, Drip, Fault

MAX_FILE_BYTES = 1024 * 1024
MAX_BODY_FILE_BYTES = 10 * 1024 * 1024
MAX_VALUES = 100_000  # values after alias expansion: a "billion laughs" file stops here
MAX_WAIT = 300.0  # seconds: delays, drips and latencies (the `sleep` query's cap too)
MAX_DEPTH = 100  # nesting; also keeps libyaml's recursive composer and ours off deep stacks

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CONSTRUCT = yaml.constructor.SafeConstructor()
_STD = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset({"str", "int", "float", "bool", "null", "timestamp"})
_LINE_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")  # YAML's line breaks, for source lines
_DIGITS = re.compile(r"\s*[0-9]{1,9}\s*")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 §5.6.2 token (names, methods)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # RFC 9110 §5.5: no CR, LF, NUL in fields
_FRAMING = frozenset({"content-length", "transfer-encoding"})  # the wire layer owns framing
_METHODS = (
    *("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY"),
    *("PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "REPORT"),
    *("PURGE", "LINK", "UNLINK"),
)
_SCENARIO_KEYS = ("name", "description", "seed", "routes")
_ROUTE_KEYS = (
    *("name", "match", "respond", "sequence", "after", "per"),
    *("rate_limit", "outage", "chaos", "latency", "state"),
)
_MATCH_KEYS = ("method", "path", "query", "headers", "body")
_BODY_KEYS = ("contains", "json", "regex")
_RESPONSE_KEYS = (
    *("status", "reason", "headers", "body", "json", "file"),
    *("interim", "delay", "fault", "drip"),
)
_STEP_KEYS = (*_RESPONSE_KEYS, "times")
_RATE_KEYS = ("limit", "window", "algorithm", "key")
_OUTAGE_KEYS = ("start", "duration", "every", "offset", "respond", "fault")
_CHAOS_KEYS = ("probability", "respond", "fault")
_LATENCY_KINDS = ("fixed", "uniform", "normal", "lognormal")
_STATE_KEYS = ("machine", "when", "set")
_FAULT_KEYS = ("kind", "delay", "drip")
_DRIP_KEYS = ("chunk", "every")

Params = frozenset[str] | None  # the route path's parameters; None = unknown (path was invalid)
At = tuple[int, int]


def load_folder(path: Path) -> ScenarioSet:
    """Every `*.yaml` / `*.yml` directly in `path`, by file name; `file:` resolves inside `path`."""
    try:
        if not path.is_dir():
            what = "is not a folder" if path.exists() else "does not exist"
            raise ScenarioError([ScenarioProblem(str(path), 1, 1, f"scenarios folder {what}")])
        files = sorted(
            (p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()),
            key=lambda p: p.name,
        )
    except (OSError, ValueError) as exc:
        message = f"cannot read scenarios folder: {getattr(exc, 'strerror', None) or exc}"
        raise ScenarioError([ScenarioProblem(str(path), 1, 1, message)]) from None
    return load_files(files, base_dir=path)


def load_files(paths: Sequence[Path], base_dir: Path | None = None) -> ScenarioSet:
    """Load `paths` in order; `file:` resolves inside `base_dir` (default: each file's folder)."""
    sources: list[_Source] = []
    scenarios: list[Scenario] = []
    for path in paths:
        source = _Source(str(path), base_dir if base_dir is not None else path.parent)
        sources.append(source)
        text = source.read(path)
        scenario = source.load(text, path.stem) if text is not None else None
        if scenario is not None:
            scenarios.append(scenario)
    # Duplicate names are reported in every file that uses the name.
    by_name: dict[str, list[_Source]] = {}
    for source in sources:
        if source.name is not None:
            by_name.setdefault(source.name, []).append(source)
    for name, users in by_name.items():
        for source in users if len(users) > 1 else ():
            others = ", ".join(other.file for other in users if other is not source)
            source.problem(source.name_at, f"duplicate scenario name '{name}' (also in {others})")
    problems = [problem for source in sources for problem in source.sorted_problems()]
    if problems:
        raise ScenarioError(problems)
    return ScenarioSet(tuple(scenarios))


def load_text(text: str, filename: str, base_dir: Path, default_name: str) -> Scenario:
    """One scenario from text (a runtime upload); `file:` resolves inside `base_dir`."""
    source = _Source(filename, base_dir)
    scenario = source.load(text, default_name)
    if scenario is None:
        raise ScenarioError(source.sorted_problems())
    return scenario


class _Abort(Exception):
    """The file cannot be read further; the reason is already recorded as a problem."""


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


def _mark(mark: Any) -> At:
    return mark.line + 1, mark.column + 1


class _Source:
    """One file: its problems, and the validators that build the model from its values."""

    def __init__(self, file: str, base_dir: Path | None) -> None:
        self.file = file
        self.base_dir = base_dir
        self.lines: list[str] = []
        self.problems: list[ScenarioProblem] = []
        self.budget = MAX_VALUES
        self.name: str | None = None
        self.name_at: At = (1, 1)

    def problem(self, at: _V | At, message: str) -> None:
        line, col = (at.line, at.col) if isinstance(at, _V) else at
        source = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        self.problems.append(ScenarioProblem(self.file, line, col, message, source))

    def sorted_problems(self) -> list[ScenarioProblem]:
        return sorted(self.problems, key=lambda p: (p.line, p.column))

    # -- reading and composing ---------------------------------------------------------------

    def read(self, path: Path) -> str | None:
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            self.problem((1, 1), "file not found")
            return None
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
            self.problem((1, 1), f"cannot read file: {getattr(exc, 'strerror', None) or exc}")
            return None
        if len(data) > MAX_FILE_BYTES:
            self.problem((1, 1), "file is larger than 1 MiB, the limit for a scenario file")
            return None
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            self.problem((line, col), f"file is not UTF-8 text (byte 0x{data[exc.start]:02x})")
            return None

    def load(self, text: str, default_name: str) -> Scenario | None:
        self.lines = _LINE_BREAK.split(text)
        if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
            self.problem((1, 1), "file is larger than 1 MiB, the limit for a scenario file")
            return None
        node = self.compose(text)
        if node is None:
            if not self.problems:
                self.problem((1, 1), "file is empty: a scenario needs 'routes'")
            return None
        try:
            root = self.convert(node, 0)
        except _Abort:
            return None
        scenario = self.scenario(root, default_name)
        if scenario is None and not self.problems:  # pragma: no cover - every None has a problem
            self.problem((1, 1), "scenario could not be loaded")
        return None if self.problems else scenario

    def compose(self, text: str) -> yaml.Node | None:
        try:
            # Check nesting on the event stream first: libyaml's composer recurses in C, and
            # its scanner is quadratic in flow depth, so a deep file is stopped early here.
            depth = 0
            for event in yaml.parse(text, Loader=_LOADER):
                if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                    depth += 1
                    if depth > MAX_DEPTH:
                        message = f"values nest more than {MAX_DEPTH} levels deep"
                        self.problem(_mark(event.start_mark), message)
                        return None
                elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                    depth -= 1
            return yaml.compose(text, Loader=_LOADER)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            reason = ", ".join(part for part in (exc.context, exc.problem) if part)
            self.problem(_mark(mark) if mark else (1, 1), f"YAML syntax error: {reason}")
        except yaml.reader.ReaderError as exc:
            char = exc.character
            index = text.find(chr(char)) if isinstance(char, int) else -1
            at = (1, 1)
            if index >= 0:
                at = (text.count("\n", 0, index) + 1, index - text.rfind("\n", 0, index))
            shown = f"#x{char:04x}" if isinstance(char, int) else repr(char)
            self.problem(at, f"YAML syntax error: unacceptable character {shown}: {exc.reason}")
        except yaml.YAMLError as exc:
            self.problem((1, 1), f"YAML error: {exc}")
        return None

    def convert(self, node: yaml.Node, depth: int) -> _V:
        """Node → _V. Aliases are expanded, so the value budget bounds alias bombs and cycles."""
        at = _mark(node.start_mark)
        self.budget -= 1
        if self.budget < 0 or depth > MAX_DEPTH:
            self.problem(
                at,
                f"document expands to more than {MAX_VALUES} values or {MAX_DEPTH} "
                "levels (through aliases?)",
            )
            raise _Abort
        tag = node.tag or ""
        if isinstance(node, yaml.ScalarNode):
            kind = tag[len(_STD) :] if tag.startswith(_STD) else tag
            if kind not in _SCALAR_TAGS:
                return self.bad(at, tag)
            text = node.value
            if not text.isascii():
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    self.problem(at, "text holds an invalid Unicode surrogate")
                    return _V("bad", None, text, *at)
            if kind in ("str", "timestamp"):  # dates stay text: scenarios have no date values
                return _V("str", text, text, *at)
            if kind == "null":
                return _V("null", None, text, *at)
            try:
                value = getattr(_CONSTRUCT, f"construct_yaml_{kind}")(node)
            except (ValueError, OverflowError):
                self.problem(at, f"number {text[:40]!r} is too large")
                return _V("bad", None, text, *at)
            return _V(kind, value, text, *at)
        if isinstance(node, yaml.SequenceNode):
            if tag != _STD + "seq":
                return self.bad(at, tag)
            return _V("seq", [self.convert(item, depth + 1) for item in node.value], "", *at)
        if tag != _STD + "map":
            return self.bad(at, tag)
        values: dict[str, _V] = {}
        keys: dict[str, At] = {}
        merged: list[_V] = []
        for key_node, value_node in node.value:
            key_at = _mark(key_node.start_mark)
            if key_node.tag == _STD + "merge":
                merged.append(self.convert(value_node, depth + 1))
            elif not isinstance(key_node, yaml.ScalarNode):
                self.problem(key_at, "a key must be a plain value, not a list or a mapping")
            elif key_node.value in keys:
                first = keys[key_node.value][0]
                self.problem(key_at, f"duplicate key '{key_node.value}' (first on line {first})")
            else:
                keys[key_node.value] = key_at
                values[key_node.value] = self.convert(value_node, depth + 1)
        # `<<: *base`: explicit keys win, then earlier merge sources over later ones (YAML merge).
        for source in merged:
            for item in source.value if source.kind == "seq" else [source]:
                if item.kind != "map":
                    self.problem(item, "'<<' merges a mapping or a list of mappings")
                    continue
                for key, value in item.value.items():
                    if key not in values:
                        values[key], keys[key] = value, item.keys[key]  # type: ignore[index]
        return _V("map", values, "", *at, keys)

    def bad(self, at: At, tag: str) -> _V:
        shown = "!!" + tag[len(_STD) :] if tag.startswith(_STD) else tag
        self.problem(at, f"unsupported YAML tag '{shown}': scenario files hold plain data only")
        return _V("bad", None, "", *at)

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
        return v.value

    def missing(self, at: _V, where: str, key: str) -> None:
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
            not text.strip() or _CONTROL.search(text) or (not slash_ok and "/" in text)
        ):
            rule = "" if slash_ok else ", '/'"
            self.problem(v, f"'{what}' must be a non-empty name without control characters{rule}")
            return None
        return text.strip() if text is not None else None

    def integer(self, v: _V, name: str, low: float, high: float, expected: str) -> int | None:
        number = v.value if v.kind == "int" else None
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

    def choice(self, v: _V, name: str, options: Sequence[str]) -> str | None:
        text = self.string(v, name)
        if text is not None and text not in options:
            guess = difflib.get_close_matches(text, options, n=1)
            hint = f" (did you mean '{guess[0]}'?)" if guess else ""
            self.problem(v, f"'{name}' must be one of {', '.join(options)}, got {text!r}{hint}")
            return None
        return text

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
        if colon and prefix in prefixed and arg and (prefix != "header" or _TOKEN.fullmatch(arg)):
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

    # -- scenario, route, match --------------------------------------------------------------

    def scenario(self, root: _V, default_name: str) -> Scenario | None:
        top = self.mapping(root, "scenario", _SCENARIO_KEYS, "a scenario file")
        if top is None:
            return None
        name: str | None = default_name
        if "name" in top:
            name = self.label(top["name"], "name", slash_ok=False)
            self.name_at = (top["name"].line, top["name"].col)
        elif not default_name or "/" in default_name or _CONTROL.search(default_name):
            self.problem(root, f"cannot use {default_name!r} as the scenario name; set 'name'")
            name = None
        self.name = name
        description = self.string(top["description"], "description") if "description" in top else ""
        seed = None
        if "seed" in top:
            seed = self.integer(top["seed"], "seed", -math.inf, math.inf, "an integer")
        routes: list[Route] = []
        routes_v = top.get("routes")
        if routes_v is None:
            self.problem(root, "missing 'routes': a scenario needs a list of routes")
        elif routes_v.kind != "seq":
            if routes_v.kind != "bad":
                self.problem(routes_v, f"'routes' must be a list, got {_describe(routes_v)}")
        elif not routes_v.value:
            self.problem(routes_v, "'routes' is empty: a scenario needs at least one route")
        else:
            seen: dict[str, int] = {}
            for index, item in enumerate(routes_v.value):
                route = self.route(item, name or "", index, seen)
                if route is not None:
                    routes.append(route)
        if name is None:
            return None
        machines = tuple(sorted({r.state.machine for r in routes if r.state is not None}))
        return Scenario(name, self.file, tuple(routes), description or "", seed, machines)

    def route(self, v: _V, scenario: str, index: int, seen: dict[str, int]) -> Route | None:
        m = self.mapping(v, "route", _ROUTE_KEYS, "each route")
        if m is None:
            return None
        name, name_v = f"route-{index}", m.get("name", v)
        if "name" in m:
            name = self.label(name_v, "name") or name
        if name in seen:
            self.problem(name_v, f"duplicate route name '{name}' (first on line {seen[name]})")
        seen.setdefault(name, name_v.line)
        match, params = self.match(m["match"]) if "match" in m else (MatchSpec(), frozenset())
        has_respond, has_sequence = "respond" in m, "sequence" in m
        if has_respond and has_sequence:
            self.problem(v, "a route has 'respond' or 'sequence', not both")
        elif not has_respond and not has_sequence:
            self.problem(v, "a route needs 'respond' (one response) or 'sequence' (one per call)")
        for key in ("after", "per"):
            if key in m and not has_sequence:
                self.problem(m[key], f"'{key}' only applies to a 'sequence'")
        respond = self.response(m["respond"], "respond", params) if has_respond else None
        sequence = self.sequence(m, params) if has_sequence else None
        rate_limit = self.rate_limit(m["rate_limit"]) if "rate_limit" in m else None
        outage = self.outage(m["outage"], params) if "outage" in m else ()
        chaos = self.chaos(m["chaos"], params) if "chaos" in m else ()
        latency = self.latency(m["latency"]) if "latency" in m else None
        state = self.state(m["state"]) if "state" in m else None
        if match is None or (respond is None and sequence is None):
            return None
        return Route(
            scenario,
            name,
            index,
            match,
            respond,
            sequence,
            rate_limit,
            outage,
            chaos,
            latency,
            state,
        )

    def match(self, v: _V) -> tuple[MatchSpec | None, Params]:
        m = self.mapping(v, "match", _MATCH_KEYS)
        if m is None:
            return None, None
        methods = self.methods(m["method"]) if "method" in m else None
        path: PathPattern | None = None
        params: Params = frozenset()
        if "path" in m:
            params = None
            text = self.string(m["path"], "path")
            try:
                path = compile_path(text) if text is not None else None
                params = path.params if path is not None else None
            except ValueError as exc:
                self.problem(m["path"], str(exc))
        query = self.value_rules(m["query"], "query", header=False) if "query" in m else ()
        headers = self.value_rules(m["headers"], "headers", header=True) if "headers" in m else ()
        body = self.body_match(m["body"]) if "body" in m else None
        return MatchSpec(methods, path, query, headers, body), params

    def methods(self, v: _V) -> frozenset[str] | None:
        items = self.items(v, "method")
        if not items:
            self.problem(v, "'method' list is empty (leave 'method' out to match any method)")
        found: set[str] = set()
        for item in items:
            text = self.string(item, "method")
            if text is None:
                continue
            upper = text.strip().upper()
            if upper in ("*", "ANY"):
                return None
            if upper in _METHODS:
                found.add(upper)
                continue
            guess = difflib.get_close_matches(upper, _METHODS, n=1)
            hint = f"did you mean '{guess[0]}'?" if guess else "known: " + ", ".join(_METHODS)
            self.problem(item, f"unknown method '{text}' ({hint})")
        return frozenset(found) or None

    def value_rules(self, v: _V, name: str, header: bool) -> tuple[tuple[str, Any], ...]:
        m = self.mapping(v, name, None)
        rules = []
        for key, item in (m or {}).items():
            if header and not _TOKEN.fullmatch(key):
                self.problem(v.keys[key], f"header name {key!r} is not a valid HTTP field name")  # type: ignore[index]
                continue
            text = None if item.kind == "null" else self.string(item, f"{name}.{key}")
            if text is None and item.kind != "null":
                continue
            try:
                rules.append((key.lower() if header else key, compile_value(text)))
            except ValueError as exc:
                self.problem(item, f"'{name}' {key}: {exc}")
        return tuple(rules)

    def body_match(self, v: _V) -> BodyMatch | None:
        m = self.mapping(v, "match.body", _BODY_KEYS, "'body'")
        if m is None:
            return None
        if not m:
            self.problem(v, "'body' needs one of: contains, json, regex")
        found: dict[str, Any] = {}
        if "contains" in m and (text := self.string(m["contains"], "contains")) is not None:
            found["contains"] = text.encode("utf-8")
        if "json" in m:
            found["json"] = self.json_tree(m["json"], None, templates=False)
        if "regex" in m and (text := self.string(m["regex"], "regex")) is not None:
            try:
                found["regex"] = re.compile(text)
            except re.error as exc:
                self.problem(m["regex"], f"'regex' does not compile: {exc}")
        return BodyMatch(**found)

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

    # -- responses ---------------------------------------------------------------------------

    def response(
        self, v: _V, where: str, params: Params, step: bool = False
    ) -> ResponseSpec | None:
        m = self.mapping(
            v, where, _STEP_KEYS if step else _RESPONSE_KEYS, "each sequence step" if step else None
        )
        if m is None:
            return None
        statuses = self.statuses(m["status"]) if "status" in m else ((200, 1.0),)
        reason = self.string(m["reason"], "reason") if "reason" in m else None
        if reason is not None and _CONTROL.search(reason):
            self.problem(m["reason"], "'reason' must not contain control characters (CR, LF, NUL…)")
        headers = self.headers(m["headers"], params) if "headers" in m else ()
        given = [key for key in ("body", "json", "file") if key in m]
        if len(given) > 1:
            self.problem(
                v, f"a response has one of 'body', 'json' or 'file', not {' and '.join(given)}"
            )
        body = json = file = content_type = None
        if "body" in m and (text := self.string(m["body"], "body")) is not None:
            body = self.template(m["body"], text, params)
        if "json" in m:
            json, content_type = JsonTemplate(self.json_tree(m["json"], params)), "application/json"
        if "file" in m and (text := self.string(m["file"], "file")) is not None:
            file = self.body_file(m["file"], text)
            content_type = mimetypes.guess_type(text)[0] or "application/octet-stream"
        interim: list[int] = []
        for item in self.items(m["interim"], "interim") if "interim" in m else ():
            if item.kind == "int" and item.value in (100, 102, 103):
                interim.append(item.value)
            elif item.kind != "bad":
                self.problem(
                    item, f"'interim' codes must be 100, 102 or 103, got {_describe(item)}"
                )
        delay = (self.duration(m["delay"], "delay", cap=MAX_WAIT) or 0.0) if "delay" in m else 0.0
        drip = self.drip(m["drip"]) if "drip" in m else None
        fault = None
        if "fault" in m:
            fault, took_delay = self.fault(m["fault"], delay, drip)
            delay = 0.0 if took_delay else delay  # slow-headers spends the delay on the head
        if statuses is None:
            return None
        return ResponseSpec(
            statuses,
            reason,
            headers,
            body,
            json,
            file,
            tuple(interim),
            delay,
            fault,
            drip,
            content_type,
        )

    def statuses(self, v: _V) -> tuple[tuple[int, float], ...] | None:
        """200 · "200:0.9,503:0.1" · [200, 503] · [200: 0.9, 503: 0.1] · {200: 0.9, 503: 0.1}."""
        pairs: list[tuple[_V | str, _V | str | None, _V | At]] = []
        if v.kind == "seq":
            for item in v.value:
                if item.kind == "map" and len(item.value) == 1:
                    ((code, weight),) = item.value.items()
                    pairs.append((code, weight, item.keys[code]))
                elif item.kind == "str" and ":" in item.value:
                    code, _, weight = item.value.partition(":")
                    pairs.append((code, weight, item))
                else:
                    pairs.append((item, None, item))
        elif v.kind == "map":
            pairs = [(code, weight, v.keys[code]) for code, weight in v.value.items()]  # type: ignore[index]
        elif v.kind == "str" and ("," in v.value or ":" in v.value):
            for part in v.value.split(","):
                code, _, weight = part.partition(":")
                pairs.append((code, weight or None, v))
        else:
            code = self.status_code(v, v)
            return ((code, 1.0),) if code is not None else None
        if not pairs:
            self.problem(v, "'status' list is empty")
        out = []
        for code, weight, at in pairs:
            number, share = self.status_code(code, at), self.weight(weight, at)
            if number is not None and share is not None:
                out.append((number, share))
        return tuple(out) if out and len(out) == len(pairs) else None

    def status_code(self, code: _V | str, at: _V | At) -> int | None:
        if isinstance(code, _V):
            if code.kind == "bad":
                return None
            shown, text = _describe(code), code.text if code.kind in ("int", "str") else ""
        else:
            shown, text = repr(code.strip()), code
        number = int(text) if _DIGITS.fullmatch(text) else None
        if number is None or not 100 <= number <= 599:
            self.problem(at, f"'status' must be an integer from 100 to 599, got {shown}")
            return None
        if number < 200:  # RFC 9110 §15.2: 1xx are interim; the final answer is 2xx-5xx
            self.problem(
                at,
                f"'status' {number} is informational (1xx) and cannot be the final "
                "status; send 100, 102 or 103 before it with 'interim'",
            )
            return None
        return number

    def weight(self, weight: _V | str | None, at: _V | At) -> float | None:
        if weight is None:
            return 1.0
        if isinstance(weight, _V):
            value, shown = (
                (weight.value if weight.kind in ("int", "float") else None),
                _describe(weight),
            )
            if weight.kind == "str":
                weight = weight.value
        if isinstance(weight, str):
            shown = repr(weight.strip())
            try:
                value = float(weight)
            except ValueError:
                value = None
        if value is None or not math.isfinite(value) or value <= 0:
            self.problem(at, f"'status' weight must be a positive number, got {shown}")
            return None
        return float(value)

    def headers(self, v: _V, params: Params) -> tuple[tuple[str, Template], ...]:
        m = self.mapping(v, "headers", None)
        out = []
        for name, item in (m or {}).items():
            at = v.keys[name]  # type: ignore[index]
            if not _TOKEN.fullmatch(name):
                self.problem(at, f"header name {name!r} is not a valid HTTP field name")
                continue
            if name.lower() in _FRAMING:
                self.problem(
                    at,
                    f"'{name}' is set by the server from the body "
                    "(for a body shorter than promised, use fault: truncate)",
                )
                continue
            for value in self.items(item, name):  # a list gives the field once per value
                text = self.string(value, f"headers.{name}")
                if text is not None and _CONTROL.search(text):
                    self.problem(
                        value, f"header '{name}' must not contain control characters (CR, LF, NUL…)"
                    )
                elif text is not None and (template := self.template(value, text, params)):
                    out.append((name, template))
        return tuple(out)

    def body_file(self, v: _V, relative: str) -> bytes | None:
        """Read `file:` now, and only from inside the scenarios folder (symlinks resolved)."""
        if self.base_dir is None:
            self.problem(v, "'file' needs a scenarios folder to be read from")
            return None
        try:
            root = self.base_dir.resolve()
            target = (root / relative).resolve()
        except (OSError, ValueError, RuntimeError) as exc:
            self.problem(v, f"'file' {relative!r} cannot be resolved: {exc}")
            return None
        if not target.is_relative_to(root):
            self.problem(v, f"'file' must stay inside the scenarios folder, got {relative!r}")
            return None
        try:
            info = target.stat()
            if not stat.S_ISREG(info.st_mode):
                self.problem(v, f"'file' {relative!r} is not a regular file")
                return None
            with target.open("rb") as handle:
                data = handle.read(MAX_BODY_FILE_BYTES + 1)
        except FileNotFoundError:
            self.problem(v, f"'file' not found: {relative!r}")
            return None
        except OSError as exc:
            self.problem(v, f"'file' {relative!r} cannot be read: {exc.strerror or exc}")
            return None
        if len(data) > MAX_BODY_FILE_BYTES:
            self.problem(v, f"'file' {relative!r} is larger than 10 MiB")
            return None
        return data

    def drip(self, v: _V) -> Drip | None:
        m = self.mapping(v, "drip", _DRIP_KEYS)
        if m is None:
            return None
        if "chunk" not in m or "every" not in m:
            self.problem(v, "'drip' needs 'chunk' and 'every', as in {chunk: 10, every: 100ms}")
            return None
        chunk = self.integer(m["chunk"], "chunk", 1, 2**31, "a number of bytes, 1 or more")
        every = self.duration(m["every"], "every", cap=MAX_WAIT)
        return Drip(chunk, every) if chunk is not None and every is not None else None

    def fault(
        self, v: _V, outer_delay: float = 0.0, outer_drip: Drip | None = None
    ) -> tuple[Fault | None, bool]:
        """`reset` or {kind: slow-headers, delay: 2s}. The bool: the response's delay was used."""
        kind_v, delay, drip = v, None, None
        if v.kind == "map":
            m = self.mapping(v, "fault", _FAULT_KEYS) or {}
            if "kind" not in m:
                self.missing(v, "'fault'", "kind")
                return None, False
            kind_v = m["kind"]
            delay = self.duration(m["delay"], "delay", cap=MAX_WAIT) if "delay" in m else None
            drip = self.drip(m["drip"]) if "drip" in m else None
            if ("delay" in m and delay is None) or ("drip" in m and drip is None):
                return None, False
        kind = self.string(kind_v, "fault")
        if kind is None:
            return None, False
        if kind not in FAULT_KINDS:
            valid = sorted(FAULT_KINDS)
            guess = difflib.get_close_matches(kind, valid, n=1)
            hint = f" (did you mean '{guess[0]}'?)" if guess else ""
            self.problem(kind_v, f"unknown fault '{kind}'{hint}; valid: {', '.join(valid)}")
            return None, False
        if delay is not None and kind != "slow-headers":
            self.problem(m["delay"], f"'delay' applies only to fault 'slow-headers', not '{kind}'")
            return None, False
        if kind == "slow-headers":
            seconds = delay if delay is not None else outer_delay
            if not seconds:
                self.problem(
                    v,
                    "fault 'slow-headers' needs a delay, as in "
                    "{kind: slow-headers, delay: 2s} (or the response's 'delay')",
                )
                return None, False
            return Fault(kind, delay=seconds), delay is None
        if kind == "drip":
            drip = drip or outer_drip
            if drip is None:
                self.problem(v, "fault 'drip' needs a 'drip: {chunk: N, every: T}'")
                return None, False
            return Fault(kind, drip=drip), False
        return Fault(kind, delay=delay or 0.0), False

    # -- behaviours --------------------------------------------------------------------------

    def sequence(self, route: dict[str, _V], params: Params) -> SequenceSpec | None:
        v = route["sequence"]
        if v.kind != "seq":
            if v.kind != "bad":
                self.problem(v, f"'sequence' must be a list of responses, got {_describe(v)}")
            return None
        if not v.value:
            self.problem(v, "'sequence' is empty: list at least one response")
        steps = []
        for item in v.value:
            spec = self.response(item, "sequence step", params, step=True)
            times: int | None = 1
            if item.kind == "map" and "times" in item.value:
                times = self.integer(
                    item.value["times"], "times", 1, 10**9, "a whole number of calls, 1 or more"
                )
            if spec is not None and times is not None:
                steps.append((spec, times))
        after = (
            self.choice(route["after"], "after", ("repeat-last", "loop"))
            if "after" in route
            else None
        )
        per = (
            self.counter_key(route["per"], "per", ("global", "client"), ("header",))
            if "per" in route
            else None
        )
        if not steps or len(steps) != len(v.value):
            return None
        return SequenceSpec(tuple(steps), after or "repeat-last", per or "global")  # type: ignore[arg-type]

    def rate_limit(self, v: _V) -> RateLimitSpec | None:
        m = self.mapping(v, "rate_limit", _RATE_KEYS)
        if m is None:
            return None
        for key in ("limit", "window"):
            if key not in m:
                self.missing(v, "'rate_limit'", key)
        limit = window = None
        if "limit" in m:
            limit = self.integer(m["limit"], "limit", 0, 10**9, "a whole number of requests")
        if "window" in m:
            window = self.duration(m["window"], "window", positive=True)
        algorithms = ("fixed-window", "sliding-window", "token-bucket")
        algorithm = (
            self.choice(m["algorithm"], "algorithm", algorithms) if "algorithm" in m else None
        )
        key = None
        if "key" in m:
            key = self.counter_key(m["key"], "key", ("client", "global"), ("header", "query"))
        if limit is None or window is None:
            return None
        return RateLimitSpec(limit, window, algorithm or "fixed-window", key or "client")  # type: ignore[arg-type]

    def respond_or_fault(
        self, m: dict[str, _V], at: _V, where: str, params: Params
    ) -> tuple[ResponseSpec | None, Fault | None]:
        if "respond" in m and "fault" in m:
            self.problem(at, f"{where} has 'respond' or 'fault', not both")
            return None, None
        if "respond" in m:
            return self.response(m["respond"], "respond", params), None
        if "fault" in m:
            return None, self.fault(m["fault"])[0]
        if where == "a chaos rule":
            self.problem(at, "a chaos rule needs 'respond' or 'fault'")
            return None, None
        return DEFAULT_OUTAGE_RESPONSE, None  # an outage without either answers a plain 503

    def outage(self, v: _V, params: Params) -> tuple[OutageWindow, ...]:
        windows = []
        for item in self.items(v, "outage"):
            m = self.mapping(item, "outage", _OUTAGE_KEYS, "each outage window")
            if m is None:
                continue
            if "duration" not in m:
                self.missing(item, "an outage window", "duration")
            duration = self.duration(m["duration"], "duration", True) if "duration" in m else None
            start = self.duration(m["start"], "start") if "start" in m else None
            every = self.duration(m["every"], "every", True) if "every" in m else None
            offset = self.duration(m["offset"], "offset") if "offset" in m else 0.0
            if "start" in m and "every" in m:
                self.problem(
                    m["every"], "an outage has 'start' (once) or 'every' (recurring), not both"
                )
            if "offset" in m and "every" not in m:
                self.problem(m["offset"], "'offset' only applies with 'every'")
            if every is not None and duration is not None and every <= duration:
                self.problem(
                    m["every"],
                    "'every' must be longer than 'duration' (else the route never comes back)",
                )
            respond, fault = self.respond_or_fault(m, item, "an outage window", params)
            if duration is not None and (respond or fault) and offset is not None:
                start = 0.0 if start is None and every is None else start
                windows.append(OutageWindow(duration, start, every, offset, respond, fault))
        return tuple(windows)

    def chaos(self, v: _V, params: Params) -> tuple[ChaosRule, ...]:
        rules = []
        for item in self.items(v, "chaos"):
            m = self.mapping(item, "chaos", _CHAOS_KEYS, "each chaos rule")
            if m is None:
                continue
            probability = None
            if "probability" not in m:
                self.missing(item, "a chaos rule", "probability")
            else:
                probability = self.number(
                    m["probability"], "probability", 0.0, 1.0, "a number from 0 to 1"
                )
            respond, fault = self.respond_or_fault(m, item, "a chaos rule", params)
            if probability is not None and (respond or fault):
                rules.append(ChaosRule(probability, respond, fault))
        return tuple(rules)

    def latency(self, v: _V) -> LatencySpec | None:
        """50ms · {fixed: 50ms} · {uniform: [10ms, 200ms]} · {normal: {mean, stddev}} ·
        {lognormal: {median, sigma}}."""
        if v.kind in ("int", "float", "str"):
            seconds = self.duration(v, "latency", cap=MAX_WAIT)
            return LatencySpec("fixed", (seconds,)) if seconds is not None else None
        m = self.mapping(v, "latency", _LATENCY_KINDS)
        if m is None:
            return None
        if len(v.value) != 1:
            self.problem(v, "'latency' takes one of: " + ", ".join(_LATENCY_KINDS))
            return None
        kind, spec = next(iter(v.value.items()))
        values: list[float | None] = []
        if kind == "fixed":
            values = [self.duration(spec, "fixed", cap=MAX_WAIT)]
        elif kind == "uniform":
            if spec.kind != "seq" or len(spec.value) != 2:
                self.problem(spec, "'uniform' takes [low, high], as in [10ms, 200ms]")
                return None
            values = [self.duration(item, "uniform", cap=MAX_WAIT) for item in spec.value]
            if None not in values and values[0] > values[1]:  # type: ignore[operator]
                self.problem(spec, "'uniform' needs low <= high")
                return None
        elif kind in ("normal", "lognormal"):
            names = ("mean", "stddev") if kind == "normal" else ("median", "sigma")
            p = self.mapping(spec, kind, names)
            if p is None:
                return None
            for name in names:
                if name not in p:
                    self.missing(spec, f"'{kind}'", name)
                    values.append(None)
                elif name == "sigma":  # no unit: the spread of the log
                    values.append(self.number(p[name], name, 0.0, 100.0, "a number from 0 to 100"))
                else:
                    values.append(self.duration(p[name], name, cap=MAX_WAIT))
        else:
            return None  # unknown key, already reported
        if None in values:
            return None
        return LatencySpec(kind, tuple(values))  # type: ignore[arg-type]

    def state(self, v: _V) -> StateSpec | None:
        m = self.mapping(v, "state", _STATE_KEYS)
        if m is None:
            return None
        if "machine" not in m:
            self.missing(v, "'state'", "machine")
            return None
        machine = self.label(m["machine"], "machine")
        when = None
        if "when" in m:
            items = self.items(m["when"], "when")
            if not items:
                self.problem(m["when"], "'when' is empty (leave it out to match in any state)")
            when = frozenset(n for n in (self.label(i, "when") for i in items) if n is not None)
        new = self.label(m["set"], "set") if "set" in m else None
        return StateSpec(machine, when, new) if machine is not None else None
