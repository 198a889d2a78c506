"""Builds the server: one low-level aiohttp handler that dispatches request -> match -> plan -> wire.

A low-level `web.Server` (no router, no middlewares) keeps the hot path short and puts
`Expect: 100-continue` under our control: aiohttp's router would answer it before we could
decide to withhold, delay or reject the 100 (AIOHTTP-NOTES).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.http import HttpVersion11
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from mockstatus import admin, endpoints, queries, semantics, wire
from mockstatus.accesslog import logger_kwargs
from mockstatus.errors import RequestError
from mockstatus.http_syntax import ADMIN_PREFIX, SESSION_HEADER
from mockstatus.journal import DEFAULT_REDACT, Journal
from mockstatus.limits import (
    BODY_READ_TIMEOUT,
    IDLE_TIMEOUT,
    MAX_CONTINUE_DELAY_MS,
    MAX_UPGRADE_ECHO,
)
from mockstatus.metrics import Metrics
from mockstatus.scenarios.store import ScenarioStore
from mockstatus.types import (
    EMPTY_QUERY,
    Clock,
    Query,
    RequestFacts,
    ResponsePlan,
    SystemClock,
)
from mockstatus.wire.server import MockstatusServer

_ADMIN_ROOT = ADMIN_PREFIX + "/"  # admin paths; `/__mockstatus` alone is not one


def bundled_scenarios() -> Path:
    """The example scenarios. `mockstatus/bundled_scenarios` is a symlink to the top-level
    `scenarios/` (one copy): a checkout or editable install follows it, a wheel holds the files."""
    return Path(__file__).parent / "bundled_scenarios"


def facts_from(request: web.BaseRequest, body: bytes | None = None) -> RequestFacts:
    qs = request.query_string
    return RequestFacts(
        method=request.method,
        path=request.path,
        query=Query(tuple(request.query.items())) if qs else EMPTY_QUERY,
        headers=request.headers,  # case-insensitive: lookups by lower-case name work
        header_items=request.headers.items(),  # a view: no copy on the hot path
        version=(request.version.major, request.version.minor),
        scheme=request.scheme,
        host=request.host,
        remote=request.remote or "",
        body=body,
        raw_path=request.raw_path,
    )


class Mockstatus:
    """The server's state and its one request handler."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        scenarios_dir: Path | None = None,
        journal_size: int = 1000,
        interim_mode: str = "auto",
        admin_token: str | None = None,
        clock_controllable: bool = False,
        log: Callable[[str], None] | None = None,
        journal_redact: frozenset[str] | None = None,  # header names; None: DEFAULT_REDACT
        loopback_only: bool = False,  # listening on loopback only: admin refuses other Hosts
        body_read_timeout: float = BODY_READ_TIMEOUT,
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        if interim_mode not in queries.INTERIM_MODES:
            modes = ", ".join(queries.INTERIM_MODES)
            raise ValueError(f"interim mode must be one of {modes}")
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.interim_mode = interim_mode
        self.body_read_timeout = body_read_timeout
        self.idle_timeout = idle_timeout
        self.websockets: set[web.WebSocketResponse] = set()  # open sessions, told 1001 on shutdown
        self._closing: set[asyncio.Future[Any]] = set()
        self.semantics = semantics.StatusSemantics(self.rng, clock=self.clock)
        self.journal = Journal(
            journal_size, redact=DEFAULT_REDACT if journal_redact is None else journal_redact
        )
        self.metrics = Metrics()
        self.log = log or (lambda line: None)
        self.store = ScenarioStore(scenarios_dir, clock=self.clock, rng=self.rng, log=self.log)
        self.admin = admin.Admin(
            store=self.store,
            journal=self.journal,
            metrics=self.metrics,
            clock=self.clock,
            token=admin_token,
            clock_controllable=clock_controllable,
            loopback_only=loopback_only,
        )

    # --- dispatch ----------------------------------------------------------------------------

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        started = time.perf_counter()
        if request.version.major != 1:
            return self._unsupported_version(request)
        path = request.path
        if path.startswith(_ADMIN_ROOT):
            return await self.admin.handle(request)
        facts = facts_from(request)
        scenario = route = None
        plan: ResponsePlan | None = None
        try:
            if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
                plan = endpoints.preflight_plan(facts)
                return wire.build_response(plan)
            runtime = self.store.runtime
            if runtime is not None and not runtime.has_routes:
                runtime = None
            expect = request.headers.get("Expect")
            if expect is not None:
                early, decide_first = self._expect_checks(request, facts, expect)
                if early is not None:
                    plan = early
                    return wire.build_response(plan)
                if decide_first and not (
                    endpoints.is_echo(path) or (runtime is not None and runtime.needs_body(facts))
                ):
                    # RFC 9110 §10.1.1: a server that knows its final answer without the body
                    # may send it instead of the 100. 413 and 417 refuse the body itself, so
                    # they go out instead of `100 Continue`; every other code gets the 100.
                    answer = runtime.respond(facts) if runtime else None
                    if answer is not None:
                        plan, scenario, route = answer
                    else:
                        plan = endpoints.builtin_plan(facts, self.semantics)
                    if plan.status in (413, 417):
                        plan = plan.evolve(close=True)  # the body was not read
                        return await self._execute(request, plan, facts)
                early = await self._continue(request, facts)
                if early is not None:
                    plan = early
                    return wire.build_response(plan)
                if plan is not None:
                    return await self._execute(request, plan, facts)
            if runtime is not None:
                if runtime.needs_body(facts):
                    facts = replace(facts, body=await self._read_body(request))
                elif request.body_exists and _journal_wants(request):
                    # Not needed to answer; read for the journal only when it fits the cap, so a
                    # large upload to /status/503 is answered 503, never 413.
                    facts = replace(facts, body=await self._read_body(request))
                answer = runtime.respond(facts)
                if answer is not None:
                    plan, scenario, route = answer
            if plan is None:
                if facts.body is None and request.body_exists and endpoints.is_echo(path):
                    facts = replace(facts, body=await self._read_body(request))
                plan = endpoints.builtin_plan(facts, self.semantics)
            # _execute, inlined: the hot path schedules no extra coroutine.
            if plan.upgrade is not None:
                return await self._upgrade(request, plan)
            plan = semantics.with_interims(plan, facts, self.interim_mode)
            if plan.interims or plan.delay or plan.fault or plan.drip or plan.stream:
                return await wire.send(request, plan)
            return wire.build_response(plan)  # the common case: no coroutine to schedule
        except RequestError as err:
            plan = semantics.error_plan(err, facts)
            if getattr(err, "unread_body", False):
                plan = plan.evolve(close=True)  # the rest of the body must not be parsed
            return wire.build_response(plan)
        finally:
            if plan is not None:
                fault_kind = plan.fault.kind if plan.fault else None
                self.metrics.observe(scenario, route, plan.status, fault_kind)
                self.journal.record(
                    self.clock.wall(),
                    facts.method,
                    facts.path,
                    request.query_string,
                    request.headers,
                    # a body read further down (/anything) is cached by aiohttp: journal it too
                    facts.body if facts.body is not None else request._read_bytes,
                    scenario,
                    route,
                    request.headers.get(SESSION_HEADER),
                    plan.status,
                    fault_kind,
                    (time.perf_counter() - started) * 1000,
                    plan.note,
                )

    async def _execute(
        self, request: web.BaseRequest, plan: ResponsePlan, facts: RequestFacts
    ) -> web.StreamResponse:
        if plan.upgrade is not None:
            return await self._upgrade(request, plan)
        plan = semantics.with_interims(plan, facts, self.interim_mode)
        if plan.interims or plan.delay or plan.fault or plan.drip or plan.stream:
            return await wire.send(request, plan)
        return wire.build_response(plan)

    async def _read_body(self, request: web.BaseRequest) -> bytes:
        """The request body, cached by aiohttp; a body that does not arrive within
        `body_read_timeout` is a 408, one over the size cap a 413 (both close the connection)."""
        try:
            async with asyncio.timeout(self.body_read_timeout):
                return await request.read()
        except TimeoutError:
            err = RequestError(
                f"the request body did not arrive within {self.body_read_timeout:g} s",
                status=408,
            )
        except web.HTTPRequestEntityTooLarge:
            err = RequestError(
                f"the request body is over {request.client_max_size} bytes", status=413
            )
        except (HttpProcessingError, RequestPayloadError) as exc:
            # A body that cannot be decoded (a bad gzip, a broken chunk): the client's fault.
            text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
            lines = [ln for ln in lines if not ln.endswith(", message:")]  # "400, message:"
            problem = lines[0] if lines else "malformed"
            err = RequestError(f"the request body cannot be read: {problem.rstrip(':')}")
        err.unread_body = True  # type: ignore[attr-defined]  # the answer closes the connection
        raise err

    def _unsupported_version(self, request: web.BaseRequest) -> web.StreamResponse:
        """A request line without a version (aiohttp parses it as HTTP/0.9) gets 400; a well-formed
        HTTP/x.y with x ≠ 1 gets 505 (RFC 9110 §15.6.6). Answered as HTTP/1.1 and closed."""
        version = request.version
        if version == (0, 9):
            err = RequestError("the request line has no HTTP version (HTTP/0.9 is not supported)")
        else:
            err = RequestError(
                f"HTTP/{version.major}.{version.minor} is not supported: use HTTP/1.1",
                status=505,
            )
        request._cache["version"] = HttpVersion11  # reify's cache: our status line says 1.1
        plan = semantics.error_plan(err, facts_from(request)).evolve(close=True)
        return wire.build_response(plan)

    # --- 1xx ---------------------------------------------------------------------------------

    def _expect_checks(
        self, request: web.BaseRequest, facts: RequestFacts, expect: str
    ) -> tuple[ResponsePlan | None, bool]:
        """RFC 9110 §10.1.1, the checks made before anything is sent: (a final plan that ends the
        request here, whether the final status may be decided before the 100).

        The status is decided first only without an explicit `?continue=` (which always wins).
        """
        try:
            mode = queries.interim_mode(facts.query, self.interim_mode)
            if request.version < (1, 1) and mode != "force":
                return None, False  # §10.1.1: a 100-continue from an HTTP/1.0 client is ignored
            if expect.strip().lower() != "100-continue":
                return _closing(facts, 417), False  # an expectation we cannot meet
            how = facts.query.get("continue") if facts.query else None
            if how in ("reject", "417"):
                return _closing(facts, 417), False
            length = request.content_length
            if length is not None and length > request.client_max_size:
                return _closing(facts, 413), False  # what Expect is for: refuse before the body
            if how is not None and _continue_delay(how) is None:
                raise RequestError(
                    f"invalid continue {how!r}: send, withhold, reject, or a delay in ms "
                    f"(0 to {MAX_CONTINUE_DELAY_MS})",
                    param="continue",
                )
        except RequestError as err:
            return semantics.error_plan(err, facts).evolve(close=True), False
        return None, how is None

    async def _continue(self, request: web.BaseRequest, facts: RequestFacts) -> ResponsePlan | None:
        """Answer `Expect: 100-continue` (after `_expect_checks` passed): `?continue=send`
        (default) writes `100 Continue`, `withhold` writes nothing (the client sends the body
        after its own timeout), `<ms>` waits that long first. The body is then read, so the final
        response always follows it. Returns a plan only when the request ends here."""
        from mockstatus.wire.core import ClientGone

        mode = queries.interim_mode(facts.query, self.interim_mode)
        if request.version < (1, 1) and mode != "force":
            return None
        how = (facts.query.get("continue") if facts.query else None) or "send"
        try:
            delay = _continue_delay(how)
            if delay:
                await asyncio.sleep(delay / 1000.0)
            if how != "withhold" and mode != "off":
                (cont,) = semantics.interims_for(100, queries.DEFAULT_OPTIONS, (1, 1))
                await wire.write_interim(request, cont)
        except ClientGone:
            return _closing(facts, 499)
        if request.body_exists:
            try:
                await self._read_body(request)  # cached: later reads (echo, scenarios) get it
            except RequestError as err:
                return _closing(facts, err.status)
        return None

    # --- 101 ---------------------------------------------------------------------------------

    async def _upgrade(self, request: web.BaseRequest, plan: ResponsePlan) -> web.StreamResponse:
        token = plan.upgrade or ""
        if token.lower() != "websocket":
            return await wire.raw_upgrade(request, plan, token, MAX_UPGRADE_ECHO)
        fmt = semantics.negotiate(request.headers.get("Accept"))
        version = request.headers.get("Sec-WebSocket-Version", "")
        if request.method == "GET" and version.strip() != "13":
            # RFC 6455 §4.2.2: an unsupported version gets 426 naming the versions we speak.
            bad, _ = semantics.build_plan(426, request.method, fmt)
            headers = [(n, v) for n, v in bad.headers if n.lower() != "upgrade"]
            bad = replace(
                bad,
                headers=(("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13"), *headers),
            )
            return wire.build_response(bad)
        ws = web.WebSocketResponse()
        try:
            await ws.prepare(request)
        except web.HTTPException as exc:  # not a valid handshake (method, key, ...)
            err = RequestError(f"invalid WebSocket handshake: {exc.text}", param="Upgrade")
            return wire.build_response(semantics.error_plan(err, facts_from(request)))
        self.websockets.add(ws)
        try:
            async for msg in ws:  # close frames are answered by aiohttp (autoclose)
                if msg.type == WSMsgType.TEXT:
                    await ws.send_str(msg.data)
                elif msg.type == WSMsgType.BINARY:
                    await ws.send_bytes(msg.data)
        finally:
            self.websockets.discard(ws)
        return ws

    def going_away(self) -> None:
        """Shutdown has begun: every open WebSocket gets close code 1001 (RFC 6455 §7.4.1, "going
        away") now; one whose client does not answer is cut at the shutdown deadline."""
        for ws in list(self.websockets):
            if not ws.closed:
                task = asyncio.ensure_future(ws.close(code=1001, message=b"server shutting down"))
                self._closing.add(task)  # held until done: the loop keeps only weak references
                task.add_done_callback(self._closing.discard)


