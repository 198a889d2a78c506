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
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.http import HttpVersion10, HttpVersion11

from mockstatus import admin, queries, semantics, wire
from mockstatus.accesslog import logger_kwargs
from mockstatus.errors import RequestError
from mockstatus.http_syntax import ADMIN_PREFIX, valid_host
from mockstatus.journal import DEFAULT_REDACT, Journal
from mockstatus.limits import BODY_READ_TIMEOUT, IDLE_TIMEOUT, MAX_UPGRADE_ECHO
from mockstatus.metrics import Metrics
from mockstatus.pipeline import Pipeline
from mockstatus.scenarios.store import ScenarioStore
from mockstatus.types import (
    Clock,
    RequestFacts,
    ResponsePlan,
    SystemClock,
)
from mockstatus.wire.body import RequestBody, bad_host, facts_from, unsupported_version
from mockstatus.wire.server import MockstatusServer

if TYPE_CHECKING:
    from mockstatus.proxy_app import ProxyConfig, ProxyHandler

_ADMIN_ROOT = ADMIN_PREFIX + "/"  # admin paths; `/__mockstatus` alone is not one
_new_body = tuple.__new__
_HTTP_VERSIONS = {HttpVersion11: "HTTP/1.1", HttpVersion10: "HTTP/1.0"}  # the journal's names


def bundled_scenarios() -> Path:
    """The example scenarios. `mockstatus/bundled_scenarios` is a symlink to the top-level
    `scenarios/` (one copy): a checkout or editable install follows it, a wheel holds the files."""
    return Path(__file__).parent / "bundled_scenarios"


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
        proxy: ProxyConfig | None = None,  # forwarding (issue 14): mockstatus.proxy_app
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
        self.proxy: ProxyHandler | None = None
        if proxy is not None:
            from mockstatus.proxy_app import ProxyHandler

            self.proxy = ProxyHandler(self, proxy)

    # --- dispatch ----------------------------------------------------------------------------

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """The HTTP/1.1 transport: facts -> decide -> wire -> record."""
        started = time.perf_counter()
        if request.version.major != 1:
            return unsupported_version(request)
        host = request.headers.get("Host")
        if host is not None and not valid_host(host):
            return bad_host(request)
        if request.path.startswith(_ADMIN_ROOT):
            return await self.admin.handle(request)
        if self.proxy is not None and (forwarded := await self.proxy.handle(request)) is not None:
            return forwarded
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
    server.on_stopping.append(app.websockets.going_away)
    server.on_stopping.append(app.admin.feed.close)  # open dashboards end with the server
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
            scenarios=lambda: app.store.current,
        ).attach(server)
    return server


def _error_plan(facts: RequestFacts, status: int, message: str) -> ResponsePlan:
    return semantics.error_plan(RequestError(message, status=status), facts)
