"""Which routes hide which: a pure function of the loaded set and its one route order.

Route A *shadows* a later route B when a request B matches can be answered by A first:
- "full": every request B matches, A matches too (B never answers). Decided conservatively
  from the match rules' text: same or any method, a path pattern that covers B's, no query,
  header, body or state condition that B does not also have;
- "possible": A and B may both match some request (neither full nor provably disjoint). Regex
  paths are never "full".

Used by the admin API (an upload's answer), `mockstatus check` (warnings) and issue 14's
priorities. Pure: no I/O; the caller runs it off the event loop when the set is large.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal, TypedDict

from mockstatus.limits import MAX_SHADOW_CHECKS, MAX_SHADOW_REPORT
from mockstatus.scenarios.matcher import PathPattern, ValueMatch, compile_path
from mockstatus.scenarios.model import MatchSpec, Route, ScenarioSet

Overlap = Literal["full", "possible"]


class ShadowEntry(TypedDict):
    scenario: str  # the other route's scenario
    route: str  # the other route's name
    overlap: Overlap
    own_route: str  # the route of the scenario asked about


class Shadowing(TypedDict):
    shadows: list[ShadowEntry]  # later routes this scenario's routes hide
    shadowed_by: list[ShadowEntry]  # earlier routes that hide this scenario's routes
    shadowing_complete: bool  # False when a cap cut the report short


def overlap(first: Route, later: Route) -> Overlap | None:
    """How `first` (tried earlier) hides `later`; None when no request can reach both."""
    a, b = first.match, later.match
    if not _methods_meet(a, b) or not _headers_meet(a, b) or not _states_meet(first, later):
        return None
    path = _path_overlap(a.path, b.path)
    if path is None:
        return None
    if path == "full" and _methods_cover(a, b) and _conditions_cover(a, b, first, later):
        return "full"
    return "possible"


def shadowing(scenario_set: ScenarioSet, name: str) -> Shadowing:
    """For scenario `name`: the routes it hides and the routes that hide it, across scenarios
    ("full" or "possible") and within it ("full" only: a deliberate fallback after a specific
    route is a "possible" overlap by design). At most MAX_SHADOW_REPORT entries each, after at
    most MAX_SHADOW_CHECKS route pairs; `shadowing_complete` says whether everything was seen."""
    result: Shadowing = {"shadows": [], "shadowed_by": [], "shadowing_complete": True}
    scenario = scenario_set.get(name)
    if scenario is None:
        return result
    order = scenario_set.routes_in_order()
    position = {id(route): i for i, route in enumerate(order)}
    others = _Index(order)
    checks = 0
    for own in scenario.routes:
        mine = position[id(own)]
        for other in others.candidates(own):
            if other is own:
                continue
            checks += 1
            if checks > MAX_SHADOW_CHECKS:
                result["shadowing_complete"] = False
                return result
            before = position[id(other)] < mine
            found = overlap(other, own) if before else overlap(own, other)
            if found is None or (other.scenario == name and found != "full"):
                continue
            entries = result["shadowed_by"] if before else result["shadows"]
            if len(entries) >= MAX_SHADOW_REPORT:
                result["shadowing_complete"] = False
                continue
            entries.append(
                {
                    "scenario": other.scenario,
                    "route": other.name,
                    "overlap": found,
                    "own_route": own.name,
                }
            )
    return result


def shadowed_routes(
    scenario_set: ScenarioSet,
) -> tuple[list[tuple[Route, Route, Overlap]], bool]:
    """Every (earlier, later, overlap) pair worth a warning in `mockstatus check`: full ones,
    and possible ones across scenarios (the same rule as `shadowing`); and whether all pairs
    were seen (at most MAX_SHADOW_CHECKS are compared)."""
    order = scenario_set.routes_in_order()
    position = {id(route): i for i, route in enumerate(order)}
    index = _Index(order)
    found_pairs: list[tuple[Route, Route, Overlap]] = []
    checks = 0
    for later in order:
        for first in index.candidates(later):
            if position[id(first)] >= position[id(later)]:
                continue
            checks += 1
            if checks > MAX_SHADOW_CHECKS:
                return found_pairs, False
            found = overlap(first, later)
            if found == "full" or (found == "possible" and first.scenario != later.scenario):
                found_pairs.append((first, later, found))
    return found_pairs, True


# --- match rules ---------------------------------------------------------------------------


def _methods_meet(a: MatchSpec, b: MatchSpec) -> bool:
    return a.methods is None or b.methods is None or bool(a.methods & b.methods)


def _methods_cover(a: MatchSpec, b: MatchSpec) -> bool:
    return a.methods is None or (b.methods is not None and b.methods <= a.methods)


def _headers_meet(a: MatchSpec, b: MatchSpec) -> bool:
    """A request has one value per header name as the matcher reads it: two different `equal`
    values for the same name cannot both hold. (Query rules test any of several values, so
    different query values can both hold.)"""
    theirs = dict(b.headers)
    for name, rule in a.headers:
        other = theirs.get(name)
        if (
            other is not None
            and _plain_equal(rule)
            and _plain_equal(other)
            and rule.equal != other.equal
        ):
            return False
    return True


def _plain_equal(rule: ValueMatch) -> bool:
    return rule.equal is not None and not rule.negate and not rule.absent


def _rules_cover(
    a: tuple[tuple[str, ValueMatch], ...], b: tuple[tuple[str, ValueMatch], ...]
) -> bool:
    """Every rule of `a` is implied by a rule of `b` on the same name: the same rule, or `a`
    asks only for presence."""
    theirs: dict[str, list[ValueMatch]] = {}
    for name, rule in b:
        theirs.setdefault(name, []).append(rule)
    for name, rule in a:
        rules = theirs.get(name)
        if not rules:
            return False
        presence_only = (
            rule.equal is None and rule.regex is None and not rule.absent and not rule.negate
        )
        if not presence_only and not any(_same(r, rule) for r in rules):
            return False
    return True


def _same(a: ValueMatch, b: ValueMatch) -> bool:
    return (a.source, a.absent, a.negate) == (b.source, b.absent, b.negate)


def _conditions_cover(a: MatchSpec, b: MatchSpec, first: Route, later: Route) -> bool:
    for mine, theirs in (
        (a.query, b.query),
        (a.headers, b.headers),
        (a.cookies, b.cookies),
        (a.form, b.form),
    ):
        if not _rules_cover(mine, theirs):
            return False
    if a.host is not None and (b.host is None or not _same(a.host, b.host)):
        return False
    if a.body is not None and a.body != b.body:
        return False
    state = first.state
    if state is None or state.when is None:
        return True
    other = later.state
    return (
        other is not None
        and other.when is not None
        and first.scenario == later.scenario
        and other.machine == state.machine
        and other.when <= state.when
    )


def _states_meet(first: Route, later: Route) -> bool:
    """Routes of one scenario on one machine whose `when` sets are disjoint never compete."""
    a, b = first.state, later.state
    if a is None or b is None or a.when is None or b.when is None:
        return True
    if first.scenario != later.scenario or a.machine != b.machine:
        return True
    return bool(a.when & b.when)


# --- paths -----------------------------------------------------------------------------------

# A path segment: ("lit", text), ("one", "") for `*` / `{id}` (any non-empty segment), ("many",
# "") for `**` (zero or more segments), or ("mix", text) for `v{n}`, `*.json` and the like.
_Seg = tuple[str, str]
_MANY: _Seg = ("many", "")
_ONE: _Seg = ("one", "")


def _path_overlap(a: PathPattern | None, b: PathPattern | None) -> Overlap | None:
    if a is None:
        return "full"
    if b is None:
        return "possible"
    if b.exact is not None:  # a concrete path: ask the pattern itself
        if a.exact is not None:
            return "full" if a.exact == b.exact else None
        if a.match(b.exact) is None:
            return None
        return "possible" if a.source.startswith("~") else "full"
    if a.source.startswith("~") or b.source.startswith("~"):
        return "possible"
    sa, sb = _segments(a.source), _segments(b.source)
    if _covers(sa, sb):
        return "full"
    return "possible" if _meets(sa, sb) else None


@lru_cache(maxsize=4096)
def _segments(source: str) -> tuple[_Seg, ...]:
    out: list[_Seg] = []
    for segment in source[1:].split("/"):
        if segment == "**":
            out.append(_MANY)
        elif segment == "*" or (
            segment.startswith("{") and segment.endswith("}") and segment.count("{") == 1
        ):
            out.append(_ONE)
        elif any(c in segment for c in "{}*"):
            out.append(("mix", segment))
        else:
            out.append(("lit", segment))
    return tuple(out)


def _segment_matches(mixed: str, literal: str) -> bool:
    """Whether a mixed segment such as `v{n}` or `*.json` matches a literal segment."""
    return compile_path("/" + mixed).match("/" + literal) is not None


def _segment_covers(a: _Seg, b: _Seg) -> bool:
    if a == _ONE:
        return b != ("lit", "")  # every segment but an empty literal is non-empty
    if a[0] == "mix":
        return a == b or (b[0] == "lit" and _segment_matches(a[1], b[1]))
    return a == b


def _segment_meets(a: _Seg, b: _Seg) -> bool:
    if a == b:
        return True
    if a == _ONE or b == _ONE:
        return ("lit", "") not in (a, b)
    if a[0] == "mix" and b[0] == "mix":
        return True  # two mixed segments: assume they may meet
    if a[0] == "mix":
        return _segment_matches(a[1], b[1])
    if b[0] == "mix":
        return _segment_matches(b[1], a[1])
    return False


def _covers(a: tuple[_Seg, ...], b: tuple[_Seg, ...]) -> bool:
    """Every path `b` matches, `a` matches (`**` = zero or more whole segments)."""
    memo: dict[tuple[int, int], bool] = {}

    def go(i: int, j: int) -> bool:
        if (i, j) in memo:
            return memo[i, j]
        if i == len(a):
            found = j == len(b)
        elif a[i] == _MANY:
            found = go(i + 1, j) or (j < len(b) and go(i, j + 1))
        elif j == len(b) or b[j] == _MANY:
            found = False
        else:
            found = _segment_covers(a[i], b[j]) and go(i + 1, j + 1)
        memo[i, j] = found
        return found

    return go(0, 0)


def _meets(a: tuple[_Seg, ...], b: tuple[_Seg, ...]) -> bool:
    """Some path matches both."""
    memo: dict[tuple[int, int], bool] = {}

    def go(i: int, j: int) -> bool:
        if (i, j) in memo:
            return memo[i, j]
        if i < len(a) and a[i] == _MANY:
            found = go(i + 1, j) or (j < len(b) and go(i, j + 1))
        elif j < len(b) and b[j] == _MANY:
            found = go(i, j + 1) or (i < len(a) and go(i + 1, j))
        elif i == len(a) or j == len(b):
            found = i == len(a) and j == len(b)
        else:
            found = _segment_meets(a[i], b[j]) and go(i + 1, j + 1)
        memo[i, j] = found
        return found

    return go(0, 0)


class _Index:
    """Routes in a trie of their literal leading path segments: two routes can meet only when
    one's literal prefix starts the other's, so a route is compared with the routes on its
    trie path and below it (plus those with no literal prefix: no path or a regex)."""

    def __init__(self, routes: list[Route]) -> None:
        self.all = routes  # in route order; so is every list handed out
        self.position = {id(route): i for i, route in enumerate(routes)}
        self.root = _Trie()
        self.anywhere: list[Route] = []  # no path or a regex: compared with every route
        for route in routes:
            prefix = _literal_prefix(route.match.path)
            if prefix is None:
                self.anywhere.append(route)
                continue
            node = self.root
            for segment in prefix:
                node = node.children.setdefault(segment, _Trie())
            node.routes.append(route)

    def candidates(self, route: Route) -> list[Route]:
        prefix = _literal_prefix(route.match.path)
        if prefix is None:
            return self.all
        found = list(self.anywhere)
        node: _Trie | None = self.root
        for segment in prefix:  # routes whose prefix starts this one's
            assert node is not None
            found += node.routes
            node = node.children.get(segment)
            if node is None:
                break
        if node is not None:  # routes whose prefix this one's starts
            stack = [node]
            while stack:
                below = stack.pop()
                found += below.routes
                stack.extend(below.children.values())
        return sorted(found, key=lambda r: self.position[id(r)])


class _Trie:
    __slots__ = ("children", "routes")

    def __init__(self) -> None:
        self.children: dict[str, _Trie] = {}
        self.routes: list[Route] = []


def _literal_prefix(path: PathPattern | None) -> tuple[str, ...] | None:
    """The literal leading segments (all of them for an exact path); None for no path or a
    regex, which may match anywhere."""
    if path is None or path.source.startswith("~"):
        return None
    return path.prefix
