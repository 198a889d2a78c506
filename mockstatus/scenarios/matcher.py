"""Which route answers a request: patterns compiled at load time, and an index so misses are cheap.

Hot path. Nothing here parses scenario text; `compile_*` run once at load time, `Matcher.match`
only compares prepared values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from mockstatus.limits import KIB, MAX_REGEX_BODY, MAX_REGEX_INPUT
from mockstatus.scenarios.jsonpath import JsonPath, JsonPathTooDeep
from mockstatus.scenarios.request_parts import cookies, form, host_name
from mockstatus.scenarios.safe_regex import SafeRegex
from mockstatus.types import RequestFacts

_PATH_TOKEN = re.compile(r"\{([^{}]*)\}|\*\*|\*|[{}]")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class PathPattern:
    """`exact` for plain paths; otherwise `regex` (full match). `prefix` holds the leading
    literal segments (every segment of an exact path): the Matcher indexes patterns by it.

    `regex` is a SafeRegex (RE2) for `~` paths and for generated patterns that a backtracking
    engine could take polynomial time on; Python's `re` only for generated patterns that are
    linear there (see `_linear`), since it is several times faster per call."""

    source: str
    exact: str | None
    regex: re.Pattern[str] | SafeRegex | None
    params: frozenset[str]
    prefix: tuple[str, ...]

    def match(self, path: str) -> dict[str, str] | None:
        if self.exact is not None:
            return {} if path == self.exact else None
        regex = self.regex
        if type(regex) is SafeRegex:
            return regex.fullmatch_groups(path)
        if len(path) > MAX_REGEX_INPUT:  # the same cap on both engines
            return None
        found = regex.fullmatch(path)  # type: ignore[union-attr]
        if found is None:
            return None
        return {k: v for k, v in found.groupdict().items() if v is not None}


def compile_path(source: str) -> PathPattern:
    """`/a/b`, `/a/{id}`, `/static/**`, `/files/*.json`, or `~<regex>`; ValueError when invalid."""
    if source.startswith("~"):
        try:
            regex = SafeRegex(source[1:], MAX_REGEX_INPUT, captures=True)
        except ValueError as exc:
            raise ValueError(f"'path' regex does not compile: {exc}") from None
        return PathPattern(source, None, regex, frozenset(regex.groupindex), ())
    if not source.startswith("/"):
        raise ValueError(f"'path' must start with '/' or be a '~regex', got {source!r}")
    if "?" in source:
        raise ValueError("'path' must not contain '?'; match parameters with 'query'")
    segments = source[1:].split("/")
    if not any(c in source for c in "{}*"):
        return PathPattern(source, source, None, frozenset(), tuple(segments))
    pieces: list[str] = []
    params: list[str] = []
    for segment in segments:
        if segment == "**":
            pieces.append("(?:/.*)?")  # zero or more whole segments
        elif segment == "*":
            pieces.append("/[^/]+")
        else:
            pieces.append("/" + _compile_segment(segment, params))
    prefix = []
    for segment in segments:
        if any(c in segment for c in "{}*"):
            break
        prefix.append(segment)
    text = "".join(pieces)
    generated: re.Pattern[str] | SafeRegex = (
        re.compile(text) if _linear(segments) else SafeRegex(text, MAX_REGEX_INPUT, True)
    )
    return PathPattern(source, None, generated, frozenset(params), tuple(prefix))


def _linear(segments: list[str]) -> bool:
    """Whether a backtracking engine matches this generated pattern in linear time: at most
    one wildcard (`*` or `{param}`) per segment — `[^/]` cannot cross a `/`, so a failed
    segment has one way back — and `**` at most once, as the last segment (`.*` followed by
    more pattern retries the rest from every position). Others run on RE2."""
    for position, segment in enumerate(segments):
        if segment == "**":
            if position != len(segments) - 1:
                return False
        elif len(_PATH_TOKEN.findall(segment)) > 1:
            return False
    return True


def _compile_segment(segment: str, params: list[str]) -> str:
    out: list[str] = []
    pos = 0
    for token in _PATH_TOKEN.finditer(segment):
        out.append(re.escape(segment[pos : token.start()]))
        pos = token.end()
        text = token.group(0)
        if text == "*":
            out.append("[^/]*")
        elif text == "**":
            raise ValueError("'**' in 'path' must be a whole segment, as in /static/**")
        elif token.group(1) is not None:
            name = token.group(1).strip()
            if not _IDENT.fullmatch(name):
                raise ValueError(f"path parameter {{{name}}} must be a name like {{id}}")
            if name in params:
                raise ValueError(f"path parameter {{{name}}} appears twice")
            params.append(name)
            out.append(f"(?P<{name}>[^/]+)")
        else:
            raise ValueError(f"unbalanced '{text}' in 'path'")
    out.append(re.escape(segment[pos:]))
    return "".join(out)


@dataclass(frozen=True, slots=True)
class ValueMatch:
    """One condition on a value (query, header, cookie, form field, host, JSONPath result):
    equal to `equal`, `~regex` (search), present (`equal` is None and no regex), `absent`;
    `negate` (`{not: …}`) inverts the whole test. `source` is the rule as written (messages).
    `equal` is text, except for JSONPath conditions, where it is a JSON value (subset match)."""

    source: str | None
    equal: Any
    regex: SafeRegex | None
    absent: bool = False
    negate: bool = False

    def test(self, value: str | None) -> bool:
        if self.absent:
            return (value is None) != self.negate
        return self._holds(value) != self.negate

    def _holds(self, value: str | None) -> bool:
        if value is None:
            return False
        if self.regex is not None:
            return self.regex.search(value)  # False over MAX_REGEX_INPUT
        return self.equal is None or value == self.equal

    def test_any(self, values: Iterable[str]) -> bool:
        """For a multi-valued source (query, form): some value holds (none, when negated)."""
        if self.absent:
            return (not any(True for _ in values)) != self.negate
        return any(self._holds(v) for v in values) != self.negate

    def test_json(self, values: list[Any]) -> bool:
        """For a JSONPath nodelist: some selected value holds (none, when negated)."""
        if self.absent:
            return (not values) != self.negate
        return any(self._holds_json(v) for v in values) != self.negate

    def _holds_json(self, value: Any) -> bool:
        if self.regex is not None:
            return type(value) is str and self.regex.search(value)
        if self.equal is _JSON_NULL:
            return value is None
        return self.equal is None or json_subset(self.equal, value)

    def describe(self) -> str:
        return self.source or ("absent" if self.absent else "present")


def compile_value(source: str | None) -> ValueMatch:
    if source is None:
        return ValueMatch(None, None, None)
    if source.startswith("~"):
        try:
            return ValueMatch(source, None, SafeRegex(source[1:], MAX_REGEX_INPUT))
        except ValueError as exc:
            raise ValueError(f"regex {source[1:]!r} does not compile: {exc}") from None
    return ValueMatch(source, source, None)


class _JsonNull:
    __slots__ = ()

    def __repr__(self) -> str:
        return "null"


# A JSONPath condition `null`: equal to JSON null only (`equal` None means "present").
_JSON_NULL: Any = _JsonNull()


def json_condition(value: Any) -> ValueMatch:
    """A JSONPath condition's plain value: a JSON value, or a `~regex` string."""
    if isinstance(value, str) and value.startswith("~"):
        return compile_value(value)
    return ValueMatch(json.dumps(value), _JSON_NULL if value is None else value, None)


