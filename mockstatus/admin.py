"""The admin API under /__mockstatus (SCENARIOS.md): health, scenarios, reset, journal, clock,
metrics, purge and the status catalog.

One route table, `ROUTES`: a method, a path template (at most one `{argument}`), the handler,
the query parameters it accepts, and whether it is an open read. Every handler takes a `Call`
and returns a `Reply` (or a coroutine of one); adding an endpoint is a handler and a table row.

* `Admin.dispatch(method, path, query, body)` does the work; every bad input becomes a 4xx
  `Reply` (an `AdminError`, never a 500). The client's in-process mode calls it directly on the
  server's loop, so both of its modes run the same code.
* `Admin.handle(request)` is the HTTP face: it checks the caller (`admin_guard`), reads an
  upload through the transport's `BodySource`, and sends the `Reply` as a `ResponsePlan` through
  the wire, like every other response.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from mockstatus import admin_dashboard as dashboard
from mockstatus import wire
from mockstatus.admin_guard import check_caller, check_host
from mockstatus.admin_params import (
    as_received,
    check_params,
    check_utf8_path,
    float_param,
    int_param,
    journal_filter,
    scenario_name,
    status_code,
    text_param,
)
from mockstatus.admin_reply import AdminError, Reply, error_reply, reply_plan
from mockstatus.admin_reply import reply_json as reply_json  # re-exported: the client uses it
from mockstatus.catalog import CLASSES, catalog_reply
from mockstatus.catalog import build_catalog as build_catalog  # re-exported: scripts/gen-docs
from mockstatus.catalog import catalog as catalog  # re-exported
from mockstatus.errors import RequestError, ScenarioError
from mockstatus.expect import CONTINUE
from mockstatus.http_syntax import ADMIN_PREFIX as PREFIX
from mockstatus.http_syntax import JOURNAL_FILTERS, expects_continue
from mockstatus.journal import Journal, WaitersFull
from mockstatus.limits import BODY_READ_TIMEOUT, MAX_ADVANCE, MAX_CLOCK_WALL, MAX_UPLOAD
from mockstatus.limits import MAX_ADMIN_WAIT as MAX_WAIT
from mockstatus.metrics import CONTENT_TYPE as METRICS_TYPE
from mockstatus.metrics import Metrics
from mockstatus.scenarios import state_api
from mockstatus.scenarios.collector import collector_paused
from mockstatus.scenarios.loader import not_utf8
from mockstatus.scenarios.nearmiss import unmatched
from mockstatus.scenarios.shadow import shadowing
from mockstatus.scenarios.store import ScenarioStore, UploadRefused
from mockstatus.types import Clock
from mockstatus.wire.body import RequestBody


@dataclass(frozen=True, slots=True)
class Call:
    """One admin call as its handler sees it. `arg` is the template's `{argument}` ("" without);
    `base_dir` (Python callers only) is where an uploaded scenario's `file:` resolves."""

    method: str
    arg: str
    query: Mapping[str, str]
    body: bytes | None = None
    base_dir: Path | None = None


Handler = Callable[["Admin", Call], "Reply | Awaitable[Reply]"]


