"""A route's rate limits at run time: which buckets its policies draw from, the cost of a
request, the fields every style writes, and the rejection's decision variables.

`RouteLimits` is made once per route (the runtime keeps it by identity); a route with one
default policy is `simple` and takes the single-check fast path of `RateLimiter.check`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mockstatus.conditional import format_http_date
from mockstatus.scenarios.model import RateLimitSpec, Route
from mockstatus.scenarios.ratelimit import Verdict
from mockstatus.scenarios.ratelimit_schema import DECISION_VARIABLES, MARK
from mockstatus.scenarios.ratelimit_styles import (
    DEFAULT_STYLES,
    Fields,
    Prepared,
    StyleChoice,
    prepare,
    render_prepared,
    reset_at,
)
from mockstatus.scenarios.templates import TemplateContext
from mockstatus.types import ResponsePlan

_MARKS = tuple((name, MARK.format(name)) for name in DECISION_VARIABLES)
_LAST_HTTP_DATE = 253_402_300_799
MAX_COST_TEXT = 32  # characters of a rendered cost read as a number (more is not a number)


@dataclass(frozen=True, slots=True)
class RouteLimits:
    owners: tuple[str, ...]  # whose buckets each policy uses: the route's own or a shared limiter
    specs: tuple[RateLimitSpec, ...]
    styles: tuple[StyleChoice, ...]
    simple: bool
    prepared: Prepared  # the styles, looked up
    costs: tuple[int, ...]  # the fixed costs
    templated: bool  # some cost is a template  # one policy, cost 1, default fields and rejection: RateLimiter.check


def route_limits(route: Route, route_key: str) -> RouteLimits:
    specs = route.rate_limits or ((route.rate_limit,) if route.rate_limit is not None else ())
    owners = tuple(
        f"{route.scenario}\x00{s.shared}"  # NUL: never in a name, so never a route key
        if s.shared is not None
        else (route_key if i == 0 else f"{route_key}\x00{i}")
        for i, s in enumerate(specs)
    )
    styles: list[StyleChoice] = []
    for spec in specs:
        for choice in spec.styles or ():
            if all(choice[0] != name for name, _ in styles):
                styles.append(choice)
    spec0 = specs[0]
    simple = (
        len(specs) == 1
        and spec0.shared is None
        and spec0.name == "default"  # the fast path's fields name the policy "default"
        and spec0.styles is None
        and spec0.respond is None
        and spec0.retry_after == "seconds"
        and spec0.cost == 1
        and spec0.cost_template is None
    )
    chosen = tuple(styles) or DEFAULT_STYLES
    costs = tuple(s.cost for s in specs)
    templated = any(s.cost_template is not None for s in specs)
    return RouteLimits(owners, specs, chosen, simple, prepare(chosen), costs, templated)


def costs_of(limits: RouteLimits, ctx: TemplateContext) -> tuple[tuple[int, ...], str | None, bool]:
    """(each policy's cost, a journal note, refuse): a template that does not render a whole
    number costs 1 with a note (`on_cost_error: allow`) or refuses the request (`reject`)."""
    costs: list[int] = []
    note: str | None = None
    refuse = False
    if not limits.templated:
        return limits.costs, None, False
    for spec in limits.specs:
        template = spec.cost_template
        if template is None:
            costs.append(spec.cost)
            continue
        text = template.render(ctx).strip()
        if len(text) <= MAX_COST_TEXT and text.isascii() and text.isdigit():
            costs.append(int(text))
            continue
        shown = text if len(text) <= MAX_COST_TEXT else text[:MAX_COST_TEXT] + "…"
        note = f"rate limit '{spec.name}': cost {shown!r} is not a whole number"
        if spec.on_cost_error == "reject":
            refuse = True
            note += ": refused (on_cost_error: reject)"
        else:
            note += ": counted as 1 (on_cost_error: allow)"
        costs.append(1)
    return tuple(costs), note, refuse


def fields(limits: RouteLimits, verdict: Verdict, wall: float) -> Fields:
    return render_prepared(limits.prepared, verdict.policies, wall)


def retry_after_value(spec: RateLimitSpec, retry: int, wall: float) -> str | None:
    """Retry-After (RFC 9110 §10.2.3): delay-seconds, or an HTTP-date that far ahead."""
    if spec.retry_after == "none":
        return None
    if spec.retry_after == "http-date":
        return format_http_date(min(max(reset_at(wall, retry), 0), _LAST_HTTP_DATE))
    return str(retry)


def decision_values(verdict: Verdict, spec: RateLimitSpec, wall: float) -> Mapping[str, str]:
    """What `{{ limit }}`, `{{ remaining }}`, `{{ reset_after }}`, `{{ reset_at }}` and
    `{{ policy }}` mean in a rejection: the deciding policy's figures."""
    state = next(p for p in verdict.policies if p.name == spec.name)
    return {
        "limit": str(state.limit),
        "remaining": str(state.remaining),
        "reset_after": str(verdict.retry_after),
        "reset_at": str(reset_at(wall, verdict.retry_after)),
        "policy": spec.name,
    }


def fill(plan: ResponsePlan, values: Mapping[str, str]) -> ResponsePlan:
    """The rejection with its decision variables' markers replaced by their values."""
    body = plan.body
    if b"@@ratelimit:" in body:
        for name, mark in _MARKS:
            body = body.replace(mark.encode(), values[name].encode())
    headers = plan.headers
    if any("@@ratelimit:" in value for _, value in headers):
        out = []
        for name, value in headers:
            for var, mark in _MARKS:
                value = value.replace(mark, values[var])
            out.append((name, value))
        headers = tuple(out)
    if body is plan.body and headers is plan.headers:
        return plan
    return plan.evolve(body=body, headers=headers, reused=False)


# The fields the per-code 429 rule adds by default; a rejection keeps only those its styles or
# its `respond` send (a github-style 429 must not also carry the default X-RateLimit-*).
RULE_FIELDS = frozenset(
    (
        "ratelimit-policy",
        "ratelimit",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    )
)


def without_rule_fields(
    plan: ResponsePlan, keep: frozenset[str], no_retry_after: bool
) -> ResponsePlan:
    drop = RULE_FIELDS - keep
    if no_retry_after:
        drop |= {"retry-after"} - keep
    headers = tuple(h for h in plan.headers if h[0].lower() not in drop)
    if len(headers) == len(plan.headers):
        return plan
    return plan.evolve(headers=headers, reused=False)