def presence(present: bool) -> ValueMatch:
    """`{present: true}` / `{absent: true}` (and their `false` forms)."""
    return ValueMatch("present" if present else "absent", None, None, absent=not present)


def negated(rule: ValueMatch) -> ValueMatch:
    """`{not: rule}`."""
    return ValueMatch(
        f"not {rule.describe()}", rule.equal, rule.regex, rule.absent, not rule.negate
    )


class _Unset:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNSET"


_UNSET: Any = _Unset()  # "no json rule": None is a valid JSON value to match


@dataclass(frozen=True, slots=True)
class BodyMatch:
    """Every given rule must hold: `contains` (bytes), `json` (subset), `regex` (search, on the
    raw UTF-8 bytes: no decoding; a body over MAX_REGEX_BODY does not match)."""

    contains: bytes | None = None
    json: Any = _UNSET
    regex: SafeRegex | None = None
    jsonpath: tuple[tuple[JsonPath, ValueMatch], ...] = ()

    def why_not(self, body: bytes, memo: dict[str, Any]) -> str | None:
        """None when the body matches, else the reason. `memo` caches decoding per request."""
        if self.contains is not None and self.contains not in body:
            return f"body does not contain {self.contains.decode('utf-8', 'replace')!r}"
        if self.json is not _UNSET or self.jsonpath:
            parsed = memo.get("json", _UNSET)
            if parsed is _UNSET:
                parsed = memo["json"] = _parse_json(body)
            if parsed is _UNSET:
                return "body is not JSON"
            if self.json is not _UNSET and not json_subset(self.json, parsed):
                return f"body JSON does not contain {json.dumps(self.json)}"
            for path, rule in self.jsonpath:
                try:
                    found = path.values(parsed)
                except JsonPathTooDeep as exc:
                    return str(exc)
                if not rule.test_json(found):
                    return _jsonpath_reason(path.source, found, rule)
        if self.regex is not None and not self.regex.search_bytes(body):
            if len(body) > MAX_REGEX_BODY:
                return f"body is larger than the {MAX_REGEX_BODY // KIB} KiB a regex runs on"
            return f"body does not match regex {self.regex.pattern!r}"
        return None


