"""The status catalog: what every code 100–599 emits by default (`GET /__mockstatus/catalog`, the
generated status-codes page), built from the same code path `/status/{code}` answers with, never
a copy of its rules. Pure: no aiohttp."""

from __future__ import annotations

import base64
import random
from typing import Any

from mockstatus import codes, endpoints, semantics
from mockstatus.admin_reply import Reply, _encode
from mockstatus.types import DEFAULT_OPTIONS, FORMATS, Interim, RequestFacts, ResponsePlan

CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")

_CATALOG: dict[str, Any] | None = None
_CATALOG_NOTES = {
    100: "With `Expect: 100-continue` the 100 is sent before the body is read (or withheld, "
    "delayed or replaced by 417 via ?continue=); without it, one unsolicited 100 precedes "
    "the final response.",
    101: "With `Upgrade: websocket` (a valid handshake) a WebSocket that echoes messages; with "
    "another Upgrade token, 101 and the raw bytes echoed; without Upgrade, 426 Upgrade Required.",
    102: "One 102 at once, then one every ?interval= (default 1 s) while ?sleep= runs.",
    206: "Byte ranges of a deterministic ?size= representation; without a Range header, as if "
    "bytes=0-511 had been asked. Several ranges give multipart/byteranges; 416 when unsatisfiable.",
}


def _text_or_b64(body: bytes) -> dict[str, Any]:
    try:
        return {"body": body.decode("utf-8"), "body_encoding": "utf-8"}
    except UnicodeDecodeError:
        return {"body": base64.b64encode(body).decode(), "body_encoding": "base64"}


def _catalog_plans(
    sem: semantics.StatusSemantics, code: int, fmt: str
) -> tuple[ResponsePlan, bool]:
    """The final plan `GET /status/{code}` answers with (default options), and whether it varies
    per request: the server's own code path (endpoints.status_plan), not a copy of its rules."""
    facts = RequestFacts(method="GET", path=f"/status/{code}", headers={"accept": FORMATS[fmt]})
    plan = endpoints.status_plan(facts, str(code), sem)
    again = endpoints.status_plan(facts, str(code), sem)
    varies = plan.body != again.body or plan.headers != again.headers
    return plan, varies


def _catalog_interims(code: int) -> tuple[Interim, ...]:
    if code >= 200 or code == 101:
        return ()
    return semantics.interims_for(code, DEFAULT_OPTIONS, (1, 1))


def build_catalog() -> dict[str, Any]:
    """What every code 100–599 emits by default, from the same rules the server answers with.

    Built once with its own seeded random source, so asking for it never disturbs the server's
    (seeded) choices. Headers every response carries are listed once, in `every_response`.
    """
    sem = semantics.StatusSemantics(random.Random(0))
    aliases: dict[int, list[str]] = {}
    for alias, code in sorted(codes.aliases().items()):
        aliases.setdefault(code, []).append(alias)
    raw: list[dict[str, Any]] = []
    for code in range(codes.MIN_CODE, codes.MAX_CODE + 1):
        info = codes.lookup(code)
        plans = {} if code == 101 else {fmt: _catalog_plans(sem, code, fmt) for fmt in FORMATS}
        interims = _catalog_interims(code)
        raw.append(
            {"info": info, "plans": plans, "interims": interims, "aliases": aliases.get(code, [])}
        )
    every: list[tuple[str, str]] | None = None
    for item in raw:
        for plan, _ in item["plans"].values():
            pairs = list(plan.headers)
            every = pairs if every is None else [h for h in every if h in pairs]
    every = every or []
    entries = [_catalog_entry(item, every) for item in raw]
    return {
        "server": semantics.SERVER,
        "range": codes.VALID_RANGE,
        "formats": dict(FORMATS),
        "every_response": [list(h) for h in every] + [["Date", "<the current HTTP-date>"]],
        "count": len(entries),
        "codes": entries,
        # the built-in endpoints beside the codes (docs/httpbin.md)
        "endpoints": [{"path": p, "description": d} for p, d in endpoints.ENDPOINTS],
    }


def _catalog_entry(item: dict[str, Any], every: list[tuple[str, str]]) -> dict[str, Any]:
    info: codes.StatusInfo = item["info"]
    plans: dict[str, tuple[Any, bool]] = item["plans"]
    per_format = {  # Content-Type is each body's `content_type`
        fmt: [h for h in plan.headers if h not in every and h[0].lower() != "content-type"]
        for fmt, (plan, _) in plans.items()
    }
    common = (
        [h for h in next(iter(per_format.values())) if all(h in hs for hs in per_format.values())]
        if per_format
        else []
    )
    bodies = {}
    final = None
    bodiless = content_length_zero = close = dynamic = False
    for fmt, (plan, varies) in plans.items():
        final = plan.status
        bodiless, content_length_zero, close = plan.bodiless, plan.content_length_zero, plan.close
        dynamic = dynamic or varies
        content_type = next((v for n, v in plan.headers if n.lower() == "content-type"), None)
        has_body = not (plan.bodiless or plan.content_length_zero)
        bodies[fmt] = {
            "content_type": content_type,
            "headers": [list(h) for h in per_format[fmt] if h not in common],
            "content_length": len(plan.body)
            if has_body
            else (0 if plan.content_length_zero else None),
            **_text_or_b64(plan.body),
        }
    entry: dict[str, Any] = {
        "code": info.code,
        "reason": info.reason,
        "class": info.status_class,
        "class_name": info.class_name,
        "description": info.description,
        "rfc": info.rfc,
        "registered": info.registered,
        "aliases": item["aliases"],
        "interim": info.code < 200,
        "interims": [
            {"status": i.status, "reason": i.reason, "headers": [list(h) for h in i.headers]}
            for i in item["interims"]
        ],
        "final_status": final,
        "bodiless": bodiless,
        "content_length_zero": content_length_zero,
        "closes_connection": close,
        "dynamic": dynamic,
        "headers": [list(h) for h in common],
        "bodies": bodies,
    }
    if info.code in _CATALOG_NOTES:
        entry["notes"] = _CATALOG_NOTES[info.code]
    return entry


def catalog() -> dict[str, Any]:
    """The catalog, built on first use (about a second) and kept: it never changes."""
    global _CATALOG
    if _CATALOG is None:
        _CATALOG = build_catalog()
    return _CATALOG


_CATALOG_REPLIES: dict[str | int | None, Reply] = {}


def catalog_reply(key: str | int | None) -> Reply:
    """The catalog (None), one class ("4xx") or one code (404), encoded once: the whole catalog
    is ~600 KB of JSON, and it never changes while the server runs."""
    reply = _CATALOG_REPLIES.get(key)
    if reply is None:
        doc = catalog()
        if isinstance(key, int):
            doc = doc["codes"][key - codes.MIN_CODE]
        elif key is not None:
            entries = [e for e in doc["codes"] if e["class"] == key]
            doc = {**doc, "count": len(entries), "codes": entries}
        compact = not isinstance(key, int)
        reply = Reply(200, doc, compact=compact, encoded=_encode(doc, compact))
        _CATALOG_REPLIES[key] = reply
    return reply
