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
from mockstatus.scenarios.matcher import Matchable, StateOf, explain
from mockstatus.types import RequestFacts, ResponsePlan

_PATH_CUT = 200  # characters of a path compared for closeness (difflib is quadratic)


class NearMiss(TypedDict):
    scenario: str
    route: str
    failed: str  # what failed first: method, path, host, state, query, header, cookie, form, body
    detail: str  # why, e.g. "header x-api-key missing"


_Entry = tuple[Matchable, tuple[str, ...]]  # a route and its path pattern's segments


class NearMissIndex:
    """The first MAX_NEAR_MISS_SCAN routes, prepared once per loaded set so that a miss only
    examines routes that can be close. A close route has as many segments as the path and at
    most one literal segment that differs: one with two or more literal segments shares one
    with the path at its position, so it is found by a lookup of each of the path's segments;
    those with at most one literal are grouped by segment count. Routes without a path, or
    with a `~regex` or `**` path, are tried as they are. `/status/503` next to
    `/orders/{id}/items` costs a few dict lookups."""

    __slots__ = ("_by_literal", "_loose", "_other", "_position")

    def __init__(self, routes: Sequence[Matchable]) -> None:
        self._by_literal: dict[tuple[int, int, str], list[_Entry]] = {}
        self._loose: dict[int, list[_Entry]] = {}
        self._other: list[Matchable] = []
        self._position: dict[int, int] = {}
        for position, route in enumerate(routes[:MAX_NEAR_MISS_SCAN]):
            self._position[id(route)] = position
            pattern = route.match.path
            if pattern is None or pattern.source.startswith("~") or "**" in pattern.source:
                self._other.append(route)
                continue
            segments = tuple(pattern.source.split("/"))
            literals = [(i, seg) for i, seg in enumerate(segments) if seg and not _wild(seg)]
            if len(literals) < 2:
                self._loose.setdefault(len(segments), []).append((route, segments))
                continue
            for i, seg in literals:
                self._by_literal.setdefault((len(segments), i, seg), []).append((route, segments))

    def near_misses(
        self,
        facts: RequestFacts,
        state_of: StateOf | None = None,
        *,
        state_factory: Callable[[], StateOf] | None = None,
    ) -> tuple[NearMiss, ...]:
        """The closest routes to `facts` (none of which matched), best first. `state_factory`
        is called only when some route is close (most misses have none)."""
        path = facts.path
        segments = path[:_PATH_CUT].split("/")
        close: list[Matchable] = []
        for route in self._other:
            pattern = route.match.path
            if pattern is not None:
                prefix = pattern.prefix  # `/lb/**`: its literal head must be the path's
                if prefix and segments[1 : 1 + len(prefix)] != list(prefix):
                    continue
                if pattern.match(path) is None:
                    continue
            close.append(route)
        count = len(segments)
        seen: set[int] = set()
        for i, seg in enumerate(segments):
            for route, theirs in self._by_literal.get((count, i, seg), ()):
                if id(route) not in seen:
                    seen.add(id(route))
                    if _close(segments, theirs):
                        close.append(route)
        for route, theirs in self._loose.get(count, ()):
            if _close(segments, theirs):
                close.append(route)
        if not close:
            return ()
        if state_factory is not None:
            state_of = state_factory()
        memo: dict[str, Any] = {}
        ranked: list[tuple[int, int, Matchable, tuple[str, str]]] = []
        for route in close:
            failures = explain(route, facts, state_of, memo)
            if failures:
                ranked.append((len(failures), self._position[id(route)], route, failures[0]))
        ranked.sort(key=lambda item: (item[0], item[1]))
        return tuple(
            NearMiss(scenario=route.scenario, route=route.name, failed=kind, detail=detail)
            for _, _, route, (kind, detail) in ranked[:MAX_NEAR_MISSES]
        )


def near_misses(
    routes: Sequence[Matchable], facts: RequestFacts, state_of: StateOf | None
) -> tuple[NearMiss, ...]:
    """The closest routes to `facts` (none of which matched), best first (one-off: a server
    keeps its NearMissIndex)."""
    return NearMissIndex(routes).near_misses(facts, state_of)


def _close(segments: list[str], theirs: tuple[str, ...]) -> bool:
    """The pattern's segments (`theirs`, as many as the path's) have the same literals, or
    differ in one literal segment spelled alike (a typo)."""
    differing = None
    for mine, other in zip(theirs, segments, strict=True):
        if mine != other and not _wild(mine):
            if differing is not None:
                return False  # two literal segments differ: not a typo
            differing = (mine, other)
    if differing is None:
        return True  # the same literals: the path matches, or a parameter's text did not
    mine, other = differing
    if not other or (mine[0] != other[0] and mine[-2:] != other[-2:]):
        return False  # a typo keeps the first letter or the ending (and costs no difflib)
    alike = difflib.SequenceMatcher(None, mine, other)
    # The cheap upper bounds first: most differing segments are not typos of each other.
    return alike.real_quick_ratio() >= 0.6 and alike.quick_ratio() >= 0.6 and alike.ratio() >= 0.6


def _wild(segment: str) -> bool:
    return "{" in segment or "*" in segment


# --- the 404 ----------------------------------------------------------------------------------

_DESCRIPTION = "No scenario route matched {method} {path}; the closest routes and why they did not."


def not_found_plan(facts: RequestFacts, misses: Sequence[NearMiss], fmt: str) -> ResponsePlan:
    """The 404 for a request no route matched, with its near misses, in the negotiated format
    (the shape every status body has, plus `near_misses`)."""
    from mockstatus.semantics import finish, render_body
    from mockstatus.types import FORMATS

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
