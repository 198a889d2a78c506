"""Builds the server: one low-level aiohttp handler that dispatches request -> match -> plan -> wire.

A low-level `web.Server` (no router, no middlewares) keeps the hot path short and puts
`Expect: 100-continue` under our control: aiohttp's router would answer it before we could
decide to withhold, delay or reject the 100 (AIOHTTP-NOTES).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from mockstatus import admin, endpoints, semantics, wire
from mockstatus.accesslog import logger_kwargs
from mockstatus.errors import RequestError
from mockstatus.journal import Journal
from mockstatus.metrics import Metrics
from mockstatus.scenarios.store import ScenarioStore
from mockstatus.types import (
    EMPTY_QUERY,
    FAULT_KINDS,
    Clock,
    Drip,
    Fault,
    Query,
    RequestFacts,
    ResponsePlan,
    SystemClock,
)

INTERIM_MODES = ("auto", "off", "force")
SESSION_HEADER = "X-Mockstatus-Session"
ADMIN_PREFIX = "/__mockstatus/"
MAX_CONTINUE_DELAY_MS = 60_000
MAX_UPGRADE_ECHO = 16 * 1024 * 1024  # bytes a raw upgraded connection echoes before closing


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


def parse_fault_query(facts: RequestFacts) -> tuple[Fault | None, Drip | None]:
    """`?fault=reset` and `?drip=10/100ms` on any built-in path (no scenario file needed).

    `?drip=CHUNK/EVERY` (EVERY a duration, default 100ms, at most 60 s) drips any body;
    `?fault=KIND` is one of FAULT_KINDS. For `slow-headers` the head is spread over `?delay=`
    (a duration, default 2s, at most 60 s) or, when only `?sleep=` is given, over `sleep` ms.
    """
    from mockstatus.scenarios.durations import parse_duration

    max_seconds = 60.0
    fault = drip = None
    if (value := facts.query.get("drip")) is not None:
        chunk, _sep, every = value.partition("/")
        try:
            if not (chunk.isascii() and chunk.isdigit()):
                raise ValueError
            drip = Drip(chunk=int(chunk), every=parse_duration(every or "100ms"))
            if drip.chunk < 1 or drip.every > max_seconds:
                raise ValueError
        except ValueError:
            raise RequestError(
                f"invalid drip {value!r}: CHUNK/EVERY, e.g. 10/100ms (chunk >= 1 byte, every <= 60s)",
                param="drip",
            ) from None
    if (value := facts.query.get("fault")) is not None:
        if value not in FAULT_KINDS:
            raise RequestError(
                f"invalid fault {value!r}: one of {', '.join(sorted(FAULT_KINDS))}", param="fault"
            )
        delay = 0.0
        if value == "slow-headers":
            param, text = "delay", facts.query.get("delay")
            try:
                if text is not None:
                    delay = parse_duration(text)
                elif (text := facts.query.get("sleep")) is not None:
                    param, delay = "sleep", float(text) / 1000.0
                else:
                    delay = 2.0
                if not 0 < delay <= max_seconds:  # also rejects NaN
                    raise ValueError
            except ValueError:
                hint = "a duration like 500ms or 2s" if param == "delay" else "milliseconds"
                raise RequestError(
                    f"invalid {param} {text!r} for slow-headers: {hint}, more than 0 and at most 60 s",
                    param=param,
                ) from None
        fault = Fault(kind=value, delay=delay, drip=drip)
    return fault, drip


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
    ) -> None:
        if interim_mode not in INTERIM_MODES:
            raise ValueError(f"interim mode must be one of {', '.join(INTERIM_MODES)}")
        self.clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.interim_mode = interim_mode
        self.semantics = semantics.StatusSemantics(self.rng)
        self.journal = Journal(journal_size)
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
                plan = preflight_plan(facts)
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
                plan = await self._builtin(request, facts, path)
            if plan.upgrade is not None:
                return await self._upgrade(request, plan)
            plan = self._with_interims(plan, facts)
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

    async def _builtin(
        self, request: web.BaseRequest, facts: RequestFacts, path: str
    ) -> ResponsePlan:
        if path.startswith("/status/") or path == "/status":
            plan = self._status(facts, path[8:])
        elif path == "/anything" or path.startswith("/anything/"):
            if request.body_exists and facts.body is None:
                facts = replace(facts, body=await request.read())
            plan = endpoints.echo_plan(facts)
        elif path.startswith("/redirect/"):
            plan = endpoints.redirect_plan(path[10:], facts)
        elif path == "/conditional":
            plan = endpoints.conditional_plan(facts)
        elif path.startswith("/etag/"):
            plan = endpoints.conditional_plan(facts, path[6:])
        elif path == "/":
            plan = endpoints.index_plan(facts)
        else:
            return endpoints.not_found_plan(facts)
        if facts.query:
            fault, drip = parse_fault_query(facts)
            if fault is not None or drip is not None:
                plan = plan.evolve(fault=fault, drip=drip)
                if fault is not None and fault.kind == "slow-headers":
                    plan = plan.evolve(delay=0.0)  # its `sleep` is the pace of the head
        return plan

    def _status(self, facts: RequestFacts, spec: str) -> ResponsePlan:
        choice = semantics.parse_code_spec(spec.rstrip("/"))
        opts = semantics.parse_options(facts.query)
        code = self.semantics.choose(choice, opts)
        accept = facts.headers.get("accept")
        fmt = semantics.negotiate(accept) if accept else "text"
        if code == 101:
            return self._switching_plan(facts, fmt)
        if code == 206:
            return endpoints.range_plan(facts, opts.size)
        plan = self.semantics.plan(code, facts.method, fmt, opts)
        if code < 200:
            # /status/1xx: the code itself is the interim (`?interim=` replaces it), then the final
            # (`?final=`, default 200). Whether it is sent (HTTP/1.0, interim mode, Expect) is
            # decided in _with_interims. 101 was handled above.
            interims = semantics.interims_for(code, opts, (1, 1))
            plan = replace(plan, interims=interims)
            if code == 103 and opts.interim is None:
                # RFC 8297 §2: the final response repeats the hinted Link fields.
                links = opts.links or (semantics.DEFAULT_EARLY_HINT,)
                plan = replace(plan, headers=plan.headers + tuple(("Link", v) for v in links))
        return plan

    def _switching_plan(self, facts: RequestFacts, fmt: str) -> ResponsePlan:
        """`/status/101`: switch to the client's first offered protocol, or 426 without one.

        RFC 9110 §7.8: `Upgrade` counts only with `Connection: upgrade` and only from HTTP/1.1+.
        """
        opts = semantics.parse_options(facts.query)
        offered = facts.header("upgrade") or ""
        connection = ",".join(v for n, v in facts.header_items if n.lower() == "connection")
        tokens = {t.strip().lower() for t in connection.split(",")}
        token = offered.split(",")[0].strip(" \t")
        if not token or "upgrade" not in tokens or facts.version < (1, 1):
            plan, _ = semantics.build_plan(426, facts.method, fmt, opts)
            headers = [(n, v) for n, v in plan.headers if n.lower() != "upgrade"]
            return replace(plan, headers=(("Upgrade", "websocket"), *headers))
        name, slash, version = token.partition("/")
        if not semantics.is_token(name) or (slash and not semantics.is_token(version)):
            raise RequestError(
                f"invalid Upgrade {token[:60]!r}: protocol-name[/protocol-version], both tokens",
                param="Upgrade",
            )
        plan, _ = semantics.build_plan(101, facts.method, fmt, opts)
        return replace(plan, upgrade=token)

    # --- 1xx ---------------------------------------------------------------------------------

    def _interim_mode(self, facts: RequestFacts) -> str:
        value = facts.query.get("interim_mode") if facts.query else None
        if value is None:
            return self.interim_mode
        if value not in INTERIM_MODES:
            raise RequestError(
                f"invalid interim_mode {value!r}: one of {', '.join(INTERIM_MODES)}",
                param="interim_mode",
            )
        return value

    def _with_interims(self, plan: ResponsePlan, facts: RequestFacts) -> ResponsePlan:
        """Decide which interims go out before `plan` (the wire only executes the decision)."""
        query = facts.query
        if not query and not plan.interims:
            return plan  # the hot path: no query, nothing to send
        mode = self._interim_mode(facts) if query else self.interim_mode
        interims = plan.interims
        headers = plan.headers
        interval = plan.processing_interval
        if query:
            listed = query.get("interim")
            if listed is not None:
                # `?interim=` on any path replaces the plan's interims, in the order given.
                links = tuple(
                    semantics.check_header("Link", v, param="link")[1] for v in query.getall("link")
                )
                opts = semantics.Options(interim=semantics.parse_interim_list(listed), links=links)
                interims = semantics.interims_for(0, opts, (1, 1))
                # RFC 8297 §2: the final response repeats the hinted Link fields.
                present = {v for n, v in headers if n.lower() == "link"}
                hinted = dict.fromkeys(v for i in interims if i.status == 103 for _, v in i.headers)
                headers += tuple(("Link", v) for v in hinted if v not in present)
        if mode == "off" or (mode == "auto" and facts.version < (1, 1)):
            interims = ()  # RFC 9110 §15.2: no 1xx to an HTTP/1.0 client (force sends anyway)
        elif interims and (facts.header("expect") or "").strip().lower() == "100-continue":
            # _expect already sent (or deliberately withheld) the 100 before reading the body.
            interims = tuple(i for i in interims if i.status != 100)
        if plan.delay > 0 and any(i.status == 102 for i in interims):
            # 102 repeats every `?interval=` ms (default 1 s) while the delay runs. Parsed only
            # here: on other paths (/anything echoes its query) `interval` is just a parameter.
            value = query.get("interval") if query else None
            if value is not None:
                interval = semantics.parse_options(Query((("interval", value),))).interval
            interval = interval or 1.0
        return replace(plan, interims=interims, headers=headers, processing_interval=interval)

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
            mode = self._interim_mode(facts)
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
                (cont,) = semantics.interims_for(100, semantics.DEFAULT_OPTIONS, (1, 1))
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


def preflight_plan(facts: RequestFacts) -> ResponsePlan:
    """CORS preflight (Fetch standard): allow what was asked, for a day."""
    headers = [
        ("Access-Control-Allow-Methods", ", ".join(semantics.STANDARD_METHODS)),
        ("Access-Control-Max-Age", "86400"),
    ]
    asked = facts.header("access-control-request-headers")
    if asked:
        with contextlib.suppress(RequestError):
            headers.append(semantics.check_header("Access-Control-Allow-Headers", asked))
    return semantics.finish(ResponsePlan(status=204, reason="No Content", headers=tuple(headers)))


def make_server(app: Mockstatus, *, quiet: bool = False, **kwargs: Any) -> web.Server:
    """The aiohttp low-level server for `app` (keep-alive set explicitly: AppRunner's is an hour)."""
    return web.Server(
        app.handle,
        handler_cancellation=True,  # a client that leaves cancels its hung or dripping handler
        keepalive_timeout=75.0,
        **logger_kwargs(quiet),
        **kwargs,
    )
