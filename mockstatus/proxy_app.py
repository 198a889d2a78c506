"""The request flow of a server that forwards (issue 14): `mockstatus proxy`, or `serve` with
`--allow-upstream` so that scenarios may `respond: {proxy: ...}`.

The scenario routes answer first, with every behaviour in front (rate_limit, outage, chaos,
latency, faults, sequence steps); a plan that carries a `forward` is executed by
`wire.proxy`, anything else by the app's usual wire path. In proxy mode what no route matches
goes to `--upstream`, and only `/__mockstatus` stays local; under `serve` an unmatched request
goes back to the app's own flow (built-in endpoints).
"""

from __future__ import annotations

import asyncio
import gc
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import yaml
from aiohttp import HttpVersion10, HttpVersion11, web
from yarl import URL

from mockstatus import endpoints, semantics, wire
from mockstatus.errors import RequestError
from mockstatus.expect import answer_expect, closing_plan
from mockstatus.limits import MAX_RECORD_BODY, MAX_UPGRADE_ECHO, UPSTREAM_CONNECTIONS
from mockstatus.proxy import POLICY, ProxyTarget, UpstreamPolicy, authority
from mockstatus.types import Decision, RequestFacts, ResponsePlan
from mockstatus.wire.body import RequestBody
from mockstatus.wire.proxy import Forwarder, Outcome, UpstreamError

if TYPE_CHECKING:
    from mockstatus.app import Mockstatus
    from mockstatus.record import Recorder

NO_UPSTREAMS = UpstreamPolicy()
# CPython's young-generation threshold under `mockstatus proxy` (default 700). A forwarded
# request allocates about 40 tracked objects (our request, aiohttp's client request and response,
# their futures), and every young collection walks all the objects of the requests in flight, none
# of them garbage: at 700, 50 connections made the collector about a tenth of the proxy's CPU.
# bench/proxy.py: 880 -> 710-730 CPU µs per request. Young objects are freed by reference
# counting as before; only cyclic garbage waits a little longer.
PROXY_GC_YOUNG = 10_000
_HTTP_VERSIONS = {HttpVersion11: "HTTP/1.1", HttpVersion10: "HTTP/1.0"}  # the journal's names
# RFC 9110 §9.3.6: CONNECT asks for a tunnel; we are not a forward proxy.
_ALLOW = "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH"


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    """`upstream`: where unmatched requests go (`mockstatus proxy --upstream`; None under
    `serve`). `policy`: the upstreams scenarios may name. `recorder`: `--record DIR`."""

    upstream: ProxyTarget | None = None
    policy: UpstreamPolicy = NO_UPSTREAMS
    recorder: Recorder | None = None
    connections: int = UPSTREAM_CONNECTIONS


