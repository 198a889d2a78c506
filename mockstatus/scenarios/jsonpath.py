"""JSONPath (RFC 9535) queries on request bodies, compiled at load time.

The library is `jsonpath-rfc9535`: it implements RFC 9535 exactly (it passes the JSONPath
Compliance Test Suite) and nothing else, so a scenario means the same in every RFC 9535 tool;
`jsonpath-ng` follows the older Goessner dialect (different filter syntax, no I-Regexp) and
`python-jsonpath` adds non-standard extensions by default. It is imported only when a scenario
uses a JSONPath, so the hot path of a server without one never loads it.

A *singular query* (RFC 9535 §2.3.5.1: only names and indices, such as `$.items[0].id`) is
evaluated here by walking the precomputed keys: the library's general `find` costs ~40 µs per
call, the walk ~1 µs (bench/ `jsonpath` route). Anything else goes through the library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_MISSING: Any = object()


class JsonPathTooDeep(ValueError):
    """The library refused a document nested past its limit (`max_recursion_depth`, 100 levels,
    reached by `..` on a deep body): the request is answered as not matching, never a 500."""


@dataclass(frozen=True, slots=True)
class JsonPath:
    source: str
    steps: tuple[str | int, ...] | None  # a singular query's names and indices; None: general
    query: Any  # the library's compiled query (for the general case)

    def values(self, document: Any) -> list[Any]:
        """The values the query selects in `document` (a nodelist's values, in order)."""
        steps = self.steps
        if steps is None:
            # loaded already (the query was compiled by it); ~40 µs `find` dwarfs the lookup
            from jsonpath_rfc9535.exceptions import JSONPathRecursionError

            try:
                return list(self.query.find(document).values())
            except (JSONPathRecursionError, RecursionError) as exc:
                raise JsonPathTooDeep(f"body JSON is nested too deep for {self.source}") from exc
        node = document
        for step in steps:
            if isinstance(step, str):
                if type(node) is not dict:
                    return []
                node = node.get(step, _MISSING)
                if node is _MISSING:
                    return []
            else:
                if type(node) is not list:
                    return []
                index = step if step >= 0 else len(node) + step
                if not 0 <= index < len(node):
                    return []
                node = node[index]
        return [node]


def compile_jsonpath(source: str) -> JsonPath:
    """Compile an RFC 9535 query; ValueError (with the library's message) when invalid."""
    import jsonpath_rfc9535

    try:
        query = jsonpath_rfc9535.compile(source)
    except jsonpath_rfc9535.JSONPathError as exc:
        raise ValueError(f"JSONPath {source!r} is not valid RFC 9535: {exc}") from None
    return JsonPath(source, _singular_steps(query), query)


def _singular_steps(query: Any) -> tuple[str | int, ...] | None:
    from jsonpath_rfc9535.segments import JSONPathChildSegment
    from jsonpath_rfc9535.selectors import IndexSelector, NameSelector

    steps: list[str | int] = []
    for segment in query.segments:
        if type(segment) is not JSONPathChildSegment or len(segment.selectors) != 1:
            return None
        selector = segment.selectors[0]
        if type(selector) is NameSelector:
            steps.append(selector.name)
        elif type(selector) is IndexSelector:
            steps.append(selector.index)
        else:
            return None
    return tuple(steps)