@dataclass(frozen=True, slots=True)
class Route:
    """One row of the route table; HEAD is allowed wherever GET is."""

    method: str
    template: str
    handler: Handler
    params: tuple[str, ...] = ()  # the query parameters it accepts (others are a 400)
    open: bool = False  # readable without the token: nothing in it comes from other clients


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
        body_read_timeout: float = BODY_READ_TIMEOUT,
    ) -> None:
        self.store = store
        self.journal = journal
        self.metrics = metrics
        self.clock = clock
        self.token = token
        self.clock_controllable = clock_controllable
        self.loopback_only = loopback_only  # the server listens on loopback addresses only
        self.body_read_timeout = body_read_timeout
        self.feed = dashboard.setup(self)  # the dashboard's event bus (events.py)
        # `--state`: a reset resets the shared store too (mockstatus.state.link)
        self.shared_reset: Callable[[str | None], Awaitable[None]] | None = None
        self.shared_states: (
            Callable[[Any, Call, dict[str, Any]], Awaitable[tuple[int, dict[str, Any]]]] | None
        ) = None
        # `--state`: the journal reads the shared stream before answering, and a clear is
        # shared (mockstatus.state.journal_share)
        self.journal_pull: Callable[[], Awaitable[None]] | None = None
        self.journal_clear: Callable[[str | None], Awaitable[int]] | None = None
        # GET /health; a worker of `serve --workers N` adds its index and pid (docs/scale-out.md)
        self.health: dict[str, object] = {"status": "ok"}

    # --- HTTP ----------------------------------------------------------------------------------

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path[len(PREFIX) :]
        method = request.method
        try:
            check_host(request.headers, self.loopback_only)
            if "%" in path:  # aiohttp leaves "%ff" undecoded: a name it cannot be, not "%ff"
                check_utf8_path(request.raw_path)
            route, _ = _route(path, method)
            check_caller(request.headers, method, route.open, self.token)
            feed = route.template == dashboard.FEED and method == "GET"
            if feed and isinstance(request, web.BaseRequest):
                return await self._feed(request)
            posts = method == "POST" and route.template == dashboard.OVERRIDE
            body = await self._upload(request) if method == "PUT" or posts else None
            reply = await self.dispatch(method, path, request.query, body)
        except AdminError as err:
            reply = err.reply()
        return wire.build_response(reply_plan(reply, method))

    async def _feed(self, request: web.BaseRequest) -> web.StreamResponse:
        from mockstatus.events import FeedFull
        from mockstatus.wire.feed import serve_feed  # imported when a dashboard connects

        try:
            return await serve_feed(request, self.feed, lambda: dashboard.snapshot(self))
        except FeedFull as err:
            raise AdminError(503, str(err), headers=(("Retry-After", "5"),)) from None

    async def _upload(self, request: web.BaseRequest) -> bytes:
        """The request body, at most MAX_UPLOAD bytes (413 beyond, without reading the rest)."""
        body = RequestBody(request, self.body_read_timeout, cap=MAX_UPLOAD)
        too_large = f"a scenario upload is at most {MAX_UPLOAD} bytes"
        if body.length is not None and body.length > MAX_UPLOAD:
            raise AdminError(413, too_large, close=True)
        if expects_continue(request.headers.get("Expect")) and request.version >= (1, 1):
            await body.send_continue(CONTINUE, 0.0)
        try:
            return await body.read()
        except RequestError as err:
            message = too_large if err.status == 413 else err.message
            raise AdminError(err.status, message, close=True) from None

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
        input: it becomes a 4xx Reply."""
        query = query if query is not None else {}
        try:
            route, arg = _route(path, method)
            check_params(query, route.params, f"{method} {PREFIX}{route.template}")
            call = Call(method, arg, query, body, base_dir)
            reply = route.handler(self, call)
            reply = await reply if inspect.isawaitable(reply) else reply
            if self.feed.subscribers and method != "GET":
                dashboard.after_call(self, route, call, reply)
            return reply
        except AdminError as err:
            return err.reply()
        except ValueError as err:  # a defensive net: bad input is a 400, never a 500
            return error_reply(400, str(err))

    # --- scenarios -----------------------------------------------------------------------------

    def _health(self, call: Call) -> Reply:
        return Reply(200, dict(self.health))

    def _list_scenarios(self, call: Call) -> Reply:
        """The scenarios in route order (first tried first), each with its `source` and `rank`."""
        doc = self.store.describe()
        current = self.store.current
        for item in doc["scenarios"]:
            item["source"] = current.source(item["name"])
            item["rank"] = current.rank(item["name"])
        return Reply(200, doc)

    def _get_scenario(self, call: Call) -> Reply:
        name = scenario_name(call.arg)
        item = self.store.describe_one(name)
        if item is None:
            return error_reply(404, f"no scenario named {name!r}")
        return Reply(200, item)

    async def _put_scenario(self, call: Call) -> Reply:
        """Add or replace an upload (tagged with `?owner=`, for POST /purge): parsed and built
        off the event loop; the answer says where it stands in the route order and which routes
        it hides or is hidden by."""
        name = scenario_name(call.arg)
        owner = text_param(call.query, "owner")  # checked before anything is stored
        raw = call.body or b""
        if len(raw) > MAX_UPLOAD:
            return error_reply(413, f"a scenario upload is at most {MAX_UPLOAD} bytes")
        created = name not in self.store.uploads
        try:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:  # located, like a folder file's
                raise ScenarioError([not_utf8(f"<upload:{name}>", raw, err)]) from None
            await self.store.put_async(name, text, call.base_dir)
        except UploadRefused as err:
            return error_reply(err.status, err.message, cap=err.cap, limit=err.limit)
        except ScenarioError as err:
            count = len(err.problems)
            return error_reply(
                400,
                f"the scenario {name!r} was rejected ({count} problem{'s' if count != 1 else ''})",
                problems=[str(p) for p in err.problems],
                details=[
                    {"file": p.file, "line": p.line, "column": p.column, "message": p.message}
                    for p in err.problems
                ],
            )
        self.store.tag_upload(name, owner)
        current = self.store.current
        with collector_paused():  # a large set makes many objects: see the store
            report = await asyncio.to_thread(shadowing, current, name)
        item = self.store.describe_one(name) or {"name": name}
        order = {"source": current.source(name), "rank": current.rank(name)}
        return Reply(201 if created else 200, {**item, **order, "created": created, **report})

    async def _delete_scenario(self, call: Call) -> Reply:
        name = scenario_name(call.arg)
        if await self.store.delete_async(name):  # rebuilt off the loop
            return Reply(200, {"deleted": name})
        return error_reply(404, f"no scenario named {name!r}")

    async def _purge(self, call: Call) -> Reply:
        """Remove the uploads tagged with `owner` (`PUT ...?owner=`): one test run's, not what
        others uploaded (a CI step's) nor the folder's. Without `owner`, every upload."""
        owner = text_param(call.query, "owner")
        if owner == "":
            raise AdminError(400, "invalid owner '': POST /__mockstatus/purge?owner=<id>")
        names = self.store.uploads_of(owner)
        for name in names:
            await self.store.delete_async(name)
        return Reply(200, {"purged": "all" if owner is None else owner, "removed": names})

    async def _reset(self, call: Call) -> Reply:
        session = text_param(call.query, "session")
        self.store.reset(session)
        raw = as_received(session)
        if raw != session:  # the journal shows a non-UTF-8 session as ISO-8859-1: reset that too
            self.store.reset(raw)
        if self.shared_reset is not None:
            from mockstatus.state import StoreUnavailable

            try:
                for name in {session, raw}:
                    await self.shared_reset(name)
            except StoreUnavailable as err:
                return error_reply(503, f"reset here, but not in the shared store: {err.cause}")
        return Reply(200, {"reset": session if session is not None else "all"})

    async def _reload(self, call: Call) -> Reply:
        ok = await self.store.reload_async()  # parsed and built off the loop
        doc = self.store.describe()
        if ok:
            return Reply(200, doc)
        return error_reply(
            400, "the scenarios folder is invalid; still serving the last good configuration", **doc
        )

    # --- journal -------------------------------------------------------------------------------

    async def _get_requests(self, call: Call) -> Reply:
        """A page of the journal: with `since`, the first `limit` matches after it; without,
        the last `limit`. `limit` defaults to the journal size (the whole journal)."""
        flt, limit = journal_filter(call.query)
        if self.journal_pull is not None:
            await self.journal_pull()
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

    async def _get_unmatched(self, call: Call) -> Reply:
        """Requests no route matched (near misses or the final 404): nearmiss.unmatched."""
        flt, limit = journal_filter(call.query)
        if self.journal_pull is not None:
            await self.journal_pull()
        found = unmatched(self.journal.select(flt), limit)
        return Reply(200, {"count": len(found), "requests": [e.to_dict() for e in found]})

    async def _machine_state(self, call: Call) -> Reply:
        """GET/PUT /scenarios/{name}/state/{machine}: scenarios/state_api (and, with `--state`,
        the shared store: mockstatus.state.shared.machine_state)."""
        runtime = self.store.runtime
        status, doc = state_api.handle(runtime, call.method, call.arg, call.query, call.body)
        if status == 200 and self.shared_states is not None and runtime is not None:
            status, doc = await self.shared_states(runtime, call, doc)
        return Reply(status, doc) if status == 200 else error_reply(status, doc["error"])

    async def _delete_requests(self, call: Call) -> Reply:
        session = text_param(call.query, "session")
        shown = session if session is not None else "all"
        if self.journal_clear is not None:
            from mockstatus.state import StoreUnavailable

            try:
                removed = await self.journal_clear(session)
            except StoreUnavailable as err:
                self.journal.clear(session)
                return error_reply(503, f"cleared here, but not in the shared store: {err.cause}")
            return Reply(200, {"cleared": shown, "removed": removed})
        removed = self.journal.clear(session)
        return Reply(200, {"cleared": shown, "removed": removed})

    async def _wait(self, call: Call) -> Reply:
        query = call.query
        flt, limit = journal_filter(query)
        count = int_param(query, "count", 1, 1, self.journal.size)
        timeout = float_param(query, "timeout", 10.0, 0.0, MAX_WAIT)
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

    def _get_clock(self, call: Call) -> Reply:
        return Reply(200, self._clock_doc())

    def _advance(self, call: Call) -> Reply:
        query = call.query
        if not self.clock_controllable:
            return error_reply(
                409,
                "the clock is not controllable: start the server with --clock manual "
                "(or MOCKSTATUS_CLOCK=manual) to move it with POST /__mockstatus/clock/advance",
            )
        if "seconds" not in query:
            raise AdminError(400, "seconds is required: POST /__mockstatus/clock/advance?seconds=N")
        seconds = float_param(query, "seconds", 0.0, 0.0, MAX_ADVANCE)
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

    def _metrics(self, call: Call) -> Reply:
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
        ) + dashboard.metrics_lines(self.feed)
        return Reply(200, text=text, content_type=METRICS_TYPE)

    def _catalog(self, call: Call) -> Reply:
        wanted = call.query.get("class")
        if wanted is not None and wanted not in CLASSES:
            raise AdminError(400, f"invalid class {wanted!r}: one of {', '.join(CLASSES)}")
        return catalog_reply(wanted)

    def _catalog_code(self, call: Call) -> Reply:
        return catalog_reply(status_code(call.arg))


_STATE = "/scenarios/{name}/state/{machine}"  # two arguments: `arg` is "name/state/machine"
_OVERRIDE = dashboard.OVERRIDE  # two arguments: `arg` is "name/routes/route/override"
ROUTES: tuple[Route, ...] = (
    Route("GET", "/health", Admin._health, open=True),
    Route("GET", "/scenarios", Admin._list_scenarios),
    Route("GET", "/scenarios/{name}", Admin._get_scenario),
    Route("PUT", "/scenarios/{name}", Admin._put_scenario, ("owner",)),
    Route("DELETE", "/scenarios/{name}", Admin._delete_scenario),
    Route("GET", _STATE, Admin._machine_state, ("session",)),
    Route("PUT", _STATE, Admin._machine_state, ("session",)),
    Route("POST", "/reset", Admin._reset, ("session",)),
    Route("POST", "/reload", Admin._reload),
    Route("GET", "/requests", Admin._get_requests, JOURNAL_FILTERS),
    Route("DELETE", "/requests", Admin._delete_requests, ("session",)),
    Route("GET", "/requests/wait", Admin._wait, (*JOURNAL_FILTERS, "count", "timeout")),
    Route("GET", "/requests/unmatched", Admin._get_unmatched, JOURNAL_FILTERS),
    Route("GET", "/clock", Admin._get_clock, open=True),
    Route("POST", "/clock/advance", Admin._advance, ("seconds",)),
    Route("GET", "/metrics", Admin._metrics, open=True),
    Route("GET", "/catalog", Admin._catalog, ("class",), open=True),
    Route("GET", "/catalog/{code}", Admin._catalog_code, open=True),
    Route("POST", "/purge", Admin._purge, ("owner",)),
    Route("GET", "/ui", lambda admin, call: dashboard.ui_reply(call), open=True),
    Route("GET", "/ui/{asset}", lambda admin, call: dashboard.ui_reply(call), open=True),
    Route("GET", dashboard.FEED, lambda admin, call: dashboard.feed_over_dispatch(call)),
    Route("POST", _OVERRIDE, dashboard.override, ("session",)),
    Route("DELETE", _OVERRIDE, dashboard.override, ("session",)),
)

# Derived from ROUTES: (template, its methods) in table order, and the open reads.
_BY_TEMPLATE: dict[str, dict[str, Route]] = {}
for _r in ROUTES:
    _BY_TEMPLATE.setdefault(_r.template, {})[_r.method] = _r
ENDPOINTS: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
    (template, tuple(routes)) for template, routes in _BY_TEMPLATE.items()
)
OPEN_READS = frozenset(r.template for r in ROUTES if r.open)
# Templates with an argument as (prefix, suffix, template), the longest suffix tried first.
_WITH_ARG = sorted(
    (
        (t.partition("{")[0], t.partition("}")[2], t)
        for t in _BY_TEMPLATE
        if "{" in t and t not in (_STATE, _OVERRIDE)
    ),
    key=lambda p: -len(p[1]),
)


def _route(path: str, method: str) -> tuple[Route, str]:
    """The route answering `method path` and its argument; AdminError 404 (no such path, listing
    every endpoint) or 405 (with Allow)."""
    path = path.rstrip("/") or "/"
    template, arg = path, ""
    if path.startswith("/scenarios/") and "/state/" in path:
        template, arg = _STATE, path[len("/scenarios/") :]
    elif path.startswith("/scenarios/") and "/routes/" in path and path.endswith("/override"):
        template, arg = _OVERRIDE, path[len("/scenarios/") :]
    elif "{" in path or path not in _BY_TEMPLATE:
        for prefix, suffix, candidate in _WITH_ARG:
            if (
                path.startswith(prefix)
                and path.endswith(suffix)
                and len(path) > len(prefix + suffix)
            ):
                template, arg = candidate, path[len(prefix) : len(path) - len(suffix)]
                break
        else:
            listing = [f"{', '.join(m)} {PREFIX}{t}" for t, m in ENDPOINTS]
            raise AdminError(404, f"no admin endpoint {PREFIX}{path}", endpoints=listing)
    routes = _BY_TEMPLATE[template]
    route = routes.get("GET" if method == "HEAD" else method)
    if route is None:
        names = ", ".join((*routes, "HEAD") if "GET" in routes else routes)
        raise AdminError(405, f"{PREFIX}{template} accepts {names}", headers=(("Allow", names),))
    return route, arg