def _closing(facts: RequestFacts, code: int) -> ResponsePlan:
    """A final plan that closes the connection: the body was not (fully) read, so it must not be
    parsed as the next request."""
    fmt = semantics.negotiate(facts.header("accept"))
    return semantics.build_plan(code, facts.method, fmt)[0].evolve(close=True)


def _journal_wants(request: web.BaseRequest) -> bool:
    length = request.content_length
    return length is not None and length <= request.client_max_size


def _continue_delay(how: str) -> float | None:
    """`?continue=<ms>` in milliseconds (0 for send/withhold); None when invalid."""
    if how in ("send", "withhold"):
        return 0.0
    try:
        delay = float(how)
    except ValueError:
        return None
    return delay if 0 <= delay <= MAX_CONTINUE_DELAY_MS else None  # also rejects nan


def _malformed_plan(status: int, message: str) -> ResponsePlan:
    """Our answer to a request aiohttp could not parse (the wire's sniffer and error path)."""
    return semantics.error_plan(RequestError(message, status=status), _NO_FACTS)


_NO_FACTS = RequestFacts(method="GET", path="/")


def make_server(app: Mockstatus, *, quiet: bool = False, **kwargs: Any) -> MockstatusServer:
    """The low-level server for `app` (keep-alive set explicitly: AppRunner's is an hour)."""
    server = MockstatusServer(
        app.handle,
        error_planner=_malformed_plan,
        handler_cancellation=True,  # a client that leaves cancels its hung or dripping handler
        # aiohttp (3.14.4 and later: hence the lower bound) closes a connection whose next request
        # head is not complete by then: this bounds idle and slow-header (slowloris) clients alike.
        keepalive_timeout=app.idle_timeout,
        **logger_kwargs(quiet),
        **kwargs,
    )
    server.on_stopping.append(app.going_away)
    return server
