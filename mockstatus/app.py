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

from mockstatus import admin, endpoints, queries, semantics, wire
from mockstatus.accesslog import logger_kwargs
from mockstatus.errors import RequestError
from mockstatus.journal import DEFAULT_REDACT, Journal
from mockstatus.limits import MAX_CONTINUE_DELAY_MS, MAX_UPGRADE_ECHO
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

SESSION_HEADER = "X-Mockstatus-Session"
ADMIN_PREFIX = "/__mockstatus/"


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
    ) -> None:
        if interim_mode not in queries.INTERIM_MODES:
            modes = ", ".join(queries.INTERIM_MODES)
            raise ValueError(f"interim mode must be one of {modes}")
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.interim_mode = interim_mode
        self.semantics = semantics.StatusSemantics(self.rng)
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
        path = request.path
        if path.startswith(ADMIN_PREFIX):
            return await self.admin.handle(request)
        facts = facts_from(request)
        scenario = route = None
        plan: ResponsePlan | None = None
        try:
            if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
                plan = endpoints.preflight_plan(facts)
                return wire.build_response(plan)
            if "Expect" in request.headers:
                early = await self._expect(request, facts)
                if early is not None:
                    plan = early
                    return wire.build_response(plan)
            runtime = self.store.runtime
            if runtime is not None and runtime.has_routes:
                if runtime.needs_body(facts) or request.body_exists:
                    facts = replace(facts, body=await request.read())
                answer = runtime.respond(facts, self.semantics)
                if answer is not None:
                    plan, scenario, route = answer
            if plan is None:
                if facts.body is None and request.body_exists and endpoints.is_echo(path):
                    facts = replace(facts, body=await request.read())
                plan = endpoints.builtin_plan(facts, self.semantics)
            if plan.upgrade is not None:
                return await self._upgrade(request, plan)
            plan = semantics.with_interims(plan, facts, self.interim_mode)
            if plan.interims or plan.delay or plan.fault or plan.drip:
                return await wire.send(request, plan)
            return wire.build_response(plan)  # the common case: no coroutine to schedule
        except RequestError as err:
            plan = semantics.error_plan(err, facts)
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
                )

    # --- 1xx ---------------------------------------------------------------------------------

    async def _expect(self, request: web.BaseRequest, facts: RequestFacts) -> ResponsePlan | None:
        """RFC 9110 §10.1.1: answer `Expect: 100-continue` before the body is read.

        `?continue=send` (default) writes `100 Continue`, `withhold` writes nothing (the client
        sends the body after its own timeout), `<ms>` waits that long first, `reject` (or `417`)
        answers 417 and closes. Except for a rejection the body is then read, so the final
        response always follows the body. Returns a plan only when the request ends here.
        """
        expect = request.headers.get("Expect")
        if expect is None:
            return None
        from mockstatus.wire.core import ClientGone

        def closing(code: int) -> ResponsePlan:
            # The body was not (fully) read: it must not be parsed as the next request.
            fmt = semantics.negotiate(facts.header("accept"))
            return replace(semantics.build_plan(code, facts.method, fmt)[0], close=True)

        try:
            mode = queries.interim_mode(facts.query, self.interim_mode)
            if request.version < (1, 1) and mode != "force":
                return None  # §10.1.1: a 100-continue from an HTTP/1.0 client MUST be ignored
            if expect.strip().lower() != "100-continue":
                return closing(417)  # an expectation we cannot meet
            how = facts.query.get("continue", "send") if facts.query else "send"
            if how in ("reject", "417"):
                return closing(417)
            length = request.content_length
            if length is not None and length > request.client_max_size:
                return closing(413)  # what Expect is for: refuse before the body is sent
            if how not in ("send", "withhold"):
                try:
                    delay = float(how)
                except ValueError:
                    delay = -1.0
                if not 0 <= delay <= MAX_CONTINUE_DELAY_MS:  # also rejects nan
                    raise RequestError(
                        f"invalid continue {how!r}: send, withhold, reject, or a delay in ms "
                        f"(0 to {MAX_CONTINUE_DELAY_MS})",
                        param="continue",
                    )
                await asyncio.sleep(delay / 1000.0)
            if how != "withhold" and mode != "off":
                (cont,) = semantics.interims_for(100, queries.DEFAULT_OPTIONS, (1, 1))
                await wire.write_interim(request, cont)
        except RequestError as err:
            return replace(semantics.error_plan(err, facts), close=True)
        except ClientGone:
            return closing(499)
        if request.body_exists:
            try:
                await request.read()  # cached by aiohttp: later reads (echo, scenarios) get it
            except web.HTTPRequestEntityTooLarge:
                return closing(413)
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
        async for msg in ws:  # close frames are answered by aiohttp (autoclose)
            if msg.type == WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        return ws


def make_server(app: Mockstatus, *, quiet: bool = False, **kwargs: Any) -> web.Server:
    """The aiohttp low-level server for `app` (keep-alive set explicitly: AppRunner's is an hour)."""
    return web.Server(
        app.handle,
        handler_cancellation=True,  # a client that leaves cancels its hung or dripping handler
        keepalive_timeout=75.0,
        **logger_kwargs(quiet),
        **kwargs,
    )
