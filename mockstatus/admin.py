"""The admin API under /__mockstatus (SCENARIOS.md): health, scenarios, reset, journal, clock,
metrics and the status catalog.

Two layers:
* `Admin.dispatch(method, path, query, body)` does the work and returns a `Reply`; every bad input
  becomes a 4xx `Reply` (never an exception, never a 500). The pytest plugin calls it directly on
  the server's loop in its in-process mode, so both of its modes run the same code.
* `Admin.handle(request)` is the HTTP face: it reads the (bounded) body, checks the admin token on
  mutations, and turns the `Reply` into a response.

With a token configured, every call needs `Authorization: Bearer <token>` except the reads of
`OPEN_READS` (health, catalog, clock, metrics). Browsers are kept out of mutations whatever the
token (`_cross_site`), and, when the server listens on loopback only, a `Host` that is not a
loopback name is refused (DNS rebinding). No admin response carries CORS headers, so a page of
another origin cannot read one.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import inspect
import ipaddress
import json
import math
import random
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

from aiohttp import web

from mockstatus import codes, endpoints, queries, semantics
from mockstatus.errors import ScenarioError
from mockstatus.http_syntax import ADMIN_PREFIX as PREFIX
from mockstatus.http_syntax import JOURNAL_FILTERS
from mockstatus.journal import Filter, Journal, WaitersFull, as_text
from mockstatus.limits import MAX_ADMIN_WAIT as MAX_WAIT
from mockstatus.limits import MAX_ADVANCE, MAX_CLOCK_WALL, MAX_NAME, MAX_UPLOAD
from mockstatus.metrics import CONTENT_TYPE as METRICS_TYPE
from mockstatus.metrics import Metrics
from mockstatus.scenarios import state_api
from mockstatus.scenarios.collector import collector_paused
from mockstatus.scenarios.nearmiss import unmatched
from mockstatus.scenarios.shadow import shadowing
from mockstatus.scenarios.store import ScenarioStore, UploadRefused
from mockstatus.types import Clock, Interim, RequestFacts

# (path template, methods); HEAD is allowed wherever GET is.
ENDPOINTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("/health", ("GET",)),
    ("/scenarios", ("GET",)),
    ("/scenarios/{name}", ("GET", "PUT", "DELETE")),
    ("/scenarios/{name}/state/{machine}", ("GET", "PUT")),
    ("/reset", ("POST",)),
    ("/reload", ("POST",)),
    ("/requests", ("GET", "DELETE")),
    ("/requests/wait", ("GET",)),
    ("/requests/unmatched", ("GET",)),
    ("/clock", ("GET",)),
    ("/clock/advance", ("POST",)),
    ("/metrics", ("GET",)),
    ("/catalog", ("GET",)),
    ("/catalog/{code}", ("GET",)),
    ("/purge", ("POST",)),
)
_METHODS = dict(ENDPOINTS)
READ_METHODS = frozenset({"GET", "HEAD"})
# Reads that stay open when a token is set: nothing in them comes from other clients' requests.
OPEN_READS = frozenset({"/health", "/catalog", "/catalog/{code}", "/clock", "/metrics"})


@dataclass(frozen=True, slots=True)
class Reply:
    """What an admin endpoint answers: a JSON document (or `text` for the metrics)."""

    status: int
    doc: Any = None
    text: str | None = None
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    close: bool = False
    compact: bool = False  # large documents (the catalog) are sent without indentation
    encoded: bytes | None = None  # `doc` encoded once already (the cached catalog)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class AdminError(Exception):
    """Bad input to the admin API: becomes a 4xx JSON reply."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        headers: tuple[tuple[str, str], ...] = (),
        close: bool = False,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers
        self.close = close
        self.extra = extra

    def reply(self) -> Reply:
        return error_reply(
            self.status, self.message, headers=self.headers, close=self.close, **self.extra
        )


def error_reply(
    status: int,
    message: str,
    *,
    headers: tuple[tuple[str, str], ...] = (),
    close: bool = False,
    **extra: Any,
) -> Reply:
    doc = {"code": status, "reason": codes.lookup(status).reason, "error": message, **extra}
    return Reply(status, doc, headers=headers, close=close)


# --- query parameters ------------------------------------------------------------------------


