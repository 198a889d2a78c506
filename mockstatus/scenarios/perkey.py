"""`per:` — whose counter or state a request uses: `global`, `client` (the peer address),
`header:NAME`, `cookie:NAME` or `query:NAME` (a missing value is its own key, "")."""

from __future__ import annotations

from mockstatus.scenarios.request_parts import cookies
from mockstatus.types import RequestFacts

PLAIN = ("global", "client")
PREFIXED = ("header", "cookie", "query")


def per_value(per: str, facts: RequestFacts) -> str:
    """The key's value for this request (`header:` names are stored lower-case)."""
    if per == "global":
        return ""
    if per == "client":
        return facts.remote
    kind, _, name = per.partition(":")
    if kind == "header":
        return facts.headers.get(name.lower()) or ""
    if kind == "cookie":
        return cookies(facts, {}).get(name) or ""
    return facts.query.get(name) or ""
