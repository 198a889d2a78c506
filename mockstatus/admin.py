"""The admin API under /__mockstatus (SCENARIOS.md): health, scenarios, reset, journal, clock,
metrics and the status catalog.

Two layers:
* `Admin.dispatch(method, path, query, body)` does the work and returns a `Reply`; every bad input
  becomes a 4xx `Reply` (never an exception, never a 500). The pytest plugin calls it directly on
  the server's loop in its in-process mode, so both of its modes run the same code.
* `Admin.handle(request)` is the HTTP face: it reads the (bounded) body, checks the admin token on
  mutations, and turns the `Reply` into a response.

Mutations require `Authorization: Bearer <token>` when a token is configured; reads stay open.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from mockstatus import codes, endpoints, queries, semantics
from mockstatus.errors import ScenarioError
from mockstatus.journal import Filter, Journal
from mockstatus.limits import MAX_ADMIN_WAIT as MAX_WAIT
from mockstatus.limits import MAX_ADVANCE, MAX_NAME, MAX_UPLOAD
from mockstatus.metrics import CONTENT_TYPE as METRICS_TYPE
from mockstatus.metrics import Metrics
from mockstatus.scenarios.collector import collector_paused
from mockstatus.scenarios.shadow import shadowing
from mockstatus.scenarios.store import ScenarioStore, UploadRefused
from mockstatus.types import Clock, Interim, RequestFacts

PREFIX = "/__mockstatus"
JOURNAL_FILTERS = ("route", "path", "session", "method", "scenario", "status", "since", "limit")

# (path template, methods); HEAD is allowed wherever GET is.
ENDPOINTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("/health", ("GET",)),
    ("/scenarios", ("GET",)),
    ("/scenarios/{name}", ("GET", "PUT", "DELETE")),
    ("/reset", ("POST",)),
    ("/reload", ("POST",)),
    ("/requests", ("GET", "DELETE")),
    ("/requests/wait", ("GET",)),
    ("/clock", ("GET",)),
    ("/clock/advance", ("POST",)),
    ("/metrics", ("GET",)),
    ("/catalog", ("GET",)),
    ("/catalog/{code}", ("GET",)),
)
_METHODS = dict(ENDPOINTS)
READ_METHODS = frozenset({"GET", "HEAD"})


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


def _int_param(
    query: Mapping[str, str], name: str, default: int | None, low: int, high: int
) -> int | None:
    text = query.get(name)
    if text is None:
        return default
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise AdminError(400, f"invalid {name} {text!r}: an integer from {low} to {high}")
    return int(text)


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
    ) -> None:
        self.store = store
        self.journal = journal
        self.metrics = metrics
        self.clock = clock
        self.token = token
        self.clock_controllable = clock_controllable
        self._handlers: dict[tuple[str, str], Callable[..., Any]] = {
            ("/health", "GET"): self._health,
            ("/scenarios", "GET"): self._list_scenarios,
            ("/scenarios/{name}", "GET"): self._get_scenario,
            ("/scenarios/{name}", "PUT"): self._put_scenario,
            ("/scenarios/{name}", "DELETE"): self._delete_scenario,
            ("/reset", "POST"): self._reset,
            ("/reload", "POST"): self._reload,
            ("/requests", "GET"): self._get_requests,
            ("/requests", "DELETE"): self._delete_requests,
            ("/requests/wait", "GET"): self._wait,
            ("/clock", "GET"): self._get_clock,
            ("/clock/advance", "POST"): self._advance,
            ("/metrics", "GET"): self._metrics,
            ("/catalog", "GET"): self._catalog,
            ("/catalog/{code}", "GET"): self._catalog_code,
        }

    # --- HTTP ----------------------------------------------------------------------------------

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path[len(PREFIX) :]
        method = request.method
        try:
            template, _arg = _resolve(path)
            _check_method(template, method)
            if method not in READ_METHODS and not self._authorised(request):
                raise AdminError(
                    401,
                    "admin mutations need Authorization: Bearer <token> (MOCKSTATUS_ADMIN_TOKEN)",
                    headers=(("WWW-Authenticate", 'Bearer realm="mockstatus-admin"'),),
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
                _check_params(query, (), where)
                name = _scenario_name(arg)
                if method == "PUT":
                    return await self._put_scenario(name, body or b"", base_dir)
                return handler(name)
            if template == "/catalog/{code}":
                _check_params(query, (), where)
                return handler(arg)
            if template == "/requests/wait":
                return await handler(query, where)
            return handler(query, where)
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

    def _delete_scenario(self, name: str) -> Reply:
        if self.store.delete(name):
            return Reply(200, {"deleted": name})
        return error_reply(404, f"no scenario named {name!r}")

    def _reset(self, query: Mapping[str, str], where: str) -> Reply:
        _check_params(query, ("session",), where)
        session = _text_param(query, "session")
        self.store.reset(session)
        return Reply(200, {"reset": session if session is not None else "all"})

    def _reload(self, query: Mapping[str, str], where: str) -> Reply:
        _check_params(query, (), where)
        ok = self.store.reload()
        doc = self.describe_scenarios()
        if ok:
            return Reply(200, doc)
        return error_reply(
            400, "the scenarios folder is invalid; still serving the last good configuration", **doc
        )

    # --- journal -------------------------------------------------------------------------------

    def _get_requests(self, query: Mapping[str, str], where: str) -> Reply:
        _check_params(query, JOURNAL_FILTERS, where)
        flt, limit = journal_filter(query)
        entries = self.journal.select(flt, limit)
        return Reply(200, {"count": len(entries), "requests": [e.to_dict() for e in entries]})

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
        entries = await self.journal.wait(flt, count, timeout)
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
        )
        return Reply(200, text=text, content_type=METRICS_TYPE)

    def _catalog(self, query: Mapping[str, str], where: str) -> Reply:
        _check_params(query, ("class",), where)
        doc = catalog()
        wanted = query.get("class")
        if wanted is None:
            return Reply(200, doc, compact=True)
        if wanted not in ("1xx", "2xx", "3xx", "4xx", "5xx"):
            raise AdminError(400, f"invalid class {wanted!r}: one of 1xx, 2xx, 3xx, 4xx, 5xx")
        entries = [e for e in doc["codes"] if e["class"] == wanted]
        return Reply(200, {**doc, "count": len(entries), "codes": entries}, compact=True)

    def _catalog_code(self, arg: str) -> Reply:
        text = arg.strip()
        if not (text.isascii() and text.isdigit()) or not (
            codes.MIN_CODE <= int(text) <= codes.MAX_CODE
        ):
            raise AdminError(
                400, f"invalid status code {arg!r}: valid codes are {codes.VALID_RANGE}"
            )
        return Reply(200, catalog()["codes"][int(text) - codes.MIN_CODE])


# --- helpers ---------------------------------------------------------------------------------


def _resolve(path: str) -> tuple[str, str]:
    """(endpoint template, its {argument}) of an admin path; AdminError 404 when unknown."""
    path = path.rstrip("/") or "/"
    if path in _METHODS and "{" not in path:
        return path, ""
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


def _response(reply: Reply) -> web.Response:
    if reply.text is not None:
        body = reply.text.encode()
    else:
        indent = None if reply.compact else 2
        body = json.dumps(reply.doc, indent=indent, ensure_ascii=False).encode() + b"\n"
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
