"""Builds the server: one low-level aiohttp handler that dispatches request -> match -> plan -> wire.

A low-level `web.Server` (no router, no middlewares) keeps the hot path short and puts
`Expect: 100-continue` under our control: aiohttp's router would answer it before we could
decide to withhold, delay or reject the 100 (AIOHTTP-NOTES).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.http import HttpVersion10, HttpVersion11

from mockstatus import admin, queries, semantics, wire
from mockstatus.accesslog import logger_kwargs
from mockstatus.errors import RequestError
from mockstatus.http_syntax import ADMIN_PREFIX
from mockstatus.journal import DEFAULT_REDACT, Journal
from mockstatus.limits import BODY_READ_TIMEOUT, IDLE_TIMEOUT, MAX_UPGRADE_ECHO
from mockstatus.metrics import Metrics
from mockstatus.pipeline import Pipeline
from mockstatus.scenarios.store import ScenarioStore
from mockstatus.types import (
    EMPTY_QUERY,
    Clock,
    Query,
    RequestFacts,
    ResponsePlan,
    SystemClock,
)
from mockstatus.wire.body import RequestBody
from mockstatus.wire.server import MockstatusServer

_ADMIN_ROOT = ADMIN_PREFIX + "/"  # admin paths; `/__mockstatus` alone is not one
_new_body = tuple.__new__
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


class Mockstatus(Pipeline):
    """The server's state and its HTTP/1.1 request handler (deciding is `Pipeline`'s)."""

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
        self.websockets = wire.WebSocketSessions()  # told 1001 on shutdown
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
            body_read_timeout=body_read_timeout,
        )

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
                # tuple.__new__: skips NamedTuple's Python-level __new__ (the hot path)
                facts_from(request),
                _new_body(RequestBody, (request, self.body_read_timeout, None)),
            )
            plan = decision.plan
            if plan.upgrade is not None:
                try:
                    return await wire.upgrade(request, plan, self.websockets, MAX_UPGRADE_ECHO)
                except RequestError as err:  # a WebSocket handshake aiohttp refuses
                    return wire.build_response(semantics.error_plan(err, decision.facts))
            if plan.interims or plan.delay or plan.fault or plan.drip or plan.stream:
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
    server.on_stopping.append(app.websockets.going_away)
    return server