def _check_params(query: Mapping[str, str], accepted: tuple[str, ...], where: str) -> None:
    for key in query:
        if key not in accepted:
            names = ", ".join(accepted) if accepted else "none"
            raise AdminError(
                400, f"unknown parameter {key!r} for {where}; accepted parameters: {names}"
            )


@overload
def _int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int: ...
@overload
def _int_param(
    query: Mapping[str, str], name: str, default: None, low: int, high: int
) -> int | None: ...
def _int_param(
    query: Mapping[str, str], name: str, default: int | None, low: int, high: int
) -> int | None:
    text = query.get(name)
    if text is None:
        return default
    text = text.strip()
    # Length first: int() of 4,301+ digits raises Python's own message, not ours.
    digits = text.lstrip("0") or "0"
    if (
        not (text.isascii() and text.isdigit())
        or len(digits) > len(str(high))
        or not low <= int(digits) <= high
    ):
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise AdminError(400, f"invalid {name} {shown!r}: an integer from {low} to {high}")
    return int(digits)


@overload
def _float_param(
    query: Mapping[str, str], name: str, default: float, low: float, high: float
) -> float: ...
@overload
def _float_param(
    query: Mapping[str, str], name: str, default: None, low: float, high: float
) -> float | None: ...
def _float_param(
    query: Mapping[str, str], name: str, default: float | None, low: float, high: float
) -> float | None:
    text = query.get(name)
    if text is None:
        return default
    try:
        value = float(text) if text.isascii() else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not low <= value <= high:
        raise AdminError(400, f"invalid {name} {text!r}: a number from {low:g} to {high:g}")
    return value


def _text_param(query: Mapping[str, str], name: str) -> str | None:
    value = query.get(name)
    if value is not None and (len(value) > 2000 or any(ord(c) < 32 for c in value)):
        raise AdminError(400, f"invalid {name}: at most 2000 characters, no control characters")
    return value


def journal_filter(query: Mapping[str, str]) -> tuple[Filter, int | None]:
    """The journal filter a query asks for (`route`, `path`, `session`, `method`, `scenario`,
    `status`, `since`, `limit`). `since` is a journal `seq` (below 1e9) or an epoch time."""
    status = _int_param(query, "status", None, codes.MIN_CODE, codes.MAX_CODE)
    method = _text_param(query, "method")
    flt = Filter(
        route=_text_param(query, "route"),
        path=_text_param(query, "path"),
        session=_text_param(query, "session"),
        method=method.upper() if method else None,
        scenario=_text_param(query, "scenario"),
        status=status,
        since=_float_param(query, "since", None, 0.0, 1e12),
    )
    return flt, _int_param(query, "limit", None, 1, 10**9)


# --- the catalog -----------------------------------------------------------------------------

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


def _catalog_plans(sem: semantics.StatusSemantics, code: int, fmt: str):
    """The final plan `GET /status/{code}` answers with (default options), and whether it varies
    per request: the server's own code path (endpoints.status_plan), not a copy of its rules."""
    facts = RequestFacts(
        method="GET", path=f"/status/{code}", headers={"accept": queries.FORMATS[fmt]}
    )
    plan = endpoints.status_plan(facts, str(code), sem)
    again = endpoints.status_plan(facts, str(code), sem)
    varies = plan.body != again.body or plan.headers != again.headers
    return plan, varies


def _catalog_interims(code: int) -> tuple[Interim, ...]:
    if code >= 200 or code == 101:
        return ()
    return semantics.interims_for(code, queries.DEFAULT_OPTIONS, (1, 1))


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
        plans = (
            {} if code == 101 else {fmt: _catalog_plans(sem, code, fmt) for fmt in queries.FORMATS}
        )
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
        "formats": dict(queries.FORMATS),
        "every_response": [list(h) for h in every] + [["Date", "<the current HTTP-date>"]],
        "count": len(entries),
        "codes": entries,
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
    global _CATALOG
    if _CATALOG is None:
        _CATALOG = build_catalog()
    return _CATALOG


CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
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


# --- the API ---------------------------------------------------------------------------------


