"""The scenario shape (README, "Scenarios"): located values → the immutable model.

`_Schema` validates a file's root value as a scenario: its routes, their match, `respond` or
`sequence`, rate limit, outages, chaos, latency and state. Responses come from `responses`;
every problem goes to the loader's `report`, located at the value it is about.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import replace
from pathlib import Path
from typing import Any, get_args

from mockstatus.http_syntax import FIELD_CONTROL, TOKEN
from mockstatus.limits import MAX_DELAY, MAX_H2_STREAMS, MAX_REGEX_BODY, MAX_ROUTES_PER_FILE
from mockstatus.scenarios.jsonpath import JsonPath, compile_jsonpath
from mockstatus.scenarios.matcher import (
    BodyMatch,
    PathPattern,
    ValueMatch,
    compile_path,
    compile_value,
    json_condition,
    negated,
    presence,
)
from mockstatus.scenarios.model import (
    DEFAULT_OUTAGE_RESPONSE,
    ChaosRule,
    LatencySpec,
    MatchSpec,
    OutageWindow,
    ResponseSpec,
    Route,
    Scenario,
    SequenceAfter,
    SequenceSpec,
    StateSpec,
)
from mockstatus.scenarios.perkey import PLAIN, PREFIXED
from mockstatus.scenarios.ratelimit_schema import _ALGORITHMS as _RATE_ALGORITHMS
from mockstatus.scenarios.ratelimit_schema import SPEC_KEYS as _RATE_KEYS
from mockstatus.scenarios.ratelimit_schema import _RateLimits
from mockstatus.scenarios.safe_regex import SafeRegex
from mockstatus.scenarios.values import _V, At, Params, Report, _describe
from mockstatus.types import Fault

_METHODS = (
    *("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY"),
    *("PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "REPORT"),
    *("PURGE", "LINK", "UNLINK"),
)
_SCENARIO_KEYS = ("name", "description", "seed", "limiters", "http2", "routes")
_HTTP2_KEYS = ("max_streams",)  # docs/http2.md: connection settings a scenario asks for
_ROUTE_KEYS = (
    *("name", "match", "respond", "sequence", "after", "per"),
    *("rate_limit", "outage", "chaos", "latency", "state", "priority"),
)
_MATCH_KEYS = ("method", "path", "query", "headers", "body", "cookies", "form", "host")
_BODY_KEYS = ("contains", "json", "regex", "jsonpath")
_CONDITION_KEYS = ("present", "absent", "not")  # a condition written as a mapping
_CONDITION_HINT = "a value, a '~regex', {present: true}, {absent: true} or {not: ...}"
_SEQUENCE_AFTER: tuple[SequenceAfter, ...] = get_args(SequenceAfter)
_OUTAGE_KEYS = ("start", "duration", "every", "offset", "respond", "fault")
_CHAOS_KEYS = ("probability", "respond", "fault")
_LATENCY_KINDS = ("fixed", "uniform", "normal", "lognormal")
_STATE_KEYS = ("machine", "when", "set", "per")
_NO_LIMITERS = _V("map", {}, "", 1, 1, {})
# The rate-limit key tables, where the JSON Schema export (issue 14) reads every key table.
__all__ = ["_RATE_ALGORITHMS", "_RATE_KEYS", "_Schema"]


class _Schema(_RateLimits):
    """One file's scenario: validates its values and builds the model; records its name."""

    def __init__(self, file: str, base_dir: Path | None, report: Report) -> None:
        super().__init__(file, base_dir, report)
        self.name: str | None = None
        self.name_at: At = (1, 1)
        self.body_files: list[str] = []  # `file:` bodies read (responses.body_file)
        self.machine_per: dict[str, tuple[str, _V]] = {}  # machine → (its per, where set)

    # -- scenario, route, match --------------------------------------------------------------

    def scenario(self, root: _V, default_name: str) -> Scenario | None:
        top = self.mapping(root, "scenario", _SCENARIO_KEYS, "a scenario file")
        if top is None:
            return None
        name: str | None = default_name
        if "name" in top:
            name = self.label(top["name"], "name", slash_ok=False)
            self.name_at = (top["name"].line, top["name"].col)
        elif not default_name or "/" in default_name or FIELD_CONTROL.search(default_name):
            self.problem(root, f"cannot use {default_name!r} as the scenario name; set 'name'")
            name = None
        self.name = name
        description = self.string(top["description"], "description") if "description" in top else ""
        seed = None
        if "seed" in top:
            seed = self.integer(top["seed"], "seed", -math.inf, math.inf, "an integer")
        h2_max_streams = None
        h2 = self.mapping(top["http2"], "http2", _HTTP2_KEYS) if "http2" in top else None
        if h2 and "max_streams" in h2:
            h2_max_streams = self.integer(
                h2["max_streams"], "max_streams", 1, MAX_H2_STREAMS, f"1 to {MAX_H2_STREAMS}"
            )
        self.read_limiters(top.get("limiters", _NO_LIMITERS))  # before the routes that use them
        routes: list[Route] = []
        routes_v = top.get("routes")
        if routes_v is None:
            if "routes" not in self.typos.get(id(root), ()):
                self.problem(root, "missing 'routes': a scenario needs a list of routes")
        elif routes_v.kind != "seq":
            if routes_v.kind != "bad":
                self.problem(routes_v, f"'routes' must be a list, got {_describe(routes_v)}")
        elif not routes_v.value:
            self.problem(routes_v, "'routes' is empty: a scenario needs at least one route")
        elif len(routes_v.value) > MAX_ROUTES_PER_FILE:  # bounds the build's time and memory
            self.problem(routes_v, f"more than {MAX_ROUTES_PER_FILE} routes in one scenario file")
        else:
            seen: dict[str, int] = {}
            for index, item in enumerate(routes_v.value):
                route = self.route(item, name or "", index, seen)
                if route is not None:
                    routes.append(route)
        if name is None:
            return None
        machines = tuple(sorted({r.state.machine for r in routes if r.state is not None}))
        return Scenario(
            name,
            self.file,
            tuple(routes),
            description or "",
            seed,
            machines,
            (*self.body_files,),
            h2_max_streams=h2_max_streams,
        )

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
        elif (
            not has_respond
            and not has_sequence
            and not {"respond", "sequence"} & self.typos.get(id(v), set())
        ):
            self.problem(v, "a route needs 'respond' (one response) or 'sequence' (one per call)")
        for key in ("after", "per"):
            if key in m and not has_sequence:
                self.problem(m[key], f"'{key}' only applies to a 'sequence'")
        respond = self.response(m["respond"], "respond", params) if has_respond else None
        sequence = self.sequence(m, params) if has_sequence else None
        rate_limits = self.rate_limits(m["rate_limit"], params) if "rate_limit" in m else ()
        outage = self.outage(m["outage"], params) if "outage" in m else ()
        chaos = self.chaos(m["chaos"], params) if "chaos" in m else ()
        latency = self.latency(m["latency"]) if "latency" in m else None
        state = self.state(m["state"]) if "state" in m else None
        priority = 0
        if "priority" in m:
            found = self.integer(
                m["priority"], "priority", -(10**9), 10**9, "an integer (higher is tried first)"
            )
            priority = found if found is not None else 0
        if match is None or (respond is None and sequence is None):
            return None
        return Route(
            scenario,
            name,
            index,
            match,
            respond,
            sequence,
            rate_limits[0] if rate_limits else None,
            outage,
            chaos,
            latency,
            state,
            priority=priority,
            rate_limits=rate_limits,
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
        cookies = self.value_rules(m["cookies"], "cookies", header=False) if "cookies" in m else ()
        form = self.value_rules(m["form"], "form", header=False) if "form" in m else ()
        host = self.host(m["host"]) if "host" in m else None
        spec = MatchSpec(methods, path, query, headers, body, cookies, form, host)
        return spec, params

    def host(self, v: _V) -> ValueMatch | None:
        """`host: api.example.com` (compared without the port, case-insensitively) or a
        condition; a port in the value can never match, so it is an error."""
        rule = self.condition(v, "host")
        if rule is None or rule.regex is not None or not isinstance(rule.equal, str):
            return rule
        if ":" in rule.equal.strip("[]") and not rule.equal.startswith("["):
            self.problem(
                v, f"'host' is compared without the port: write {rule.equal.rsplit(':', 1)[0]!r}"
            )
            return None
        return replace(rule, equal=rule.equal.lower())

    def condition(
        self, v: _V, where: str, json_value: bool = False, label: str | None = None
    ) -> ValueMatch | None:
        """A value, a `~regex`, {present: bool}, {absent: bool} or {not: <condition>}. With
        `json_value` (JSONPath), a plain value is JSON (a mapping or list: subset match)."""
        if v.kind == "map" and len(v.value) == 1 and next(iter(v.value)) in _CONDITION_KEYS:
            ((key, item),) = v.value.items()
            if key == "not":
                inner = self.condition(item, where, json_value, label)
                return negated(inner) if inner is not None else None
            if item.kind != "bool":
                self.problem(item, f"'{key}' takes true or false, got {_describe(item)}")
                return None
            return presence(item.value if key == "present" else not item.value)
        try:
            if json_value:
                return json_condition(self.json_tree(v, None, templates=False))
            if v.kind == "null":
                return compile_value(None)
            if v.kind in ("map", "seq"):
                self.problem(v, f"'{where}' takes {_CONDITION_HINT}; got {_describe(v)}")
                return None
            text = self.string(v, where)
            return compile_value(text) if text is not None else None
        except ValueError as exc:
            self.problem(v, f"{label or repr(where)}: {exc}")
            return None

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
        if "GET" in found:
            # RFC 9110 §9.3.2: HEAD is GET without the content, so a GET route answers HEAD too
            found.add("HEAD")
        return frozenset(found) or None

    def value_rules(self, v: _V, name: str, header: bool) -> tuple[tuple[str, Any], ...]:
        m = self.mapping(v, name, None)
        rules = []
        for key, item in (m or {}).items():
            if header and not TOKEN.fullmatch(key):
                self.problem(v.keys[key], f"header name {key!r} is not a valid HTTP field name")  # type: ignore[index]
                continue
            rule = self.condition(item, f"{name}.{key}", label=f"'{name}' {key}")
            if rule is not None:
                rules.append((key.lower() if header else key, rule))
        return tuple(rules)

    def body_match(self, v: _V) -> BodyMatch | None:
        m = self.mapping(v, "match.body", _BODY_KEYS, "'body'")
        if m is None:
            return None
        if not m:
            self.problem(v, "'body' needs one of: " + ", ".join(_BODY_KEYS))
        found: dict[str, Any] = {}
        if "contains" in m and (text := self.string(m["contains"], "contains")) is not None:
            found["contains"] = text.encode("utf-8")
        if "json" in m:
            found["json"] = self.json_tree(m["json"], None, templates=False)
        if "regex" in m and (text := self.string(m["regex"], "regex")) is not None:
            try:
                found["regex"] = SafeRegex(text, MAX_REGEX_BODY)
            except ValueError as exc:
                self.problem(m["regex"], f"'regex' does not compile: {exc}")
        if "jsonpath" in m:
            found["jsonpath"] = self.jsonpath_rules(m["jsonpath"])
        return BodyMatch(**found)

    def jsonpath_rules(self, v: _V) -> tuple[tuple[JsonPath, ValueMatch], ...]:
        """{"$.items[0].id": 3, "$.name": "~^a", "$.x": {absent: true}} (RFC 9535 queries)."""
        m = self.mapping(v, "jsonpath", None)
        rules = []
        for query, item in (m or {}).items():
            try:
                path = compile_jsonpath(query)
            except ValueError as exc:
                self.problem(v.keys[query], str(exc))  # type: ignore[index]
                continue
            rule = self.condition(item, f"jsonpath {query}", json_value=True)
            if rule is not None:
                rules.append((path, rule))
        if m is not None and not m:
            self.problem(v, "'jsonpath' is empty: map RFC 9535 queries to conditions")
        return tuple(rules)

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
        after = self.choice(route["after"], "after", _SEQUENCE_AFTER) if "after" in route else None
        per = self.counter_key(route["per"], "per", PLAIN, PREFIXED) if "per" in route else None
        if not steps or len(steps) != len(v.value):
            return None
        return SequenceSpec(tuple(steps), after or "repeat-last", per or "global")

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
            seconds = self.duration(v, "latency", cap=MAX_DELAY)
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
            values = [self.duration(spec, "fixed", cap=MAX_DELAY)]
        elif kind == "uniform":
            if spec.kind != "seq" or len(spec.value) != 2:
                self.problem(spec, "'uniform' takes [low, high], as in [10ms, 200ms]")
                return None
            values = [self.duration(item, "uniform", cap=MAX_DELAY) for item in spec.value]
            low, high = values
            if low is not None and high is not None and low > high:
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
                    values.append(self.duration(p[name], name, cap=MAX_DELAY))
        else:
            return None  # unknown key, already reported
        params = tuple(value for value in values if value is not None)
        if len(params) != len(values):
            return None
        return LatencySpec(kind, params)

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
        per = self.counter_key(m["per"], "per", PLAIN, PREFIXED) if "per" in m else None
        if machine is not None:
            # One machine, one key: its routes must agree on whose state it is.
            seen = self.machine_per.setdefault(machine, (per or "global", m.get("per", v)))
            if seen[0] != (per or "global"):
                self.problem(
                    m.get("per", v),
                    f"state machine {machine!r} is per {seen[0]!r} on line {seen[1].line}; "
                    "every route of a machine needs the same 'per'",
                )
        return StateSpec(machine, when, new, per or "global") if machine is not None else None
