"""The `rate_limit` and `limiters` shapes (docs/rate-limits.md): located values → RateLimitSpecs.

    limiters: {name: SPEC}                   # top level, file-local
    rate_limit: name | SPEC | [name | SPEC, …]   # on a route (a list is layered)
    SPEC: limit, window, algorithm, key, name, unit, headers, respond, retry_after, cost,
          on_cost_error

Decision variables in `respond` (`{{ limit }}`, `{{ remaining }}`, `{{ reset_after }}`,
`{{ reset_at }}`, `{{ policy }}`) are not request templates: they are replaced here by markers
that the rejection fills in (`ratelimit_respond.fill`), so the template compiler never sees them.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import replace
from typing import get_args

from mockstatus.limits import MAX_LIMITERS, MAX_RATE_LAYERS
from mockstatus.scenarios.model import (
    CostErrorAction,
    RateAlgorithm,
    RateLimitSpec,
    RateUnit,
    RetryAfterForm,
)
from mockstatus.scenarios.ratelimit_styles import STYLES, StyleChoice
from mockstatus.scenarios.responses import _Responses
from mockstatus.scenarios.values import _V, Params, _describe

SPEC_KEYS = (
    *("limit", "window", "algorithm", "key", "name", "unit", "headers", "respond"),
    *("retry_after", "cost", "on_cost_error"),
)
_ALGORITHMS: tuple[RateAlgorithm, ...] = get_args(RateAlgorithm)
_UNITS: tuple[RateUnit, ...] = get_args(RateUnit)
_RETRY_FORMS: tuple[RetryAfterForm, ...] = get_args(RetryAfterForm)
_COST_ACTIONS: tuple[CostErrorAction, ...] = get_args(CostErrorAction)
DECISION_VARIABLES = ("limit", "remaining", "reset_after", "reset_at", "policy")
_DECISION_RE = re.compile(r"\{\{\s*(" + "|".join(DECISION_VARIABLES) + r")\s*\}\}")
MARK = "@@ratelimit:{}@@"  # what a decision variable becomes until the rejection fills it


class _RateLimits(_Responses):
    """Rate-limit validators; `limiters` holds the file's named specs once read."""

    limiters: dict[str, RateLimitSpec]

    def read_limiters(self, v: _V) -> None:
        self.limiters = {}
        m = self.mapping(v, "limiters", None)
        if m is not None and len(m) > MAX_LIMITERS:
            self.problem(v, f"more than {MAX_LIMITERS} limiters in one file")
            return
        for name, item in (m or {}).items():
            at = v.keys[name]  # type: ignore[index]
            label = name.strip()
            if not label or "\x00" in label or any(ord(c) < 32 for c in label):
                self.problem(
                    at, "a limiter name must be a non-empty name without control characters"
                )
                continue
            spec = self.rate_spec(item, None, f"limiter '{label}'", label)
            if spec is not None:
                self.limiters[label] = replace(spec, shared=label)

    def rate_limits(self, v: _V, params: Params) -> tuple[RateLimitSpec, ...]:
        """A route's policies: a name, an inline spec, or a list of both (layered)."""
        items = v.value if v.kind == "seq" else [v]
        if v.kind == "seq" and not items:
            self.problem(v, "'rate_limit' list is empty (leave 'rate_limit' out for no limit)")
        if len(items) > MAX_RATE_LAYERS:
            self.problem(v, f"more than {MAX_RATE_LAYERS} policies in one 'rate_limit'")
            return ()
        specs: list[RateLimitSpec] = []
        for i, item in enumerate(items):
            if item.kind == "map":
                name = "default" if i == 0 else f"policy-{i + 1}"
                spec = self.rate_spec(item, params, "'rate_limit'", name)
            elif item.kind == "str":
                spec = self.limiter_ref(item)
            else:
                if item.kind != "bad":
                    self.problem(
                        item,
                        "'rate_limit' must be a limiter name, a mapping or a list of them, "
                        f"got {_describe(item)}",
                    )
                spec = None
            if spec is not None:
                specs.append(spec)
        if len(specs) != len(items):
            return ()
        names = [s.name for s in specs]
        for i, item in enumerate(items):
            if names.index(names[i]) != i:
                self.problem(item, f"two policies of one route are named '{names[i]}'")
                return ()
        return tuple(specs)

    def limiter_ref(self, v: _V) -> RateLimitSpec | None:
        name = v.value.strip()
        spec = self.limiters.get(name)
        if spec is None:
            known = sorted(self.limiters)
            guess = difflib.get_close_matches(name, known, n=1)
            hint = (
                f" (did you mean '{guess[0]}'?)"
                if guess
                else (f"; known: {', '.join(known)}" if known else "; this file has no 'limiters'")
            )
            self.problem(v, f"unknown limiter '{name}'{hint}")
        return spec

    def rate_spec(
        self, v: _V, params: Params, where: str, default_name: str
    ) -> RateLimitSpec | None:
        m = self.mapping(v, where.strip("'"), SPEC_KEYS)
        if m is None:
            return None
        for key in ("limit", "window"):
            if key not in m:
                self.missing(v, where, key)
        limit = window = None
        if "limit" in m:
            limit = self.integer(m["limit"], "limit", 0, 10**9, "a whole number of requests")
        if "window" in m:
            window = self.duration(m["window"], "window", positive=True)
        algorithm = (
            self.choice(m["algorithm"], "algorithm", _ALGORITHMS) if "algorithm" in m else None
        )
        bucket_key = None
        if "key" in m:
            bucket_key = self.counter_key(
                m["key"], "key", ("client", "global"), ("header", "query")
            )
        name = self.label(m["name"], "name") if "name" in m else default_name
        unit = self.choice(m["unit"], "unit", _UNITS) if "unit" in m else "requests"
        styles = self.styles(m["headers"]) if "headers" in m else None
        respond = None
        if "respond" in m:
            _mark_decision_variables(m["respond"])
            respond = self.response(m["respond"], "respond", params)
        retry_after = (
            self.choice(m["retry_after"], "retry_after", _RETRY_FORMS)
            if "retry_after" in m
            else "seconds"
        )
        cost, cost_template = 1, None
        if "cost" in m:
            cost_v = m["cost"]
            if cost_v.kind == "int":
                cost = self.integer(cost_v, "cost", 0, 10**9, "a whole number from 0") or 0
            elif cost_v.kind == "str" and "{{" in cost_v.value:
                cost_template = self.template(cost_v, cost_v.value, params)
            elif cost_v.kind != "bad":
                number = self.integer(cost_v, "cost", 0, 10**9, "a whole number or a template")
                cost = number if number is not None else 1
        on_cost_error = (
            self.choice(m["on_cost_error"], "on_cost_error", _COST_ACTIONS)
            if "on_cost_error" in m
            else "allow"
        )
        if "on_cost_error" in m and cost_template is None:
            self.problem(m["on_cost_error"], "'on_cost_error' only applies to a 'cost' template")
        if None in (limit, window, name, unit, retry_after, on_cost_error):
            return None
        if styles == ():  # a bad entry, already reported
            return None
        secondary = any(
            style == "github" and ("secondary", "true") in opts for style, opts in styles or ()
        )
        assert limit is not None and window is not None and name is not None
        return RateLimitSpec(
            limit,
            window,
            algorithm or "fixed-window",
            bucket_key or "client",
            name,
            unit or "requests",
            styles,
            respond,
            retry_after or "seconds",
            cost,
            cost_template,
            on_cost_error or "allow",
            None,
            secondary,
        )

    def styles(self, v: _V) -> tuple[StyleChoice, ...]:
        """`[ietf, {x-ratelimit: {reset: epoch}}]`; () when an entry is bad (reported)."""
        items = v.value if v.kind == "seq" else [v]
        out: list[StyleChoice] = []
        ok = bool(items)
        if not items:
            self.problem(v, "'headers' is empty: name a style, or [none] for no fields")
        for item in items:
            name_v, opts_v = item, None
            if item.kind == "map" and len(item.value) == 1:
                key = next(iter(item.value))
                line, col = item.keys[key]  # type: ignore[index]
                name_v = _V("str", key, key, line, col)
                opts_v = item.value[key]
            elif item.kind != "str":
                if item.kind != "bad":
                    self.problem(
                        item,
                        "each 'headers' style is a name or {name: {options}}, "
                        f"got {_describe(item)}",
                    )
                ok = False
                continue
            style = self.choice(name_v, "headers", tuple(STYLES))
            if style is None:
                ok = False
                continue
            if any(style == chosen for chosen, _ in out):
                self.problem(name_v, f"style '{style}' is listed twice in 'headers'")
                ok = False
                continue
            options: list[tuple[str, str]] = []
            if opts_v is not None and opts_v.kind != "null":
                allowed = STYLES[style].options
                om = self.mapping(opts_v, f"'{style}' options", tuple(allowed))
                if om is None or any(k not in allowed for k in om):
                    ok = False
                    continue
                for key, value_v in om.items():
                    values = allowed[key]
                    if values == "bool":
                        if value_v.kind != "bool":
                            self.problem(value_v, f"'{key}' must be true or false")
                            ok = False
                            continue
                        options.append((key, "true" if value_v.value else "false"))
                    elif values is None:
                        text = self.label(value_v, key)
                        if text is None:
                            ok = False
                            continue
                        options.append((key, text))
                    else:
                        assert isinstance(values, tuple)
                        picked = self.choice(value_v, key, values)
                        if picked is None:
                            ok = False
                            continue
                        options.append((key, picked))
            out.append((style, tuple(options)))
        return tuple(out) if ok else ()


def _mark_decision_variables(v: _V) -> None:
    """Replace `{{ limit }}` & co. in every string of a `respond` by their markers (in place:
    the located values are this load's own)."""
    if v.kind == "str":
        if "{{" in v.value:
            v.value = _DECISION_RE.sub(lambda m: MARK.format(m.group(1)), v.value)
    elif v.kind == "map":
        for item in v.value.values():
            _mark_decision_variables(item)
    elif v.kind == "seq":
        for item in v.value:
            _mark_decision_variables(item)