class Admin:
    def __init__(
        self,
        *,
        store: ScenarioStore,
        journal: Journal,
        metrics: Metrics,
        clock: Clock,
        token: str | None,
        clock_controllable: bool,
        loopback_only: bool = False,
    ) -> None:
        self.store = store
        self.journal = journal
        self.metrics = metrics
        self.clock = clock
        self.token = token
        self.clock_controllable = clock_controllable
        self.loopback_only = loopback_only  # the server listens on loopback addresses only
        self._handlers: dict[tuple[str, str], Callable[..., Any]] = {
            ("/health", "GET"): self._health,
            ("/scenarios", "GET"): self._list_scenarios,
            ("/scenarios/{name}", "GET"): self._get_scenario,
            ("/scenarios/{name}", "PUT"): self._put_scenario,
            ("/scenarios/{name}", "DELETE"): self._delete_scenario,
            ("/scenarios/{name}/state/{machine}", "GET"): state_api.handle,
            ("/scenarios/{name}/state/{machine}", "PUT"): state_api.handle,
            ("/reset", "POST"): self._reset,
            ("/reload", "POST"): self._reload,
            ("/requests", "GET"): self._get_requests,
            ("/requests", "DELETE"): self._delete_requests,
            ("/requests/wait", "GET"): self._wait,
            ("/requests/unmatched", "GET"): self._get_unmatched,
            ("/clock", "GET"): self._get_clock,
            ("/clock/advance", "POST"): self._advance,
            ("/metrics", "GET"): self._metrics,
            ("/catalog", "GET"): self._catalog,
            ("/catalog/{code}", "GET"): self._catalog_code,
            ("/purge", "POST"): self._purge,
        }

    # --- HTTP ----------------------------------------------------------------------------------

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path[len(PREFIX) :]
        method = request.method
        try:
            if self.loopback_only and not _loopback_host(request.headers.get("Host")):
                raise AdminError(
                    403,
                    f"the admin API answers only loopback Host names (localhost, 127.0.0.1, "
                    f"[::1]) while the server listens on loopback only; Host "
                    f"{as_text(request.headers.get('Host', ''))[0][:200]!r} is refused "
                    "(DNS rebinding)",
                )
            template, _arg = _resolve(path)
            _check_method(template, method)
            mutation = method not in READ_METHODS
            if mutation:
                refused = _cross_site(request)
                if refused is not None:
                    raise AdminError(
                        403,
                        f"cross-site admin mutations are refused ({refused}): call the admin "
                        "API from a test, a script or curl, not from a web page",
                    )
            if (mutation or template not in OPEN_READS) and not self._authorised(request):
                # RFC 6750 §3.1: an error code only when a token was presented (and was wrong).
                challenge = 'Bearer realm="mockstatus-admin"'
                if "Authorization" in request.headers:
                    challenge += ', error="invalid_token"'
                raise AdminError(
                    401,
                    "this admin call needs Authorization: Bearer <token> (MOCKSTATUS_ADMIN_TOKEN); "
                    "only health, catalog, clock and metrics are open",
                    headers=(("WWW-Authenticate", challenge),),
                )
            body = await _read_body(request) if method == "PUT" else None
            reply = await self.dispatch(method, path, request.query, body)
        except AdminError as err:
            reply = err.reply()
        return _response(reply)

    def _authorised(self, request: web.BaseRequest) -> bool:
        if not self.token:
            return True
        given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
        return hmac.compare_digest(given, f"Bearer {self.token}".encode())

    # --- dispatch ------------------------------------------------------------------------------

    async def dispatch(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: bytes | None = None,
        *,
        base_dir: Path | None = None,
    ) -> Reply:
        """Answer one admin call (`path` without the /__mockstatus prefix). Never raises for bad
        input: it becomes a 4xx Reply. `base_dir` (Python callers only) is where an uploaded
        scenario's `file:` resolves."""
        query = query if query is not None else {}
        try:
            template, arg = _resolve(path)
            _check_method(template, method)
            handler = self._handlers[(template, "GET" if method == "HEAD" else method)]
            where = f"{method} {PREFIX}{template}"
            if template == "/scenarios/{name}":
                _check_params(query, ("owner",) if method == "PUT" else (), where)
                name = _scenario_name(arg)
                owner = _text_param(query, "owner")  # checked before anything is stored
                if method == "PUT":
                    return self._tagged(
                        await self._put_scenario(name, body or b"", base_dir), name, owner
                    )
                return await _settled(handler(name))
            if template == "/scenarios/{name}/state/{machine}":
                status, doc = state_api.handle(self.store.runtime, method, arg, query, body)
                return Reply(status, doc) if status == 200 else error_reply(status, doc["error"])
            if template == "/catalog/{code}":
                _check_params(query, (), where)
                return handler(arg)
            return await _settled(handler(query, where))
        except AdminError as err:
            return err.reply()
        except ValueError as err:  # a defensive net: bad input is a 400, never a 500
            return error_reply(400, str(err))

    # --- scenarios -----------------------------------------------------------------------------

    def _health(self, query: Mapping[str, str], where: str) -> Reply:
        _check_params(query, (), where)
        return Reply(200, {"status": "ok"})

    def describe_scenarios(self) -> dict[str, Any]:
        runtime = self.store.runtime
        return {
            "folder": str(self.store.folder) if self.store.folder else None,
            "scenarios": runtime.describe() if runtime is not None else [],
            "uploads": sorted(self.store.uploads),
            "errors": [
                {
                    "file": p.file,
                    "line": p.line,
                    "column": p.column,
                    "message": p.message,
                    "text": str(p),
                }
                for p in self.store.errors
            ],
            "reloads": self.store.reloads,
            "load_failures": self.store.load_failures,
        }

    def _describe_one(self, name: str) -> dict[str, Any] | None:
        runtime = self.store.runtime
        for item in runtime.describe() if runtime is not None else []:
            if item["name"] == name:
                return item
        return None

    def _list_scenarios(self, query: Mapping[str, str], where: str) -> Reply:
        """The scenarios in route order (first tried first), each with its `source` and `rank`."""
        _check_params(query, (), where)
        doc = self.describe_scenarios()
        current = self.store.current
        for item in doc["scenarios"]:
            item["source"] = current.source(item["name"])
            item["rank"] = current.rank(item["name"])
        return Reply(200, doc)

    def _get_scenario(self, name: str) -> Reply:
        item = self._describe_one(name)
        if item is None:
            return error_reply(404, f"no scenario named {name!r}")
        return Reply(200, item)

    async def _put_scenario(self, name: str, raw: bytes, base_dir: Path | None = None) -> Reply:
        """Add or replace an upload: parsed and built off the event loop; the answer says where
        it stands in the route order and which routes it hides or is hidden by."""
        if len(raw) > MAX_UPLOAD:
            return error_reply(413, f"a scenario upload is at most {MAX_UPLOAD} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            return error_reply(400, f"the scenario must be UTF-8 YAML (byte {err.start} is not)")
        created = name not in self.store.uploads
        try:
            await self.store.put_async(name, text, base_dir)
        except UploadRefused as err:
            return error_reply(err.status, err.message, cap=err.cap, limit=err.limit)
        except ScenarioError as err:
            return error_reply(
                400,
                f"the scenario {name!r} was rejected ({len(err.problems)} problem"
                f"{'s' if len(err.problems) != 1 else ''})",
                problems=[str(p) for p in err.problems],
                details=[
                    {"file": p.file, "line": p.line, "column": p.column, "message": p.message}
                    for p in err.problems
                ],
            )
        current = self.store.current
        with collector_paused():  # a large set makes many objects: see the store
            report = await asyncio.to_thread(shadowing, current, name)
        item = self._describe_one(name) or {"name": name}
        order = {"source": current.source(name), "rank": current.rank(name)}
        return Reply(201 if created else 200, {**item, **order, "created": created, **report})

    async def _delete_scenario(self, name: str) -> Reply:
        if await self.store.delete_async(name):  # rebuilt off the loop
            return Reply(200, {"deleted": name})
        return error_reply(404, f"no scenario named {name!r}")

    def _tagged(self, reply: Reply, name: str, owner: str | None) -> Reply:
        """A stored upload is tagged with its `owner` (`PUT ...?owner=`), for POST /purge."""
        if reply.ok:
            self.store.tag_upload(name, owner)
        return reply

    async def _purge(self, query: Mapping[str, str], where: str) -> Reply:
        """Remove the uploads tagged with `owner` (`PUT ...?owner=`): one test run's, not what
        others uploaded (a CI step's) nor the folder's. Without `owner`, every upload."""
        _check_params(query, ("owner",), where)
        owner = _text_param(query, "owner")
        if owner == "":
            raise AdminError(400, "invalid owner '': POST /__mockstatus/purge?owner=<id>")
        names = self.store.uploads_of(owner)
        for name in names:
            await self.store.delete_async(name)
        return Reply(200, {"purged": "all" if owner is None else owner, "removed": names})

    def _reset(self, query: Mapping[str, str], where: str) -> Reply:
        _check_params(query, ("session",), where)
        session = _text_param(query, "session")
        self.store.reset(session)
        raw = _as_received(session)
        if raw != session:  # the journal shows a non-UTF-8 session as ISO-8859-1: reset that too
            self.store.reset(raw)
        return Reply(200, {"reset": session if session is not None else "all"})

    async def _reload(self, query: Mapping[str, str], where: str) -> Reply:
        _check_params(query, (), where)
        ok = await self.store.reload_async()  # parsed and built off the loop
        doc = self.describe_scenarios()
        if ok:
            return Reply(200, doc)
        return error_reply(
            400, "the scenarios folder is invalid; still serving the last good configuration", **doc
        )

    # --- journal -------------------------------------------------------------------------------

    def _get_requests(self, query: Mapping[str, str], where: str) -> Reply:
        """A page of the journal: with `since`, the first `limit` matches after it; without,
        the last `limit`. `limit` defaults to the journal size (the whole journal)."""
        _check_params(query, JOURNAL_FILTERS, where)
        flt, limit = journal_filter(query)
        page = self.journal.page(flt, limit or self.journal.size)
        return Reply(
            200,
            {
                "count": len(page.entries),
                "requests": [e.to_dict() for e in page.entries],
                "next_since": page.next_since,
                "more": page.more,
            },
        )

    def _get_unmatched(self, query: Mapping[str, str], where: str) -> Reply:
        """Requests no route matched (near misses or the final 404): nearmiss.unmatched."""
        _check_params(query, JOURNAL_FILTERS, where)
        flt, limit = journal_filter(query)
        found = unmatched(self.journal.select(flt), limit)
        return Reply(200, {"count": len(found), "requests": [e.to_dict() for e in found]})

    def _delete_requests(self, query: Mapping[str, str], where: str) -> Reply:
        _check_params(query, ("session",), where)
        session = _text_param(query, "session")
        removed = self.journal.clear(session)
        return Reply(
            200, {"cleared": session if session is not None else "all", "removed": removed}
        )

    async def _wait(self, query: Mapping[str, str], where: str) -> Reply:
        _check_params(query, (*JOURNAL_FILTERS, "count", "timeout"), where)
        flt, limit = journal_filter(query)
        count = _int_param(query, "count", 1, 1, self.journal.size)
        timeout = _float_param(query, "timeout", 10.0, 0.0, MAX_WAIT)
        try:
            entries = await self.journal.wait(flt, count, timeout, keep=limit)
        except WaitersFull as err:
            raise AdminError(503, str(err), headers=(("Retry-After", "1"),)) from None
        done = len(entries) >= count
        if limit:
            entries = entries[-limit:]
        return Reply(
            200 if done else 408,
            {
                "count": len(entries),
                "wanted": count,
                "complete": done,
                "requests": [e.to_dict() for e in entries],
            },
        )

    # --- clock ---------------------------------------------------------------------------------

    def _clock_doc(self) -> dict[str, Any]:
        return {
            "monotonic": self.clock.monotonic(),
            "wall": self.clock.wall(),
            "controllable": self.clock_controllable,
        }

    def _get_clock(self, query: Mapping[str, str], where: str) -> Reply:
        _check_params(query, (), where)
        return Reply(200, self._clock_doc())

    def _advance(self, query: Mapping[str, str], where: str) -> Reply:
        _check_params(query, ("seconds",), where)
        if not self.clock_controllable:
            return error_reply(
                409,
                "the clock is not controllable: start the server with --clock manual "
                "(or MOCKSTATUS_CLOCK=manual) to move it with POST /__mockstatus/clock/advance",
            )
        if "seconds" not in query:
            raise AdminError(400, "seconds is required: POST /__mockstatus/clock/advance?seconds=N")
        seconds = _float_param(query, "seconds", 0.0, 0.0, MAX_ADVANCE)
        assert seconds is not None
        if self.clock.wall() + seconds > MAX_CLOCK_WALL:
            # HTTP-dates, `{{ now }}` and datetime end with year 9999: refuse now, not fail later.
            raise AdminError(
                400,
                f"invalid seconds {query['seconds']!r}: the clock would pass "
                "9999-12-31T23:59:59Z, the last time an HTTP-date can carry",
            )
        self.clock.advance(seconds)  # type: ignore[attr-defined]
        return Reply(200, {**self._clock_doc(), "advanced": seconds})

    # --- metrics and catalog -------------------------------------------------------------------

    def _metrics(self, query: Mapping[str, str], where: str) -> Reply:
        _check_params(query, (), where)
        store = self.store
        runtime = store.runtime
        text = self.metrics.render(
            rate_limited=runtime.rejections if runtime is not None else {},
            reloads=store.reloads,
            load_failures=store.load_failures,
            load_errors=len(store.errors),
            scenarios=len(store.current.scenarios),
            journal_entries=len(self.journal.entries),
            journal_bytes=self.journal.bytes,
            waiters=self.journal.waiting,
        )
        return Reply(200, text=text, content_type=METRICS_TYPE)

    def _catalog(self, query: Mapping[str, str], where: str) -> Reply:
        _check_params(query, ("class",), where)
        wanted = query.get("class")
        if wanted is not None and wanted not in CLASSES:
            raise AdminError(400, f"invalid class {wanted!r}: one of {', '.join(CLASSES)}")
        return catalog_reply(wanted)

    def _catalog_code(self, arg: str) -> Reply:
        text = arg.strip()
        if not (text.isascii() and text.isdigit()) or not (
            codes.MIN_CODE <= int(text) <= codes.MAX_CODE
        ):
            raise AdminError(
                400, f"invalid status code {arg!r}: valid codes are {codes.VALID_RANGE}"
            )
        return catalog_reply(int(text))


# --- helpers ---------------------------------------------------------------------------------


def _resolve(path: str) -> tuple[str, str]:
    """(endpoint template, its {argument}) of an admin path; AdminError 404 when unknown."""
    path = path.rstrip("/") or "/"
    if path in _METHODS and "{" not in path:
        return path, ""
    if path.startswith("/scenarios/") and "/state/" in path:
        return "/scenarios/{name}/state/{machine}", path[len("/scenarios/") :]
    for template in ("/scenarios/", "/catalog/"):
        if path.startswith(template):
            return template + ("{name}" if template == "/scenarios/" else "{code}"), path[
                len(template) :
            ]
    listing = [f"{', '.join(m)} {PREFIX}{t}" for t, m in ENDPOINTS]
    raise AdminError(404, f"no admin endpoint {PREFIX}{path}", endpoints=listing)


def _check_method(template: str, method: str) -> None:
    allowed = _METHODS[template]
    if method in allowed or (method == "HEAD" and "GET" in allowed):
        return
    names = ", ".join((*allowed, "HEAD") if "GET" in allowed else allowed)
    raise AdminError(405, f"{PREFIX}{template} accepts {names}", headers=(("Allow", names),))


def _scenario_name(name: str) -> str:
    if not name or "/" in name or len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
        raise AdminError(
            400,
            f"invalid scenario name {name[:MAX_NAME]!r}: one path segment of at most "
            f"{MAX_NAME} characters, no control characters",
        )
    return name


async def _settled(reply: Reply | Awaitable[Reply]) -> Reply:
    """Handlers that rebuild scenarios or wait are coroutines; the rest answer at once."""
    return await reply if inspect.isawaitable(reply) else reply


async def _read_body(request: web.BaseRequest) -> bytes:
    """The request body, at most MAX_UPLOAD bytes (413 beyond, without reading the rest)."""
    length = request.content_length
    if length is not None and length > MAX_UPLOAD:
        raise AdminError(413, f"a scenario upload is at most {MAX_UPLOAD} bytes", close=True)
    if request.headers.get("Expect", "").lower() == "100-continue" and request.version >= (1, 1):
        from mockstatus import wire

        await wire.write_interim(request, Interim(100, "Continue"))
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(65536)
        if not chunk:
            break
        size += len(chunk)
        if size > MAX_UPLOAD:
            raise AdminError(413, f"a scenario upload is at most {MAX_UPLOAD} bytes", close=True)
        chunks.append(chunk)
    return b"".join(chunks)


def reply_json(reply: Reply) -> bytes:
    """The JSON body of a reply, exactly as the HTTP face sends it (the pytest plugin's
    in-process mode decodes this, so both of its modes see the same values)."""
    return reply.encoded if reply.encoded is not None else _encode(reply.doc, reply.compact)


def _encode(doc: Any, compact: bool) -> bytes:
    """JSON as UTF-8. A string holding a non-UTF-8 byte (a lone surrogate from aiohttp's
    surrogateescape decoding, e.g. a session name in the scenario states) is written decoded as
    ISO-8859-1, as the journal does: valid Unicode for every JSON parser, never a 500."""
    indent = None if compact else 2
    text = json.dumps(doc, indent=indent, ensure_ascii=False)
    try:
        return text.encode() + b"\n"
    except UnicodeEncodeError:
        text = json.dumps(_valid_text(doc), indent=indent, ensure_ascii=False)
        return text.encode() + b"\n"


def _valid_text(value: Any) -> Any:
    if isinstance(value, str):
        return as_text(value)[0]
    if isinstance(value, dict):
        return {_valid_text(k): _valid_text(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_valid_text(v) for v in value]
    return value


def _as_received(shown: str | None) -> str | None:
    """The string aiohttp made of a header whose bytes the journal shows as ISO-8859-1 (the
    inverse of `journal.as_text` for such values); `shown` itself when it is no such value."""
    if shown is None or shown.isascii():
        return shown
    try:
        raw = shown.encode("latin-1")
    except UnicodeEncodeError:
        return shown
    return raw.decode("utf-8", "surrogateescape")


def _loopback_host(host: str | None) -> bool:
    """Whether a Host field names this machine's loopback: localhost, 127.x.x.x or [::1], with
    an optional port. No Host (HTTP/1.0) is not a browser's request: accepted."""
    return host is None or _loopback_name(_host_name(host))


def _loopback_name(name: str | None) -> bool:
    if name is None:
        return False
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _host_name(authority: str) -> str | None:
    """The lower-cased host of `host[:port]` (IPv6 without brackets); None when malformed."""
    try:
        parts = urllib.parse.urlsplit("//" + authority.strip())
        _ = parts.port  # ValueError on a bad port
    except ValueError:
        return None
    if parts.username is not None or parts.path or parts.query or parts.fragment:
        return None
    return parts.hostname or None


def _cross_site(request: web.BaseRequest) -> str | None:
    """Why a mutation comes from another site's web page, or None. Browsers send simple POSTs
    to localhost without a preflight; they also say where a request comes from: the Fetch
    metadata `Sec-Fetch-Site`, and `Origin` (`null` for sandboxed and file: pages). A page on the
    host the client addressed (any port) is the same site; loopback names are one site."""
    headers = request.headers
    if headers.get("Sec-Fetch-Site", "").strip().lower() == "cross-site":
        return "Sec-Fetch-Site: cross-site"
    origin = headers.get("Origin")
    if origin is None:
        return None
    shown = as_text(origin)[0][:200]
    try:
        parts = urllib.parse.urlsplit(origin.strip())
        origin_host = parts.hostname if parts.scheme in ("http", "https") else None
    except ValueError:
        origin_host = None
    target = _host_name(headers.get("Host", ""))
    if origin_host is None or target is None:
        return f"Origin: {shown}"
    if origin_host == target or (_loopback_name(origin_host) and _loopback_name(target)):
        return None
    return f"Origin: {shown}"


def _response(reply: Reply) -> web.Response:
    body = reply.text.encode() if reply.text is not None else reply_json(reply)
    resp = web.Response(
        status=reply.status,
        body=body,
        headers={
            "Content-Type": reply.content_type
            if reply.text is not None
            else "application/json; charset=utf-8",
            "Server": semantics.SERVER,
            "Cache-Control": "no-store",
            **dict(reply.headers),
        },
    )
    if reply.close:
        resp.force_close()
    return resp
