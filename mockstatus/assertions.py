"""`assert_all_matched()`: the assertion the client and the pytest plugin share.

Kept apart from the client so that its message (which names each near miss) is written once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class UnmatchedRequests(AssertionError):
    """Some requests matched no scenario route; `requests` are their journal entries."""

    def __init__(self, message: str, requests: Sequence[Mapping[str, Any]]) -> None:
        super().__init__(message)
        self.requests = list(requests)


def check_all_matched(entries: Sequence[Mapping[str, Any]]) -> None:
    """Raise UnmatchedRequests naming each unmatched request and its near misses."""
    if not entries:
        return
    lines = [f"{len(entries)} request(s) matched no scenario route:"]
    for entry in entries[:20]:
        query = f"?{entry.get('query')}" if entry.get("query") else ""
        lines.append(f"  {entry.get('method')} {entry.get('path')}{query} -> {entry.get('status')}")
        misses = entry.get("near_misses") or []
        if not misses:
            lines.append("    (no route came close)")
        for miss in misses:
            lines.append(
                f"    near miss {miss.get('scenario')}/{miss.get('route')} "
                f"({miss.get('failed')}): {miss.get('detail')}"
            )
    if len(entries) > 20:
        lines.append(f"  ... and {len(entries) - 20} more")
    raise UnmatchedRequests("\n".join(lines), entries)
