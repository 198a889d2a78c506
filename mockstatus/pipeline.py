"""The transport-neutral half of the server: request facts -> `Decision` -> journal and metrics.

Every transport drives the same two calls: `decide(facts, body)` (match -> plan, reading the body
through a `types.BodySource` only when the answer needs it) and, once the answer is on the wire,
`record(...)`. HTTP/1.1 is `app.Mockstatus.handle`; an HTTP/2 transport calls the same methods
with its own facts and body. No aiohttp here.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from mockstatus import endpoints, semantics
from mockstatus.errors import RequestError
from mockstatus.expect import answer_expect, closing_plan
from mockstatus.http_syntax import SESSION_HEADER
from mockstatus.scenarios import nearmiss
from mockstatus.types import BodySource, Clock, Decision, RequestFacts, ResponsePlan

if TYPE_CHECKING:  # types only: metrics imports the access log, which imports aiohttp
    from mockstatus.journal import Journal
    from mockstatus.metrics import Metrics
    from mockstatus.scenarios.runtime import ScenarioRuntime
    from mockstatus.scenarios.store import ScenarioStore
    from mockstatus.state.shared import SharedResponder

_new_decision = tuple.__new__
_SESSION_KEY = SESSION_HEADER.lower()  # facts.headers are looked up by lower-case name


class Pipeline:
    """Decides and records requests; `app.Mockstatus` sets these attributes."""

    clock: Clock
    interim_mode: str  # the server's default `?interim_mode=`
    semantics: semantics.StatusSemantics
    store: ScenarioStore
    journal: Journal
    metrics: Metrics

    shared: SharedResponder | None = None  # `--state`: scenario state in a shared store
    decline_h2c = False  # HTTP/2 is on (app.make_server): `Upgrade: h2c` is declined

    async def decide(self, facts: RequestFacts, body: BodySource) -> Decision:
        """The answer to one request, whatever the transport: match -> plan, reading the body
        only when the answer needs it. Never raises a `RequestError`: that becomes its plan."""
        scenario = route = None
        plan: ResponsePlan | None = None
        near: tuple[nearmiss.NearMiss, ...] = ()  # no route matched: the closest ones
        unmatched: tuple[nearmiss.NearMiss, ...] | None = None  # what the journal keeps
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
                        matched = (await self._shared_respond(runtime, facts)) if runtime else None
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
                matched = (
                    runtime.respond(facts)
                    if self.shared is None
                    else await self.shared.respond(runtime, facts)
                )
                if matched is not None:
                    plan, scenario, route = matched
                else:
                    near = runtime.near_misses(facts)
            if plan is None:
                if facts.body is None and body.exists and endpoints.is_echo(facts.path):
                    facts = replace(facts, body=await body.read())
                plan = endpoints.builtin_plan(facts, self.semantics)
                plan, unmatched = nearmiss.answer_miss(plan, facts, near, endpoints.not_found_plan)
            # _ready, inlined; tuple.__new__ skips NamedTuple's Python-level __new__ (hot path)
            if plan.upgrade is None:
                plan = semantics.with_interims(plan, facts, self.interim_mode)
            else:
                plan = self._upgrade_plan(plan, facts)
            return _new_decision(Decision, (plan, facts, scenario, route, unmatched))
        except RequestError as err:
            plan = semantics.error_plan(err, facts)
            if getattr(err, "unread_body", False):
                plan = plan.evolve(close=True)  # the rest of the body must not be parsed
            return Decision(plan, facts, scenario, route)

    async def _shared_respond(
        self, runtime: ScenarioRuntime, facts: RequestFacts
    ) -> tuple[ResponsePlan, str, str] | None:
        if self.shared is None:
            return runtime.respond(facts)
        return await self.shared.respond(runtime, facts)

    def _upgrade_plan(self, plan: ResponsePlan, facts: RequestFacts) -> ResponsePlan:
        """A plan that upgrades: checked (426 for a bad WebSocket version), or with HTTP/2 on,
        `Upgrade: h2c` declined with a 426 in HTTP/1.1, never echoed as raw bytes (http2.md)."""
        if self.decline_h2c and (plan.upgrade or "").lower() == "h2c":
            fmt = semantics.negotiate(facts.header("accept"))
            return endpoints.upgrade_required_plan(facts.method, fmt)
        return endpoints.checked_upgrade(plan, facts)

    def _ready(self, plan: ResponsePlan, facts: RequestFacts) -> ResponsePlan:
        """The plan with the interims the request asked for (an upgrade's 101 takes none)."""
        if plan.upgrade is not None:
            return self._upgrade_plan(plan, facts)
        return semantics.with_interims(plan, facts, self.interim_mode)

    def record(
        self,
        decision: Decision,
        started: float,
        query_string: str,
        headers: Mapping[str, str],
        http_version: str,
        upstream: dict[str, object] | None = None,  # a forwarded request: proxy_app
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
            near_misses=decision.near_misses,
            upstream=upstream,
            note=plan.note,
        )
