"""Why no route matched: the closest routes and, for each, the first condition that failed.

Computed only after a miss (a matched request never gets here) and bounded: at most
MAX_NEAR_MISS_SCAN routes, the first ones in the route order, are examined, and a route whose
path is not close to the request's is skipped after comparing segment counts. A route is
*near* when its path matches, or differs from the request's in one literal segment that is
spelled alike (`/orders/{id}` for `/order/1`); the ones with the fewest failed conditions come
first, then in route order. At most MAX_NEAR_MISSES are kept.
"""

from __future__ import annotations

import difflib
import html
from collections.abc import Callable, Sequence
from typing import Any, TypedDict

from mockstatus import codes
from mockstatus.limits import MAX_NEAR_MISS_SCAN, MAX_NEAR_MISSES, MAX_UNMATCHED
from mockstatus.scenarios.matcher import Matchable, PathPattern, StateOf, explain
from mockstatus.types import RequestFacts, ResponsePlan

_PATH_CUT = 200  # characters of a path compared for closeness (difflib is quadratic)


class NearMiss(TypedDict):
    scenario: str
    route: str
    failed: str  # what failed first: method, path, host, state, query, header, cookie, form, body
    detail: str  # why, e.g. "header x-api-key missing"


def near_misses(
    routes: Sequence[Matchable], facts: RequestFacts, state_of: StateOf | None
) -> tuple[NearMiss, ...]:
    """The closest routes to `facts` (none of which matched), best first."""
    segments = _segments(facts.path)
    memo: dict[str, Any] = {}
    ranked: list[tuple[int, int, Matchable, tuple[str, str]]] = []
    for position, route in enumerate(routes[:MAX_NEAR_MISS_SCAN]):
        pattern = route.match.path
        if pattern is not None and not _close(pattern, facts.path, segments):
            continue
        failures = explain(route, facts, state_of, memo)
        if failures:
            ranked.append((len(failures), position, route, failures[0]))
    ranked.sort(key=lambda item: (item[0], item[1]))
    return tuple(
        NearMiss(scenario=route.scenario, route=route.name, failed=kind, detail=detail)
        for _, _, route, (kind, detail) in ranked[:MAX_NEAR_MISSES]
    )


def _segments(path: str) -> list[str]:
    return path[:_PATH_CUT].split("/")


def _close(pattern: PathPattern, path: str, segments: list[str]) -> bool:
    """The pattern matches `path`, or has as many segments and differs in one literal segment
    spelled alike (a typo: a `~regex` path is never close unless it matches)."""
    if pattern.match(path) is not None:
        return True
    source = pattern.source
    if source.startswith("~") or "**" in source:
        return False
    theirs = source.split("/")
    if len(theirs) != len(segments):
        return False
    differing = [
        (mine, other)
        for mine, other in zip(theirs, segments, strict=True)
        if mine != other and not ("{" in mine or "*" in mine)
    ]
    if len(differing) != 1:
        return False
    mine, other = differing[0]
    return difflib.SequenceMatcher(None, mine, other).ratio() >= 0.6


# --- the 404 ----------------------------------------------------------------------------------

_DESCRIPTION = "No scenario route matched {method} {path}; the closest routes and why they did not."


def not_found_plan(facts: RequestFacts, misses: Sequence[NearMiss], fmt: str) -> ResponsePlan:
    """The 404 for a request no route matched, with its near misses, in the negotiated format
    (the shape every status body has, plus `near_misses`)."""
    from mockstatus.queries import FORMATS
    from mockstatus.semantics import finish, render_body

    reason = codes.lookup(404).reason
    description = _DESCRIPTION.format(method=facts.method, path=facts.path[:_PATH_CUT])
    if fmt == "json":
        body = render_body(404, reason, description, "json", {"near_misses": list(misses)})
    elif fmt == "html":
        items = "".join(
            f"<li><code>{html.escape(m['scenario'])}/{html.escape(m['route'])}</code> "
            f"({html.escape(m['failed'])}): {html.escape(m['detail'])}</li>\n"
            for m in misses
        )
        body = (
            f'<!doctype html>\n<html><head><meta charset="utf-8"><title>404 {reason}</title>'
            f"</head>\n<body><h1>404 {reason}</h1>\n<p>{html.escape(description)}</p>\n"
            f"<ul>\n{items}</ul></body></html>\n"
        ).encode()
    else:
        lines = [f"404 {reason}: {description}"]
        lines += [f"  {m['scenario']}/{m['route']} ({m['failed']}): {m['detail']}" for m in misses]
        body = ("\n".join(lines) + "\n").encode()
    return finish(
        ResponsePlan(
            status=404,
            reason=reason,
            headers=(("Content-Type", FORMATS[fmt]), ("Vary", "Accept")),
            body=body,
            head=facts.method == "HEAD",
        )
    )


def answer_miss(
    plan: ResponsePlan,
    facts: RequestFacts,
    misses: tuple[NearMiss, ...],
    not_found: Callable[[RequestFacts], ResponsePlan],
) -> tuple[ResponsePlan, tuple[NearMiss, ...] | None]:
    """After no route matched and a built-in answered `plan`: the plan to send (the near-miss
    404 instead of the plain "no such endpoint" one, `not_found`) and what the journal keeps
    (None: not an unmatched request)."""
    if plan.status != 404 or plan.body != not_found(facts).body:
        return plan, misses or None  # a built-in answered: the near misses go to the journal
    if not misses:
        return plan, ()
    from mockstatus.semantics import negotiate

    return not_found_plan(facts, misses, negotiate(facts.header("accept"))), misses


def summary(misses: Sequence[dict[str, Any]]) -> str:
    """One line per near miss, for assertion messages."""
    return (
        "\n".join(f"    {m.get('scenario')}/{m.get('route')}: {m.get('detail')}" for m in misses)
        or "    (no route came close)"
    )


def unmatched(entries: Sequence[Any], limit: int | None = None) -> list[Any]:
    """The journal entries of unmatched requests (near misses, or the final 404), oldest first."""
    found = [e for e in entries if e.near_misses is not None]
    return found[-(limit or MAX_UNMATCHED) :]
