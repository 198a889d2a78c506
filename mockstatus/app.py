"""Builds the server: one low-level aiohttp handler that dispatches request -> match -> plan -> wire.

A low-level `web.Server` (no router, no middlewares) keeps the hot path short and puts
`Expect: 100-continue` under our control: aiohttp's router would answer it before we could
decide to withhold, delay or reject the 100 (AIOHTTP-NOTES).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.http import HttpVersion10, HttpVersion11
from multidict import CIMultiDict

from mockstatus import admin, endpoints, queries, semantics, wire
from mockstatus.accesslog import logger_kwargs
from mockstatus.errors import RequestError
from mockstatus.expect import answer_expect, closing_plan
from mockstatus.http_syntax import ADMIN_PREFIX, SESSION_HEADER
from mockstatus.journal import DEFAULT_REDACT, Journal
from mockstatus.limits import BODY_READ_TIMEOUT, IDLE_TIMEOUT, MAX_UPGRADE_ECHO
from mockstatus.metrics import Metrics
from mockstatus.scenarios.store import ScenarioStore
from mockstatus.types import (
    EMPTY_QUERY,
    BodySource,
    Clock,
    Decision,
    Query,
    RequestFacts,
    ResponsePlan,
    SystemClock,
)
from mockstatus.wire.body import RequestBody
from mockstatus.wire.server import MockstatusServer

_ADMIN_ROOT = ADMIN_PREFIX + "/"  # admin paths; `/__mockstatus` alone is not one
_SESSION_KEY = SESSION_HEADER.lower()  # facts.headers are looked up by lower-case name
_HTTP_VERSIONS = {HttpVersion11: "HTTP/1.1", HttpVersion10: "HTTP/1.0"}  # the journal's names


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

    decline_h2c = False  # set by make_server when HTTP/2 is on

    # --- dispatch ----------------------------------------------------------------------------

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """The HTTP/1.1 transport: facts -> decide -> wire -> record."""
        started = time.perf_counter()
        if request.version.major != 1:
            return self._unsupported_version(request)
        if request.path.startswith(_ADMIN_ROOT):
            return await self.admin.handle(request)
        decision = None
        try:
            decision = await self.decide(
                facts_from(request), RequestBody(request, self.body_read_timeout)
            )
            plan = decision.plan
            if plan.upgrade is not None:
                return await self._upgrade(request, plan)
            if plan.interims or plan.delay or plan.fault or plan.drip:
                return await wire.send(request, plan)
            return wire.build_response(plan)  # the common case: no coroutine to schedule
        finally:
            if decision is not None:
                version = request.version
                self.record(
                    decision,
                    started,
                    request.query_string,
                    request.headers,
                    _HTTP_VERSIONS.get(version) or f"HTTP/{version.major}.{version.minor}",
                )

    async def decide(self, facts: RequestFacts, body: BodySource) -> Decision:
        """The answer to one request, whatever the transport: match -> plan, reading the body
        only when the answer needs it. Never raises a `RequestError`: that becomes its plan."""
        scenario = route = None
        plan: ResponsePlan | None = None
        try:
            if facts.method == "OPTIONS" and "access-control-request-method" in facts.headers:
                return Decision(endpoints.preflight_plan(facts), facts)
            runtime = self.store.runtime
            if runtime is not None and not runtime.has_routes:
                runtime = None
            expect = facts.headers.get("expect")
            if expect is not None:
                answer = answer_expect(facts, expect, self.interim_mode, body.length, body.limit)
                if answer is not None:
                    if answer.final is not None:
                        return Decision(answer.final, facts)
                    if answer.decide_first and not (
                        endpoints.is_echo(facts.path)
                        or (runtime is not None and runtime.needs_body(facts))
                    ):
                        # RFC 9110 §10.1.1: a server that knows its final answer without the
                        # body may send it instead of the 100. 413 and 417 refuse the body
                        # itself, so they go out instead of `100 Continue`; every other code
                        # gets the 100.
                        matched = runtime.respond(facts) if runtime else None
                        if matched is not None:
                            plan, scenario, route = matched
                        else:
                            plan = endpoints.builtin_plan(facts, self.semantics)
                        if plan.status in (413, 417):
                            plan = self._ready(plan.evolve(close=True), facts)  # body unread
                            return Decision(plan, facts, scenario, route)
                    if not await body.send_continue(answer.interim, answer.delay):
                        return Decision(closing_plan(facts, 499), facts, scenario, route)
                    if body.exists:
                        try:
                            facts = replace(facts, body=await body.read())
                        except RequestError as err:
                            return Decision(closing_plan(facts, err.status), facts, scenario, route)
                    if plan is not None:
                        return Decision(self._ready(plan, facts), facts, scenario, route)
            if runtime is not None:
                if facts.body is None:
                    if runtime.needs_body(facts):
                        facts = replace(facts, body=await body.read())
                    elif body.exists and body.length is not None and body.length <= body.limit:
                        # Not needed to answer; read for the journal only when it fits the cap,
                        # so a large upload to /status/503 is answered 503, never 413.
                        facts = replace(facts, body=await body.read())
                matched = runtime.respond(facts)
                if matched is not None:
                    plan, scenario, route = matched
            if plan is None:
                if facts.body is None and body.exists and endpoints.is_echo(facts.path):
                    facts = replace(facts, body=await body.read())
                plan = endpoints.builtin_plan(facts, self.semantics)
            return Decision(self._ready(plan, facts), facts, scenario, route)
        except RequestError as err:
            plan = semantics.error_plan(err, facts)
            if getattr(err, "unread_body", False):
                plan = plan.evolve(close=True)  # the rest of the body must not be parsed
            return Decision(plan, facts, scenario, route)

    def _ready(self, plan: ResponsePlan, facts: RequestFacts) -> ResponsePlan:
        """The plan with the interims the request asked for (an upgrade's 101 takes none)."""
        if plan.upgrade is not None:
            return plan
        return semantics.with_interims(plan, facts, self.interim_mode)

    def record(
        self,
        decision: Decision,
        started: float,
        query_string: str,
        headers: Mapping[str, str],
        http_version: str,
    ) -> None:
        """Journal and count one answered request (every transport, the same way). `started`
        is `time.perf_counter()` when the request arrived; `headers` are the request's fields as
        received, as the journal shows them."""
        plan = decision.plan
        facts = decision.facts
        fault_kind = plan.fault.kind if plan.fault else None
        self.metrics.observe(decision.scenario, decision.route, plan.status, fault_kind)
        self.journal.record(
            self.clock.wall(),
            facts.method,
            facts.path,
            query_string,
            headers,
            facts.body,
            decision.scenario,
            decision.route,
            facts.headers.get(_SESSION_KEY),
            plan.status,
            fault_kind,
            (time.perf_counter() - started) * 1000,
            http_version,
        )

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

    # --- 101 ---------------------------------------------------------------------------------

    async def _upgrade(self, request: web.BaseRequest, plan: ResponsePlan) -> web.StreamResponse:
        token = plan.upgrade or ""
        if self.decline_h2c and token.lower() == "h2c":
            # With HTTP/2 on, `Upgrade: h2c` is declined (docs/http2.md): answered in HTTP/1.1
            # as if no upgrade had been offered, never taken as a raw echo token.
            fields = CIMultiDict(
                (n, v) for n, v in request.headers.items() if n.lower() != "upgrade"
            )
            facts = replace(facts_from(request), headers=fields, header_items=fields.items())
            fmt = semantics.negotiate(request.headers.get("Accept"))
            return wire.build_response(endpoints.switching_plan(facts, fmt))
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


def _malformed_plan(status: int, message: str) -> ResponsePlan:
    """Our answer to a request aiohttp could not parse (the wire's sniffer and error path)."""
    return semantics.error_plan(RequestError(message, status=status), _NO_FACTS)


_NO_FACTS = RequestFacts(method="GET", path="/")


def make_server(
    app: Mockstatus,
    *,
    quiet: bool = False,
    http2: bool = True,
    h2_max_streams: int = 100,
    **kwargs: Any,
) -> MockstatusServer:
    """The low-level server for `app` (keep-alive set explicitly: AppRunner's is an hour), with
    HTTP/2 on the same port unless `http2=False` (docs/http2.md)."""
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
    app.decline_h2c = http2
    if http2:
        from mockstatus.wire.h2 import H2Service  # imported only when HTTP/2 is on

        H2Service(
            decide=app.decide,
            record=lambda d, started, qs, fields: app.record(d, started, qs, fields, "HTTP/2"),
            error_plan=_error_plan,
            max_streams=h2_max_streams,
            idle_timeout=app.idle_timeout,
            body_timeout=app.body_read_timeout,
            log=app.log,
            admin=app.admin.handle,
            admin_root=_ADMIN_ROOT,
            access_log=not quiet,
        ).attach(server)
    return server


def _error_plan(facts: RequestFacts, status: int, message: str) -> ResponsePlan:
    return semantics.error_plan(RequestError(message, status=status), facts)