def _jsonpath_reason(source: str, found: list[Any], rule: ValueMatch) -> str:
    if not found:
        return f"body json {source} missing"
    shown = json.dumps(found[0], ensure_ascii=False)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"body json {source}: {shown} does not match {rule.describe()}"


def _parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (
        ValueError,
        RecursionError,
    ):  # includes UnicodeDecodeError; deep nesting is not JSON to us
        return _UNSET


def json_subset(expected: Any, actual: Any) -> bool:
    """Objects: listed keys present and matching. Lists: each expected item matches some item."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and json_subset(value, actual[key]) for key, value in expected.items()
        )
    if isinstance(expected, list):
        return isinstance(actual, list) and all(
            any(json_subset(item, other) for other in actual) for item in expected
        )
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual  # Python has True == 1; JSON does not
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return expected == actual
    return type(expected) is type(actual) and expected == actual


@dataclass(frozen=True, slots=True)
class MatchSpec:
    """`methods` upper-case, None = any; `path` None = any; header names lower-case; `host`
    compared without the port, lower-case."""

    methods: frozenset[str] | None = None
    path: PathPattern | None = None
    query: tuple[tuple[str, ValueMatch], ...] = ()
    headers: tuple[tuple[str, ValueMatch], ...] = ()
    body: BodyMatch | None = None
    cookies: tuple[tuple[str, ValueMatch], ...] = ()
    form: tuple[tuple[str, ValueMatch], ...] = ()
    host: ValueMatch | None = None

    @property
    def by_method_and_path_only(self) -> bool:
        """Nothing but the method and the path decides a match: the one kind of route whose
        answer the fast lane may prepare. Every new condition must make this False."""
        return not (
            self.query
            or self.headers
            or self.body is not None
            or self.cookies
            or self.form
            or self.host is not None
        )


@dataclass(frozen=True, slots=True)
class StateSpec:
    """The route matches only when `machine` is in one of `when` (None = any state); after it
    answers, the machine moves to `set` (None = unchanged). Every machine starts in `start`.
    `per`: whose state it is — "global", "client", "header:<name>" (lower-case), "cookie:<name>"
    or "query:<name>"."""

    machine: str
    when: frozenset[str] | None = None
    set: str | None = None
    per: str = "global"


class Matchable(Protocol):
    """What the matcher reads of a route (model.Route): kept a protocol so that this module
    does not import the model (the model imports the match rules from here)."""

    @property
    def scenario(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def match(self) -> MatchSpec: ...
    @property
    def state(self) -> StateSpec | None: ...


R = TypeVar("R", bound=Matchable)
R_co = TypeVar("R_co", bound=Matchable, covariant=True)
# (scenario, machine, route's state spec, request) → the machine's current state for it
StateOf = Callable[[str, str], str]
Failure = tuple[str, str]  # (what failed: "method", "path", "header"…, why)


@dataclass(frozen=True, slots=True)
class MatchResult:
    matched: bool
    params: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    failed: str = ""  # the kind of the first failed condition ("method", "path", "header"…)


def match_route(
    route: Matchable, facts: RequestFacts, state_of: StateOf | None = None
) -> MatchResult:
    """Match one route and say why not (for the journal). State is checked only with `state_of`."""
    failures: list[Failure] = []
    result = _check(route, facts, state_of, {}, failures)
    if result is not None and not failures:
        return MatchResult(True, result)
    kind, reason = failures[0] if failures else ("", "no match")
    return MatchResult(False, {}, reason, kind)


def explain(
    route: Matchable, facts: RequestFacts, state_of: StateOf | None, memo: dict[str, Any]
) -> list[Failure]:
    """Every condition of `route` that `facts` fails, in check order ([] = it matches)."""
    failures: list[Failure] = []
    _check(route, facts, state_of, memo, failures)
    return failures


def _check(
    route: Matchable,
    facts: RequestFacts,
    state_of: StateOf | None,
    memo: dict[str, Any],
    failures: list[Failure] | None,
) -> dict[str, str] | None:
    """Params on a match, else None. With `failures`, every failed condition is appended and
    checking goes on (the explanation); without, the first failure returns (the hot path)."""
    spec = route.match
    methods = spec.methods
    if methods is not None and facts.method not in methods and facts.method.upper() not in methods:
        if failures is None:
            return None
        failures.append(("method", f"method {facts.method} not in [{', '.join(sorted(methods))}]"))
    params: dict[str, str] = {}
    if spec.path is not None:
        found = spec.path.match(facts.path)
        if found is None:
            if failures is None:
                return None
            if spec.path.exact is None and len(facts.path) > MAX_REGEX_INPUT:
                why = f"path is longer than the {MAX_REGEX_INPUT // KIB} KiB a regex runs on"
            else:
                why = f"path {facts.path} does not match {spec.path.source}"
            failures.append(("path", why))
        else:
            params = found
    if spec.host is not None:
        host = host_name(facts)
        if not spec.host.test(host):
            if failures is None:
                return None
            failures.append(("host", f"host {host!r} does not match {spec.host.describe()!r}"))
    state = route.state
    if state is not None and state.when is not None and state_of is not None:
        current = state_of(route.scenario, state.machine)
        if current not in state.when:
            if failures is None:
                return None
            wants = ", ".join(repr(w) for w in sorted(state.when))
            failures.append(
                ("state", f"state {state.machine!r} is {current!r}, route wants {wants}")
            )
    for name, rule in spec.query:
        if not rule.test_any(facts.query.getall(name)):
            if failures is None:
                return None
            failures.append(("query", _value_reason("query", name, facts.query.get(name), rule)))
    for name, rule in spec.headers:
        value = facts.headers.get(name)
        if not rule.test(value):
            if failures is None:
                return None
            failures.append(("header", _value_reason("header", name, value, rule)))
    if spec.cookies:
        jar = cookies(facts, memo)
        for name, rule in spec.cookies:
            value = jar.get(name)
            if not rule.test(value):
                if failures is None:
                    return None
                failures.append(("cookie", _value_reason("cookie", name, value, rule)))
    if (spec.form or spec.body is not None) and facts.body is None:
        if failures is None:
            return None
        failures.append(("body", "body was not read"))
        return None
    if spec.form:
        fields = form(facts, memo)
        for name, rule in spec.form:
            values = fields.get(name, [])
            if not rule.test_any(values):
                if failures is None:
                    return None
                first = values[0] if values else None
                failures.append(("form", _value_reason("form field", name, first, rule)))
    if spec.body is not None:
        reason = spec.body.why_not(facts.body, memo)  # type: ignore[arg-type]
        if reason is not None:
            if failures is None:
                return None
            failures.append(("body", reason))
    return params


def _value_reason(kind: str, name: str, value: str | None, rule: ValueMatch) -> str:
    if rule.absent and not rule.negate:
        return f"{kind} {name} is present, route wants it absent"
    if value is None:
        return f"{kind} {name} missing"
    if rule.regex is not None and len(value.encode("utf-8", "surrogatepass")) > rule.regex.cap:
        return f"{kind} {name} is longer than the {rule.regex.cap // KIB} KiB a regex runs on"
    shown = value if len(value) <= 60 else value[:57] + "..."
    return f"{kind} {name}={shown!r} does not match {rule.describe()!r}"


class _Node:
    """A trie node for one literal path segment. `routes`: every route whose literal prefix ends
    here or above, plus the unindexed ones, in route order: the candidates for paths ending here."""

    __slots__ = ("children", "ids", "own", "routes")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.own: list[int] = []  # positions of the routes whose literal prefix ends here
        self.ids: list[int] = []
        self.routes: tuple[Any, ...] = ()

    def finish(self, routes: list[Any]) -> None:
        """Fill `ids` / `routes` of this subtree (iteratively: paths may have many segments)."""
        stack: list[tuple[_Node, list[int]]] = [(self, [])]
        while stack:
            node, inherited = stack.pop()
            node.ids = sorted({*inherited, *node.own})
            node.routes = tuple(routes[i] for i in node.ids)
            stack.extend((child, node.ids) for child in node.children.values())


@runtime_checkable
class RouteOrder(Protocol[R_co]):
    """A ScenarioSet: it knows the one route order (model.ScenarioSet.routes_in_order)."""

    def routes_in_order(self) -> Sequence[R_co]: ...


class Matcher(Generic[R]):
    """Routes in the one route order (`ScenarioSet.routes_in_order`: priority, uploads newest
    first, file order, route order), indexed by exact path and by a trie of literal leading
    segments; the rest (`~regex`, `/{id}/…`, no path) are candidates for every request. A
    request costs one dict lookup plus a walk down its segments."""

    __slots__ = ("_any_body", "_by_exact", "_root", "routes")

    def __init__(self, source: RouteOrder[R] | Iterable[R]) -> None:
        routes = list(source.routes_in_order() if isinstance(source, RouteOrder) else source)
        self.routes: tuple[R, ...] = tuple(routes)
        self._root = _Node()
        exact: dict[str, list[int]] = {}
        for position, route in enumerate(routes):
            pattern = route.match.path
            if pattern is not None and pattern.exact is not None:
                exact.setdefault(pattern.exact, []).append(position)
                continue
            node = self._root
            for segment in pattern.prefix if pattern is not None else ():
                node = node.children.setdefault(segment, _Node())
            node.own.append(position)
        self._root.finish(routes)
        # An exact path's candidates: its own routes and the patterns that could also match it.
        self._by_exact = {
            path: tuple(routes[i] for i in sorted({*ids, *self._walk(path).ids}))
            for path, ids in exact.items()
        }
        self._any_body = any(route.match.body is not None or route.match.form for route in routes)

    def _walk(self, path: str) -> _Node:
        node = self._root
        if node.children and path.startswith("/"):
            for segment in path[1:].split("/"):
                child = node.children.get(segment)
                if child is None:
                    break
                node = child
        return node

    def candidates(self, path: str) -> tuple[R, ...]:
        """The routes that could match `path`, in order."""
        found = self._by_exact.get(path)
        return found if found is not None else self._walk(path).routes

    def match(self, facts: RequestFacts, state_of: StateOf) -> tuple[R, dict[str, str]] | None:
        """The first route that matches `facts` in its machine's current state, with path params."""
        memo: dict[str, Any] = {}
        for route in self.candidates(facts.path):
            result = _check(route, facts, state_of, memo, None)
            if result is not None:
                return route, result
        return None

    def needs_body(self, facts: RequestFacts) -> bool:
        """Whether a route that could match this method and path looks at the body."""
        if not self._any_body:
            return False
        for route in self.candidates(facts.path):
            spec = route.match
            if spec.body is None and not spec.form:
                continue
            methods = spec.methods
            if methods is not None and facts.method.upper() not in methods:
                continue
            if spec.path is None or spec.path.match(facts.path) is not None:
                return True
        return False