class ProxyHandler:
    def __init__(self, app: Mockstatus, config: ProxyConfig) -> None:
        self.app = app
        self.config = config
        self.upstream = config.upstream
        self.forwarder = Forwarder(config.connections)
        # The plan of a request no scenario answers (proxy mode), built once; and, per status
        # the upstream answered, the same plan as the journal shows it (at most 900 three-digit
        # codes: aiohttp's parser accepts no other), so no per-request copy of it is made.
        self._unmatched = (
            ResponsePlan(502, "Bad Gateway", forward=config.upstream)
            if config.upstream is not None
            else None
        )
        self._answered: dict[int, ResponsePlan] = {}
        self.enter()

    def tune_collector(self) -> None:
        """For the `mockstatus proxy` process (the CLI calls this once, when serving starts):
        fewer young collections, and what start-up made kept out of full collections."""
        _, middle, old = gc.get_threshold()
        gc.set_threshold(PROXY_GC_YOUNG, middle, old)
        gc.freeze()  # modules and configuration: long-lived, and never cyclic garbage later

    def enter(self) -> None:
        """Make this server's upstream policy the one scenario loads check, in this thread's
        context (the CLI's, or the runner's server thread)."""
        POLICY.set(self.config.policy)

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse | None:
        """Answer `request`, or None (under `serve`) to let the app's own flow answer it."""
        from mockstatus.wire.body import facts_from

        started = time.perf_counter()
        app = self.app
        facts = facts_from(request)
        proxying = self.upstream is not None
        if (
            not proxying
            and request.method == "OPTIONS"
            and "Access-Control-Request-Method" in (request.headers)
        ):
            return None  # the app's CORS preflight
        scenario = route = None
        plan: ResponsePlan | None = None
        outcome: Outcome | None = None
        try:
            if proxying:
                refusal = self._refusal(request, facts)
                if refusal is not None:
                    plan = refusal
                    return wire.build_response(plan)
            runtime = app.store.runtime
            if runtime is not None and runtime.has_routes:
                if runtime.needs_body(facts):
                    # A body matcher: the 100 and the body are ours to handle (app.decide's way).
                    body = RequestBody(request, app.body_read_timeout)
                    expect = facts.headers.get("expect")
                    answer = (
                        answer_expect(facts, expect, app.interim_mode, body.length, body.limit)
                        if expect is not None
                        else None
                    )
                    if answer is not None and answer.final is not None:
                        plan = answer.final
                        return wire.build_response(plan)
                    if answer is not None and not await body.send_continue(
                        answer.interim, answer.delay
                    ):
                        plan = closing_plan(facts, 499)
                        return wire.build_response(plan)
                    facts = replace(facts, body=await body.read())
                matched = runtime.respond(facts)
                if matched is not None:
                    plan, scenario, route = matched
            if plan is None:
                if self._unmatched is None:
                    return None
                plan = self._unmatched
            if plan.forward is None or plan.fault is not None:
                # A canned answer (a rate limit, an outage, chaos, a sequence step, a fault).
                if "Expect" in request.headers and facts.body is None and request.body_exists:
                    plan = plan.evolve(close=True)  # no 100 was sent: the body never comes
                plan = app._ready(plan, facts)
                if plan.upgrade is not None:
                    return await wire.upgrade(request, plan, app.websockets, MAX_UPGRADE_ECHO)
                if plan.interims or plan.delay or plan.fault or plan.drip:
                    return await wire.send(request, plan)
                return wire.build_response(plan)
            path, _, query = _raw_target(request).partition("?")
            outcome = Outcome(url=plan.forward.url_for(path, query))
            response, plan = await self._forward(request, facts, plan, outcome)
            return response
        except RequestError as err:
            plan = semantics.error_plan(err, facts)
            if getattr(err, "unread_body", False):
                plan = plan.evolve(close=True)
            return wire.build_response(plan)
        finally:
            if plan is not None:
                if outcome is not None and outcome.status:
                    plan = self._as_answered(plan, outcome.status)  # what the client got
                version = request.version
                app.record(
                    Decision(plan, facts, scenario, route),
                    started,
                    request.query_string,
                    request.headers,
                    _HTTP_VERSIONS.get(version) or f"HTTP/{version.major}.{version.minor}",
                    outcome.to_dict() if outcome is not None else None,
                )
                recorder = self.config.recorder
                if recorder is not None and outcome is not None and outcome.body is not None:
                    try:
                        recorder.add(facts, request.query_string, outcome)
                    except (OSError, ValueError, yaml.YAMLError) as exc:  # a full disk, say
                        app.log(f"mockstatus: not recorded: {facts.method} {facts.path}: {exc}")

    def _as_answered(self, plan: ResponsePlan, status: int) -> ResponsePlan:
        if plan is not self._unmatched:
            return plan.evolve(status=status)
        answered = self._answered.get(status)
        if answered is None:
            answered = self._answered[status] = plan.evolve(status=status)
        return answered

    async def _forward(
        self, request: web.BaseRequest, facts: RequestFacts, plan: ResponsePlan, outcome: Outcome
    ) -> tuple[web.StreamResponse, ResponsePlan]:
        assert plan.forward is not None
        if plan.delay:
            await asyncio.sleep(plan.delay)  # latency (and a proxied step's `delay`) go first
        cap = MAX_RECORD_BODY if self.config.recorder is not None else 0
        try:
            mode = self.app.interim_mode  # the server's: the query string is the upstream's
            relay = mode == "force" or (mode == "auto" and request.version >= (1, 1))
            response = await self.forwarder.forward(
                request, facts, plan.forward, plan.headers, outcome, cap, relay
            )
            return response, plan
        except UpstreamError as err:
            outcome.error = err.message
            error = semantics.error_plan(RequestError(err.message, status=err.status), facts)
            if request.body_exists and not request.content.is_eof():
                error = error.evolve(close=True)  # the body was not (all) read
            return wire.build_response(error), error

    def _refusal(self, request: web.BaseRequest, facts: RequestFacts) -> ResponsePlan | None:
        """Not an open proxy: CONNECT is 405, an absolute-form target naming another authority is
        421 (RFC 9112 §3.2.2: accepted only when it names this server)."""
        if request.method == "CONNECT":
            err = RequestError("CONNECT is not supported: this is not a forward proxy", status=405)
            plan = semantics.error_plan(err, facts)
            return plan.evolve(headers=(("Allow", _ALLOW), *plan.headers), close=True)
        target = request.raw_path
        if target == "*":  # `OPTIONS *` asks about this server, not the upstream's resources
            return endpoints.asterisk_plan(facts)
        if target.startswith("/"):
            return None
        try:
            url = URL(target)
            named = authority(url.host or "", url.port or 0, url.scheme).lower()
        except (ValueError, TypeError):
            named = target
        # Not the Host field: a client sends its target's authority there too (`curl -x`), and
        # §3.2.2 says to ignore it. This server is the address the client reached (or localhost).
        sock = request.transport.get_extra_info("sockname") if request.transport else None
        ours = set()
        if sock:
            loopback = sock[0] in ("127.0.0.1", "::1")
            for host in ("127.0.0.1", "::1", "localhost") if loopback else (sock[0],):
                ours.add(authority(host, sock[1], request.scheme))
        if named in ours:
            return None
        err = RequestError(
            f"this server does not forward to {named!r}: send the request to it directly",
            status=421,
        )
        return semantics.error_plan(err, facts)


def _raw_target(request: web.BaseRequest) -> str:
    """The path and query as the client wrote them (percent-encoding untouched: yarl would
    normalise `%7E` to `~`); for an absolute-form target, its path and query."""
    raw = request.raw_path
    if raw.startswith("/"):
        return raw
    url = URL(raw, encoded=True)
    return url.raw_path_qs or "/"
